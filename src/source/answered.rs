//! The protocol each gateway answered last, kept across restarts in the state
//! directory (`gateway-protocols`, one `ADDRESS PROTOCOL` line per gateway), so that a
//! restart asks the proof-carrying protocol first again and a NAT-PMP answer from a
//! gateway known to answer otherwise is recognized as suspect from the first query.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use tracing::debug;

use crate::config::write::replace_atomically;
use crate::gateway::Protocol;

/// The file in the state directory.
pub const FILE: &str = "gateway-protocols";
/// At most this many gateways are remembered (a laptop meets a few).
const KEEP: usize = 32;

#[derive(Debug, Default)]
pub struct Answered {
    /// Where it is kept; `None`: in memory only (a dry run, `verify`).
    path: Option<PathBuf>,
    map: HashMap<Ipv4Addr, Protocol>,
    /// Gateways whose suspect NAT-PMP answer was said (said again after a good one).
    said: HashSet<Ipv4Addr>,
}

fn token(p: Protocol) -> &'static str {
    match p {
        Protocol::NatPmp => "natpmp",
        Protocol::Pcp => "pcp",
        Protocol::Upnp => "upnp",
    }
}

/// The file's text to the map; bad lines are skipped.
pub fn parse(text: &str) -> HashMap<Ipv4Addr, Protocol> {
    text.lines()
        .filter_map(|l| {
            let (addr, p) = l.split_once(' ')?;
            let p = match p.trim() {
                "natpmp" => Protocol::NatPmp,
                "pcp" => Protocol::Pcp,
                "upnp" => Protocol::Upnp,
                _ => return None,
            };
            Some((addr.parse().ok()?, p))
        })
        .take(KEEP)
        .collect()
}

impl Answered {
    /// What `state_dir` remembers (nothing when the file is missing or unreadable).
    pub fn load(state_dir: &Path) -> Answered {
        let path = state_dir.join(FILE);
        let text = crate::bounded::read_text(&path, 4096).unwrap_or_default();
        Answered {
            map: parse(&text),
            path: Some(path),
            said: HashSet::new(),
        }
    }

    /// Keeps it in memory only from now on.
    pub fn in_memory(&mut self) {
        self.path = None;
    }

    pub fn get(&self, gateway: Ipv4Addr) -> Option<Protocol> {
        self.map.get(&gateway).copied()
    }

    /// `gateway` answered with `protocol`: remembered (and written when it changed).
    pub fn set(&mut self, gateway: Ipv4Addr, protocol: Protocol) {
        self.said.remove(&gateway);
        if self.get(gateway) == Some(protocol) {
            return;
        }
        if self.map.len() >= KEEP && !self.map.contains_key(&gateway) {
            // Forget one other gateway; which one matters little.
            if let Some(k) = self.map.keys().next().copied() {
                self.map.remove(&k);
            }
        }
        self.map.insert(gateway, protocol);
        let Some(path) = &self.path else { return };
        let mut lines: Vec<String> = self
            .map
            .iter()
            .map(|(a, p)| format!("{a} {}\n", token(*p)))
            .collect();
        lines.sort();
        if let Err(e) = replace_atomically(path, lines.concat().as_bytes(), 0o644) {
            debug!(
                "cannot remember the gateway's protocol in {}: {e}",
                path.display()
            );
        }
    }

    /// Whether a suspect answer from `gateway` is to be said now (once per episode).
    pub fn suspect_first(&mut self, gateway: Ipv4Addr) -> bool {
        self.said.insert(gateway)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_across_restarts() {
        let d = std::env::temp_dir().join(format!("dynhost-answered-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let gw = Ipv4Addr::new(192, 168, 1, 1);
        let mut a = Answered::load(&d);
        assert_eq!(a.get(gw), None);
        a.set(gw, Protocol::Upnp);
        let b = Answered::load(&d);
        assert_eq!(b.get(gw), Some(Protocol::Upnp));
        assert_eq!(
            std::fs::read_to_string(d.join(FILE)).unwrap(),
            "192.168.1.1 upnp\n"
        );
        let mut c = Answered::load(&d);
        assert!(c.suspect_first(gw) && !c.suspect_first(gw));
        c.set(gw, Protocol::Upnp);
        assert!(c.suspect_first(gw), "said again after a good answer");
        assert_eq!(parse("x pcp\n10.0.0.1 smtp\n10.0.0.2 pcp\n").len(), 1);
        let mut m = Answered::load(&d);
        m.in_memory();
        m.set(gw, Protocol::Pcp);
        assert_eq!(Answered::load(&d).get(gw), Some(Protocol::Upnp));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
