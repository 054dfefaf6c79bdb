//! A throwaway PostgreSQL server per test: own data directory, free port, random password, stopped on drop.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::tools;

/// The superuser `initdb` creates; host connections need its password (scram-sha-256).
pub const SUPERUSER: &str = "postgres";

pub struct PgServer {
    dir: TempDir,
    port: u16,
    password: String,
    owner: Option<(u32, u32)>,
    postmaster: Option<Child>,
    /// Extra environment for the harness's own client tools (a client certificate, see `require_tls`).
    client_env: Vec<(String, PathBuf)>,
}

impl PgServer {
    /// initdb + postgres on a free port of 127.0.0.1; returns once the server accepts connections.
    pub fn start() -> PgServer {
        let dir = tempfile::Builder::new()
            .prefix("db-backup-it-pg-")
            .tempdir()
            .expect("temp dir");
        let owner = server_owner();
        let password = format!("pw-{}", random_hex(12));
        let pwfile = dir.path().join("pwfile");
        fs::write(&pwfile, format!("{password}\n")).expect("write pwfile");
        if let Some((uid, gid)) = owner {
            for path in [dir.path(), pwfile.as_path()] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown to postgres");
            }
        }
        let mut server = PgServer {
            dir,
            port: 0,
            password,
            owner,
            postmaster: None,
            client_env: Vec::new(),
        };
        let initdb = server
            .as_owner(tools::path("initdb"))
            .arg("--pgdata")
            .arg(server.data_dir())
            .args([
                "--username",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .args(["--encoding=UTF8", "--no-locale", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("run initdb");
        assert_ok("initdb", &initdb);
        fs::remove_file(&pwfile).expect("remove pwfile");

        // The free port may be taken between our probe and postgres's bind: then try another.
        for _ in 0..5 {
            server.port = free_port();
            match server.launch() {
                Ok(child) => {
                    server.postmaster = Some(child);
                    return server;
                }
                Err(log) if log.contains("could not bind") || log.contains("already in use") => {
                    continue;
                }
                Err(log) => panic!("postgres did not start:\n{log}"),
            }
        }
        panic!("postgres could not bind a free port after 5 attempts");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// Changes the superuser's password (and the one this harness uses).
    pub fn set_password(&mut self, password: &str) {
        let sql = format!(
            "ALTER ROLE {SUPERUSER} PASSWORD {}",
            quote_literal(password)
        );
        self.psql("postgres", &sql);
        self.password = password.to_string();
    }

    /// Runs SQL (possibly several statements) through psql in `db`; panics with psql's stderr on error.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.try_psql(db, sql)
            .unwrap_or_else(|err| panic!("psql in {db} failed: {err}\nSQL: {sql}"))
    }

    /// Like [`PgServer::psql`], but an error is returned (psql's stderr) instead of panicking.
    pub fn try_psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let mut child = self
            .client("psql")
            .args(["-X", "-v", "ON_ERROR_STOP=1", "-At", "-f", "-", "-d", db])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn psql");
        child
            .stdin
            .take()
            .expect("psql stdin")
            .write_all(sql.as_bytes())
            .expect("write SQL to psql");
        let out = child.wait_with_output().expect("wait for psql");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub fn create_db(&self, name: &str) {
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {}", quote_ident(name)),
        );
    }

    /// Adds table `big` to `db`: `rows` rows of an id and 32 hex characters (about 41 bytes of dump a row).
    pub fn add_big_table(&self, db: &str, rows: u32) {
        self.psql(
            db,
            &format!(
                "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, {rows}) g"
            ),
        );
    }

    pub fn db_exists(&self, name: &str) -> bool {
        let sql = format!(
            "SELECT count(*) FROM pg_database WHERE datname = {}",
            quote_literal(name)
        );
        self.psql("postgres", &sql) == "1"
    }

    /// `pg_dump` plain output of a database, for comparing a source with its restored copy.
    /// Only the `\restrict`/`\unrestrict` lines (a random key per run, PostgreSQL 13.22+) are dropped.
    pub fn dump(&self, db: &str) -> String {
        let out = self
            .client("pg_dump")
            .args(["--dbname", db])
            .output()
            .expect("run pg_dump");
        assert_ok("pg_dump", &out);
        String::from_utf8(out.stdout)
            .expect("pg_dump output is UTF-8")
            .lines()
            .filter(|line| !line.starts_with("\\restrict ") && !line.starts_with("\\unrestrict "))
            .map(|line| format!("{line}\n"))
            .collect()
    }

    /// Creates a login role `name` with a random password, runs `grants` (SQL, `{user}` standing for the role)
    /// as the superuser, and returns the password.
    pub fn create_user(&self, name: &str, grants: &str) -> String {
        let password = format!("pw-{}", random_hex(12));
        self.psql(
            "postgres",
            &format!(
                "CREATE ROLE {} LOGIN PASSWORD {}",
                quote_ident(name),
                quote_literal(&password)
            ),
        );
        if !grants.is_empty() {
            self.psql("postgres", &grants.replace("{user}", &quote_ident(name)));
        }
        password
    }

    /// Creates tablespace `name` in a directory of its own inside the server's temporary directory.
    pub fn create_tablespace(&self, name: &str) {
        let location = self.dir.path().join(format!("tablespace-{name}"));
        fs::create_dir(&location).expect("create tablespace directory");
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(&location, Some(uid), Some(gid)).expect("chown to postgres");
        }
        let location = location.to_str().expect("UTF-8 temp path");
        self.psql(
            "postgres",
            &format!(
                "CREATE TABLESPACE {} LOCATION {}",
                quote_ident(name),
                quote_literal(location)
            ),
        );
    }

    /// The names of every database but the templates, sorted.
    pub fn databases(&self) -> Vec<String> {
        self.psql(
            "postgres",
            "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname",
        )
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// `pg_dumpall --globals-only --no-role-passwords`: the roles, their attributes, settings and memberships
    /// and the tablespaces, for comparing two servers (the `\restrict` key lines dropped).
    pub fn globals(&self) -> String {
        let out = self
            .client("pg_dumpall")
            .args(["--globals-only", "--no-role-passwords"])
            .output()
            .expect("run pg_dumpall");
        assert_ok("pg_dumpall", &out);
        without_restrict_keys(&out.stdout)
    }

    /// `pg_dump --create --schema-only` of `db`: the database with its owner, settings, grants and comment,
    /// and its schema, for comparing two servers.
    pub fn schema_with_database(&self, db: &str) -> String {
        let out = self
            .client("pg_dump")
            .args(["--create", "--schema-only", "--dbname", db])
            .output()
            .expect("run pg_dump");
        assert_ok("pg_dump", &out);
        without_restrict_keys(&out.stdout)
    }

    /// Terminates every session whose application_name is `app`; returns how many there were.
    pub fn terminate_backends(&self, app: &str) -> usize {
        let sql = format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = {}",
            quote_literal(app)
        );
        self.psql("postgres", &sql).parse().expect("a count")
    }

    /// Waits (server-side, polling every 10 ms, at most `timeout`) for a session of the tool `app` (db-backup
    /// names its dump tools' sessions `pg_dump (db-backup ...)`) running a query that matches the LIKE
    /// `pattern`, and terminates it. False if none showed up in time.
    pub fn terminate_when_running(&self, app: &str, pattern: &str, timeout: Duration) -> bool {
        let tries = timeout.as_millis() / 10;
        let sql = format!(
            "DO $$ DECLARE n int; BEGIN FOR i IN 1..{tries} LOOP
                PERFORM pg_stat_clear_snapshot();
                SELECT count(pg_terminate_backend(pid)) INTO n FROM pg_stat_activity
                    WHERE application_name LIKE {app} || ' (%' AND state = 'active' AND query LIKE {pattern};
                IF n > 0 THEN RETURN; END IF;
                PERFORM pg_sleep(0.01);
             END LOOP; RAISE EXCEPTION 'no matching session'; END $$;",
            app = quote_literal(app),
            pattern = quote_literal(pattern),
        );
        self.try_psql("postgres", &sql).is_ok()
    }

    /// The number of sessions of the dump tool `tool` that db-backup started (`pg_dump (db-backup ...)`).
    pub fn dump_sessions(&self, tool: &str) -> u64 {
        let sql = format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE {} || ' (db-backup %'",
            quote_literal(tool)
        );
        self.psql("postgres", &sql).parse().expect("a count")
    }

