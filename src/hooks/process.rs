//! Running one hook: `sh -c` in a process group of its own, its output logged line by line, ended with its whole
//! group when it outlasts `HOOK_TIMEOUT` or a stop signal comes, and stripped of db-backup's secrets.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cancel::Cancel;
use crate::engine::command::{User, shell};
use crate::error::{Error, Result};

/// How often a running hook is looked at (its exit, the timeout, a stop).
const POLL: Duration = Duration::from_millis(20);
/// After the timeout's SIGTERM: how long the hook's processes have before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);
/// After the hook ended: how long its output may take to drain (a process that left its group may hold it).
const DRAIN_WAIT: Duration = Duration::from_secs(2);
/// The longest line logged as one; a longer one is logged in pieces.
const MAX_LINE: u64 = 8 * 1024;

/// One hook to run.
pub struct Hook<'a> {
    /// The setting it comes from (`BACKUP_POST_CMD`), which names it in the log and in errors.
    pub var: &'static str,
    pub script: &'a str,
    pub user: Option<&'a User>,
    /// The `DB_BACKUP_*` variables it is given.
    pub env: Vec<(&'static str, String)>,
    pub timeout: Duration,
}

/// Why a hook was ended before it exited by itself.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ended {
    Timeout,
    Stopped,
}

/// Runs `hook` to its end; fails unless it exited 0 within its timeout.
pub fn run(hook: &Hook, cancel: &Cancel) -> Result<()> {
    let mut cmd = shell(hook.script, hook.user);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_secret) {
            cmd.env_remove(&name);
        }
    }
    cmd.envs(hook.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own, so that the timeout and a stop reach what it started too.
        .process_group(0);
    tracing::info!(hook = hook.var, "running the hook");
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| Error::Tool {
        tool: hook.var.to_string(),
        message: format!("cannot start it (sh -c): {e}"),
    })?;
    let readers: Vec<JoinHandle<Option<String>>> = [
        child
            .stdout
            .take()
            .map(|p| log_lines(p, hook.var, "stdout")),
        child
            .stderr
            .take()
            .map(|p| log_lines(p, hook.var, "stderr")),
    ]
    .into_iter()
    .flatten()
    .collect();
    let ended = wait(&child, hook.timeout, cancel);
    let status = child.wait().map_err(|e| Error::Tool {
        tool: hook.var.to_string(),
        message: format!("cannot wait for it: {e}"),
    })?;
    let said = drain(readers, hook.var);
    let duration_ms = started.elapsed().as_millis() as u64;
    let fail = |how: String| {
        let message = match &said {
            Some(line) => format!("{how} (its last line of output: {line})"),
            None => how,
        };
        Err(Error::Tool {
            tool: hook.var.to_string(),
            message,
        })
    };
    match ended {
        Some(Ended::Stopped) => {
            return Err(Error::Cancelled(format!(
                "{} was ended by a stop signal",
                hook.var
            )));
        }
        Some(Ended::Timeout) => {
            return fail(format!(
                "did not finish within HOOK_TIMEOUT ({} s) and was ended with its processes",
                hook.timeout.as_secs()
            ));
        }
        None => {}
    }
    match (status.code(), status.signal()) {
        (Some(0), _) => {
            tracing::info!(hook = hook.var, duration_ms, "the hook succeeded");
            Ok(())
        }
        (Some(code), _) => fail(format!("exited with status {code}")),
        (None, Some(sig)) => fail(format!("was killed by signal {sig}")),
        _ => fail("ended abnormally".to_string()),
    }
}

/// Waits for the hook's shell to exit, leaving it unreaped; ends its group on a timeout (SIGTERM, then SIGKILL)
/// or a stop (SIGKILL). Whatever of its group is left once it exited is killed too. Says why it was ended.
fn wait(child: &Child, timeout: Duration, cancel: &Cancel) -> Option<Ended> {
    let pid = child.id();
    let started = Instant::now();
    let mut ended = None;
    let mut termed_at: Option<Instant> = None;
    while !exited(pid) {
        if cancel.is_cancelled() {
            ended = ended.or(Some(Ended::Stopped));
            kill_group(pid, libc::SIGKILL);
        } else if let Some(at) = termed_at {
            if at.elapsed() >= TERM_GRACE {
                kill_group(pid, libc::SIGKILL);
            }
        } else if started.elapsed() >= timeout {
            tracing::warn!(
                timeout_s = timeout.as_secs(),
                "the hook outlasted HOOK_TIMEOUT: ending it and its processes"
            );
            ended = Some(Ended::Timeout);
            termed_at = Some(Instant::now());
            kill_group(pid, libc::SIGTERM);
        }
        std::thread::sleep(POLL);
    }
    // The shell is a zombie until reaped, so its group id cannot have been reused.
    kill_group(pid, libc::SIGKILL);
    ended
}

