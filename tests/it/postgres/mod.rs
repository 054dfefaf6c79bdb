//! PostgreSQL against servers the tests start: round trips, `DB_NAME=all`, a new server, options, privileges,
//! failures, restores (with one job and in parallel), TLS.

mod all;
mod failures;
mod jobs;
mod latest;
mod newserver;
mod options;
mod privileges;
mod restore;
mod roundtrip;
mod tls;
