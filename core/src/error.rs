//! The core's error type: a small hand-written kind list plus a message.
//!
//! Messages are lower-case and operator-facing; they say what was expected.

use std::fmt;

/// What went wrong, in a form callers can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is invalid (file, line and key are in the message).
    Config,
    /// The channel is full and its `on_full` policy refused the events.
    Full,
    /// The disk (or the database's page limit) is full.
    DiskFull,
    /// The storage failed (an SQLite error other than a full disk or damage).
    Storage,
    /// The store is damaged: SQLite found a corrupt page or a file that is not a database.
    Corrupt,
    /// Input from outside (a request, a line) could not be decoded.
    Decode,
    /// An I/O error (sockets, files).
    Io,
    /// The component or agent is shutting down or already closed.
    Closed,
    /// A de-duplicating put met an event id stored meanwhile by another put.
    Duplicate,
    /// The user turned uploads off (mobile consent): nothing is recorded.
    Disabled,
    /// Anything else.
    Other,
}

/// The error of every fallible core operation.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// `Result` with the core's [`Error`] as default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with an operator-facing `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into() }
    }

    /// A configuration error.
    pub fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, message)
    }

    /// A storage error.
    pub fn storage(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Storage, message)
    }

    /// A decoding error for input from outside.
    pub fn decode(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Decode, message)
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `context: ` put in front of its message.
    pub fn context(self, context: impl fmt::Display) -> Self {
        Error { kind: self.kind, message: format!("{context}: {}", self.message) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, e.to_string())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            match f.code {
                rusqlite::ErrorCode::DiskFull => return Error::new(ErrorKind::DiskFull, format!("disk full: {e}")),
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase => {
                    return Error::new(ErrorKind::Corrupt, format!("store damaged: {e}"))
                }
                _ => {}
            }
        }
        Error::storage(format!("sqlite: {e}"))
    }
}
