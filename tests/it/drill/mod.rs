//! Restore drills (`test-restore`) against servers the tests start: a passing drill per engine, the
//! failures a drill exists to catch (a role missing on a new server, rows missing against the manifest or a
//! custom archive, a Redis scratch server that is the source), and the run lock and leftover scratch
//! databases.

mod custom;
mod guards;
mod mysql;
mod others;
mod postgres;
mod s3;
mod service;
