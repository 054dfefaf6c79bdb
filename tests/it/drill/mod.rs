//! Restore drills (`test-restore`) against servers the tests start: a passing drill per engine, and the
//! failures a drill exists to catch (a role missing on a new server, rows missing against the manifest, a Redis
//! scratch server that is the source).

mod mysql;
mod others;
mod postgres;
mod s3;
mod service;
