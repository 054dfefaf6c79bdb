//! Choosing the PostgreSQL client tools: `pg_dump` refuses a server newer than itself, so the client's major
//! version must match the server's (or be newer).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::{SslMode, TlsSettings};
use crate::error::{Error, Result};
use crate::process;

/// Where Debian (and the image) keeps the system trust store as one file, for libpq before 16, which has no
/// `sslrootcert=system`.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Gives a tool the TLS settings db-backup's own connection uses: `PGSSLMODE`, and the CA, certificate and key
/// files (`PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`). Without a CA file the verifying modes trust the system
/// store, as db-backup's connection does. Variables that are not ours to set are removed, so that the tools
/// never use settings db-backup did not check.
pub fn set_tls_env(tls: &TlsSettings, cmd: &mut Command) {
    cmd.env("PGSSLMODE", tls.mode.name());
    let ca = match (&tls.ca_file, tls.mode) {
        (Some(file), _) => Some(file.clone()),
        (None, SslMode::VerifyCa | SslMode::VerifyFull) => Some(PathBuf::from(SYSTEM_CA_BUNDLE)),
        (None, _) => None,
    };
    for (var, value) in [
        ("PGSSLROOTCERT", ca.as_ref()),
        ("PGSSLCERT", tls.cert_file.as_ref()),
        ("PGSSLKEY", tls.key_file.as_ref()),
    ] {
        match value {
            Some(path) => cmd.env(var, path),
            None => cmd.env_remove(var),
        };
    }
    for var in [
        "PGSSLCRL",
        "PGSSLCRLDIR",
        "PGREQUIRESSL",
        "PGSSLNEGOTIATION",
    ] {
        cmd.env_remove(var);
    }
}

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

    fn env_of(cmd: &Command) -> Vec<(String, Option<String>)> {
        cmd.get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect()
    }

    #[test]
    fn the_tools_get_the_tls_settings() {
        let tls = TlsSettings {
            mode: SslMode::VerifyFull,
            ca_file: Some(PathBuf::from("/ca.pem")),
            cert_file: Some(PathBuf::from("/c.pem")),
            key_file: Some(PathBuf::from("/k.pem")),
        };
        let mut cmd = Command::new("pg_dump");
        set_tls_env(&tls, &mut cmd);
        let env = env_of(&cmd);
        let get = |k: &str| {
            env.iter()
                .find(|(n, _)| n == k)
                .and_then(|(_, v)| v.clone())
        };
        assert_eq!(get("PGSSLMODE").as_deref(), Some("verify-full"));
        assert_eq!(get("PGSSLROOTCERT").as_deref(), Some("/ca.pem"));
        assert_eq!(get("PGSSLCERT").as_deref(), Some("/c.pem"));
        assert_eq!(get("PGSSLKEY").as_deref(), Some("/k.pem"));

        let mut cmd = Command::new("pg_dump");
        set_tls_env(&TlsSettings::default(), &mut cmd);
        let env = env_of(&cmd);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("PGSSLMODE"), Some(Some("prefer".to_string())));
        assert_eq!(get("PGSSLROOTCERT"), Some(None), "removed, not inherited");
    }

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
