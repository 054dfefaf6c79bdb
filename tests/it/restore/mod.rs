//! Reading backups back: `restore` and `verify` refusals, `list`, and encrypted backups.

mod encryption;
mod refusals;
mod verify_and_list;
