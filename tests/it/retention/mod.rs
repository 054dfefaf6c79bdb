//! Retention and `prune`: by age and count and by the hourly-to-yearly keep rules, per series, on a local directory and a bucket, and after failed runs.

mod after_failures;
pub(crate) mod keep_rules;
mod prune;
mod s3;
mod s3_keep_rules;
mod s3_prune;