/// Whether our child `pid` has exited, without reaping it (`WNOWAIT`), so that its group id stays ours.
fn exited(pid: u32) -> bool {
    // SAFETY: waitid(2) with a zeroed siginfo_t that it fills in; WNOHANG returns at once, WNOWAIT leaves the
    // child waitable. With WNOHANG and no change, si_pid stays 0.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        // An error (there is none for our own unreaped child) is taken as exited, so that the wait ends.
        rc != 0 || info.si_pid() != 0
    }
}

/// Sends `signal` to the process group the hook leads.
fn kill_group(pid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) on the group of our own child, which has not been reaped yet.
    unsafe { libc::kill(-(pid as libc::pid_t), signal) };
}

/// Logs each line of `pipe` as it comes; returns the last non-empty line.
fn log_lines(
    pipe: impl Read + Send + 'static,
    var: &'static str,
    stream: &'static str,
) -> JoinHandle<Option<String>> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut last = None;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match (&mut reader).take(MAX_LINE).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&buf);
            let line = text.trim_end_matches(['\n', '\r']);
            tracing::info!(hook = var, stream, "{line}");
            if !line.trim().is_empty() {
                last = Some(line.to_string());
            }
        }
        last
    })
}

/// Waits for the output to drain and returns the last line of output: stderr's, else stdout's. A pipe still
/// open after [`DRAIN_WAIT`] (held by a process that left the hook's group) is no longer waited for.
fn drain(readers: Vec<JoinHandle<Option<String>>>, var: &str) -> Option<String> {
    let deadline = Instant::now() + DRAIN_WAIT;
    while readers.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
    let mut last = None;
    for reader in readers {
        if !reader.is_finished() {
            tracing::warn!(
                hook = var,
                "a process the hook started outside its process group keeps its output open; not waiting for it"
            );
            continue;
        }
        if let Ok(Some(line)) = reader.join() {
            last = Some(line);
        }
    }
    last
}

/// Whether a variable of db-backup's environment holds a secret that a hook must not inherit: passwords,
/// passphrases, secrets, tokens, S3 access keys and the URLs that embed a token. `_FILE` variables name files
/// and are kept.
pub fn is_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if upper.ends_with("_FILE") {
        return false;
    }
    ["PASSWORD", "PASSPHRASE", "SECRET", "TOKEN"]
        .iter()
        .any(|w| upper.contains(w))
        || upper == "AWS_ACCESS_KEY_ID"
        || upper == "MYSQL_PWD"
        || upper == "REDISCLI_AUTH"
        || (upper.starts_with("S3_") && upper.ends_with("ACCESS_KEY"))
        || upper == "HEALTHCHECK_PING_URL"
        || upper == "NOTIFY_WEBHOOK_URL"
        || upper == "NOTIFY_URLS"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_told_by_name() {
        for name in [
            "DB_PASSWORD",
            "PGPASSWORD",
            "BACKUP_ENCRYPTION_PASSPHRASE",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "AWS_SESSION_TOKEN",
            "S3_ACCESS_KEY",
            "S3_2_SECRET_KEY",
            "S3_2_ACCESS_KEY",
            "MYSQL_PWD",
            "NOTIFY_WEBHOOK_URL",
            "NOTIFY_URLS",
            "HEALTHCHECK_PING_URL",
        ] {
            assert!(is_secret(name), "{name}");
        }
        for name in [
            "DB_PASSWORD_FILE",
            "DB_HOST",
            "PATH",
            "PWD",
            "HOME",
            "BACKUP_DIR",
            "S3_BACKUP_BUCKET",
        ] {
            assert!(!is_secret(name), "{name}");
        }
    }
}
