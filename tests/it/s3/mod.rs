//! S3-compatible destinations: round trips, refusals, and a store that is slow, throttling or down.

mod faults;
mod flaky;
mod roundtrip;
mod settings;
