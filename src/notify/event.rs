//! What happened, as the notifier gets it: one [`Event`] per published address, failure
//! episode, DNS finding... Pure: the time is a field, set by whoever made the event.

use serde_json::{Map, Value, json};

use crate::model::Family;

pub use crate::config::notify::Kind;

/// One event. Strings are empty where they do not apply (`previous` of a first publish,
/// `dns` outside the DNS events).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub hostname: String,
    /// `None` for events about no single family (`test`).
    pub family: Option<Family>,
    pub address: String,
    pub previous: String,
    /// The provider's reply, as its class and text (`good 203.0.113.7`, `badauth`).
    pub reply: String,
    /// One human sentence: what happened and, for `blocked`, the fix.
    pub message: String,
    /// What the authoritative servers answered (DNS events).
    pub dns: String,
    /// Unix seconds.
    pub time: u64,
}

impl Event {
    /// An event with only its kind, name, sentence and time; the rest empty.
    pub fn new(kind: Kind, hostname: &str, message: &str, time: u64) -> Event {
        Event {
            kind,
            hostname: hostname.to_string(),
            family: None,
            address: String::new(),
            previous: String::new(),
            reply: String::new(),
            message: message.to_string(),
            dns: String::new(),
            time,
        }
    }

    pub fn family_str(&self) -> &'static str {
        match self.family {
            Some(Family::V4) => "ipv4",
            Some(Family::V6) => "ipv6",
            None => "",
        }
    }

    /// A title for services that show one: `dynhost: published home.example.com (ipv4)`.
    pub fn title(&self) -> String {
        let mut t = format!("dynhost: {} {}", self.kind.as_str(), self.hostname);
        if self.family.is_some() {
            t.push_str(&format!(" ({})", self.family_str()));
        }
        t
    }

    /// The variables a `command` gets, in order.
    pub fn env(&self) -> [(&'static str, String); 8] {
        [
            ("DYNHOST_EVENT", self.kind.as_str().to_string()),
            ("DYNHOST_HOSTNAME", self.hostname.clone()),
            ("DYNHOST_FAMILY", self.family_str().to_string()),
            ("DYNHOST_ADDRESS", self.address.clone()),
            ("DYNHOST_PREVIOUS", self.previous.clone()),
            ("DYNHOST_REPLY", self.reply.clone()),
            ("DYNHOST_MESSAGE", self.message.clone()),
            ("DYNHOST_DNS", self.dns.clone()),
        ]
    }

    /// The event as a flat JSON object (generic webhooks, the queue, the history).
    pub fn to_json(&self) -> Value {
        json!({
            "event": self.kind.as_str(),
            "hostname": self.hostname,
            "family": self.family_str(),
            "address": self.address,
            "previous": self.previous,
            "reply": self.reply,
            "message": self.message,
            "dns": self.dns,
            "time": self.time,
        })
    }

    pub fn from_json(v: &Value) -> Option<Event> {
        let o: &Map<String, Value> = v.as_object()?;
        let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Some(Event {
            kind: Kind::parse(o.get("event")?.as_str()?)?,
            hostname: s("hostname"),
            family: match o.get("family").and_then(Value::as_str) {
                Some("ipv4") => Some(Family::V4),
                Some("ipv6") => Some(Family::V6),
                _ => None,
            },
            address: s("address"),
            previous: s("previous"),
            reply: s("reply"),
            message: s("message"),
            dns: s("dns"),
            time: o.get("time")?.as_u64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("nope"), None);
    }

    #[test]
    fn json_round_trips() {
        let mut e = Event::new(Kind::Published, "h.example.com", "new address", 42);
        e.family = Some(Family::V6);
        e.address = "2001:db8::1".into();
        e.previous = "2001:db8::2".into();
        assert_eq!(Event::from_json(&e.to_json()), Some(e.clone()));
        assert_eq!(e.title(), "dynhost: published h.example.com (ipv6)");
        assert_eq!(e.env()[2], ("DYNHOST_FAMILY", "ipv6".to_string()));
    }
}
