//! Finding the external tools the tests drive, and skipping (or failing under CI) when one is missing.

use std::path::{Path, PathBuf};

/// What a test needs to start its own PostgreSQL server and look at its databases.
pub const PG_SERVER: &[&str] = &["initdb", "postgres", "pg_isready", "psql", "pg_dump"];

/// The newest `/usr/lib/postgresql/<N>/bin` (Debian's layout), if there is one.
pub fn pg_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").is_file().then_some((major, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// A tool's path: PostgreSQL's own bin directory first (so client and server match), then PATH.
pub fn find(tool: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    pg_bin_dir()
        .into_iter()
        .chain(on_path)
        .map(|dir| dir.join(tool))
        .find(|candidate| is_executable(candidate))
}

/// A tool's path, or a panic that names it; for tools already checked with [`available`].
pub fn path(tool: &str) -> PathBuf {
    find(tool)
        .unwrap_or_else(|| panic!("required tool `{tool}` not found (PostgreSQL bin dir or PATH)"))
}

/// Whether every tool is there. When one is missing: under `CI=true` the test fails naming it;
/// elsewhere a notice is printed and the caller skips.
pub fn available(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| find(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "missing tool(s): {} (install them, e.g. scripts/test.sh does)",
        missing.join(", ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    false
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Skips the calling test (returns early) unless every listed tool is available.
macro_rules! require_tools {
    ($($tools:expr),+ $(,)?) => {
        if !$crate::support::tools::available(&[$($tools),+].concat()) {
            return;
        }
    };
}
pub(crate) use require_tools;
