//! SQLite (`DB_PATH`): round trips, hot backups under writes, and the file access each step needs.

mod hot;
mod privileges;
pub(crate) mod roundtrip;
