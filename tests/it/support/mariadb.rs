//! A throwaway MariaDB server per test: own data directory, socket and free port, a root password with
//! characters that need quoting, killed on drop. Never the machine's own server.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::pg::random_hex;
use super::runner::DbBackup;
use super::tools;

/// The client tools the tests drive (the server binaries are looked for in sbin too, see [`available`]).
const CLIENT_TOOLS: &[&str] = &["mariadb", "mariadb-dump", "sha256sum", "gzip"];
const SERVER_TOOLS: &[&str] = &["mariadb-install-db", "mariadbd"];

pub struct MariaDb {
    dir: TempDir,
    port: u16,
    password: String,
    server: Option<Child>,
    /// Extra server options (TLS, see `start_requiring_tls`).
    extra: Vec<String>,
}

/// Whether a MariaDB server can be started here; like `require_tools!`, a missing tool fails the test
/// under `CI=true` and skips it elsewhere.
pub fn available() -> bool {
    let missing: Vec<&str> = SERVER_TOOLS
        .iter()
        .copied()
        .filter(|t| server_tool(t).is_none())
        .collect();
    if !missing.is_empty() {
        let message = format!(
            "missing tool(s): {} (install mariadb-server, e.g. scripts/test.sh does)",
            missing.join(", ")
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        eprintln!("SKIPPED: {message}");
        return false;
    }
    tools::available(CLIENT_TOOLS)
}

/// A server binary: on PATH, or in the sbin directories a non-root PATH may lack.
fn server_tool(name: &str) -> Option<PathBuf> {
    tools::find(name).or_else(|| {
        ["/usr/sbin", "/usr/local/sbin", "/usr/libexec"]
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.is_file())
    })
}

impl MariaDb {
    /// mariadb-install-db + mariadbd on a free port of 127.0.0.1; returns once root can log in with its
    /// password over TCP.
    pub fn start() -> MariaDb {
        MariaDb::start_with(Vec::new())
    }

    /// As [`MariaDb::start`], with TLS (`certs`' server certificate and CA) and `require_secure_transport=ON`:
    /// TCP connections without TLS are refused (the harness's own socket connection is not TCP).
    pub fn start_requiring_tls(certs: &super::certs::Certs) -> MariaDb {
        let path = |p: std::path::PathBuf| p.display().to_string();
        MariaDb::start_with(vec![
            format!("--ssl-cert={}", path(certs.server_cert())),
            format!("--ssl-key={}", path(certs.server_key())),
            format!("--ssl-ca={}", path(certs.ca())),
            "--require-secure-transport=ON".to_string(),
        ])
    }

