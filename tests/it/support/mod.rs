//! Shared test support: PostgreSQL servers, the binary runner, backup-dir helpers and the fixture.

pub mod files;
pub mod fixture;
pub mod pg;
pub mod runner;
pub mod tools;

pub use pg::PgServer;
pub use runner::{DbBackup, Run};
pub(crate) use tools::{PG_SERVER, require_tools};
