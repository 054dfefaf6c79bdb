//! Redis against servers the tests start: round trips over replication, ACL users, failures, restore refusals,
//! TLS.

mod acl;
mod failures;
mod restore;
mod roundtrip;
mod tls;