    /// Makes the server accept only TLS connections over TCP (`ssl=on` with `certs`' server certificate, and
    /// `pg_hba.conf` with nothing but `hostssl` lines, `scram-sha-256`), then restarts it on the same port.
    /// With `client_cert` (a certificate and key for the superuser), a client certificate signed by the CA is
    /// required as well (`clientcert=verify-full`); the harness's own tools then present that one.
    pub fn require_tls(
        &mut self,
        certs: &super::certs::Certs,
        client_cert: Option<(PathBuf, PathBuf)>,
    ) {
        let option = if client_cert.is_some() {
            " clientcert=verify-full"
        } else {
            ""
        };
        self.enable_tls(certs, "hostssl", option);
        if let Some((cert, key)) = client_cert {
            self.client_env = vec![("PGSSLCERT".into(), cert), ("PGSSLKEY".into(), key)];
        }
        self.restart();
    }

    /// The opposite: `ssl=on`, but `pg_hba.conf` accepts TCP connections only without TLS (`hostnossl`).
    pub fn offer_tls_but_accept_only_plain(&mut self, certs: &super::certs::Certs) {
        self.enable_tls(certs, "hostnossl", "");
        self.restart();
    }

    /// `ssl=on` with `certs`' server certificate, and `pg_hba.conf` with only `kind` lines (plus local trust).
    fn enable_tls(&self, certs: &super::certs::Certs, kind: &str, option: &str) {
        for (from, name) in [
            (certs.server_cert(), "server.crt"),
            (certs.server_key(), "server.key"),
            (certs.ca(), "ca.crt"),
        ] {
            super::certs::install(&from, &self.data_dir().join(name), self.owner);
        }
        let mut conf = fs::OpenOptions::new()
            .append(true)
            .open(self.data_dir().join("postgresql.conf"))
            .expect("open postgresql.conf");
        conf.write_all(
            b"ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'ca.crt'\n",
        )
        .expect("write postgresql.conf");
        fs::write(
            self.data_dir().join("pg_hba.conf"),
            format!(
                "local all all trust\n\
                 {kind} all all 127.0.0.1/32 scram-sha-256{option}\n\
                 {kind} all all ::1/128 scram-sha-256{option}\n"
            ),
        )
        .expect("write pg_hba.conf");
    }

