//! age keys made with the real `age-keygen`, and backups opened with the real `age -d` (identity or passphrase).

use std::path::{Path, PathBuf};

/// An age identity file and its public key.
pub struct AgeKey {
    pub identity: PathBuf,
    pub public: String,
}

/// A new key pair in `dir/<name>.txt`, made by `age-keygen`.
pub fn keygen(dir: &Path, name: &str) -> AgeKey {
    let identity = dir.join(format!("{name}.txt"));
    let out = std::process::Command::new(super::tools::path("age-keygen"))
        .arg("-o")
        .arg(&identity)
        .output()
        .expect("run age-keygen");
    assert!(out.status.success(), "age-keygen failed: {out:?}");
    let text = std::fs::read_to_string(&identity).expect("read identity");
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("age-keygen writes the public key")
        .trim()
        .to_string();
    AgeKey { identity, public }
}

/// The plain bytes of an encrypted backup: `age -d -i identity file`, then undoing the compression.
pub fn decrypt_with_cli(path: &Path, identity: &Path) -> Vec<u8> {
    let out = std::process::Command::new(super::tools::path("age"))
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(path)
        .output()
        .expect("run age");
    assert!(
        out.status.success(),
        "age -d {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    undo_compression(path, out.stdout)
}

/// The plain bytes of a passphrase-encrypted backup: `age -d` reads the passphrase from its terminal only, so
/// it runs under `script`, whose terminal gets the passphrase (never on a command line); then the compression
/// is undone.
pub fn decrypt_with_cli_passphrase(path: &Path, passphrase: &str) -> Vec<u8> {
    use std::io::Write;
    let out_dir = tempfile::tempdir().expect("temp dir");
    let plain = out_dir.path().join("plain");
    let command = format!(
        "{} -d -o {} {}",
        super::tools::path("age").display(),
        plain.display(),
        path.display()
    );
    let mut child = std::process::Command::new(super::tools::path("script"))
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run script");
    child
        .stdin
        .take()
        .expect("script stdin")
        .write_all(format!("{passphrase}\n").as_bytes())
        .expect("write the passphrase");
    let out = child.wait_with_output().expect("wait for script");
    assert!(
        out.status.success(),
        "age -d {} failed: {}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    undo_compression(
        path,
        std::fs::read(&plain).expect("age wrote the plain file"),
    )
}

/// Undoes the compression that the name of the encrypted file `path` says is inside.
fn undo_compression(path: &Path, bytes: Vec<u8>) -> Vec<u8> {
    let name = path.to_string_lossy();
    let inner = name.strip_suffix(".age").expect("an .age file");
    let mut plain = Vec::new();
    use std::io::Read;
    if inner.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut plain)
            .expect("gunzip");
    } else if inner.ends_with(".zst") {
        plain = zstd::stream::decode_all(&bytes[..]).expect("unzstd");
    } else {
        plain = bytes;
    }
    plain
}
