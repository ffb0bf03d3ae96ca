//! The OVH API (`eu.api.ovh.com/1.0` and its regions), as far as `dynhost setup` needs it.
//!
//! - [`sign`] (pure): the request signature and the clock delta.
//! - [`credentials`] (pure parsing, thin reading): application key, secret and consumer
//!   key, or an OAuth2 client, found the way OVH's own clients find them.
//! - [`api`] (thin edge): the signed or bearer-authenticated HTTPS client and its closed
//!   set of errors.

pub mod api;
pub mod credentials;
pub mod sign;

pub use api::{ApiError, Client, Method, Retry};
pub use credentials::{Auth, Credentials, Endpoint};
