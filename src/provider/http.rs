//! The HTTPS client that sends updates (reqwest + rustls/ring): bounded in time and
//! size, no redirects, no idle connections.

use std::future::Future;
use std::time::Duration;

use reqwest::header::LOCATION;
use tracing::debug;

use super::reply::{self, BODY_LIMIT, Outcome, Transport};
use super::{Publish, USER_AGENT, Update};
use crate::config::Provider;

pub use crate::https::{CONNECT_TIMEOUT, chain, init_tls};

#[derive(Clone)]
pub struct HttpPublisher {
    client: reqwest::Client,
    timeout: Duration,
}

impl HttpPublisher {
    pub fn new(provider: &Provider) -> Result<HttpPublisher, String> {
        init_tls();
        let mut b = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT.min(provider.timeout))
            .timeout(provider.timeout)
            // Updates are rare: no idle connection, and so no pool timer waking us up.
            .pool_max_idle_per_host(0)
            .no_proxy()
            .http1_only();
        if let (Some(path), Some(pem)) = (&provider.ca_file, &provider.ca_pem) {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("{}: not a PEM certificate bundle: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("{}: holds no certificate", path.display()));
            }
            b = b.tls_certs_merge(certs);
        }
        let client = b
            .build()
            .map_err(|e| format!("cannot set up the HTTPS client: {}", chain(&e)))?;
        Ok(HttpPublisher {
            client,
            timeout: provider.timeout,
        })
    }
}

impl Publish for HttpPublisher {
    fn publish(&self, req: Update) -> impl Future<Output = Outcome> + 'static {
        let client = self.client.clone();
        let timeout = self.timeout;
        async move {
            debug!(record = %req.key, request = %req.describe(), "sending");
            let sent = client
                .get(req.url.clone())
                .basic_auth(&req.username, Some(req.password.expose()))
                .send()
                .await;
            let mut resp = match sent {
                Ok(r) => r,
                Err(e) => return transport_error(&e, timeout),
            };
            let status = resp.status().as_u16();
            let location = resp
                .headers()
                .get(LOCATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            let mut body = Vec::new();
            let mut truncated = false;
            loop {
                match resp.chunk().await {
                    Ok(Some(chunk)) => {
                        let room = BODY_LIMIT - body.len();
                        if chunk.len() > room {
                            body.extend_from_slice(&chunk[..room]);
                            truncated = true;
                            break;
                        }
                        body.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    // A failed status is still a failed status; a cut success is unconfirmed.
                    Err(_) if !(200..300).contains(&status) => {
                        truncated = true;
                        break;
                    }
                    Err(e) => {
                        return Outcome::Transport(Transport::Unconfirmed(format!(
                            "the reply was cut short: {}",
                            chain(&e)
                        )));
                    }
                }
            }
            Outcome::Reply(reply::parse(status, location.as_deref(), &body, truncated))
        }
    }
}

fn transport_error(e: &reqwest::Error, timeout: Duration) -> Outcome {
    let text = chain(e);
    if let Some(why) = clock_problem(e) {
        return Outcome::Transport(Transport::ClockWrong(format!(
            "{why} (the system time is {}); set the clock (NTP), dynhost retries as soon as \
             it is set",
            crate::date::rfc3339(crate::date::wall_now())
        )));
    }
    if e.is_connect() {
        Outcome::Transport(Transport::NotSent(text))
    } else if e.is_timeout() {
        Outcome::Transport(Transport::Unconfirmed(format!(
            "no answer within {}: {text}",
            crate::duration::format(timeout)
        )))
    } else {
        Outcome::Transport(Transport::Unconfirmed(text))
    }
}

/// Whether the TLS handshake failed on the certificate's dates, which after a boot
/// without an RTC means our clock, not the provider.
fn clock_problem(e: &reqwest::Error) -> Option<&'static str> {
    use rustls::{CertificateError, Error as Tls};
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        // hyper wraps rustls' error in io::Errors, one in another; their `source`
        // skips the wrapped error itself, so look inside them.
        let mut inner = c;
        while let Some(wrapped) = inner
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            inner = wrapped;
        }
        match inner.downcast_ref::<Tls>() {
            Some(Tls::InvalidCertificate(
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
            )) => {
                return Some("the provider's certificate is not valid yet: our clock is behind");
            }
            Some(Tls::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. },
            )) => {
                return Some("the provider's certificate has expired, or our clock is ahead");
            }
            _ => {}
        }
        cur = c.source();
    }
    None
}
