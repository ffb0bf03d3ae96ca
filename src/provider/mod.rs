//! The provider edge: the request (`request`), the HTTPS client (`http`), and the
//! answer parsed into a closed set of outcomes (`reply`). `Publish` is what the drivers
//! send through: the HTTP client, the dry run, or a test's fake.

pub mod http;
pub mod reply;
pub mod request;

use std::future::Future;

use tracing::info;

use crate::config::Config;
pub use http::{HttpPublisher, init_tls};
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

/// The publisher chosen at start: real or dry run.
#[derive(Clone)]
pub enum Sender {
    Http(HttpPublisher),
    DryRun,
}

impl Sender {
    pub fn new(config: &Config, dry_run: bool) -> Result<Sender, String> {
        if dry_run {
            Ok(Sender::DryRun)
        } else {
            HttpPublisher::new(&config.provider).map(Sender::Http)
        }
    }
}

impl Publish for Sender {
    fn publish(&self, req: Update) -> impl Future<Output = Outcome> + 'static {
        let fut: std::pin::Pin<Box<dyn Future<Output = Outcome>>> = match self {
            Sender::Http(h) => Box::pin(h.publish(req)),
            Sender::DryRun => Box::pin(DryRun.publish(req)),
        };
        fut
    }

    fn live(&self) -> bool {
        matches!(self, Sender::Http(_))
    }
}
