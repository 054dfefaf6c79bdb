//! Error types and the exit code each one maps to.

use std::path::PathBuf;

/// The exit code for a job that failed.
pub const EXIT_FAILED: u8 = 1;
/// The exit code for bad configuration or usage.
pub const EXIT_USAGE: u8 = 2;

/// A configuration problem: names the variable and says what it accepts. Exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.into(),
            message: message.into(),
        }
    }
}

/// Everything that can make a job fail, with the context a person needs to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error("{0}")]
    Usage(String),

    #[error("{server}: {message}")]
    Server { server: String, message: String },

    #[error("{tool} failed: {message}")]
    Tool { tool: String, message: String },

    #[error("the dump of {database} is incomplete: {message}")]
    Incomplete { database: String, message: String },

    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// One target of several failed; the cause is kept whole so that the service can tell whether a retry helps.
    #[error("backup of {target} failed: {cause}")]
    Target { target: String, cause: Box<Error> },

    /// Some destinations hold the backup and others could not be written: the run failed, but running it
    /// again would only make the same copies again (the store's own retries are spent), so it is not retried.
    #[error("{0}")]
    Partial(String),

    #[error("{0}")]
    Other(String),
}

impl Error {
    /// The exit code this error should end the process with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Usage(_) => EXIT_USAGE,
            _ => EXIT_FAILED,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::File {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The error itself, or the cause of a failed target's backup.
    pub fn root(&self) -> &Error {
        match self {
            Error::Target { cause, .. } => cause.root(),
            other => other,
        }
    }

    /// True when retrying cannot help (a full disk, no permission, bad configuration).
    pub fn is_permanent(&self) -> bool {
        match self.root() {
            Error::Config(_) | Error::Usage(_) => true,
            Error::Io { source, .. } => matches!(
                source.raw_os_error(),
                Some(libc::ENOSPC) | Some(libc::EACCES) | Some(libc::EROFS) | Some(libc::EDQUOT)
            ),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
