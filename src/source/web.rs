//! The web source: configured echo services, asked in turn, over the family wanted.
//! The answer is one address as plain text, or Cloudflare's trace format (`ip=` line).
//! Bounded in size and time; TLS verified; redirects not followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use reqwest::Url;

use crate::model::Family;
use crate::policy;
use crate::provider::{USER_AGENT, init_tls};

/// At most this much of an answer is read: an address is a line.
pub const LIMIT: usize = 4096;
/// Each URL gets at most this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTP client per family: its sockets are bound to that family's wildcard, so the
/// echo service sees (and answers) the address of the family asked for.
#[derive(Clone)]
pub struct Web {
    v4: reqwest::Client,
    v6: reqwest::Client,
}

impl Web {
    /// `ca_pem`: extra trusted roots (the provider's `ca_file`), for echo services behind
    /// a private CA.
    pub fn new(ca_pem: Option<&[u8]>) -> Result<Web, String> {
        init_tls();
        let client = |local: IpAddr| {
            let mut b = reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(TIMEOUT)
                .timeout(TIMEOUT)
                .pool_max_idle_per_host(0)
                .no_proxy()
                .http1_only()
                .local_address(local);
            if let Some(pem) = ca_pem {
                let certs = reqwest::Certificate::from_pem_bundle(pem)
                    .map_err(|e| format!("provider.ca_file: not a PEM bundle: {e}"))?;
                b = b.tls_certs_merge(certs);
            }
            b.build()
                .map_err(|e| format!("cannot set up the web source's HTTPS client: {e}"))
        };
        Ok(Web {
            v4: client(IpAddr::V4(Ipv4Addr::UNSPECIFIED))?,
            v6: client(IpAddr::V6(Ipv6Addr::UNSPECIFIED))?,
        })
    }

    /// Asks each URL in turn; the first that gives one address of `family` wins. Also
    /// returns what each URL before it said.
    pub async fn ask(
        &self,
        urls: &[Url],
        family: Family,
    ) -> (Option<(IpAddr, Url)>, Vec<(Url, String)>) {
        let client = match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        };
        let mut errors = Vec::new();
        for url in urls {
            match fetch(client, url).await.and_then(|b| parse(&b, family)) {
                Ok(addr) => return (Some((addr, url.clone())), errors),
                Err(e) => errors.push((url.clone(), e)),
            }
        }
        (None, errors)
    }
}

async fn fetch(client: &reqwest::Client, url: &Url) -> Result<Vec<u8>, String> {
    let mut resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| crate::provider::http::chain(&e))?;
    let status = resp.status().as_u16();
    if (300..400).contains(&status) {
        return Err(format!("HTTP {status}: a redirect, not followed"));
    }
    if status != 200 {
        return Err(format!("HTTP {status}"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| crate::provider::http::chain(&e))?
    {
        if body.len() + chunk.len() > LIMIT {
            return Err(format!("an answer over {LIMIT} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The one address an echo service answered. Plain text (one address, perhaps with a
/// newline) or the `ip=` line of Cloudflare's trace format; anything else (HTML, two
/// addresses, a private address, the wrong family) is refused with a reason.
pub fn parse(body: &[u8], family: Family) -> Result<IpAddr, String> {
    let text = std::str::from_utf8(body).map_err(|_| "an answer that is not text".to_string())?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let candidate = match lines.as_slice() {
        [] => return Err("an empty answer".into()),
        [one] if !one.contains('=') => *one,
        many => {
            let ips: Vec<&str> = many.iter().filter_map(|l| l.strip_prefix("ip=")).collect();
            match ips.as_slice() {
                [one] => *one,
                [] if many.iter().any(|l| l.starts_with('<')) => {
                    return Err("an HTML page, not an address".into());
                }
                [] => return Err(format!("{} lines and no address", many.len())),
                _ => return Err("several addresses".into()),
            }
        }
    };
    let shown: String = candidate.chars().take(64).collect();
    let addr: IpAddr = candidate.parse().map_err(|_| {
        if candidate.starts_with('<') {
            "an HTML page, not an address".to_string()
        } else {
            format!("{shown:?} is not an address")
        }
    })?;
    if Family::of(&addr) != family {
        return Err(format!("{addr} is not an {family} address"));
    }
    policy::classify(&addr).map_err(|why| format!("{addr} is {why}"))?;
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_one_address_or_a_trace_line() {
        let v4 = |b: &str| parse(b.as_bytes(), Family::V4);
        let v6 = |b: &str| parse(b.as_bytes(), Family::V6);
        assert_eq!(v4("203.0.113.7\n"), Ok("203.0.113.7".parse().unwrap()));
        assert_eq!(v4("  198.51.100.1  "), Ok("198.51.100.1".parse().unwrap()));
        assert_eq!(v6("2001:db8::7"), Ok("2001:db8::7".parse().unwrap()));
        let trace =
            "fl=1f\nh=one.one.one.one\nip=203.0.113.9\nts=1700000000.1\nvisit_scheme=https\n";
        assert_eq!(v4(trace), Ok("203.0.113.9".parse().unwrap()));
        for (body, needle) in [
            ("", "empty"),
            ("<html><body>203.0.113.7</body></html>", "HTML"),
            ("<!DOCTYPE html>\n<html>\n</html>", "HTML"),
            ("203.0.113.7\n203.0.113.8", "no address"),
            ("ip=203.0.113.7\nip=203.0.113.8", "several"),
            ("192.168.1.4", "private"),
            ("100.64.3.4", "carrier-grade"),
            ("2001:db8::1", "not an ipv4"),
            ("hello", "not an address"),
        ] {
            let e = v4(body).unwrap_err();
            assert!(e.contains(needle), "{body:?}: {e}");
        }
        assert!(
            parse(&[0xff, 0xfe], Family::V4)
                .unwrap_err()
                .contains("not text")
        );
    }
}
