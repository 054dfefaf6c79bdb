//! MySQL/MariaDB against servers the tests start: round trips, `DB_NAME=all`, users, privileges, failures,
//! restores, TLS.

mod all;
mod failures;
mod privileges;
mod restore;
pub(crate) mod roundtrip;
mod tls;
mod users;
