//! Error types, the exit code each one maps to, and their [`Kind`]: what the failure is, decided where the error
//! is made, so that retries and exit codes never read a message.

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

    /// The server refused the login: a retry would only count against its lockout.
    #[error("{server}: {message}")]
    AuthRefused { server: String, message: String },

    /// Another backup holds the directory's run lock.
    #[error("{path}: {message}")]
    LockBusy { path: PathBuf, message: String },

    /// A stop signal ended the job.
    #[error("{0}")]
    Cancelled(String),

    /// Writing to a destination failed; the kind of the I/O error is kept (a full disk is not retried).
    #[error("{destination}: {source}")]
    Store {
        destination: String,
        #[source]
        source: std::io::Error,
    },

    /// Writing a backup failed with a cause of a known kind (every destination full, a stop).
    #[error("{path}: {message}")]
    Write {
        path: PathBuf,
        kind: Kind,
        message: String,
    },

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

    /// A post-hook failed after the job's work was done (the backup made, the restore complete): the run failed,
    /// but running it again would only do the work again, so it is not retried.
    #[error("{hook} failed: {message}")]
    Hook { hook: String, message: String },

    /// A child process started without the pipe it was asked for (its stdin or stdout).
    #[error("{tool} has no {pipe} pipe")]
    NoPipe { tool: String, pipe: &'static str },

    /// A failure and what was done about it since (what a failed restore removed): the cause's kind stays.
    #[error("{cause}; {note}")]
    Noted { cause: Box<Error>, note: String },

    #[error("{0}")]
    Other(String),
}

/// What kind of failure an error is; decided where the error is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A bad setting or bad usage: exit status 2, and repeating it changes nothing.
    Config,
    /// The server refused the login.
    AuthRefused,
    /// Another backup holds the run lock: the service waits for it.
    LockBusy,
    /// A stop signal ended the job.
    Cancelled,
    /// A destination is full, read-only, over its quota or not writable.
    StorageFull,
    /// Some destinations hold the backup and others could not be written (their own retries spent).
    Partial,
    /// A post-hook failed after the work was done (see [`Error::Hook`]).
    Hook,
    /// Anything else: a server down or slow, a dump that failed, a network error.
    Other,
}

/// The I/O error kinds that mean the destination cannot take the backup, however often it is tried.
fn storage_refused(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind::{PermissionDenied, QuotaExceeded, ReadOnlyFilesystem, StorageFull};
    matches!(
        kind,
        StorageFull | ReadOnlyFilesystem | QuotaExceeded | PermissionDenied
    )
}

impl Error {
    /// The exit code this error should end the process with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Usage(_) => EXIT_USAGE,
            Error::Noted { cause, .. } => cause.exit_code(),
            _ => EXIT_FAILED,
        }
    }

    /// What kind of failure this is (a failed target's: its cause's).
    pub fn kind(&self) -> Kind {
        match self {
            Error::Config(_) | Error::Usage(_) => Kind::Config,
            Error::AuthRefused { .. } => Kind::AuthRefused,
            Error::LockBusy { .. } => Kind::LockBusy,
            Error::Cancelled(_) => Kind::Cancelled,
            Error::Partial(_) => Kind::Partial,
            Error::Hook { .. } => Kind::Hook,
            Error::Write { kind, .. } => *kind,
            Error::Io { source, .. } | Error::Store { source, .. }
                if storage_refused(source.kind()) =>
            {
                Kind::StorageFull
            }
            Error::Target { cause, .. } | Error::Noted { cause, .. } => cause.kind(),
            _ => Kind::Other,
        }
    }

    /// Whether running the job again may succeed: not after a bad setting, a refused login, a full or
    /// read-only destination, copies already made in some destinations, or a stop. A held lock may be
    /// free later (the service waits for it rather than counting a failure).
    pub fn retryable(&self) -> bool {
        matches!(self.kind(), Kind::Other | Kind::LockBusy)
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

    /// A child process `tool` lacks its `pipe` ("input" or "output").
    pub fn no_pipe(tool: impl Into<String>, pipe: &'static str) -> Self {
        Error::NoPipe {
            tool: tool.into(),
            pipe,
        }
    }

    /// The error itself, or the cause of a failed target's backup.
    pub fn root(&self) -> &Error {
        match self {
            Error::Target { cause, .. } => cause.root(),
            other => other,
        }
    }

    /// The error of a stream that stopped: [`Error::Cancelled`] when a stop was asked for, else `Other`.
    pub fn stopped(cancelled: bool, message: String) -> Error {
        if cancelled {
            Error::Cancelled(message)
        } else {
            Error::Other(message)
        }
    }

    /// The kind every error of `errors` shares, or `None` for none or mixed kinds.
    pub fn common_kind<'a>(errors: impl IntoIterator<Item = &'a Error>) -> Option<Kind> {
        let mut kinds = errors.into_iter().map(Error::kind);
        let first = kinds.next()?;
        kinds.all(|k| k == first).then_some(first)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
