//! db-backup: streaming database backups for a Docker sidecar.
//!
//! - [`cli`] parses the command line (and the binary's link name) and runs a command; [`jobs`] holds the
//!   commands: backup, restore, verify, list and prune. [`service`] is `backup-service`: the schedule loop,
//!   retries, stop signals, the state behind `healthcheck`, `/metrics`, pings, webhooks and notifications.
//! - [`config`] turns the environment into a validated [`config::Config`], without I/O of its own.
//! - [`engine`] knows each database (check, dump, completeness, restore), one folder per engine whose facts
//!   (names, port, file kinds, detection probe) are asked of one registry, [`engine::facts`]; [`process`] runs
//!   its tools as children.
//! - [`pipeline`] is the byte path: compression, age encryption and a SHA-256 tap.
//! - [`storage`] holds backups behind one trait (local directory, S3 buckets, a fan-out, a [`storage::DryRun`]
//!   wrapper). [`storage::ScratchDir`] owns `BACKUP_DIR` as the working area: run lock, state file, restore
//!   downloads and the sweep of leftovers; [`storage::atomic`] is the one atomic file write.
//! - [`naming`] formats and parses file names; [`retention`] decides what to keep; [`scheduler`] says when.
//! - [`drill`] proves a backup restores: into a scratch target, checked against the manifest of row counts
//!   read from the dump as it was written.
//! - [`hooks`] runs the user's commands before and after a backup or a restore.
//! - [`cancel`] is the one stop token, down to every tool; [`error`] holds error kinds and exit codes;
//!   [`logging`] sets up the log output.
//!
//! Async and blocking, one rule: jobs are plain blocking functions, and the async edges ([`cli`], [`service`])
//! run each on tokio's blocking pool through [`jobs::blocking`], so no runtime worker waits on a tool, a server
//! or a destination. An engine whose driver is async (PostgreSQL, MySQL) drives it from there with
//! `Handle::current().block_on`, which a blocking-pool thread may do and a runtime worker may not.

pub mod cancel;
pub mod cli;
pub mod config;
pub mod drill;
pub mod engine;
pub mod error;
pub mod hooks;
pub mod jobs;
pub mod logging;
pub mod naming;
pub mod pipeline;
pub mod process;
pub mod retention;
pub mod scheduler;
pub mod service;
pub mod storage;
