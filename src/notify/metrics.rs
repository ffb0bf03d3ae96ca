//! `metrics_file`: node_exporter's textfile format, rewritten (write-then-rename in the
//! same directory) at each event that changes it. No listener, no timer. The figures
//! are folded from the events (pure); only `write` touches the disk.
//!
//! Per record and family: the last publish time (`dynhost_last_publish_timestamp_seconds`),
//! updates and failures counted since start (`dynhost_updates_total`,
//! `dynhost_failures_total`), the last reply's class (`dynhost_last_reply{class=...}` = 1)
//! and whether the authoritative servers agree (`dynhost_dns_agreement`, 0/1).
//! No sample carries a timestamp (node_exporter skips such files).

use std::collections::BTreeMap;
use std::path::Path;

use super::event::{Event, Kind};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Slot {
    pub last_publish: Option<u64>,
    pub updates: u64,
    pub failures: u64,
    pub reply_class: String,
    pub dns_agree: Option<bool>,
}

/// The figures, per (hostname, family).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    pub slots: BTreeMap<(String, String), Slot>,
}

impl Metrics {
    /// Folds one event in. Returns whether anything shown changed.
    pub fn apply(&mut self, e: &Event) -> bool {
        if e.kind == Kind::Test || e.family.is_none() {
            return false;
        }
        let key = (e.hostname.clone(), e.family_str().to_string());
        let s = self.slots.entry(key).or_default();
        let before = s.clone();
        let class = e.reply.split_whitespace().next().unwrap_or("").to_string();
        if !class.is_empty() {
            s.reply_class = class;
        }
        match e.kind {
            Kind::Published => {
                s.last_publish = Some(e.time);
                s.updates += 1;
            }
            Kind::Failed | Kind::Blocked => s.failures += 1,
            Kind::Visible => s.dns_agree = Some(true),
            Kind::NotVisible | Kind::Drift => s.dns_agree = Some(false),
            Kind::Recovered | Kind::Unavailable | Kind::Test => {}
        }
        *s != before
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let labels = |(h, f): &(String, String)| {
            format!("hostname=\"{}\",family=\"{}\"", escape(h), escape(f))
        };
        let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (l, v) in rows {
                out.push_str(&format!("{name}{{{l}}} {v}\n"));
            }
        };
        let each = |f: &dyn Fn(&Slot) -> Option<String>| -> Vec<(String, String)> {
            self.slots
                .iter()
                .filter_map(|(k, s)| f(s).map(|v| (labels(k), v)))
                .collect()
        };
        family(
            "dynhost_last_publish_timestamp_seconds",
            "gauge",
            "Unix time the provider last accepted a new address.",
            each(&|s| s.last_publish.map(|t| t.to_string())),
        );
        family(
            "dynhost_updates_total",
            "counter",
            "New addresses the provider accepted since dynhost started.",
            each(&|s| Some(s.updates.to_string())),
        );
        family(
            "dynhost_failures_total",
            "counter",
            "Failure episodes and refusals since dynhost started.",
            each(&|s| Some(s.failures.to_string())),
        );
        let replies: Vec<(String, String)> = self
            .slots
            .iter()
            .filter(|(_, s)| !s.reply_class.is_empty())
            .map(|(k, s)| {
                (
                    format!("{},class=\"{}\"", labels(k), escape(&s.reply_class)),
                    "1".to_string(),
                )
            })
            .collect();
        family(
            "dynhost_last_reply",
            "gauge",
            "The class of the provider's last reply (good, nochg, badauth...).",
            replies,
        );
        family(
            "dynhost_dns_agreement",
            "gauge",
            "1 when the authoritative servers answer the published address, else 0.",
            each(&|s| s.dns_agree.map(|a| u8::from(a).to_string())),
        );
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes the file atomically: a temporary name not ending in `.prom`, then rename.
pub fn write(path: &Path, m: &Metrics) -> std::io::Result<()> {
    super::write_atomic(path, m.render().as_bytes(), 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Family;

    fn ev(kind: Kind, t: u64, reply: &str) -> Event {
        let mut e = Event::new(kind, "h.example.com", "m", t);
        e.family = Some(Family::V4);
        e.reply = reply.into();
        e
    }

    #[test]
    fn folds_events_into_the_textfile_format() {
        let mut m = Metrics::default();
        assert!(m.apply(&ev(Kind::Published, 100, "good 203.0.113.7")));
        assert!(m.apply(&ev(Kind::Blocked, 200, "badauth")));
        assert!(m.apply(&ev(Kind::Visible, 300, "")));
        assert!(!m.apply(&ev(Kind::Visible, 301, "")));
        assert!(!m.apply(&Event::new(Kind::Test, "x", "m", 1)));
        let text = m.render();
        let l = "hostname=\"h.example.com\",family=\"ipv4\"";
        for line in [
            format!("dynhost_last_publish_timestamp_seconds{{{l}}} 100"),
            format!("dynhost_updates_total{{{l}}} 1"),
            format!("dynhost_failures_total{{{l}}} 1"),
            format!("dynhost_last_reply{{{l},class=\"badauth\"}} 1"),
            format!("dynhost_dns_agreement{{{l}}} 1"),
            "# TYPE dynhost_updates_total counter".to_string(),
        ] {
            assert!(text.lines().any(|x| x == line), "{line} missing in\n{text}");
        }
        assert!(text.ends_with('\n'));
        // No timestamps: every sample line has exactly one space (name{labels} value).
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert_eq!(
                line.rsplit_once("} ").map(|(_, v)| v.contains(' ')),
                Some(false),
                "{line}"
            );
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
