//! The command line: subcommands, the name the binary was started under (`backup-db`, `restore`, `list`
//! links), and running a command to an exit code.

use std::ffi::OsString;
use std::path::Path;

use clap::{Parser, Subcommand};

use crate::cancel::Cancel;
use crate::config::Config;
use crate::error::{EXIT_FAILED, EXIT_USAGE, Error};
use crate::jobs::{self, restore};
use crate::logging;
use crate::retention::Action;

#[derive(Debug, Parser)]
#[command(
    name = "db-backup",
    version,
    about = "Streaming database backups for a Docker sidecar",
    long_about = "Streaming database backups for a Docker sidecar. All settings come from the environment; \
                  see the README for the list."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Take one backup now; exit 0 only when a complete, checked backup exists.
    #[command(name = "backup-db", alias = "backup")]
    BackupDb,
    /// Restore a backup (a file name, a path, or `latest`) into the database.
    Restore {
        /// `latest`, a file name in the backup directory, or a path to a backup file.
        file: String,
        /// Restore into this database instead of DB_NAME (created when missing).
        #[arg(long)]
        database: Option<String>,
        /// Skip the SHA-256 check (only for a backup whose .sha256 file is lost).
        #[arg(long)]
        no_verify: bool,
        /// Write the plain dump (e.g. a Redis dump.rdb) to this file instead of restoring into the server.
        #[arg(long, value_name = "PATH", conflicts_with = "database")]
        to_file: Option<std::path::PathBuf>,
        /// Take the backup from this destination only: local, s3, s3_2... (see `list`).
        #[arg(long, value_name = "DESTINATION")]
        from: Option<String>,
        /// pg_restore jobs for a PostgreSQL custom-format backup (overrides PG_RESTORE_JOBS).
        #[arg(long, value_name = "N")]
        jobs: Option<String>,
    },
    /// List the backups, newest first.
    #[command(alias = "snapshots")]
    List,
    /// Re-read backups and check checksum, decompression and completeness.
    Verify {
        /// `latest`, `all`, a file name or a path.
        file: String,
        /// Verify the backups of this destination only: local, s3, s3_2...
        #[arg(long, value_name = "DESTINATION")]
        from: Option<String>,
    },
    /// Restore a backup into a scratch target and check it against its manifest; exit 0 only when it passed.
    #[command(name = "test-restore")]
    TestRestore {
        /// `latest` (the newest backup of each series), a file name or a path.
        #[arg(default_value = "latest")]
        file: String,
    },
    /// Apply the retention policy.
    Prune {
        /// Only say what would be deleted and why.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Run backups on the schedule until stopped (the container's default command).
    #[command(name = "backup-service")]
    BackupService,
    /// Exit 0 when backup-service is healthy, 1 with the reason when not (for Docker's HEALTHCHECK).
    Healthcheck,
}

/// The arguments as clap should see them: when the binary runs under a link name that is a subcommand, that
/// name becomes the subcommand; the binary's own name as the first argument (`docker run IMAGE db-backup list`,
/// where the image's entrypoint is already `db-backup`) is dropped, as `docker exec` would run it.
pub fn effective_args(mut args: Vec<OsString>) -> Vec<OsString> {
    if args
        .get(1)
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|n| n == "db-backup")
    {
        args.remove(1);
    }
    let invoked = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("db-backup")
        .to_string();
    match invoked.as_str() {
        // The SelfHostBlocks backup contract's restore interface: `restore snapshots` lists, `restore restore
        // <latest|file>` restores.
        "restore"
            if args
                .get(1)
                .is_some_and(|a| a == "snapshots" || a == "restore") =>
        {
            let command = if args[1] == "snapshots" {
                "list"
            } else {
                "restore"
            };
            let mut out = vec![OsString::from("db-backup"), OsString::from(command)];
            out.extend(args.into_iter().skip(2));
            out
        }
        "backup-db" | "backup-service" | "restore" | "list" | "snapshots" | "verify" | "prune" => {
            let mut out = vec![OsString::from("db-backup"), OsString::from(invoked)];
            out.extend(args.into_iter().skip(1));
            out
        }
        _ => args,
    }
}

