//! How the OVH API's errors become the application's [`Error`] (`crate::exit`), the one
//! error `dynhost setup` returns: a client or credentials problem is the config's
//! (exit 78), anything else a failure (exit 1).

use crate::exit::Error;
use crate::ovh::ApiError;

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Error {
        match e {
            ApiError::Client(_) | ApiError::NoConsumerKey { .. } => Error::Config(e.to_string()),
            other => Error::Failed(other.to_string()),
        }
    }
}
