//! BACKUP_DIR as the tests see it: listing backups, planting fake ones, checksums, decompression.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::runner::Run;

/// Every entry of `dir` by name, sorted, except symlinks: the series' `-latest` links are not backups (see
/// [`links`]).
pub fn names(dir: &Path) -> Vec<String> {
    entries(dir, false)
}

/// The symlinks in `dir` (the series' `<series>-latest.<ext>` links) by name, sorted.
pub fn links(dir: &Path) -> Vec<String> {
    entries(dir, true)
}

/// Where the symlink `dir/name` points, as written in it; fails unless it is a symlink.
pub fn link_target(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let meta = fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(meta.file_type().is_symlink(), "{name} is not a symlink");
    fs::read_link(&path)
        .expect("read the link")
        .to_str()
        .expect("UTF-8 link")
        .to_string()
}

fn entries(dir: &Path, symlinks: bool) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read backup dir")
        .map(|e| e.expect("dir entry"))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_symlink()) == symlinks)
        .map(|e| e.file_name().into_string().expect("UTF-8 name"))
        .collect();
    names.sort();
    names
}

/// Splits `<prefix><series>-YYYY-MM-DDTHH-MM-SS.<sql|dump>[.gz|.zst]` into (prefix + series, timestamp).
pub fn parse_backup_name(name: &str) -> Option<(&str, &str)> {
    let rest = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(name);
    let stem = rest
        .strip_suffix(".sql")
        .or_else(|| rest.strip_suffix(".dump"))?;
    let at = stem.len().checked_sub(20)?;
    let series = stem
        .get(..at)
        .filter(|s| !s.is_empty() && !s.starts_with('.'))?;
    let stamp = stem.get(at..)?.strip_prefix('-')?;
    let shape_ok = stamp.char_indices().all(|(i, c)| match i {
        4 | 7 | 13 | 16 => c == '-',
        10 => c == 'T',
        _ => c.is_ascii_digit(),
    });
    shape_ok.then_some((series, stamp))
}

pub fn is_backup_name(name: &str) -> bool {
    parse_backup_name(name).is_some()
}

/// The backups in `dir`, sorted by name.
pub fn backups(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| is_backup_name(n))
        .collect()
}

/// The one backup whose name starts with `series-` followed by a timestamp; fails unless there is exactly one.
pub fn only_backup(dir: &Path, series: &str) -> String {
    let found: Vec<String> = backups(dir)
        .into_iter()
        .filter(|n| series_of(n) == Some(series))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one backup of series {series:?} in {:?}",
        names(dir)
    );
    found.into_iter().next().expect("one backup")
}

/// The `<prefix><series>` part of a backup name.
pub fn series_of(name: &str) -> Option<&str> {
    parse_backup_name(name).map(|(series, _)| series)
}

