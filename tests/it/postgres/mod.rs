//! PostgreSQL against servers the tests start: round trips, `DB_NAME=all`, a new server, options, privileges,
//! failures, restores, TLS.

mod all;
mod failures;
mod latest;
mod newserver;
mod options;
mod privileges;
mod restore;
mod roundtrip;
mod tls;