    fn restart(&mut self) {
        self.stop();
        let child = self
            .launch()
            .unwrap_or_else(|log| panic!("postgres did not restart:\n{log}"));
        self.postmaster = Some(child);
    }

    /// Fast shutdown (SIGINT), escalating to immediate (SIGQUIT) and SIGKILL if it lingers.
    pub fn stop(&mut self) {
        self.shutdown(&[libc::SIGINT, libc::SIGQUIT, libc::SIGKILL]);
    }

    /// Immediate shutdown, the nearest thing to a crash that still reaps the server's children.
    pub fn kill(&mut self) {
        self.shutdown(&[libc::SIGQUIT, libc::SIGKILL]);
    }

    /// A command for a client tool (psql, pg_dump, ...) preset to reach this server as the superuser.
    /// The password travels in the child's environment, never in its arguments.
    pub fn client(&self, tool: &str) -> Command {
        let mut cmd = Command::new(tools::path(tool));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PGPASSWORD", &self.password)
            .env("PGCONNECT_TIMEOUT", "10")
            .envs(self.client_env.iter().map(|(k, v)| (k, v)))
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--username",
                SUPERUSER,
            ]);
        cmd
    }

    /// The directory of the server's Unix socket (local connections there are trusted).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// A command run as the user that owns the cluster (`postgres` when we are root).
    fn as_owner(&self, program: PathBuf) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(self.dir.path());
        if let Some((uid, gid)) = self.owner {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn launch(&self) -> Result<Child, String> {
        let log = fs::File::create(self.log_path()).expect("create server log");
        let mut child = self
            .as_owner(tools::path("postgres"))
            .arg("-D")
            .arg(self.data_dir())
            .arg("-k")
            .arg(self.dir.path())
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
            ])
            .args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .args(["-c", "shared_buffers=32MB", "-c", "max_connections=30"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn postgres");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if child.try_wait().expect("poll postgres").is_some() {
                return Err(self.log());
            }
            let ready = Command::new(tools::path("pg_isready"))
                .args([
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-t",
                    "1",
                ])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Ok(child);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("not ready within 30 s\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn shutdown(&mut self, signals: &[libc::c_int]) {
        let Some(mut child) = self.postmaster.take() else {
            return;
        };
        let pid = child.id() as libc::pid_t;
        for &signal in signals {
            // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet.
            unsafe { libc::kill(pid, signal) };
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if child.try_wait().expect("poll postgres").is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("postgres (pid {pid}) survived SIGKILL");
    }

    fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A dump's text without the `\restrict`/`\unrestrict` lines (a random key per run, PostgreSQL 13.22+).
fn without_restrict_keys(out: &[u8]) -> String {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|line| !line.starts_with("\\restrict ") && !line.starts_with("\\unrestrict "))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// SQL string literal.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Random hex from the kernel (no rand crate needed).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    use std::io::Read;
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    hex::encode(buf)
}

/// initdb and postgres refuse to run as root: as root, the cluster belongs to the `postgres` user.
fn server_owner() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("run id");
        assert!(
            out.status.success(),
            "running as root needs a `postgres` user to own test clusters"
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("numeric id")
    };
    Some((id("-u"), id("-g")))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("probe a free port")
        .port()
}

fn assert_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