/// The series of every backup in `dir`, one per backup, in name order.
pub fn backup_series(dir: &Path) -> Vec<String> {
    backups(dir)
        .iter()
        .filter_map(|n| series_of(n))
        .map(String::from)
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes `name` (a gzip of a small complete plain dump) and its `.sha256`, as a backup run would.
pub fn plant_backup(dir: &Path, name: &str) {
    let dump = "--\n-- PostgreSQL database dump\n--\n\nSELECT 1;\n\n--\n-- PostgreSQL database dump complete\n--\n\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(dump.as_bytes()).expect("gzip in memory");
    write_with_checksum(dir, name, &gz.finish().expect("gzip in memory"));
}

/// Writes a file and a `sha256sum`-style checksum file beside it.
pub fn write_with_checksum(dir: &Path, name: &str, bytes: &[u8]) {
    fs::write(dir.join(name), bytes).expect("write backup");
    fs::write(
        dir.join(format!("{name}.sha256")),
        format!("{}  {name}\n", sha256_hex(bytes)),
    )
    .expect("write checksum");
}

/// The content of every file a backup run could have produced (all but the `.db-backup*` dotfiles), and where
/// each symlink points.
#[derive(Debug, PartialEq, Eq)]
pub struct DirState(BTreeMap<String, Vec<u8>>);

pub fn snapshot(dir: &Path) -> DirState {
    let files = names(dir)
        .into_iter()
        .filter(|n| !n.starts_with(".db-backup"))
        .map(|n| {
            let bytes = fs::read(dir.join(&n)).unwrap_or_else(|e| panic!("read {n}: {e}"));
            (n, bytes)
        });
    let links = links(dir).into_iter().map(|n| {
        let target = format!("-> {}", link_target(dir, &n)).into_bytes();
        (n, target)
    });
    DirState(files.chain(links).collect())
}

/// A failed run: exit status 1, stderr naming the cause, and the directory exactly as before
/// (no new backup, checksum or `.partial` file; older backups intact and not pruned).
pub fn assert_failed_cleanly(run: &Run, dir: &Path, before: &DirState, cause: &[&str]) {
    run.expect_code(1).expect_stderr_mentions(cause);
    let after = snapshot(dir);
    assert!(
        after == *before,
        "a failed run must leave the backup dir as it was.\nbefore: {:?}\nafter:  {:?}\n{run}",
        before.0.keys().collect::<Vec<_>>(),
        after.0.keys().collect::<Vec<_>>(),
    );
}

/// The bytes of a backup after undoing its compression (chosen by the file name).
pub fn decompress(path: &Path) -> Vec<u8> {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut out = Vec::new();
    let name = path.to_string_lossy();
    if name.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(file)
            .read_to_end(&mut out)
            .expect("gunzip");
    } else if name.ends_with(".zst") {
        out = zstd::stream::decode_all(file).expect("unzstd");
    } else {
        out = fs::read(path).expect("read backup");
    }
    out
}

/// Inverts one byte in place (what `dd conv=notrunc` of a changed byte does).
pub fn flip_byte(path: &Path, offset: u64) {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open for corruption");
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, offset).expect("read byte");
    byte[0] ^= 0xff;
    file.write_all_at(&byte, offset).expect("write byte");
}

pub fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// A fresh, empty BACKUP_DIR for one test.
pub fn backup_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("db-backup-it-backups-")
        .tempdir()
        .expect("temp backup dir")
}

/// Runs `program args` in `dir`, failing the test with its output unless it succeeds.
pub fn run_tool(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(super::tools::path(program))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{text}",
        out.status
    );
    text
}

/// What every backup file must satisfy: mode 0600 (checksum too), `sha256sum -c` accepts the checksum,
/// the compression tool accepts the file, and the content is a complete dump of the expected format.
pub fn check_artifacts(dir: &Path, name: &str) {
    let path = dir.join(name);
    let checksum = format!("{name}.sha256");
    assert_eq!(mode(&path), 0o600, "{name} must be mode 0600");
    assert_eq!(
        mode(&dir.join(&checksum)),
        0o600,
        "{checksum} must be mode 0600"
    );
    let said = run_tool(dir, "sha256sum", &["-c", &checksum]);
    assert_eq!(said.trim(), format!("{name}: OK"));
    if name.ends_with(".gz") {
        run_tool(dir, "gzip", &["-t", name]);
    } else if name.ends_with(".zst") {
        run_tool(dir, "zstd", &["-q", "-t", name]);
    }
    let content = decompress(&path);
    if name.contains(".dump") {
        assert!(
            content.starts_with(b"PGDMP"),
            "{name} is not a pg_dump custom-format archive"
        );
    } else {
        let text = String::from_utf8_lossy(&content);
        let trailers = [
            "-- PostgreSQL database dump complete",
            "-- PostgreSQL database cluster dump complete",
        ];
        assert!(
            trailers.iter().any(|t| text.contains(t)),
            "{name} lacks the dump trailer"
        );
    }
}
