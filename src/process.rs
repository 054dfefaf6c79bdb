//! Running a dump or restore tool as a child: stdout streamed, stderr drained at the same time, exit status
//! checked, the child killed if it is dropped before it was waited for or when the cancel token kills tools.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cancel::{Cancel, Watched};
use crate::error::{Error, Result};

/// How much of a child's stderr is kept for the error message: the end is what explains a failure.
const STDERR_KEEP: usize = 16 * 1024;
/// How long a killed tool's stderr is waited for: a process that left the tool's group may still hold it.
const STDERR_AFTER_KILL: Duration = Duration::from_secs(2);

/// A running tool. Dropping it without [`Tool::wait`] kills the child.
pub struct Tool {
    name: String,
    child: Option<Child>,
    stderr: Option<JoinHandle<String>>,
    /// The token's hold on the child: it can kill it until it is reaped.
    watched: Arc<Watched>,
}

impl Tool {
    /// Starts `command` with stdin and stdout as given and stderr captured; `cancel` kills it on a stop. The
    /// child leads a process group of its own, so that a kill reaches what it started too (a shell's
    /// commands, a tool's helpers).
    pub fn spawn(
        name: &str,
        mut command: Command,
        stdin: Stdio,
        stdout: Stdio,
        cancel: &Cancel,
    ) -> Result<Tool> {
        command
            .stdin(stdin)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn().map_err(|e| Error::Tool {
            tool: name.to_string(),
            message: format!("cannot start it: {e}"),
        })?;
        let stderr = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut kept: Vec<u8> = Vec::new();
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    kept.extend_from_slice(&buf[..n]);
                    if kept.len() > 2 * STDERR_KEEP {
                        kept.drain(..kept.len() - STDERR_KEEP);
                    }
                }
                if kept.len() > STDERR_KEEP {
                    kept.drain(..kept.len() - STDERR_KEEP);
                }
                String::from_utf8_lossy(&kept).trim().to_string()
            })
        });
        let watched = cancel.watch(child.id());
        Ok(Tool {
            name: name.to_string(),
            child: Some(child),
            stderr,
            watched,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.as_mut().and_then(|c| c.stdout.take())
    }

    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.as_mut().and_then(|c| c.stdin.take())
    }

    /// Waits for the child and fails unless it exited 0; the error carries the end of its stderr.
    pub fn wait(self) -> Result<String> {
        let name = self.name.clone();
        let (status, stderr) = self.wait_status()?;
        if status.success() {
            Ok(stderr)
        } else {
            Err(Error::Tool {
                tool: name,
                message: describe_failure(status, &stderr),
            })
        }
    }

    /// Waits for the child; its exit status and the end of its stderr, whatever the status (for a tool whose
    /// exit codes say what went wrong).
    pub fn wait_status(mut self) -> Result<(ExitStatus, String)> {
        let status = match self.child.take() {
            Some(mut child) => {
                drop(child.stdin.take());
                // Waited for without reaping, so that the token can kill it until the moment it is reaped.
                wait_unreaped(child.id());
                self.watched.reaping();
                child.wait().map_err(|e| Error::Tool {
                    tool: self.name.clone(),
                    message: format!("cannot wait for it: {e}"),
                })?
            }
            None => return Ok((ExitStatus::default(), String::new())),
        };
        Ok((status, self.collect_stderr()))
    }

    /// Kills the child and its process group and waits for it; its stderr is returned for the error message
    /// (what a process that left the group still holds open is not waited for long).
    pub fn kill(mut self) -> String {
        self.kill_and_reap();
        let Some(reader) = self.stderr.take() else {
            return String::new();
        };
        let deadline = Instant::now() + STDERR_AFTER_KILL;
        while !reader.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if reader.is_finished() {
            reader.join().unwrap_or_default()
        } else {
            String::new()
        }
    }

    fn kill_and_reap(&mut self) {
        if let Some(mut child) = self.child.take() {
            self.watched.kill();
            self.watched.reaping();
            let _ = child.wait();
        }
    }

    fn collect_stderr(&mut self) -> String {
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Tool {
    /// A tool dropped before it was waited for is killed with its group; its stderr reader ends by itself.
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

/// Blocks until the child `pid` has exited, leaving it to be reaped by `Child::wait` (`WNOWAIT`). Any error
/// (there is none for our own child but an interrupted call, which is retried) leaves the reaping to that call.
fn wait_unreaped(pid: u32) {
    loop {
        // SAFETY: waitid(2) with a zeroed siginfo_t that it fills in; WNOWAIT leaves the child waitable.
        let rc = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// How a tool ended, for an error message: the exit status or signal, then its stderr.
pub fn describe_failure(status: ExitStatus, stderr: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => "ended abnormally".to_string(),
    };
    if stderr.is_empty() {
        how
    } else {
        format!("{how}: {stderr}")
    }
}

/// Runs a command to completion and returns its stdout, for short queries such as `--version`.
pub fn output(name: &str, mut command: Command) -> Result<String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Tool {
            tool: name.to_string(),
            message: format!("cannot start it: {e}"),
        })?;
    if !out.status.success() {
        return Err(Error::Tool {
            tool: name.to_string(),
            message: describe_failure(out.status, String::from_utf8_lossy(&out.stderr).trim()),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
