//! Runs the db-backup binary under test with only the environment a test gives it.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::pg::PgServer;

/// The most any single run may take before the test calls it hung.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// How to start the binary: which file (the binary itself or a link to it) and which variables.
#[derive(Clone)]
pub struct DbBackup {
    program: PathBuf,
    env: BTreeMap<String, String>,
}

/// A finished run.
pub struct Run {
    /// The exit status; None when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// A run in progress (for tests that act while it works).
pub struct Running {
    child: Child,
    started: Instant,
    out_dir: tempfile::TempDir,
}

impl DbBackup {
    /// The binary with an empty environment (PATH aside).
    pub fn bare() -> DbBackup {
        DbBackup {
            program: PathBuf::from(env!("CARGO_BIN_EXE_db-backup")),
            env: BTreeMap::new(),
        }
    }

    /// Configured to back up database `db` of `pg` into `backup_dir` as series `pg`.
    pub fn for_server(pg: &PgServer, db: &str, backup_dir: &Path) -> DbBackup {
        DbBackup::offline(backup_dir)
            .env("DB_PORT", &pg.port().to_string())
            .env("DB_PASSWORD", pg.password())
            .env("DB_NAME", db)
            .env("DB_WAIT_TIMEOUT", "10")
    }

    /// A valid configuration whose server is nowhere (port 1): for commands that need no server.
    pub fn offline(backup_dir: &Path) -> DbBackup {
        DbBackup::bare()
            .env("DB_TYPE", "postgres")
            .env("DB_HOST", "127.0.0.1")
            .env("DB_PORT", "1")
            .env("DB_USER", "postgres")
            .env("DB_NAME", "app")
            .env("DB_CONTAINER", "pg")
            .env("BACKUP_DIR", backup_dir.to_str().expect("UTF-8 temp path"))
            .env("DB_WAIT_TIMEOUT", "2")
            .env("TZ", "UTC")
    }

    pub fn env(mut self, key: &str, value: &str) -> DbBackup {
        self.env.insert(key.to_string(), value.to_string());
        self
    }

    pub fn without(mut self, key: &str) -> DbBackup {
        self.env.remove(key);
        self
    }

    /// Start this file instead of the binary (a symlink to it, for name dispatch).
    pub fn program(mut self, program: &Path) -> DbBackup {
        self.program = program.to_path_buf();
        self
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.spawn(args).wait(RUN_TIMEOUT)
    }

    /// Starts the binary; output goes to files so that a chatty run never blocks on a pipe.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let out_dir = tempfile::tempdir().expect("temp dir for output");
        let file = |name: &str| fs::File::create(out_dir.path().join(name)).expect("output file");
        let child = Command::new(&self.program)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(&self.env)
            .args(args)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(file("stdout"))
            .stderr(file("stderr"))
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.program.display()));
        Running {
            child,
            started: Instant::now(),
            out_dir,
        }
    }
}

impl Running {
    /// The process id, for sending it signals.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on a child this runner spawned and has not reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
    }

    /// What the process has written to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        fs::read_to_string(self.out_dir.path().join("stderr")).unwrap_or_default()
    }

    /// Waits for the run to end; kills it and fails the test after `timeout`.
    pub fn wait(mut self, timeout: Duration) -> Run {
        let code = loop {
            if let Some(status) = self.child.try_wait().expect("poll db-backup") {
                break status.code();
            }
            if self.started.elapsed() > timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "db-backup still running after {timeout:?}:\n{}",
                    self.collect(None)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.collect(code)
    }

    fn collect(&self, code: Option<i32>) -> Run {
        let read =
            |name: &str| fs::read_to_string(self.out_dir.path().join(name)).unwrap_or_default();
        Run {
            code,
            stdout: read("stdout"),
            stderr: read("stderr"),
            elapsed: self.started.elapsed(),
        }
    }
}

impl Run {
    /// Fails the test, showing the output, unless the run exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit status {code}, got:\n{self}"
        );
        self
    }

    pub fn expect_success(&self) -> &Run {
        self.expect_code(0)
    }

    /// Fails the test unless stderr mentions every word (case-insensitive).
    pub fn expect_stderr_mentions(&self, words: &[&str]) -> &Run {
        let stderr = self.stderr.to_lowercase();
        for word in words {
            assert!(
                stderr.contains(&word.to_lowercase()),
                "stderr should mention {word:?}:\n{self}"
            );
        }
        self
    }

    /// Fails the test unless stderr mentions at least one of the words (case-insensitive).
    pub fn expect_stderr_mentions_any(&self, words: &[&str]) -> &Run {
        let stderr = self.stderr.to_lowercase();
        assert!(
            words.iter().any(|w| stderr.contains(&w.to_lowercase())),
            "stderr should mention one of {words:?}:\n{self}"
        );
        self
    }

    /// Fails the test unless stdout or stderr mentions at least one of the words (case-insensitive);
    /// for commands that report per-file results on stdout, like `verify`.
    pub fn expect_output_mentions_any(&self, words: &[&str]) -> &Run {
        let output = self.all_output().to_lowercase();
        assert!(
            words.iter().any(|w| output.contains(&w.to_lowercase())),
            "the output should mention one of {words:?}:\n{self}"
        );
        self
    }

    /// stdout and stderr together, for output whose stream the contract leaves open.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit status: {:?} after {:.1?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// What `prune` said of each file: its name (with `<destination>:` for a remote one) and the label
    /// (`keep`, `would delete` or `deleted`), from stdout's `<label>  <name>  (<reason>)` lines.
    pub fn prune_labels(&self) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
        for line in self.stdout.lines() {
            let Some((label, rest)) = ["keep", "would delete", "deleted"]
                .iter()
                .find_map(|l| line.strip_prefix(l).map(|rest| (*l, rest)))
            else {
                continue;
            };
            let name = rest.trim_start().split("  (").next().unwrap_or_default();
            assert!(!name.is_empty(), "a prune line without a name: {line:?}");
            labels.insert(name.to_string(), label.to_string());
        }
        labels
    }
}
