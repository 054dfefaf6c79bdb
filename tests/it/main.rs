//! Integration tests: the real db-backup binary against PostgreSQL, MySQL/MariaDB, Redis and SQLite databases and
//! S3-compatible stores that the tests start themselves. One folder per subject; `support` holds the harness.

mod support;

mod harness;

mod cli;
mod command;
mod config;
mod drill;
mod faults;
mod hooks;
mod mysql;
mod notify;
mod postgres;
mod rclone;
mod redis;
mod restore;
mod retention;
mod s3;
mod secrets;
mod service;
mod sqlite;
