//! Why `dynhost setup` stopped, and the exit code each reason maps to.

use std::fmt;

use crate::ovh::ApiError;

/// Why setup stopped.
#[derive(Debug)]
pub enum Failure {
    /// The arguments cannot work (exit 2).
    Usage(String),
    /// The config, the credentials or the local files (exit 78).
    Config(String),
    /// The API, the network or the system (exit 1).
    Other(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Config(m) | Failure::Other(m) => f.write_str(m),
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        match e {
            ApiError::Client(_) | ApiError::NoConsumerKey { .. } => Failure::Config(e.to_string()),
            other => Failure::Other(other.to_string()),
        }
    }
}
