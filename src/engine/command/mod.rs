//! Any command (`DB_TYPE=command`): `BACKUP_CMD` run with `sh -c` writes the dump to stdout, `RESTORE_CMD`
//! reads one on stdin; `BACKUP_USER` runs both as another Unix user. Nothing in such a stream tells whether it
//! is complete, so the command's exit status (and a non-empty stream) is the check.

pub mod facts;
pub mod settings;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{Completeness, Dump, DumpTarget, Engine, Opener, ToolDump};
use crate::cancel::Cancel;
use crate::engine::command::settings::CommandConfig;
use crate::error::{ConfigError, Error, Result};
use crate::process::Tool;

/// The command engine.
pub struct CommandEngine {
    cfg: CommandConfig,
    backup_cmd: String,
    /// The user the commands run as; `None`: this process's own.
    run_as: Option<User>,
    /// Stops the streams and kills the commands.
    cancel: Cancel,
}

/// A Unix user looked up in the password database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: Option<PathBuf>,
}

impl CommandEngine {
    /// Looks up `BACKUP_USER` and checks that this process may switch to it.
    pub fn connect(cfg: &CommandConfig, cancel: &Cancel) -> Result<CommandEngine> {
        let backup_cmd = cfg.settings.backup_cmd.clone();
        let run_as = run_as(cfg)?;
        Ok(CommandEngine {
            cfg: cfg.clone(),
            backup_cmd,
            run_as,
            cancel: cancel.clone(),
        })
    }

    /// `sh -c script`, as `BACKUP_USER` when set (see [`shell`]).
    fn shell(&self, script: &str) -> Command {
        shell(script, self.run_as.as_ref())
    }
}

/// `sh -c script`, as `user` when given. The child keeps this process's environment (a command may need
/// `PGPASSWORD` or the like), with `HOME`, `USER` and `LOGNAME` of the user it runs as.
pub fn shell(script: &str, user: Option<&User>) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    if let Some(user) = user {
        // std drops the supplementary groups (setgroups(0)) before setuid when uid is set.
        cmd.uid(user.uid).gid(user.gid);
        cmd.env("USER", &user.name).env("LOGNAME", &user.name);
        if let Some(home) = &user.home {
            cmd.env("HOME", home);
        }
    }
    cmd
}

impl Engine for CommandEngine {
    fn name(&self) -> &'static str {
        "command"
    }

    fn targets(&self) -> Result<Vec<DumpTarget>> {
        Ok(vec![DumpTarget {
            // The command's output is no database: DB_CONTAINER names its series only.
            database: None,
            series: self.cfg.naming.container.clone(),
            kind: self.cfg.settings.kind.clone(),
        }])
    }

    fn dump(&self, _target: &DumpTarget) -> Result<Box<dyn Dump>> {
        Ok(Box::new(ToolDump::start(
            "BACKUP_CMD",
            self.shell(&self.backup_cmd),
            &self.cancel,
        )?))
    }

    fn completeness(&self, _target: &DumpTarget) -> Completeness {
        Completeness::ExitStatus
    }

    fn target_label(&self, target: &DumpTarget) -> String {
        format!("the output of BACKUP_CMD (series {})", target.series)
    }

    fn prepare_restore(&self, _database: &str) -> Result<String> {
        Err(Error::Usage(
            "--database does not apply to DB_TYPE=command: RESTORE_CMD decides where the dump goes"
                .into(),
        ))
    }

    fn restore(&self, _database: Option<&str>, _kind: &str, open: Opener) -> Result<()> {
        let script = self.cfg.settings.restore_cmd.as_deref().ok_or_else(|| {
            ConfigError::new(
                "RESTORE_CMD",
                "is not set, so DB_TYPE=command cannot restore: set RESTORE_CMD to a shell command that \
                 reads the dump on stdin (for example `psql -f -`), or restore the file by hand",
            )
        })?;
        let mut tool = Tool::spawn(
            "RESTORE_CMD",
            self.shell(script),
            Stdio::piped(),
            Stdio::null(),
            &self.cancel,
        )?;
        let mut stdin = tool
            .take_stdin()
            .ok_or_else(|| Error::no_pipe("RESTORE_CMD", "input"))?;
        let mut input = open()?;
        let streamed = crate::pipeline::pump(&mut *input, &self.cancel, &mut |chunk| {
            stdin.write_all(chunk)
        });
        drop(stdin);
        match streamed {
            Ok(()) => {
                tool.wait()?;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                // The command stopped reading: its exit status and stderr say why, if it failed.
                tool.wait()?;
                Err(Error::Tool {
                    tool: "RESTORE_CMD".into(),
                    message: "exited 0 but stopped reading before the end of the dump".into(),
                })
            }
            Err(e) => {
                let said = tool.kill();
                let mut message = format!("restore stopped: {e}");
                if !said.is_empty() {
                    message.push_str(&format!(" (RESTORE_CMD said: {said})"));
                }
                Err(Error::stopped(self.cancel.is_cancelled(), message))
            }
        }
    }
}

