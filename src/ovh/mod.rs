//! The OVH API (`eu.api.ovh.com/1.0` and its regions), as far as `dynhost setup` needs it.
//!
//! - [`sign`] (pure): the request signature and the clock delta.
//! - [`credentials`] (pure parsing, thin reading): application key, secret and consumer
//!   key, or an OAuth2 client, found the way OVH's own clients find them.
//! - [`api`] (thin edge): the signed or bearer-authenticated HTTPS client.
//! - [`call`] (pure): a call's method, retry rule and bounds, and its dry-run text.
//! - [`answer`]: an answer read within bounds, then classified (pure).
//! - [`error`]: the closed set of errors, each naming its fix.
//! - [`zone`] (pure): API mode's names, answers, plans and rights (`provider::ovh_api`
//!   is its edge).

pub mod answer;
pub mod api;
pub mod call;
pub mod credentials;
pub mod error;
pub mod sign;
pub mod zone;

pub use api::Client;
pub use call::{Method, Retry};
pub use credentials::{Auth, Credentials, Endpoint};
pub use error::ApiError;