/// Parses the arguments, reads the configuration, runs the command; returns the exit code.
pub fn main_with_args(args: Vec<OsString>) -> u8 {
    let args = effective_args(args);
    // Docker reserves a health check's exit code 2: `healthcheck` says "unhealthy" with 1 for every reason,
    // a mistyped option or a bad configuration included.
    let healthcheck = args.get(1).is_some_and(|a| a == "healthcheck");
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match (e.use_stderr(), healthcheck) {
                (false, _) => 0,
                (true, true) => EXIT_FAILED,
                (true, false) => EXIT_USAGE,
            };
        }
    };
    match cli.command {
        // Reads the service's state only: no probe of the database, which may be the very thing that is down.
        Command::Healthcheck => {
            return match Config::without_probe() {
                Ok(configs) => crate::service::health::command_any(&configs),
                Err(e) => {
                    println!("unhealthy: configuration error: {e}");
                    EXIT_FAILED
                }
            };
        }
        // Without DB_TYPE the service waits for its database to answer instead of exiting.
        Command::BackupService => match Config::detection_pending() {
            Ok(Some(host)) => {
                early_logging();
                return block_on(crate::service::detect::run(host));
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("db-backup: configuration error: {e}");
                return e_code(&Error::Config(e));
            }
        },
        _ => {}
    }
    let cfg = match Config::from_env() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("db-backup: configuration error: {e}");
            return e_code(&Error::Config(e));
        }
    };
    logging::init(cfg.log.format, &cfg.log.level);
    block_on(run(cli.command, &cfg))
}

/// Runs `job` on a new runtime; its exit code.
fn block_on(job: impl std::future::Future<Output = Result<(), Error>>) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("db-backup: cannot start the runtime: {e}");
            return EXIT_FAILED;
        }
    };
    match runtime.block_on(job) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "failed");
            eprintln!("db-backup: error: {e}");
            e_code(&e)
        }
    }
}

/// The logger before the configuration is complete (while the service waits for its database): `LOG_FORMAT`
/// and `LOG_LEVEL` as given; the configuration checks them once it is read.
fn early_logging() {
    let format = match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => crate::config::LogFormat::Json,
        _ => crate::config::LogFormat::Text,
    };
    let level = std::env::var("LOG_LEVEL")
        .ok()
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "info".to_string());
    logging::init(format, &level);
}

fn e_code(e: &Error) -> u8 {
    e.exit_code()
}

