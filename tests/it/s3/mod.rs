//! S3-compatible destinations: round trips, refusals, and a store that is slow, throttling or down.

mod faults;
mod flaky;
mod housekeeping;
mod latest;
mod roundtrip;
mod settings;
