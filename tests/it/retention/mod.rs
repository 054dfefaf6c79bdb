//! Retention and `prune`: by age and count, per series, on a local directory and a bucket, and after failed runs.

mod after_failures;
mod prune;
mod s3;
mod s3_prune;
