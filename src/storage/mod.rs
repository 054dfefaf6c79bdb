//! Where backups are kept. A backup becomes visible under its final name only once it is complete.

mod local;
mod lock;

pub use local::{Entry, LocalDir, PendingFile};
pub use lock::RunLock;

/// The suffix of a temporary file that holds a backup being written.
pub const PARTIAL_SUFFIX: &str = ".partial";

/// The content of a `<file>.sha256` file, in the format that `sha256sum -c` reads.
pub fn checksum_line(sha256_hex: &str, file_name: &str) -> String {
    format!("{sha256_hex}  {file_name}\n")
}

/// The hex digest from a `.sha256` file's content, if it is well formed and names `file_name`.
pub fn parse_checksum(content: &str, file_name: &str) -> Option<String> {
    let line = content.lines().next()?;
    let (digest, name) = line.split_once(' ')?;
    let name = name.trim_start_matches([' ', '*']);
    let valid = digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit());
    (valid && name == file_name).then(|| digest.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_round_trip() {
        let digest = "a".repeat(64);
        let line = checksum_line(&digest, "x.sql.gz");
        assert_eq!(parse_checksum(&line, "x.sql.gz"), Some(digest));
        assert_eq!(parse_checksum(&line, "y.sql.gz"), None);
        assert_eq!(parse_checksum("zz  x.sql.gz\n", "x.sql.gz"), None);
    }
}
