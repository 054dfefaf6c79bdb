//! The commands: backup, restore, verify, list and prune, and what they share.

pub mod backup;
mod check;
pub mod list;
pub mod prune;
pub mod restore;
mod restore_file;
mod series;
pub mod verify;

use std::sync::atomic::AtomicBool;

pub use check::Checker;

/// Set by a stop signal: streams stop at the next chunk, children are killed and temporary files removed.
pub static CANCEL: AtomicBool = AtomicBool::new(false);
