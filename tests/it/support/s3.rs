//! An S3-compatible server for one test, on a free loopback port, of either of two independent kinds, so that no
//! behaviour rests on one server's leniency ([`Kind`]):
//! - `moto_server` (PyPI `moto[server]`, installed by scripts/test.sh into target/venv-s3), with signature
//!   checking switched on: an IAM user with its own key pair is made first, then every request must be signed
//!   with that key, as on a real store;
//! - `s3s-fs` (crates.io `s3s-fs`, installed by scripts/test.sh with `cargo install` into cargo's bin
//!   directory), over a temporary directory, with a key pair it checks every signature against. It does not
//!   implement ListMultipartUploads (HTTP 501), which the stale-upload sweep uses.
//!
//! [`s3_test!`] runs a test against both. The proxy that makes a store slow, throttling or down is in
//! `s3_proxy`.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use db_backup::config::{S3Settings, Secret};
use db_backup::storage::s3::Client;
use tempfile::TempDir;

pub use super::s3_proxy::{Faults, Proxy};

/// The S3 servers the tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Moto,
    S3sFs,
}

impl Kind {
    /// The server's program, as messages name it.
    pub fn program(self) -> &'static str {
        match self {
            Kind::Moto => "moto_server",
            Kind::S3sFs => "s3s-fs",
        }
    }

    /// Where scripts/test.sh installs the server (target/venv-s3 for moto, cargo's bin directory for s3s-fs),
    /// checked before PATH.
    pub fn path(self) -> Option<PathBuf> {
        let installed = match self {
            Kind::Moto => {
                vec![
                    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                        .join("target/venv-s3/bin/moto_server"),
                ]
            }
            Kind::S3sFs => std::env::var_os("CARGO_HOME")
                .map(PathBuf::from)
                .into_iter()
                .chain(std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
                .map(|dir| dir.join("bin/s3s-fs"))
                .collect(),
        };
        installed
            .into_iter()
            .find(|p| p.is_file())
            .or_else(|| super::tools::find(self.program()))
    }

    /// Whether the server is there. When it is not: under `CI=true` the test fails naming it; elsewhere a
    /// notice is printed and the caller skips, like `require_tools!`.
    pub fn available(self) -> bool {
        if self.path().is_some() {
            return true;
        }
        let install = match self {
            Kind::Moto => "pip install 'moto[server]==5.2.5' into target/venv-s3",
            Kind::S3sFs => "cargo install s3s-fs --version 0.14.1 --features binary --locked",
        };
        let message = format!(
            "missing S3 server: {} ({install}; scripts/test.sh does)",
            self.program()
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        eprintln!("SKIPPED: {message}");
        false
    }
}

/// Skips the test unless the S3 server of the given [`Kind`] (moto without one) is there; fails under
/// CI=true, naming it.
macro_rules! require_s3 {
    () => {
        if !$crate::support::s3::Kind::Moto.available() {
            return;
        }
    };
    ($kind:expr) => {
        if !$kind.available() {
            return;
        }
    };
}
pub(crate) use require_s3;

/// A test run once against each S3 server: `fn name(kind: Kind) { ... }` becomes the tests `name::moto` and
/// `name::s3s_fs`, whose body sees the server kind as `kind`.
macro_rules! s3_test {
    ($(#[$attr:meta])* fn $name:ident($kind:ident: Kind) $body:block) => {
        $(#[$attr])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn run($kind: $crate::support::s3::Kind) $body

            #[test]
            fn moto() {
                run($crate::support::s3::Kind::Moto)
            }

            #[test]
            fn s3s_fs() {
                run($crate::support::s3::Kind::S3sFs)
            }
        }
    };
}
pub(crate) use s3_test;

pub struct S3Server {
    pub kind: Kind,
    child: Child,
    port: u16,
    pub access_key: String,
    pub secret_key: String,
    /// s3s-fs's data directory.
    root: Option<TempDir>,
}

impl S3Server {
    /// moto, for a test that needs what only moto does (the test says why); the others run against both
    /// kinds with [`s3_test!`] and [`S3Server::of`].
    pub fn start() -> S3Server {
        S3Server::of(Kind::Moto)
    }

    /// A server of `kind`; the test checked with [`require_s3!`] that it is there.
    pub fn of(kind: Kind) -> S3Server {
        S3Server::launch(kind, None)
    }

    /// moto whose key may do everything in S3 but `action` (an IAM action such as
    /// `s3:ListBucketMultipartUploads`), which it refuses with 403 AccessDenied, as a store with a narrow policy.
    pub fn moto_denying(action: &str) -> S3Server {
        S3Server::launch(Kind::Moto, Some(action))
    }

    fn launch(kind: Kind, deny: Option<&str>) -> S3Server {
        let program = kind.path().unwrap_or_else(|| {
            panic!(
                "{} is missing (scripts/test.sh installs it)",
                kind.program()
            )
        });
        let port = free_port();
        let mut command = Command::new(program);
        let mut root = None;
        let (mut access_key, mut secret_key) = (String::new(), String::new());
        match kind {
            Kind::Moto => {
                command
                    .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                    .env("MOTO_ALLOW_NONEXISTENT_REGION", "true");
            }
            Kind::S3sFs => {
                let dir = tempfile::tempdir().expect("s3s-fs data directory");
                access_key = "AKIAS3SFSTESTKEY0001".to_string();
                secret_key = format!("s3s-fs-secret-{port}-kept-in-the-test");
                command
                    .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                    .args(["--access-key", &access_key, "--secret-key", &secret_key])
                    .arg(dir.path());
                root = Some(dir);
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", kind.program()));
        let mut server = S3Server {
            kind,
            child,
            port,
            access_key,
            secret_key,
            root,
        };
        server.wait_ready();
        if kind == Kind::Moto {
            server.make_user(deny);
        }
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&mut self) {
        let program = self.kind.program();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{program} exited at start: {status}");
            }
            let ready = match self.kind {
                Kind::Moto => ureq::get(&format!("{}/moto-api/", self.endpoint()))
                    .call()
                    .is_ok(),
                Kind::S3sFs => TcpStream::connect(("127.0.0.1", self.port)).is_ok(),
            };
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{program} did not answer on port {} within 30 s", self.port);
    }

    /// An IAM call before authentication is switched on (moto routes it by the credential scope).
    pub(super) fn iam(&self, form: &[(&str, &str)]) -> String {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut response = ureq::post(&format!("{}/", self.endpoint()))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIASETUP/20250101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
            )
            .send(body.as_bytes())
            .expect("IAM call to moto");
        response.body_mut().read_to_string().expect("IAM answer")
    }

    fn make_user(&mut self, deny: Option<&str>) {
        self.iam(&[
            ("Action", "CreateUser"),
            ("UserName", "backup"),
            ("Version", "2010-05-08"),
        ]);
        let denied = deny
            .map(|action| format!(r#",{{"Effect":"Deny","Action":"{action}","Resource":"*"}}"#))
            .unwrap_or_default();
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"*"}}{denied}]}}"#
        );
        self.iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", "backup"),
            ("PolicyName", "all-s3"),
            ("PolicyDocument", &policy),
            ("Version", "2010-05-08"),
        ]);
        let keys = self.iam(&[
            ("Action", "CreateAccessKey"),
            ("UserName", "backup"),
            ("Version", "2010-05-08"),
        ]);
        let between = |tag: &str| {
            let open = format!("<{tag}>");
            let start = keys.find(&open).expect("key in answer") + open.len();
            let end = keys[start..].find('<').unwrap() + start;
            keys[start..end].to_string()
        };
        self.access_key = between("AccessKeyId");
        self.secret_key = between("SecretAccessKey");
        // From now on every request must carry a valid signature of that key.
        ureq::post(&format!("{}/moto-api/reset-auth", self.endpoint()))
            .send("0".as_bytes())
            .expect("switch on authentication");
    }

    /// A client of `bucket` under `prefix` with the server's key (`endpoint` overrides, e.g. a proxy).
    pub fn client(&self, bucket: &str, prefix: &str) -> Client {
        Client::new(self.settings(bucket, prefix, &self.endpoint()))
    }

    fn settings(&self, bucket: &str, prefix: &str, endpoint: &str) -> S3Settings {
        S3Settings {
            name: "test".into(),
            var_prefix: "S3_".into(),
            endpoint: endpoint.to_string(),
            bucket: bucket.to_string(),
            region: "us-east-1".into(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            path_style: true,
            addressing: String::new(),
            access_key: Secret::new(self.access_key.clone()),
            secret_key: Secret::new(self.secret_key.clone()),
            source: None,
            ca_file: None,
            session_token: None,
            part_size: 5 * 1024 * 1024,
            retry_seconds: 2,
        }
    }

    /// Creates a fresh bucket.
    pub fn bucket(&self, name: &str) {
        self.client(name, "")
            .create_bucket()
            .expect("create bucket");
    }

    /// The variables of destination group `group` (`S3_` or `S3_2_`) for `bucket` under `prefix`.
    pub fn env(&self, group: &str, bucket: &str, prefix: &str) -> Vec<(String, String)> {
        self.env_via(group, bucket, prefix, &self.endpoint())
    }

    pub fn env_via(
        &self,
        group: &str,
        bucket: &str,
        prefix: &str,
        endpoint: &str,
    ) -> Vec<(String, String)> {
        [
            ("ENDPOINT", endpoint.to_string()),
            ("ACCESS_KEY", self.access_key.clone()),
            ("SECRET_KEY", self.secret_key.clone()),
            ("BACKUP_BUCKET", bucket.to_string()),
            ("REGION", "us-east-1".to_string()),
            ("PREFIX", prefix.to_string()),
            ("FORCE_PATH_STYLE", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("{group}{k}"), v))
        .collect()
    }

    /// Every key in `bucket` (all prefixes) but the series' latest pointers (`<series>-latest`, see
    /// [`S3Server::pointers`]).
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let mut keys: Vec<String> = self.client(bucket, "").list_all().into_iter().collect();
        keys.retain(|k| !k.ends_with("-latest"));
        keys.sort();
        keys
    }

    /// The latest pointers in `bucket` (all prefixes), with the backup name each holds.
    pub fn pointers(&self, bucket: &str) -> Vec<(String, String)> {
        let mut keys: Vec<String> = self.client(bucket, "").list_all().into_iter().collect();
        keys.retain(|k| k.ends_with("-latest"));
        keys.sort();
        keys.into_iter()
            .map(|k| {
                let text = String::from_utf8(self.get(bucket, &k)).expect("UTF-8 pointer");
                (k, text)
            })
            .collect()
    }

    pub fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let mut out = Vec::new();
        self.client(bucket, "")
            .get(key)
            .expect("get object")
            .read_to_end(&mut out)
            .expect("read object");
        out
    }

    /// The keys of the multipart uploads in `bucket` that were neither completed nor aborted. s3s-fs cannot
    /// list them (it lacks ListMultipartUploads): its data directory holds a
    /// `.bucket-<bucket>.object-<key>.upload-<id>.metadata.json` (names in unpadded URL-safe base64) from the
    /// start of an upload to its completion or abort.
    pub fn uploads(&self, bucket: &str) -> Vec<String> {
        let mut keys: Vec<String> = match &self.root {
            None => self
                .client(bucket, "")
                .list_multipart("")
                .expect("list multipart uploads")
                .expect("moto implements ListMultipartUploads")
                .into_iter()
                .map(|u| u.key)
                .collect(),
            Some(root) => {
                let start = format!(".bucket-{}.object-", base64url(bucket.as_bytes()));
                std::fs::read_dir(root.path())
                    .expect("read the s3s-fs data directory")
                    .filter_map(|entry| {
                        let name = entry.ok()?.file_name().into_string().ok()?;
                        let rest = name.strip_prefix(&start)?;
                        let (key, tail) = rest.split_once(".upload-")?;
                        tail.ends_with(".metadata.json")
                            .then(|| String::from_utf8(unbase64url(key)).expect("UTF-8 key"))
                    })
                    .collect()
            }
        };
        keys.sort();
        keys
    }
}

/// Unpadded URL-safe base64, as s3s-fs names its files.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn unbase64url(text: &str) -> Vec<u8> {
    let sextet = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => panic!("not URL-safe base64: {text}"),
    };
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, c)| n | u32::from(sextet(*c)) << (18 - 6 * i));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Listing every key of a bucket, sub-folders included, for assertions.
trait ListAll {
    fn list_all(&self) -> Vec<String>;
}

impl ListAll for Client {
    fn list_all(&self) -> Vec<String> {
        // The client lists one level; walk the few folders the tests make.
        let mut out = Vec::new();
        let mut todo = vec![String::new()];
        while let Some(prefix) = todo.pop() {
            for object in self.list(&prefix).expect("list bucket") {
                out.push(object.key);
            }
            for folder in self.folders(&prefix).expect("list folders") {
                todo.push(folder);
            }
        }
        out
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