/// How to check a stored backup of `kind`: only the kind `BACKUP_NAME` names is this engine's, and nothing
/// in it can be checked beyond the checksum and the decompression.
pub fn file_completeness(cfg: &CommandConfig, kind: &str) -> Option<Completeness> {
    (kind == cfg.settings.kind).then_some(Completeness::ExitStatus)
}

/// The user the commands run as: `BACKUP_USER` looked up, `None` when no switch is needed.
pub fn run_as(cfg: &CommandConfig) -> std::result::Result<Option<User>, ConfigError> {
    run_as_user(cfg.settings.user.as_deref())
}

/// The user `BACKUP_USER` (`spec`) names, when commands must switch to it (see [`switch_needed`]).
pub fn run_as_user(spec: Option<&str>) -> std::result::Result<Option<User>, ConfigError> {
    match spec {
        None => Ok(None),
        Some(spec) => {
            let user = lookup_user(spec).map_err(|m| ConfigError::new("BACKUP_USER", m))?;
            switch_needed(user, nix::unistd::geteuid().as_raw())
        }
    }
}

/// Whether the commands must switch to `user`, given this process's effective uid: not when it already is
/// that user; yes as root; otherwise it cannot, which is a configuration error.
pub fn switch_needed(user: User, euid: u32) -> std::result::Result<Option<User>, ConfigError> {
    if user.uid == euid {
        return Ok(None);
    }
    if euid == 0 {
        return Ok(Some(user));
    }
    Err(ConfigError::new(
        "BACKUP_USER",
        format!(
            "db-backup runs as uid {euid}, not root, so it cannot run the commands as {} (uid {}); run the \
             container as root or unset BACKUP_USER",
            user.name, user.uid
        ),
    ))
}

/// Looks up a user by name, or by number (a uid without an entry gets its number as the group).
pub fn lookup_user(spec: &str) -> std::result::Result<User, String> {
    let numeric: Option<u32> = spec.parse().ok();
    let found = match numeric {
        Some(uid) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)),
        None => {
            if spec.contains('\0') {
                return Err(format!("{spec:?} is not a user name"));
            }
            nix::unistd::User::from_name(spec)
        }
    }
    .map_err(|e| format!("cannot look up user {spec:?}: {}", std::io::Error::from(e)))?;
    match (found, numeric) {
        (Some(user), _) => Ok(User {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            home: (!user.dir.as_os_str().is_empty()).then_some(user.dir),
        }),
        (None, Some(uid)) => Ok(User {
            name: spec.to_string(),
            uid,
            gid: uid,
            home: None,
        }),
        (None, None) => Err(format!(
            "there is no user {spec:?} in this container (/etc/passwd); use an existing user name or a \
             numeric uid"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(uid: u32) -> User {
        User {
            name: "app".into(),
            uid,
            gid: uid,
            home: None,
        }
    }

    #[test]
    fn root_switches_others_must_already_be_the_user() {
        assert_eq!(switch_needed(user(1000), 0).unwrap(), Some(user(1000)));
        assert_eq!(switch_needed(user(1000), 1000).unwrap(), None);
        assert_eq!(switch_needed(user(0), 0).unwrap(), None);
        let err = switch_needed(user(1000), 1001).unwrap_err();
        assert_eq!(err.variable, "BACKUP_USER");
        assert!(err.message.contains("not root"), "{err}");
    }

    #[test]
    fn users_are_found_by_name_and_number() {
        let root = lookup_user("root").unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(lookup_user("0").unwrap().name, "root");
        let unknown = lookup_user("4000123").unwrap();
        assert_eq!((unknown.uid, unknown.gid), (4000123, 4000123));
        let err = lookup_user("no-such-user-here").unwrap_err();
        assert!(err.contains("no user"), "{err}");
        assert_eq!(root.home, Some(PathBuf::from("/root")));
        let nobody = lookup_user("nobody").unwrap();
        assert_eq!(nobody.name, "nobody");
        assert_eq!(lookup_user(&nobody.uid.to_string()).unwrap().name, "nobody");
        let err = lookup_user("ro\0ot").unwrap_err();
        assert!(err.contains("is not a user name"), "{err}");
    }
}
