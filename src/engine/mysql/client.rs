//! The MySQL/MariaDB client tools: finding `mariadb-dump`/`mysqldump` and `mariadb`/`mysql`, and the private
//! option file that carries the connection settings and the password to them (never their command line).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::{SslMode, TlsSettings, Verify};
use crate::engine::mysql::settings::MysqlConfig;
use crate::error::{Error, Result};

/// Where Debian (and the image) keeps the system trust store as one file, for the verifying modes without
/// `DB_SSL_CA_FILE`.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The dump tool's names, preferred first: MariaDB 11 warns when started as `mysqldump`.
const DUMP_TOOLS: &[&str] = &["mariadb-dump", "mysqldump"];
/// The command-line client's names, preferred first.
const CLIENT_TOOLS: &[&str] = &["mariadb", "mysql"];

/// The largest packet the tools accept: a row with a big BLOB must not stop a dump or a restore. (The
/// server's own `max_allowed_packet` still applies on its side.)
const MAX_PACKET: &str = "--max-allowed-packet=1073741824";

/// Where the client tools are looked for: `MYSQL_BIN_DIR`, or `PATH`.
#[derive(Debug, Clone)]
pub struct Tools {
    dir: Option<PathBuf>,
}

impl Tools {
    pub fn new(mysql_bin_dir: Option<&Path>) -> Tools {
        Tools {
            dir: mysql_bin_dir.map(Path::to_path_buf),
        }
    }

    /// The dump tool: its name (for messages) and path.
    pub fn dump(&self) -> Result<(String, PathBuf)> {
        self.find(DUMP_TOOLS)
    }

    /// The command-line client that restores: its name and path.
    pub fn client(&self) -> Result<(String, PathBuf)> {
        self.find(CLIENT_TOOLS)
    }

