//! Choosing the PostgreSQL client tools: `pg_dump` refuses a server newer than itself, so the client's major
//! version must match the server's (or be newer).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::process;

/// Where the chosen client tools live and their major version.
#[derive(Debug, Clone)]
pub struct PgTools {
    /// `None`: the tools are found on `PATH`.
    pub dir: Option<PathBuf>,
    pub major: u32,
}

impl PgTools {
    /// A command for one of the client tools (`pg_dump`, `pg_dumpall`, `psql`, `pg_restore`).
    pub fn command(&self, tool: &str) -> Command {
        match &self.dir {
            Some(dir) => Command::new(dir.join(tool)),
            None => Command::new(tool),
        }
    }

    /// The newest client available, for work that needs no server (reading an archive).
    /// Its major version is not looked up (0).
    pub fn newest(pg_bin_dir: Option<&Path>) -> PgTools {
        let dir = pg_bin_dir
            .map(Path::to_path_buf)
            .or_else(|| installed_dirs().into_iter().next());
        PgTools { dir, major: 0 }
    }

    /// Finds the client that fits a server of major version `server_major`.
    pub fn find(server_major: u32, pg_bin_dir: Option<&Path>) -> Result<PgTools> {
        let mut candidates: Vec<Option<PathBuf>> = Vec::new();
        match pg_bin_dir {
            Some(dir) => candidates.push(Some(dir.to_path_buf())),
            None => {
                candidates.extend(installed_dirs().into_iter().map(Some));
                candidates.push(None);
            }
        }
        let mut found: Vec<PgTools> = Vec::new();
        for dir in candidates {
            let mut cmd = match &dir {
                Some(d) => Command::new(d.join("pg_dump")),
                None => Command::new("pg_dump"),
            };
            cmd.arg("--version");
            if let Ok(out) = process::output("pg_dump", cmd)
                && let Some(major) = parse_major(&out)
            {
                found.push(PgTools { dir, major });
            }
        }
        choose(server_major, found, pg_bin_dir)
    }
}

fn choose(server_major: u32, found: Vec<PgTools>, pg_bin_dir: Option<&Path>) -> Result<PgTools> {
    let where_ = match pg_bin_dir {
        Some(d) => format!("in PG_BIN_DIR ({})", d.display()),
        None => "in /usr/lib/postgresql/*/bin or on PATH".to_string(),
    };
    if let Some(exact) = found.iter().find(|t| t.major == server_major) {
        return Ok(exact.clone());
    }
    if let Some(newer) = found
        .iter()
        .filter(|t| t.major > server_major)
        .min_by_key(|t| t.major)
    {
        return Ok(newer.clone());
    }
    let have = match found.iter().map(|t| t.major).max() {
        Some(m) => {
            format!("the newest pg_dump found {where_} is version {m}, older than the server")
        }
        None => format!("no working pg_dump was found {where_}"),
    };
    Err(Error::Tool {
        tool: "pg_dump".into(),
        message: format!(
            "the server runs PostgreSQL {server_major} and {have}; a pg_dump of version {server_major} \
             or newer is needed: install postgresql-client-{server_major} or set PG_BIN_DIR to its bin directory"
        ),
    })
}

/// `/usr/lib/postgresql/<N>/bin` directories that hold a `pg_dump`, newest first.
fn installed_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_dump").exists().then_some((major, bin))
        })
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
    dirs.into_iter().map(|(_, d)| d).collect()
}

/// The major version from `pg_dump --version` output such as `pg_dump (PostgreSQL) 15.19 (Debian 15.19-0)`.
pub fn parse_major(version_output: &str) -> Option<u32> {
    let after = version_output.split(')').nth(1)?.trim();
    let number = after.split_whitespace().next()?;
    number.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(
            parse_major("pg_dump (PostgreSQL) 15.19 (Debian 15.19-0+deb12u1)\n"),
            Some(15)
        );
        assert_eq!(parse_major("pg_dump (PostgreSQL) 17.2\n"), Some(17));
        assert_eq!(parse_major("pg_dump (PostgreSQL) 12.0"), Some(12));
        assert_eq!(parse_major("garbage"), None);
    }

    #[test]
    fn prefers_the_exact_major_then_the_nearest_newer() {
        let tools = |m: &[u32]| {
            m.iter()
                .map(|&major| PgTools {
                    dir: Some(PathBuf::from(format!("/{major}"))),
                    major,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(choose(15, tools(&[17, 15, 13]), None).unwrap().major, 15);
        assert_eq!(choose(14, tools(&[17, 16, 13]), None).unwrap().major, 16);
        let err = choose(16, tools(&[12, 15]), None).unwrap_err().to_string();
        assert!(err.contains("version 16 or newer"), "{err}");
        assert!(err.contains("version 15"), "{err}");
    }
}
