//! Integration tests: the real db-backup binary against PostgreSQL servers that the tests start themselves.

mod support;

mod cli_links;
mod command_engine;
mod config_errors;
mod encryption_config;
mod encryption_roundtrip;
mod harness;
mod image_links;
mod mysql_all;
mod mysql_failures;
mod mysql_restore;
mod mysql_roundtrip;
mod postgres_all;
mod postgres_failures;
mod postgres_roundtrip;
mod probe_detection;
mod prune;
mod redis_failures;
mod redis_restore;
mod redis_roundtrip;
mod restore_refusals;
mod s3_faults;
mod s3_retention;
mod s3_roundtrip;
mod secrets;
mod service_concurrency;
mod service_config;
mod service_minutes;
mod service_notify;
mod service_schedule;
mod service_stop;
mod sqlite_hot;
mod sqlite_roundtrip;
mod verify_and_list;
