//! The commands: backup, restore, verify, list and prune, and what they share.

pub mod backup;
pub mod list;
pub mod prune;
pub mod restore;
mod restore_file;
mod series;
pub mod verify;
