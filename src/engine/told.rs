//! What the engine tells people: the notifier's events, each made by the part that
//! owns the fact ([`Publish`]: `published`, `failed`, `recovered`, `blocked`;
//! [`Origin`]: `unavailable` and its `recovered`; [`DnsWatch`]: `visible`,
//! `not_visible`, `drift`) and kept in that part's outbox until the driver drains them
//! with [`Engine::poll_event`]. Pure: the Unix time is passed in.
//!
//! [`Publish`]: super::publish::Publish
//! [`Origin`]: super::origin::Origin
//! [`DnsWatch`]: super::dns::DnsWatch

use std::collections::VecDeque;

use super::Engine;
use super::types::SlotKey;
use crate::notify::{Event, Kind};

/// A part's events not yet taken by the driver.
pub(super) type Outbox = VecDeque<Event>;

/// A record as events name it: `home.example.com (ipv4)`.
pub(super) fn named(key: &SlotKey) -> String {
    format!("{} ({})", key.hostname, key.family)
}

/// An event about `key`: its name, family and sentence; the caller fills the rest.
pub(super) fn event(kind: Kind, key: &SlotKey, wall: u64, message: String) -> Event {
    let mut e = Event::new(kind, &key.hostname, &message, wall);
    e.family = Some(key.family);
    e
}

impl Engine {
    /// The next event to tell (drain after `poll_action`, in the daemon and in a
    /// one-shot round). Events of one slot come in the order they happened within
    /// each part.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.slots.iter_mut().find_map(|s| {
            s.origin
                .events
                .pop_front()
                .or_else(|| s.publish.events.pop_front())
                .or_else(|| s.dns.events.pop_front())
        })
    }
}
