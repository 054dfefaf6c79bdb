//! Log output: one readable line per event on stderr, or JSON lines with `LOG_FORMAT=json`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Sets up the global logger. Safe to call once; later calls are ignored.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_new(format!("warn,db_backup={level}"))
        .unwrap_or_else(|_| EnvFilter::new("warn,db_backup=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
