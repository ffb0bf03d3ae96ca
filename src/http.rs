//! The provider edge: one HTTPS GET per record and family, answer parsed by `reply`.

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::LOCATION;
use tracing::{debug, info};

use crate::config::{Config, Provider};
use crate::engine::SlotKey;
use crate::reply::{self, BODY_LIMIT, Outcome, Transport};
use crate::secret::Secret;

pub const USER_AGENT: &str = concat!("dynhost/", env!("CARGO_PKG_VERSION"));
/// Connecting (TCP) may take at most this, within the total `provider.timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything one update needs. The password is only exposed to the HTTP client.
#[derive(Clone, Debug)]
pub struct UpdateRequest {
    pub key: SlotKey,
    pub addr: IpAddr,
    pub url: Url,
    pub username: String,
    pub password: Secret,
}

impl UpdateRequest {
    /// Builds the request for `key` from the record that publishes it, if any.
    pub fn new(config: &Config, key: &SlotKey, addr: IpAddr) -> Option<UpdateRequest> {
        let record = config
            .records
            .iter()
            .find(|r| r.enabled && r.hostname == key.hostname && r.publishes(key.family))?;
        Some(UpdateRequest {
            key: key.clone(),
            addr,
            url: update_url(&config.provider.url, &record.hostname, addr),
            username: record.username.clone(),
            password: record.password.clone(),
        })
    }

    /// The exact request, for logs and dry runs, with the password redacted.
    pub fn describe(&self) -> String {
        format!(
            "GET {} with Authorization: Basic <{}:redacted> and User-Agent: {USER_AGENT}",
            self.url, self.username
        )
    }
}

/// `<endpoint>?system=dyndns&hostname=H&myip=IP`: one hostname, one family, and always
/// an explicit address (OVH cannot see our IPv6 from an IPv4 connection).
pub fn update_url(endpoint: &Url, hostname: &str, addr: IpAddr) -> Url {
    let mut url = endpoint.clone();
    url.query_pairs_mut()
        .append_pair("system", "dyndns")
        .append_pair("hostname", hostname)
        .append_pair("myip", &addr.to_string());
    url
}

/// Sends updates. Implemented by the HTTP client, the dry run, and test fakes.
pub trait Publish {
    fn publish(&self, req: UpdateRequest) -> impl Future<Output = Outcome> + 'static;
}

/// Installs ring as rustls' crypto provider (once per process).
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

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
        if let Some(path) = &provider.ca_file {
            let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
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
    fn publish(&self, req: UpdateRequest) -> impl Future<Output = Outcome> + 'static {
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

/// An error and its causes on one line, without the URL (it is in the record's log line).
fn chain(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let head = e.to_string();
    let head = head.split(" for url (").next().unwrap_or(&head).to_string();
    parts.push(head);
    while let Some(c) = cur {
        let s = c.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = c.source();
    }
    parts.join(": ")
}

/// `--dry-run`: log the exact request, send nothing.
#[derive(Clone, Copy)]
pub struct DryRun;

impl Publish for DryRun {
    fn publish(&self, req: UpdateRequest) -> impl Future<Output = Outcome> + 'static {
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
    fn publish(&self, req: UpdateRequest) -> impl Future<Output = Outcome> + 'static {
        let fut: std::pin::Pin<Box<dyn Future<Output = Outcome>>> = match self {
            Sender::Http(h) => Box::pin(h.publish(req)),
            Sender::DryRun => Box::pin(DryRun.publish(req)),
        };
        fut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Family;

    #[test]
    fn the_url_carries_system_hostname_and_myip() {
        let base = Url::parse("https://dns.eu.ovhapis.com/nic/update").unwrap();
        let u = update_url(&base, "home.example.com", "2001:db8::1".parse().unwrap());
        assert_eq!(
            u.as_str(),
            "https://dns.eu.ovhapis.com/nic/update?system=dyndns&hostname=home.example.com&myip=2001%3Adb8%3A%3A1"
        );
    }

    #[test]
    fn describe_redacts_the_password() {
        let config = crate::config::parse(
            "[[record]]\nhostname = \"a.example.com\"\nusername = \"u\"\npassword = \"hunter2\"\ninterface = \"ppp0\"\n",
            None,
        )
        .unwrap()
        .config;
        let key = SlotKey {
            hostname: "a.example.com".into(),
            family: Family::V4,
        };
        let req = UpdateRequest::new(&config, &key, "192.0.2.1".parse().unwrap()).unwrap();
        let text = req.describe();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!format!("{req:?}").contains("hunter2"));
        assert!(text.contains("myip=192.0.2.1") && text.contains("<u:redacted>"));
        let v6 = SlotKey {
            family: Family::V6,
            ..key
        };
        assert!(UpdateRequest::new(&config, &v6, "2001:db8::1".parse().unwrap()).is_none());
    }
}