    fn start_with(extra: Vec<String>) -> MariaDb {
        let dir = tempfile::Builder::new()
            .prefix("db-backup-it-my-")
            .tempdir()
            .expect("temp dir");
        let mut db = MariaDb {
            dir,
            port: 0,
            password: format!("pw-{}\"\\# ';x", random_hex(8)),
            server: None,
            extra,
        };
        fs::create_dir(db.tmp_dir()).expect("create the server's tmpdir");
        let mut install =
            Command::new(server_tool("mariadb-install-db").expect("mariadb-install-db"));
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", db.data_dir().display()))
            .arg(format!("--tmpdir={}", db.tmp_dir().display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
                "--innodb-log-file-size=8M",
            ]);
        if is_root() {
            install.arg("--user=root");
        }
        let out = install.output().expect("run mariadb-install-db");
        assert!(
            out.status.success(),
            "mariadb-install-db failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The free port may be taken between our probe and the server's bind: then try another.
        for _ in 0..5 {
            db.port = free_port();
            match db.launch() {
                Ok(child) => {
                    db.server = Some(child);
                    db.set_root_password();
                    return db;
                }
                Err(log) if log.contains("Bind on TCP/IP port") || log.contains("in use") => {
                    continue;
                }
                Err(log) => panic!("mariadbd did not start:\n{log}"),
            }
        }
        panic!("mariadbd could not bind a free port after 5 attempts");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// db-backup configured to back up database `db` of this server into `backup_dir` as series `my`.
    pub fn db_backup(&self, db: &str, backup_dir: &Path) -> DbBackup {
        DbBackup::offline(backup_dir)
            .env("DB_TYPE", "mysql")
            .env("DB_USER", "root")
            .env("DB_CONTAINER", "my")
            .env("DB_PORT", &self.port.to_string())
            .env("DB_PASSWORD", &self.password)
            .env("DB_NAME", db)
            .env("DB_WAIT_TIMEOUT", "10")
    }

    /// Runs SQL (several statements, `DELIMITER` allowed) as root in `db` (or none); panics on error.
    pub fn sql(&self, db: Option<&str>, sql: &str) -> String {
        self.try_sql(db, sql)
            .unwrap_or_else(|err| panic!("SQL in {db:?} failed: {err}\nSQL: {sql}"))
    }

    /// Like [`MariaDb::sql`], but an error is returned (the client's stderr) instead of panicking.
    pub fn try_sql(&self, db: Option<&str>, sql: &str) -> Result<String, String> {
        let mut cmd = self.client("mariadb");
        cmd.args(["--batch", "--skip-column-names"]);
        if let Some(db) = db {
            cmd.arg(format!("--database={db}"));
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mariadb");
        child
            .stdin
            .take()
            .expect("mariadb stdin")
            .write_all(sql.as_bytes())
            .expect("write SQL to mariadb");
        let out = child.wait_with_output().expect("wait for mariadb");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Drops the accounts whose host is a machine name (`mariadb-install-db` makes `root@<hostname>`): under
    /// `--skip-name-resolve` the server ignores them, and the users dump (`SHOW CREATE USER`) fails on them.
    pub fn drop_host_name_accounts(&self) {
        let hosts = self.sql(
            None,
            "SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.user \
             WHERE is_role = 'N' AND Host NOT IN ('localhost', '127.0.0.1', '::1', '%', '')",
        );
        for account in hosts.lines() {
            self.sql(None, &format!("DROP USER {account}"));
        }
    }

    /// `SHOW GRANTS` of every account (users and roles) but `skip`, as a sorted set of lines per account
    /// (`name@host`), for comparing a server with its restored copy. Sets, because MariaDB may list one
    /// `GRANT PROXY` twice for an account that existed before a restore granted it again; column lists
    /// (`SELECT (a, b)`) sorted, because the server lists a column grant's columns in no fixed order.
    pub fn all_grants(
        &self,
        skip: &[&str],
    ) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
        let accounts = self.sql(
            None,
            "SELECT User, Host, is_role FROM mysql.user ORDER BY User, Host",
        );
        let mut out = std::collections::BTreeMap::new();
        for row in accounts.lines() {
            let mut cols = row.split('\t');
            let (user, host, role) = (
                cols.next().unwrap_or(""),
                cols.next().unwrap_or(""),
                cols.next().unwrap_or(""),
            );
            let name = format!("{user}@{host}");
            if skip.contains(&name.as_str()) {
                continue;
            }
            let target = if role == "Y" {
                quote_literal(user)
            } else {
                format!("{}@{}", quote_literal(user), quote_literal(host))
            };
            let grants = self.sql(None, &format!("SHOW GRANTS FOR {target}"));
            out.insert(name, grants.lines().map(sort_column_lists).collect());
        }
        out
    }

    /// Creates user `name`@`%` with `password` and runs each of `grants` (`GRANT ... TO` is appended).
    pub fn create_user(&self, name: &str, password: &str, grants: &[&str]) {
        let account = format!("{}@'%'", quote_literal(name));
        let mut sql = format!(
            "CREATE USER {account} IDENTIFIED BY {};\n",
            quote_literal(password)
        );
        for grant in grants {
            sql.push_str(&format!("GRANT {grant} TO {account};\n"));
        }
        self.sql(None, &sql);
    }

    /// db-backup configured like [`MariaDb::db_backup`], but logging in as `user` with `password`.
    pub fn db_backup_as(
        &self,
        user: &str,
        password: &str,
        db: &str,
        backup_dir: &Path,
    ) -> DbBackup {
        self.db_backup(db, backup_dir)
            .env("DB_USER", user)
            .env("DB_PASSWORD", password)
    }

    /// Gives every root account `password` instead of its own random one (two servers sharing it, so that a
    /// restore of one's accounts into the other keeps the harness's own login working).
    pub fn use_root_password(&mut self, password: &str) {
        self.password = password.to_string();
        self.set_root_password();
    }

    /// Whether `user` can log in over TCP with `password` (the client reads it from a private option file).
    pub fn can_log_in(&self, user: &str, password: &str) -> bool {
        let cnf = self.dir.path().join(format!("login-{}.cnf", random_hex(6)));
        let escaped = password.replace('\\', "\\\\").replace('"', "\\\"");
        fs::write(
            &cnf,
            format!(
                "[client]\nuser={user}\nhost=127.0.0.1\nport={}\nprotocol=TCP\npassword=\"{escaped}\"\n",
                self.port
            ),
        )
        .expect("write login.cnf");
        let ok = Command::new(tools::path("mariadb"))
            .env_clear()
            .arg(format!("--defaults-file={}", cnf.display()))
            .args(["--batch", "-e", "SELECT 1"])
            .stdin(Stdio::null())
            .output()
            .expect("run mariadb")
            .status
            .success();
        let _ = fs::remove_file(&cnf);
        ok
    }

    pub fn create_db(&self, name: &str) {
        self.sql(None, &format!("CREATE DATABASE {}", quote_ident(name)));
    }

    pub fn db_exists(&self, name: &str) -> bool {
        let sql = format!(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}",
            quote_literal(name)
        );
        self.sql(None, &sql) == "1"
    }

    /// The number of tables and views in `db`.
    pub fn table_count(&self, db: &str) -> u64 {
        let sql = format!(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {}",
            quote_literal(db)
        );
        self.sql(None, &sql).parse().expect("a count")
    }

    /// A dump of `db` with everything in it (routines, triggers, events) and no date, for comparing a source
    /// with its restored copy. The comment lines that name the database are left out.
    pub fn dump(&self, db: &str) -> String {
        let out = self
            .client("mariadb-dump")
            .args([
                "--skip-dump-date",
                "--single-transaction",
                "--routines",
                "--triggers",
                "--events",
                "--hex-blob",
                "--",
                db,
            ])
            .output()
            .expect("run mariadb-dump");
        assert!(
            out.status.success(),
            "mariadb-dump {db} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("the dump is UTF-8")
            .lines()
            .filter(|line| {
                !(line.starts_with("-- Host: ")
                    || line.starts_with("-- Dumping events for database ")
                    || line.starts_with("-- Dumping routines for database "))
            })
            .map(|line| format!("{line}\n"))
            .collect()
    }

    /// Waits (server-side, polling every 10 ms, at most `timeout`) for a session whose running statement
    /// matches the LIKE `pattern`, and kills its connection (MariaDB `KILL`). False if none showed up.
    pub fn kill_when_running(&self, pattern: &str, timeout: Duration) -> bool {
        let tries = timeout.as_millis() / 10;
        let sql = format!(
            "DELIMITER //
             BEGIN NOT ATOMIC
               DECLARE victim BIGINT DEFAULT NULL;
               DECLARE tries INT DEFAULT 0;
               DECLARE CONTINUE HANDLER FOR NOT FOUND SET victim = NULL;
               WHILE victim IS NULL AND tries < {tries} DO
                 SELECT ID INTO victim FROM information_schema.PROCESSLIST
                   WHERE ID <> CONNECTION_ID() AND COMMAND = 'Query' AND INFO LIKE {pattern} LIMIT 1;
                 IF victim IS NULL THEN DO SLEEP(0.01); SET tries = tries + 1; END IF;
               END WHILE;
               IF victim IS NULL THEN
                 SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'no matching session';
               END IF;
               EXECUTE IMMEDIATE CONCAT('KILL ', victim);
             END //",
            pattern = quote_literal(pattern),
        );
        self.try_sql(None, &sql).is_ok()
    }

    /// Kills the server at once (SIGKILL): its port stops answering.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A command for a client tool (mariadb, mariadb-dump) that reaches this server as root over its socket.
    /// The settings, password included, come from an option file, never the command line.
    pub fn client(&self, tool: &str) -> Command {
        let mut cmd = Command::new(tools::path(tool));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .arg(format!("--defaults-file={}", self.client_cnf().display()));
        cmd
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The server's own tmpdir: at start, mariadbd deletes every `#sql*` file in its tmpdir, so servers
    /// sharing /tmp would delete each other's temporary tables.
    fn tmp_dir(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("mysqld.sock")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn client_cnf(&self) -> PathBuf {
        self.dir.path().join("client.cnf")
    }

    /// Writes the harness's own option file; `with_password` once root has one.
    fn write_client_cnf(&self, with_password: bool) {
        let mut text = format!(
            "[client]\nuser=root\nsocket={}\ndefault-character-set=utf8mb4\n",
            self.socket().display()
        );
        if with_password {
            let escaped = self.password.replace('\\', "\\\\").replace('"', "\\\"");
            text.push_str(&format!("password=\"{escaped}\"\n"));
        }
        fs::write(self.client_cnf(), text).expect("write client.cnf");
    }

    fn launch(&self) -> Result<Child, String> {
        let log = fs::File::create(self.log_path()).expect("create server log");
        let mut cmd = Command::new(server_tool("mariadbd").expect("mariadbd"));
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", self.data_dir().display()))
            .arg(format!("--tmpdir={}", self.tmp_dir().display()))
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!(
                "--pid-file={}",
                self.dir.path().join("mysqld.pid").display()
            ))
            .arg(format!("--port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-log-file-size=8M",
                "--innodb-buffer-pool-size=32M",
                "--innodb-flush-log-at-trx-commit=0",
                "--skip-innodb-doublewrite",
                "--max-connections=30",
                "--event-scheduler=OFF",
            ])
            .args(&self.extra);
        if is_root() {
            cmd.arg("--user=root");
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn mariadbd");
        self.write_client_cnf(false);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if child.try_wait().expect("poll mariadbd").is_some() {
                return Err(self.log());
            }
            if self.socket().exists() && self.try_sql(None, "SELECT 1").is_ok() {
                return Ok(child);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("not ready within 30 s\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Gives every root account that can log in (socket and TCP) the password, so that nothing logs in
    /// without it. (The one for the machine's host name is ignored under `--skip-name-resolve`.)
    fn set_root_password(&self) {
        let hosts = self.sql(
            None,
            "SELECT Host FROM mysql.user WHERE User = 'root' AND Host IN ('localhost', '127.0.0.1', '::1')",
        );
        let password = quote_literal(&self.password);
        let mut sql = String::new();
        for host in hosts.lines() {
            sql.push_str(&format!(
                "ALTER USER 'root'@{} IDENTIFIED BY {password};\n",
                quote_literal(host)
            ));
        }
        self.sql(None, &sql);
        self.write_client_cnf(true);
    }

    fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `SHOW GRANTS` line with the names in each parenthesized column list sorted.
fn sort_column_lists(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(open) = rest.find(" (`") {
        let Some(close) = rest[open..].find(')') else {
            break;
        };
        let mut columns: Vec<&str> = rest[open + 2..open + close].split(", ").collect();
        columns.sort_unstable();
        out.push_str(&rest[..open + 2]);
        out.push_str(&columns.join(", "));
        rest = &rest[open + close..];
    }
    out.push_str(rest);
    out
}

/// A MYSQL_BIN_DIR whose `mariadb-dump` is the shell `script` (`$REAL` is the real one, `"$@"` its
/// arguments); `mariadb` is the real client.
pub fn fake_dump_tool(script: &str) -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().expect("temp bin dir");
    std::os::unix::fs::symlink(tools::path("mariadb"), bin.path().join("mariadb"))
        .expect("link the client");
    let dump = bin.path().join("mariadb-dump");
    let real = tools::path("mariadb-dump");
    fs::write(
        &dump,
        format!(
            "#!/bin/bash\nset -o pipefail\nREAL='{}'\n{script}",
            real.display()
        ),
    )
    .expect("write fake mariadb-dump");
    fs::set_permissions(&dump, fs::Permissions::from_mode(0o755)).expect("chmod fake mariadb-dump");
    bin
}

/// A MariaDB string literal (backslashes are escapes in the default SQL mode).
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// A MariaDB identifier.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("probe a free port")
        .port()
}
