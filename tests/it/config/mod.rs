//! Configuration refused before anything happens (exit status 2 naming the variable): settings, encryption, TLS,
//! engine detection.

mod aliases;
mod bad_input;
mod detection;
mod encryption;
mod errors;
mod tls;
