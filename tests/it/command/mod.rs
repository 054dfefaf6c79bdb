//! The command engine (`BACKUP_CMD`, `RESTORE_CMD`): any tool's output backed up and restored.

mod engine;
mod memory;
mod stop;
