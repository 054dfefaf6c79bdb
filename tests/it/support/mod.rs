//! Shared test support: PostgreSQL servers, the binary runner, backup-dir helpers and the fixture.

pub mod age;
pub mod certs;
pub mod files;
pub mod fixture;
pub mod mariadb;
pub mod metadata;
pub mod my_fixture;
pub mod pg;
pub mod rclone;
pub mod redis;
pub mod runner;
pub mod s3;
pub mod s3_proxy;
pub mod service;
pub mod smtp;
pub mod tools;

pub use pg::PgServer;
pub use runner::{DbBackup, Run};
pub(crate) use tools::{PG_SERVER, require_tools};
