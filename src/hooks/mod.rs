//! Hooks: the user's shell commands run before and after a backup (`BACKUP_PRE_CMD`, `BACKUP_POST_CMD`) or a
//! restore (`RESTORE_PRE_CMD`, `RESTORE_POST_CMD`), as `BACKUP_USER`, with the run's outcome in their environment.
//!
//! A failing pre-hook fails the run before anything is dumped or restored (nothing written, nothing pruned). The
//! post-hook runs after the work, done or failed (and after a failed pre-hook, so that it can undo what that
//! began), but not after a stop signal. When the work was done and the post-hook fails, the run fails with
//! [`Error::Hook`]: the backup stays and is named in the error, and the run is not retried.

mod process;

use crate::cancel::Cancel;
use crate::config::Config;
use crate::engine::command::run_as_user;
use crate::error::{Error, Result};
use crate::jobs::backup::Outcome;

/// The longest `DB_BACKUP_ERROR` handed to a post-hook, in bytes.
const MAX_ERROR_LEN: usize = 2000;

/// Which job the hooks run around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Backup,
    Restore,
}

impl Job {
    /// The job's name, as `DB_BACKUP_COMMAND` gives it.
    fn name(self) -> &'static str {
        match self {
            Job::Backup => "backup",
            Job::Restore => "restore",
        }
    }

    fn pre_var(self) -> &'static str {
        match self {
            Job::Backup => "BACKUP_PRE_CMD",
            Job::Restore => "RESTORE_PRE_CMD",
        }
    }

    fn post_var(self) -> &'static str {
        match self {
            Job::Backup => "BACKUP_POST_CMD",
            Job::Restore => "RESTORE_POST_CMD",
        }
    }

    /// The configured pre- and post-hook.
    fn scripts(self, cfg: &Config) -> (Option<&str>, Option<&str>) {
        let h = &cfg.hooks;
        match self {
            Job::Backup => (h.backup_pre.as_deref(), h.backup_post.as_deref()),
            Job::Restore => (h.restore_pre.as_deref(), h.restore_post.as_deref()),
        }
    }
}

/// A backup file a run made or restored, as a hook is told of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub series: String,
    pub name: String,
}

/// The files a backup run committed.
pub fn made_by_backup(outcomes: &[Outcome]) -> Vec<File> {
    outcomes
        .iter()
        .map(|o| File {
            series: o.series.clone(),
            name: o.file_name.clone(),
        })
        .collect()
}

/// Runs `work` between the job's pre- and post-hook. `before` are the files the job is about to work on (a
/// restore's backups; none for a backup), `made` the files its result names.
pub fn around<T>(
    cfg: &Config,
    job: Job,
    cancel: &Cancel,
    before: Vec<File>,
    work: impl FnOnce() -> Result<T>,
    made: impl FnOnce(&T) -> Vec<File>,
) -> Result<T> {
    let (pre, post) = job.scripts(cfg);
    if pre.is_none() && post.is_none() {
        return work();
    }
    let user = run_as_user(cfg.hooks.user.as_deref())?;
    let hook = |var: &'static str, script: &str, env: Vec<(&'static str, String)>| {
        process::run(
            &process::Hook {
                var,
                script,
                user: user.as_ref(),
                env,
                timeout: cfg.hooks.timeout,
            },
            cancel,
        )
    };
    let common = |stage: &str| {
        vec![
            ("DB_BACKUP_COMMAND", job.name().to_string()),
            ("DB_BACKUP_HOOK", stage.to_string()),
        ]
    };

    let pre_result = match pre {
        None => Ok(()),
        Some(script) => {
            let mut env = common("pre");
            env.extend(files_env(&before));
            hook(job.pre_var(), script, env).map_err(|e| {
                tracing::error!(hook = job.pre_var(), error = %e, "the pre-hook failed: the {} does not run", job.name());
                e
            })
        }
    };
    let result = pre_result.and_then(|()| work());

    let Some(script) = post else {
        return result;
    };
    if cancel.is_cancelled() {
        tracing::warn!(
            hook = job.post_var(),
            "the {} was stopped by a signal: its post-hook is not run",
            job.name()
        );
        return result;
    }
    let (files, outcome) = match &result {
        Ok(done) => (made(done), "success"),
        Err(_) => (before, "failure"),
    };
    let mut env = common("post");
    env.push(("DB_BACKUP_OUTCOME", outcome.to_string()));
    env.extend(files_env(&files));
    if let Err(e) = &result {
        env.push(("DB_BACKUP_ERROR", one_line(&e.to_string())));
    }
    let hooked = hook(job.post_var(), script, env);
    match (result, hooked) {
        (result, Ok(())) => result,
        (Ok(_), Err(e)) => {
            let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
            let done = match job {
                Job::Backup => format!("the backup was made and is kept: {}", names.join(", ")),
                Job::Restore => format!("the restore is complete: {}", names.join(", ")),
            };
            tracing::error!(hook = job.post_var(), error = %e, "the post-hook failed; {done}");
            let message = match e {
                Error::Tool { message, .. } => message,
                other => other.to_string(),
            };
            Err(Error::Hook {
                hook: job.post_var().to_string(),
                message: format!("{message}; {done}"),
            })
        }
        (Err(first), Err(e)) => {
            // The job's own failure is what the run reports; the hook's is logged.
            tracing::error!(hook = job.post_var(), error = %e, "the post-hook failed too");
            Err(first)
        }
    }
}

/// `DB_BACKUP_FILES` and `DB_BACKUP_SERIES`: the file names, and their series once each, space-separated (a
/// backup's name and series never hold a space).
fn files_env(files: &[File]) -> Vec<(&'static str, String)> {
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    let mut series: Vec<&str> = Vec::new();
    for f in files {
        if !series.contains(&f.series.as_str()) {
            series.push(&f.series);
        }
    }
    vec![
        ("DB_BACKUP_FILES", names.join(" ")),
        ("DB_BACKUP_SERIES", series.join(" ")),
    ]
}

/// An error's text on one line, cut to [`MAX_ERROR_LEN`] bytes (errors never hold secrets).
fn one_line(text: &str) -> String {
    let mut line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.len() > MAX_ERROR_LEN {
        let mut end = MAX_ERROR_LEN;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_series_are_listed_once_each() {
        let file = |series: &str, name: &str| File {
            series: series.into(),
            name: name.into(),
        };
        let env = files_env(&[
            file("pg-app", "pg-app-1.sql.gz"),
            file("pg-globals", "pg-globals-1.sql.gz"),
            file("pg-app", "pg-app-2.sql.gz"),
        ]);
        assert_eq!(
            env,
            vec![
                (
                    "DB_BACKUP_FILES",
                    "pg-app-1.sql.gz pg-globals-1.sql.gz pg-app-2.sql.gz".to_string()
                ),
                ("DB_BACKUP_SERIES", "pg-app pg-globals".to_string()),
            ]
        );
    }

    #[test]
    fn errors_are_one_short_line() {
        assert_eq!(one_line("a\nb\r\tc"), "a b  c");
        let long = "é".repeat(MAX_ERROR_LEN);
        let cut = one_line(&long);
        assert!(cut.len() <= MAX_ERROR_LEN && cut.len() >= MAX_ERROR_LEN - 1);
    }
}
