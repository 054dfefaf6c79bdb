//! `backup-service`: schedules, retries, stopping, notifications, concurrency with `backup-db`, waiting for its
//! database.

mod concurrency;
mod config;
mod detect_wait;
mod minutes;
mod notify;
mod retry;
mod schedule;
mod stop;
