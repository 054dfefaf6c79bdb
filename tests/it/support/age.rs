//! age keys made with the real `age-keygen`, and backups opened with the real `age -d`.

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
    let name = path.to_string_lossy();
    let inner = name.strip_suffix(".age").expect("an .age file");
    let mut plain = Vec::new();
    use std::io::Read;
    if inner.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(&out.stdout[..])
            .read_to_end(&mut plain)
            .expect("gunzip");
    } else if inner.ends_with(".zst") {
        plain = zstd::stream::decode_all(&out.stdout[..]).expect("unzstd");
    } else {
        plain = out.stdout;
    }
    plain
}
