//! db-backup: streaming database backups for a Docker sidecar.
//!
//! How the code is laid out:
//!
//! - [`cli`] parses the command line (and the name the binary was started under) and runs a command.
//! - [`config`] turns the environment into a validated [`config::Config`]; it does no I/O of its own.
//! - [`engine`] knows each database: how to check the server, dump, tell a complete dump and restore.
//! - [`process`] runs a dump or restore tool as a child: stdout streamed, stderr drained, exit status checked.
//! - [`pipeline`] is the byte path: compression, age encryption and a SHA-256 tap between a dump and a destination.
//! - [`storage`] holds backups behind one trait: the local directory and S3-compatible buckets (multipart
//!   uploads completed last), written to all at once by a fan-out, or seen through a [`storage::DryRun`].
//!   [`storage::ScratchDir`] owns `BACKUP_DIR` as the working area: run lock, state file, restore downloads
//!   and the sweep of leftovers; [`storage::atomic`] is the one atomic file write.
//! - [`naming`] formats and parses backup file names; [`retention`] decides what to keep.
//! - [`scheduler`] computes when `backup-service` runs: cron and interval schedules, next run, retry backoff.
//! - [`jobs`] holds the commands themselves: backup, restore, verify, list and prune.
//! - [`service`] is `backup-service`, the long-running mode: the schedule loop, retries, stop signals, the
//!   state file behind `healthcheck`, `/metrics`, pings and webhooks.
//! - [`cancel`] is the one cancel token: made where stop signals are handled, handed to jobs, engines, the
//!   pipeline and every tool, which it kills through the child handles we hold.
//! - [`error`] defines the error types, their [`error::Kind`] (decided where an error is made; the service's
//!   retries ask [`error::Error::retryable`]) and exit codes; [`logging`] sets up the log output.

pub mod cancel;
pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod jobs;
pub mod logging;
pub mod naming;
pub mod pipeline;
pub mod process;
pub mod retention;
pub mod scheduler;
pub mod service;
pub mod storage;
