//! The logging part: `LOG_FORMAT` and `LOG_LEVEL`.

use super::raw::Raw;
use super::values::one_of;
use crate::error::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// How the program logs.
#[derive(Debug, Clone)]
pub struct Logging {
    pub format: LogFormat,
    pub level: String,
}

/// Validates the logging settings.
pub(super) fn validate(raw: &Raw) -> Result<Logging, ConfigError> {
    let format = match raw.log_format.as_deref() {
        None => LogFormat::Text,
        Some(v) => one_of(
            "LOG_FORMAT",
            v,
            &[("text", LogFormat::Text), ("json", LogFormat::Json)],
        )?,
    };
    let level = match raw.log_level.as_deref() {
        None => "info".to_string(),
        Some(v) => one_of(
            "LOG_LEVEL",
            v,
            &[
                ("error", "error"),
                ("warn", "warn"),
                ("info", "info"),
                ("debug", "debug"),
                ("trace", "trace"),
            ],
        )?
        .to_string(),
    };
    Ok(Logging { format, level })
}
