//! The request: one GET per record and family, and how it is shown in logs. Pure.

use std::net::IpAddr;

use reqwest::Url;

use crate::config::{Config, Publisher};
use crate::model::SlotKey;
use crate::secret::Secret;

pub use crate::https::USER_AGENT;

/// Everything one update needs. The password is only exposed to the HTTP client.
#[derive(Clone, Debug)]
pub struct Update {
    pub key: SlotKey,
    pub addr: IpAddr,
    pub url: Url,
    pub username: String,
    pub password: Secret,
    /// DynHost, or the OVH API (which uses none of the above but the key and address).
    pub provider: Publisher,
    pub replace_all: bool,
}

impl Update {
    /// Builds the request for `key` from the record that publishes it, if any.
    pub fn new(config: &Config, key: &SlotKey, addr: IpAddr) -> Option<Update> {
        let record = config.record_for(key)?;
        Some(Update {
            key: key.clone(),
            addr,
            url: update_url(&config.provider.url, &record.hostname, addr),
            username: record.username.clone(),
            password: record.password.clone(),
            provider: record.provider,
            replace_all: record.replace_all,
        })
    }

    /// The exact request, for logs and dry runs, with the password redacted.
    pub fn describe(&self) -> String {
        if self.provider == Publisher::OvhApi {
            return format!(
                "through the OVH API: set the {} records of {} to {}, then refresh the zone",
                crate::ovh::zone::field_type(self.key.family),
                self.key.hostname,
                self.addr
            );
        }
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
        let req = Update::new(&config, &key, "192.0.2.1".parse().unwrap()).unwrap();
        let text = req.describe();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!format!("{req:?}").contains("hunter2"));
        assert!(text.contains("myip=192.0.2.1") && text.contains("<u:redacted>"));
        let v6 = SlotKey {
            family: Family::V6,
            ..key
        };
        assert!(Update::new(&config, &v6, "2001:db8::1".parse().unwrap()).is_none());
    }

    #[test]
    fn an_api_record_describes_its_calls_without_secrets() {
        let config = crate::config::parse(
            "[[record]]\nhostname = \"*.home.example.com\"\nprovider = \"ovh-api\"\ninterface = \"ppp0\"\nipv6 = true\n",
            None,
        )
        .unwrap()
        .config;
        let key = SlotKey {
            hostname: "*.home.example.com".into(),
            family: Family::V6,
        };
        let req = Update::new(&config, &key, "2001:db8::1".parse().unwrap()).unwrap();
        assert_eq!(req.provider, Publisher::OvhApi);
        assert_eq!(
            req.describe(),
            "through the OVH API: set the AAAA records of *.home.example.com to 2001:db8::1, \
             then refresh the zone"
        );
    }
}
