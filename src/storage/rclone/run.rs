//! Running rclone for one destination: every call is a [`Tool`] under the job's cancel token, with the flags
//! every call takes, an environment without db-backup's own settings (rclone's `RCLONE_*` stay: its config
//! and remotes come from there, never from the command line), and failures explained with the remote's name
//! and rclone's own words, secrets scrubbed.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};

use super::scrub;
use crate::cancel::Cancel;
use crate::config::RcloneSettings;
use crate::config::rclone::is_ours;
use crate::error::{Error, Result};
use crate::process::{Tool, describe_failure};

/// rclone's exit status for "directory not found".
pub const DIR_NOT_FOUND: i32 = 3;
/// rclone's exit status for "file not found".
pub const FILE_NOT_FOUND: i32 = 4;

/// The most a listing may print before it is refused (a folder of millions of files is not a backup folder).
const MAX_OUTPUT: u64 = 256 << 20;

/// How many distinct lines of rclone's stderr an error keeps (the last ones).
const KEEP_LINES: usize = 6;

/// The prefixes of the variables that are db-backup's own: rclone is not given them (the database password
/// among them).
const OURS: &[&str] = &[
    "DB_",
    "BACKUP_",
    "RESTORE_",
    "S3_",
    "NOTIFY_",
    "HEALTHCHECK_",
    "PG",
    "POSTGRES_",
    "MYSQL_",
    "MARIADB_",
    "REDIS",
];

/// A call that ran and failed: rclone's exit code, and the message for people.
#[derive(Debug)]
pub struct Failure {
    pub code: Option<i32>,
    pub message: String,
}

impl Failure {
    /// rclone said the file or its folder is not there.
    pub fn not_found(&self) -> bool {
        matches!(self.code, Some(DIR_NOT_FOUND | FILE_NOT_FOUND))
    }
}

/// rclone for one destination.
pub struct Rclone {
    pub settings: RcloneSettings,
    cancel: Cancel,
}

/// How patient a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patience {
    /// rclone's own timeouts and retries.
    Normal,
    /// A cleanup after a failure: a few seconds, one try (what it leaves is swept at the next run).
    Quick,
}

impl Rclone {
    pub fn new(settings: RcloneSettings, cancel: Cancel) -> Rclone {
        Rclone { settings, cancel }
    }

    /// The remote for messages: `rclone remote sftp-box:/backups`.
    pub fn label(&self) -> String {
        format!("rclone remote {}", self.settings.remote)
    }

    pub fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::Server {
            server: self.label(),
            message: message.to_string(),
        }
    }

    /// The rclone command: `args` after the flags every call takes.
    fn command(&self, args: &[&str], patience: Patience) -> Command {
        let mut command = Command::new("rclone");
        // No timestamps in what rclone says (it goes into our messages), and never a password prompt.
        command.args(["--log-format", "", "--ask-password=false"]);
        if patience == Patience::Quick {
            command.args([
                "--contimeout",
                "5s",
                "--timeout",
                "15s",
                "--retries",
                "1",
                "--low-level-retries",
                "1",
            ]);
        }
        command.args(args);
        for (name, _) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            if is_ours(name) || OURS.iter().any(|p| name.starts_with(p)) {
                command.env_remove(name);
            }
        }
        command
    }

    /// Starts rclone with `args`; stderr is kept for the error, the cancel token can kill it.
    pub fn spawn(
        &self,
        what: &str,
        args: &[&str],
        stdin: Stdio,
        stdout: Stdio,
        patience: Patience,
    ) -> Result<Tool> {
        let command = self.command(args, patience);
        // The arguments are remote names, paths and flags: rclone's secrets are never among them.
        tracing::debug!(destination = %self.settings.name, args = %args.join(" "), "running rclone");
        Tool::spawn("rclone", command, stdin, stdout, &self.cancel).map_err(|e| {
            if !on_path("rclone") {
                self.error(format!(
                    "{what}: rclone is not installed or not on PATH (the db-backup image has it; elsewhere \
                     install it, e.g. Debian's rclone package)"
                ))
            } else {
                self.error(format!("{what}: {e}"))
            }
        })
    }

    /// Runs rclone with `args` to the end: its stdout, or how it failed (`Err` of the outer result: it could
    /// not be run at all).
    pub fn run(
        &self,
        what: &str,
        args: &[&str],
        patience: Patience,
    ) -> Result<std::result::Result<Vec<u8>, Failure>> {
        let mut tool = self.spawn(what, args, Stdio::null(), Stdio::piped(), patience)?;
        let mut out = Vec::new();
        if let Some(stdout) = tool.take_stdout() {
            stdout
                .take(MAX_OUTPUT)
                .read_to_end(&mut out)
                .map_err(|e| self.error(format!("{what}: reading rclone's output: {e}")))?;
        }
        let (status, stderr) = tool
            .wait_status()
            .map_err(|e| self.error(format!("{what}: {e}")))?;
        if status.success() {
            return Ok(Ok(out));
        }
        Ok(Err(self.failure(what, status, &stderr)))
    }

    /// Runs rclone with `args`; an error unless it succeeds.
    pub fn must(&self, what: &str, args: &[&str], patience: Patience) -> Result<Vec<u8>> {
        self.run(what, args, patience)?
            .map_err(|f| self.error(f.message))
    }

    /// How a call failed: what it was doing, rclone's exit status and its own words (condensed, secrets
    /// scrubbed), and what to do where the cause is a known one.
    pub fn failure(&self, what: &str, status: ExitStatus, stderr: &str) -> Failure {
        let said = scrub::scrub(&condense(stderr), &self.secrets());
        let mut message = format!("{what}: rclone {}", describe_failure(status, &said));
        if said.contains("didn't find section in config file") {
            let name = self.settings.remote_name().unwrap_or("?");
            let file = match &self.settings.config_file {
                Some(file) => format!("RCLONE_CONFIG={file}"),
                None => "RCLONE_CONFIG is not set, so rclone reads ~/.config/rclone/rclone.conf"
                    .to_string(),
            };
            message.push_str(&format!(
                "; rclone knows no remote named {name:?}: define it in the rclone config file ({file}; mount \
                 your rclone.conf there) or with RCLONE_CONFIG_{}_TYPE and its other options, or fix {}",
                name.to_ascii_uppercase().replace(['-', '.', ' '], "_"),
                self.settings.var
            ));
        }
        Failure {
            code: status.code(),
            message,
        }
    }

    /// The secret values rclone was given, for scrubbing what it says.
    fn secrets(&self) -> Vec<String> {
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let config = env
            .iter()
            .find(|(k, _)| k == "RCLONE_CONFIG")
            .map(|(_, v)| v.clone());
        scrub::secrets(&env, config.as_deref())
    }
}

/// Whether `program` is a file in one of PATH's directories.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// rclone's stderr as one line: its distinct lines, the last few, joined.
fn condense(stderr: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    let skip = lines.len().saturating_sub(KEEP_LINES);
    lines[skip..].join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_is_condensed_to_its_last_distinct_lines() {
        let text = "a\n\nb\na\nc\nd\ne\nf\ng\n";
        assert_eq!(condense(text), "b; c; d; e; f; g");
        assert_eq!(condense(""), "");
    }
}