async fn run(command: Command, cfg: &Config) -> Result<(), Error> {
    // The service handles stop signals itself: a running backup gets a grace period before it is cancelled.
    let cancel = if matches!(command, Command::BackupService) {
        Cancel::new()
    } else {
        stop_on_signal()
    };
    match command {
        Command::BackupDb => {
            let cfg = cfg.clone();
            jobs::blocking("backup task", move || jobs::backup::run(&cfg, &cancel)).await??;
        }
        Command::Restore {
            file,
            database,
            no_verify,
            to_file,
            from,
            jobs,
        } => {
            let opts = restore::Options {
                spec: file,
                database,
                no_verify,
                to_file,
                from,
                jobs,
            };
            let cfg = cfg.clone();
            let lines = jobs::blocking("restore task", move || restore::run(&cfg, &opts, &cancel))
                .await??;
            for line in lines {
                println!("{line}");
            }
        }
        Command::List => {
            let cfg = cfg.clone();
            for line in jobs::blocking("list task", move || jobs::list::run(&cfg)).await?? {
                println!("{line}");
            }
        }
        Command::Verify { file, from } => {
            let cfg = cfg.clone();
            let container = cfg.naming.container.clone();
            let report = jobs::blocking("verify task", move || {
                jobs::verify::run(&cfg, &file, from.as_deref(), &cancel)
            })
            .await??;
            let results = report.results;
            let mut failed = 0;
            for (name, result) in &results {
                match result {
                    Ok(()) => println!("ok      {name}"),
                    Err(e) => {
                        failed += 1;
                        println!("FAILED  {name}: {e}");
                    }
                }
            }
            if report.skipped > 0 {
                println!(
                    "skipped {} backup(s) of other series (this configuration's series is {container}; \
                     verify those with the configuration that made them)",
                    report.skipped
                );
            }
            if failed > 0 {
                return Err(Error::Other(format!(
                    "{failed} of {} backup(s) failed verification",
                    results.len()
                )));
            }
        }
        Command::TestRestore { file } => {
            let cfg = cfg.clone();
            let outcomes = jobs::blocking("drill task", move || {
                crate::drill::run(&cfg, &file, &cancel)
            })
            .await??;
            let failed = outcomes.iter().filter(|o| !o.passed).count();
            for o in &outcomes {
                let verdict = match (o.skipped, o.passed) {
                    (true, _) => "skipped",
                    (false, true) => "passed",
                    (false, false) => "FAILED",
                };
                println!("{verdict}  {}: {}", o.file, o.summary);
            }
            if failed > 0 {
                return Err(Error::Other(format!(
                    "{failed} of {} restore drill(s) failed",
                    outcomes.len()
                )));
            }
        }
        Command::Prune { dry_run } => {
            let cfg = cfg.clone();
            let decisions =
                jobs::blocking("prune task", move || jobs::prune::run(&cfg, dry_run)).await??;
            if decisions.is_empty() {
                println!("no backups of this configuration to prune");
            }
            for (destination, d) in decisions {
                let verb = match (d.action, dry_run) {
                    (Action::Keep, _) => "keep  ",
                    (Action::Delete, true) => "would delete",
                    (Action::Delete, false) => "deleted",
                };
                let place = if destination == "local" {
                    String::new()
                } else {
                    format!("{destination}:")
                };
                println!("{verb}  {place}{}  ({})", d.file_name, d.reason);
            }
        }
        Command::Config => {
            for (name, value) in cfg.describe() {
                println!("{name}={value}");
            }
        }
        Command::BackupService => crate::service::run(cfg).await?,
        // Answered by `main_with_args` before the configuration is read: it needs only the service's state.
        Command::Healthcheck => {}
    }
    Ok(())
}

/// The token of a one-shot command: SIGTERM or SIGINT cancels it, and a moment later kills the tools it
/// started (a tool that says nothing, such as a dump waiting on a lock, never lets the job look at the token);
/// a second signal exits at once. Without signal handlers the token is never cancelled.
fn stop_on_signal() -> Cancel {
    use tokio::signal::unix::{SignalKind, signal};
    let cancel = Cancel::new();
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return cancel;
    };
    let token = cancel.clone();
    tokio::spawn(async move {
        for round in 0..2 {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            if round == 0 {
                tracing::warn!("stop signal received: stopping the running job");
                token.cancel();
                let token = token.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    token.kill_tools();
                });
            } else {
                // The tools lead process groups of their own: a terminal's signal no longer reaches them.
                token.kill_tools();
                std::process::exit(130);
            }
        }
    });
    cancel
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn link_names_become_subcommands() {
        assert_eq!(
            effective_args(args(&["/usr/local/bin/restore", "latest"])),
            args(&["db-backup", "restore", "latest"])
        );
        assert_eq!(
            effective_args(args(&["/bin/restore", "snapshots"])),
            args(&["db-backup", "list"])
        );
        assert_eq!(
            effective_args(args(&["/bin/restore", "restore", "latest"])),
            args(&["db-backup", "restore", "latest"])
        );
        assert_eq!(
            effective_args(args(&["backup-db"])),
            args(&["db-backup", "backup-db"])
        );
        assert_eq!(
            effective_args(args(&["/x/db-backup", "list"])),
            args(&["/x/db-backup", "list"])
        );
        assert_eq!(
            effective_args(args(&["db-backup", "db-backup", "verify", "all"])),
            args(&["db-backup", "verify", "all"])
        );
        assert_eq!(
            effective_args(args(&["db-backup", "/usr/local/bin/db-backup", "list"])),
            args(&["db-backup", "list"])
        );
    }

    #[test]
    fn the_command_line_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
