//! The provider edge: the request (`request`), the HTTPS client (`http`), and the
//! answer parsed into a closed set of outcomes (`reply`). `Publish` is what the drivers
//! send through: the HTTP client, the dry run, or a test's fake.

pub mod http;
pub mod ovh_api;
pub mod reply;
pub mod request;

use std::future::Future;

use tracing::info;

use crate::config::{Config, Publisher};
pub use http::{HttpPublisher, init_tls};
pub use ovh_api::ApiPublisher;
use reply::Outcome;
pub use request::{USER_AGENT, Update, update_url};

/// Sends updates. Implemented by the HTTP client, the dry run, and test fakes.
pub trait Publish {
    fn publish(&self, req: Update) -> impl Future<Output = Outcome> + 'static;

    /// Whether requests really leave (not `--dry-run`): notifications follow it.
    fn live(&self) -> bool {
        true
    }
}

/// `--dry-run`: log the exact request, send nothing.
#[derive(Clone, Copy)]
pub struct DryRun;

impl Publish for DryRun {
    fn publish(&self, req: Update) -> impl Future<Output = Outcome> + 'static {
        info!(record = %req.key, addr = %req.addr, "dry run: would send {}", req.describe());
        std::future::ready(Outcome::DryRun)
    }
}

/// The publisher chosen at start: real (DynHost, and the OVH API for the records in
/// API mode) or dry run.
#[derive(Clone)]
pub enum Sender {
    Http {
        dyndns: HttpPublisher,
        api: Option<ApiPublisher>,
    },
    DryRun,
}

impl Sender {
    pub fn new(config: &Config, dry_run: bool) -> Result<Sender, String> {
        if dry_run {
            Ok(Sender::DryRun)
        } else {
            Ok(Sender::Http {
                dyndns: HttpPublisher::new(&config.provider)?,
                api: ApiPublisher::new(config)?,
            })
        }
    }
}

impl Publish for Sender {
    fn publish(&self, req: Update) -> impl Future<Output = Outcome> + 'static {
        let fut: std::pin::Pin<Box<dyn Future<Output = Outcome>>> = match self {
            Sender::Http { api: Some(api), .. } if req.provider == Publisher::OvhApi => {
                Box::pin(api.publish(req))
            }
            Sender::Http { dyndns, .. } => Box::pin(dyndns.publish(req)),
            Sender::DryRun => Box::pin(DryRun.publish(req)),
        };
        fut
    }

    fn live(&self) -> bool {
        matches!(self, Sender::Http { .. })
    }
}
