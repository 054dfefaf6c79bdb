//! S3-compatible destinations: round trips, refusals, and a store that is slow, throttling or down.

mod credentials;
mod faults;
mod flaky;
mod housekeeping;
mod latest;
mod private_ca;
mod roundtrip;
mod settings;
