//! Integration tests: the real db-backup binary against PostgreSQL servers that the tests start themselves.

mod support;

mod cli_links;
mod config_errors;
mod harness;
mod postgres_all;
mod postgres_failures;
mod postgres_roundtrip;
mod prune;
mod restore_refusals;
mod secrets;
mod verify_and_list;
