//! What every HTTPS client dynhost runs shares (the provider, the OVH API, the gateway's
//! UPnP, the echo services, notifications): the TLS provider, the User-Agent, the
//! connect bound and how an error is said. Ground floor, so that `ovh` and `provider`
//! need not import each other for it.

use std::time::Duration;

pub const USER_AGENT: &str = concat!("dynhost/", env!("CARGO_PKG_VERSION"));

/// Connecting (TCP) may take at most this, within the total `provider.timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Installs ring as rustls' crypto provider (once per process).
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An error and its causes on one line, each said once, without the URL (the record's
/// log line has it). For every HTTP client dynhost runs (the provider, the OVH API, the
/// gateway's UPnP, the echo services).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let head = e.to_string();
    let mut parts = vec![head.split(" for url (").next().unwrap_or(&head).to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = c.source();
    }
    parts.join(": ")
}