    fn find(&self, names: &[&str]) -> Result<(String, PathBuf)> {
        let dirs: Vec<PathBuf> = match &self.dir {
            Some(dir) => vec![dir.clone()],
            None => std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect())
                .unwrap_or_default(),
        };
        for name in names {
            if let Some(path) = dirs.iter().map(|d| d.join(name)).find(|p| is_executable(p)) {
                return Ok((name.to_string(), path));
            }
        }
        let where_ = match &self.dir {
            Some(dir) => format!("in MYSQL_BIN_DIR ({})", dir.display()),
            None => "on PATH".to_string(),
        };
        Err(Error::Tool {
            tool: names.join("/"),
            message: format!(
                "neither {} was found {where_}; install the MariaDB client tools (Debian: mariadb-client) \
                 or set MYSQL_BIN_DIR to the directory that holds them",
                names.join(" nor ")
            ),
        })
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A command for `tool` that reads its connection settings from `option_file`. The option file must be
/// the first argument; the environment variables the tools would otherwise read a password from are
/// removed.
fn command(tool: &Path, option_file: &Path) -> Command {
    let mut cmd = Command::new(tool);
    let mut arg = std::ffi::OsString::from("--defaults-extra-file=");
    arg.push(option_file);
    cmd.arg(arg);
    for var in [
        "MYSQL_PWD",
        "MYSQL_HOST",
        "MYSQL_TCP_PORT",
        "DB_PASSWORD",
        "DB_PASSWORD_FILE",
        "PGPASSWORD",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The dump of one database to stdout: consistent (one transaction), streamed row by row, with routines,
/// triggers and events, binary data as hex, and without `CREATE DATABASE`/`USE` (one database named
/// without `--databases`), so that it restores into a database of any name. `extra` (MYSQLDUMP_ARGS) comes
/// last, so it can switch a default off (`--skip-events` for a user without the EVENT privilege).
pub fn dump_command(tool: &Path, option_file: &Path, database: &str, extra: &[String]) -> Command {
    let mut cmd = command(tool, option_file);
    cmd.args([
        "--single-transaction",
        "--quick",
        "--routines",
        "--triggers",
        "--events",
        "--hex-blob",
        // Tablespace statements only concern NDB and need the PROCESS privilege on MySQL 8.
        "--no-tablespaces",
        MAX_PACKET,
    ]);
    cmd.args(extra);
    cmd.arg("--").arg(database);
    cmd
}

/// The dump of the server's users, roles and grants to stdout: `CREATE USER IF NOT EXISTS` and `GRANT`
/// statements, one a line, so that a restore adds what is missing and never drops an account. `extra`
/// (MYSQLDUMP_ARGS) is not passed: its options concern a database's objects.
pub fn users_dump_command(tool: &Path, option_file: &Path) -> Command {
    let mut cmd = command(tool, option_file);
    cmd.args(["--system=users", "--insert-ignore", MAX_PACKET]);
    cmd
}

/// The client that executes a users dump read on stdin, with no database, stopping at the first error.
pub fn users_restore_command(tool: &Path, option_file: &Path) -> Command {
    let mut cmd = command(tool, option_file);
    cmd.args(["--batch", "--binary-mode", "--no-auto-rehash", MAX_PACKET]);
    cmd
}

/// The client that executes a dump read on stdin in `database`, stopping at the first error (batch mode
/// without `--force`). `--binary-mode` keeps the client from interpreting backslash commands in the data.
pub fn restore_command(tool: &Path, option_file: &Path, database: &str) -> Command {
    let mut cmd = command(tool, option_file);
    cmd.args(["--batch", "--binary-mode", "--no-auto-rehash", MAX_PACKET]);
    cmd.arg(format!("--database={database}"));
    cmd
}

/// Writes the option file that every tool reads first: host, port and user, the password when there is
/// one, and TCP (a client told `localhost` would otherwise look for a local socket). Readable only by
/// this user (0600), removed when dropped.
pub fn write_option_file(cfg: &MysqlConfig) -> Result<tempfile::NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix("db-backup-my-")
        .suffix(".cnf")
        .tempfile()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let mut text = format!(
        "[client]\nhost={}\nport={}\nuser={}\nprotocol=TCP\n",
        quote_option(&cfg.conn.host),
        cfg.conn.port,
        quote_option(&cfg.conn.user)
    );
    if let Some(password) = &cfg.conn.password {
        text.push_str(&format!("password={}\n", quote_option(password.expose())));
    }
    text.push_str(&tls_lines(&cfg.conn.tls));
    file.write_all(text.as_bytes())
        .and_then(|_| file.flush())
        .map_err(|e| Error::io(file.path(), e))?;
    Ok(file)
}

/// The option file lines for `DB_SSLMODE` in the MariaDB client's terms: `skip-ssl` for `disable`; `ssl` (TLS
/// when the server offers it, the client's default) for `prefer` and `require`; a CA file (which makes the
/// client check the chain) for `verify-ca` and for `require` with `DB_SSL_CA_FILE`, as libpq does; and
/// `ssl-verify-server-cert` (the host name too) for `verify-full`. db-backup's own connection has already
/// checked that TLS is there when the mode requires it.
fn tls_lines(tls: &TlsSettings) -> String {
    if tls.mode == SslMode::Disable {
        return "skip-ssl\n".to_string();
    }
    let mut text = String::from("ssl\n");
    let verify = tls.verify();
    if verify != Verify::Nothing {
        let ca = tls
            .ca_file
            .as_deref()
            .unwrap_or(Path::new(SYSTEM_CA_BUNDLE));
        text.push_str(&format!("ssl-ca={}\n", quote_option(&ca.to_string_lossy())));
    }
    if verify == Verify::Full {
        text.push_str("ssl-verify-server-cert\n");
    }
    if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
        text.push_str(&format!(
            "ssl-cert={}\nssl-key={}\n",
            quote_option(&cert.to_string_lossy()),
            quote_option(&key.to_string_lossy())
        ));
    }
    text
}

/// A value for an option file: double-quoted, so that `#`, `;` and spaces are kept, with the escapes the
/// option file parser undoes.
fn quote_option(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_lines_follow_the_mode() {
        let mut tls = TlsSettings {
            mode: SslMode::Disable,
            ..TlsSettings::default()
        };
        assert_eq!(tls_lines(&tls), "skip-ssl\n");
        tls.mode = SslMode::Require;
        assert_eq!(tls_lines(&tls), "ssl\n");
        tls.mode = SslMode::VerifyFull;
        tls.ca_file = Some(PathBuf::from("/ca.pem"));
        tls.cert_file = Some(PathBuf::from("/c.pem"));
        tls.key_file = Some(PathBuf::from("/k.pem"));
        assert_eq!(
            tls_lines(&tls),
            "ssl\nssl-ca=\"/ca.pem\"\nssl-verify-server-cert\nssl-cert=\"/c.pem\"\nssl-key=\"/k.pem\"\n"
        );
        tls.mode = SslMode::VerifyCa;
        tls.ca_file = None;
        assert!(tls_lines(&tls).contains("ssl-ca=\"/etc/ssl/certs/ca-certificates.crt\""));
        assert!(!tls_lines(&tls).contains("verify-server-cert"));
    }

    #[test]
    fn option_values_are_quoted_and_escaped() {
        assert_eq!(quote_option("plain"), "\"plain\"");
        assert_eq!(quote_option(r#"a\b"c# d'e;f"#), r#""a\\b\"c# d'e;f""#);
        assert_eq!(quote_option("tab\there"), "\"tab\\there\"");
    }

    #[test]
    fn the_option_file_comes_first_and_the_database_last() {
        let cmd = dump_command(
            Path::new("/bin/mariadb-dump"),
            Path::new("/tmp/x.cnf"),
            "-odd",
            &["--skip-events".to_string()],
        );
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[0], "--defaults-extra-file=/tmp/x.cnf");
        assert_eq!(args[args.len() - 3..], ["--skip-events", "--", "-odd"]);
        assert!(args.iter().all(|a| !a.starts_with("--databases")));
    }

    #[test]
    fn a_missing_tool_says_what_to_install() {
        let empty = tempfile::tempdir().expect("temp dir");
        let err = Tools::new(Some(empty.path()))
            .dump()
            .unwrap_err()
            .to_string();
        assert!(err.contains("mariadb-dump nor mysqldump"), "{err}");
        assert!(err.contains("MYSQL_BIN_DIR"), "{err}");
    }
}
