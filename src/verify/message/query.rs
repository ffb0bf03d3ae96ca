//! The question: a name and a record type, with its ID, flags and EDNS0, as sent.

use std::fmt;
use std::str::FromStr;

use domain::base::{MessageBuilder, Rtype};

use super::{EDNS_UDP_SIZE, WireName};
use crate::model::Family;

/// The record type asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qtype {
    A,
    Aaaa,
    Ns,
    Soa,
}

impl Qtype {
    /// The address record for a family: A for IPv4, AAAA for IPv6.
    pub fn of(family: Family) -> Qtype {
        match family {
            Family::V4 => Qtype::A,
            Family::V6 => Qtype::Aaaa,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Qtype::A => "A",
            Qtype::Aaaa => "AAAA",
            Qtype::Ns => "NS",
            Qtype::Soa => "SOA",
        }
    }

    pub(super) fn rtype(self) -> Rtype {
        match self {
            Qtype::A => Rtype::A,
            Qtype::Aaaa => Rtype::AAAA,
            Qtype::Ns => Rtype::NS,
            Qtype::Soa => Rtype::SOA,
        }
    }
}

impl fmt::Display for Qtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that cannot be asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadName {
    pub name: String,
    pub reason: String,
}

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The name is cut so that hostile input cannot flood a log line.
        let shown: String = self.name.chars().take(80).collect();
        write!(
            f,
            "{shown:?} is not a DNS name that can be looked up: {}",
            self.reason
        )
    }
}

impl std::error::Error for BadName {}

/// Parses a hostname as given in the config (`host.example.com`, a trailing dot allowed)
/// into a wire name. Refuses the root, empty labels and names over 253 characters.
fn parse_name(text: &str) -> Result<WireName, BadName> {
    let bad = |reason: &str| BadName {
        name: text.to_string(),
        reason: reason.to_string(),
    };
    let bare = text.strip_suffix('.').unwrap_or(text);
    if bare.is_empty() {
        return Err(bad("the name is empty (or the root)"));
    }
    if bare.len() > 253 {
        return Err(bad("longer than 253 characters"));
    }
    WireName::from_str(bare).map_err(|e| bad(&e.to_string()))
}

/// One question to one server, with its ID, ready to send. Build it with [`Query::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub(super) id: u16,
    pub(super) name: WireName,
    pub(super) qtype: Qtype,
    recursion: bool,
    edns: Option<u16>,
    wire: Vec<u8>,
}

impl Query {
    /// A query for `name`/`qtype` with ID `id`, recursion desired or not, and EDNS0
    /// offering `edns` bytes over UDP (`None`: plain DNS, 512 bytes).
    pub fn new(
        id: u16,
        name: &str,
        qtype: Qtype,
        recursion: bool,
        edns: Option<u16>,
    ) -> Result<Query, BadName> {
        let name = parse_name(name)?;
        let wire = encode(id, &name, qtype, recursion, edns).map_err(|e| BadName {
            name: name.to_string(),
            reason: format!("cannot encode the query: {e}"),
        })?;
        Ok(Query {
            id,
            name,
            qtype,
            recursion,
            edns,
            wire,
        })
    }

    /// The query dynhost sends to an authoritative server: A or AAAA, RD=0, EDNS0 at
    /// [`EDNS_UDP_SIZE`].
    pub fn address(id: u16, name: &str, family: Family) -> Result<Query, BadName> {
        Query::new(id, name, Qtype::of(family), false, Some(EDNS_UDP_SIZE))
    }

    /// The same question with another ID (a retry must not reuse the ID).
    pub fn with_id(&self, id: u16) -> Query {
        self.rebuild(id, &self.name, self.edns)
    }

    /// The same question without EDNS0, for a server that rejects it (FORMERR, NOTIMP).
    pub fn without_edns(&self, id: u16) -> Query {
        self.rebuild(id, &self.name, None)
    }

    /// The same kind of question for another name (walking up the labels).
    pub(crate) fn rename(&self, id: u16, name: &WireName) -> Query {
        self.rebuild(id, name, self.edns)
    }

    fn rebuild(&self, id: u16, name: &WireName, edns: Option<u16>) -> Query {
        // A wire name of at most 255 bytes always fits in a message, so encoding cannot
        // fail; if it somehow did, the query goes out without EDNS0 rather than panic.
        let wire = encode(id, name, self.qtype, self.recursion, edns)
            .or_else(|_| encode(id, name, self.qtype, self.recursion, None))
            .unwrap_or_default();
        Query {
            id,
            name: name.clone(),
            qtype: self.qtype,
            recursion: self.recursion,
            edns,
            wire,
        }
    }

    pub fn id(&self) -> u16 {
        self.id
    }

    pub fn qtype(&self) -> Qtype {
        self.qtype
    }

    pub fn uses_edns(&self) -> bool {
        self.edns.is_some()
    }

    /// The name asked for, in display form (no trailing dot).
    pub fn name(&self) -> String {
        self.name.to_string()
    }

    /// The message as sent over UDP (TCP adds the two-byte length in front).
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    pub(crate) fn wire_name(&self) -> &WireName {
        &self.name
    }
}

fn encode(
    id: u16,
    name: &WireName,
    qtype: Qtype,
    recursion: bool,
    edns: Option<u16>,
) -> Result<Vec<u8>, String> {
    let mut msg = MessageBuilder::new_vec();
    msg.header_mut().set_id(id);
    msg.header_mut().set_rd(recursion);
    let mut question = msg.question();
    question
        .push((name, qtype.rtype()))
        .map_err(|e| e.to_string())?;
    match edns {
        None => Ok(question.finish()),
        Some(size) => {
            let mut additional = question.additional();
            additional
                .opt(|opt| {
                    opt.set_udp_payload_size(size);
                    Ok(())
                })
                .map_err(|e| e.to_string())?;
            Ok(additional.finish())
        }
    }
}
