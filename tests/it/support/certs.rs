//! Certificates made by a test with the openssl CLI: a CA, a server certificate for `localhost` only (so that
//! `127.0.0.1` is a wrong name under verify-full), and client certificates whose common name is a user name.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::tools;

/// The tool the certificates are made with.
pub const OPENSSL: &[&str] = &["openssl"];

/// A CA and a server certificate signed by it, in a temporary directory.
pub struct Certs {
    dir: TempDir,
}

impl Certs {
    /// A fresh CA and a server certificate (key usage for a TLS server, the name `localhost` only).
    pub fn new() -> Certs {
        let dir = tempfile::Builder::new()
            .prefix("db-backup-it-certs-")
            .tempdir()
            .expect("temp dir");
        // World-readable directory: the PostgreSQL server runs as another user and copies from here.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
            .expect("chmod certs dir");
        let certs = Certs { dir };
        certs.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=db-backup test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        certs.sign(
            "server",
            "localhost",
            "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
        );
        certs
    }

    /// A client certificate for `user` (its common name), signed by the CA: `(certificate, key)`.
    pub fn client(&self, user: &str) -> (PathBuf, PathBuf) {
        let name = format!("client-{user}");
        self.sign(&name, user, "extendedKeyUsage=clientAuth\n");
        (
            self.path(&format!("{name}.crt")),
            self.path(&format!("{name}.key")),
        )
    }

    pub fn ca(&self) -> PathBuf {
        self.path("ca.crt")
    }

    pub fn server_cert(&self) -> PathBuf {
        self.path("server.crt")
    }

    pub fn server_key(&self) -> PathBuf {
        self.path("server.key")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn sign(&self, name: &str, common_name: &str, extensions: &str) {
        let ext = format!("{name}.ext");
        fs::write(
            self.path(&ext),
            format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n{extensions}"),
        )
        .expect("write the extensions");
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN={common_name}"),
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &ext,
        ]);
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new(tools::path("openssl"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Copies `from` to `to`, readable only by its owner (`owner`: uid and gid to give it, when running as root).
pub fn install(from: &Path, to: &Path, owner: Option<(u32, u32)>) {
    use std::os::unix::fs::PermissionsExt;
    fs::copy(from, to).expect("copy a certificate file");
    fs::set_permissions(to, fs::Permissions::from_mode(0o600)).expect("chmod a certificate file");
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(to, Some(uid), Some(gid)).expect("chown a certificate file");
    }
}
