//! Faults from outside: a full disk, kills at random moments, a strict umask, unreadable files, silent or plain
//! servers.

mod connect_bounds;
pub(crate) mod disk_full;
mod file_modes;
mod permission_hints;
mod sigkill;
mod tls_plain_servers;
