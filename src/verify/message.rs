//! The query dynhost sends to a DNS server and the answer it accepts: validated against
//! that query (ID, QR, opcode, the question echoed, RCODE) and reduced to a closed set of
//! outcomes. Pure: bytes in, values out. The wire format is the `domain` crate's.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use domain::base::iana::{Class, Opcode, OptRcode, Rcode};
use domain::base::name::{Name, ToName};
use domain::base::{Message, MessageBuilder, ParsedRecord, RecordSection, Rtype};
use domain::rdata::{A, Aaaa, Cname, Ns, Soa as SoaData};

use crate::model::Family;

/// At most this many records are read from any one section of an answer; an answer that
/// announces more is rejected as malformed rather than read in part.
pub const MAX_SECTION_RECORDS: usize = 100;
/// At most this many referral targets are kept from a non-authoritative answer.
pub const MAX_REFERRAL_NAMES: usize = 13;
/// The EDNS0 UDP payload size offered by default (the DNS flag day 2020 value: fits in
/// one unfragmented packet on every common path).
pub const EDNS_UDP_SIZE: u16 = 1232;

/// The wire name type used inside this module.
type WireName = Name<Vec<u8>>;

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

    fn rtype(self) -> Rtype {
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
    id: u16,
    name: WireName,
    qtype: Qtype,
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

/// The zone's SOA from a negative answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Soa {
    /// The zone apex (the SOA record's owner).
    pub zone: String,
    /// Rises with each change of the zone (each dynamic update, for BIND).
    pub serial: u32,
    /// How long a resolver may cache the negative answer: min(SOA TTL, SOA minimum).
    pub negative_ttl: u32,
}

/// What one server said for one A or AAAA question. Closed: every datagram or TCP
/// message ends as exactly one of these. `Display` is operator text meant to follow the
/// server's address: `format!("{server} {answer}")`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// AA set, addresses of the asked family at the name itself, with their TTLs.
    Authoritative {
        addrs: Vec<(IpAddr, u32)>,
    },
    /// AA set, the name exists but has no record of this type.
    NoData {
        soa: Option<Soa>,
    },
    /// AA set, the name does not exist.
    NxDomain {
        soa: Option<Soa>,
    },
    /// AA clear: a referral, a cached or forwarded answer, a lame server. `referral` has
    /// the NS names of the authority section, if any.
    NotAuthoritative {
        referral: Vec<String>,
    },
    Refused,
    ServFail,
    /// TC set where no retry over TCP is possible (or over TCP itself).
    Truncated,
    /// The name is an alias. Not followed: dynhost updates the name itself.
    Cname(String),
    /// Any other RCODE (FORMERR, NOTIMP, ...), by its mnemonic.
    Rcode(String),
    /// The answer could not be read: what was wrong.
    Malformed(String),
    /// The answer does not belong to the query (ID, question, flags): what differed.
    Mismatch(String),
}

impl Answer {
    /// True for the answers that speak for the zone: addresses, NODATA, NXDOMAIN.
    pub fn is_authoritative(&self) -> bool {
        matches!(
            self,
            Answer::Authoritative { .. } | Answer::NoData { .. } | Answer::NxDomain { .. }
        )
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Authoritative { addrs } => {
                f.write_str("answers ")?;
                for (i, (addr, ttl)) in addrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{addr} (TTL {ttl})")?;
                }
                Ok(())
            }
            Answer::NoData { soa } => {
                f.write_str("answers that the name has no record of this type (NODATA")?;
                fmt_soa(f, soa)?;
                f.write_str(")")
            }
            Answer::NxDomain { soa } => {
                f.write_str("answers that the name does not exist (NXDOMAIN")?;
                fmt_soa(f, soa)?;
                f.write_str(")")
            }
            Answer::NotAuthoritative { referral } => {
                f.write_str("is not authoritative for the name (AA flag clear")?;
                if !referral.is_empty() {
                    write!(f, "; it refers to {}", referral.join(", "))?;
                }
                f.write_str("): ask the zone's own servers (check verify.servers or the delegation)")
            }
            Answer::Refused => f.write_str(
                "refused the query: it does not serve this zone (a lame delegation, or the wrong server in verify.servers)",
            ),
            Answer::ServFail => f.write_str(
                "answered SERVFAIL: it could not serve the zone (not loaded, or broken on its side)",
            ),
            Answer::Truncated => f.write_str("sent a truncated answer (TC) that could not be retried over TCP"),
            Answer::Cname(target) => write!(
                f,
                "answers that the name is an alias (CNAME) for {target}: dynhost does not follow it; a DynHost record must be the name itself"
            ),
            Answer::Rcode(rcode) => write!(f, "answered with error {rcode}"),
            Answer::Malformed(why) => write!(f, "sent an answer that cannot be read: {why}"),
            Answer::Mismatch(why) => write!(f, "sent an answer that does not match the query: {why}"),
        }
    }
}

fn fmt_soa(f: &mut fmt::Formatter<'_>, soa: &Option<Soa>) -> fmt::Result {
    match soa {
        Some(s) => write!(f, ", zone {} serial {}", s.zone, s.serial),
        None => Ok(()),
    }
}

/// The parts of a matched answer dynhost looks at. Record owners are kept as wire names
/// so that comparisons are case-insensitive, as DNS names are.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub rcode: OptRcode,
    pub aa: bool,
    pub tc: bool,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
}

#[derive(Clone, Debug)]
pub(crate) struct Rr {
    pub owner: WireName,
    pub ttl: u32,
    pub data: Data,
}

#[derive(Clone, Debug)]
pub(crate) enum Data {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(WireName),
    Ns(WireName),
    Soa {
        serial: u32,
        minimum: u32,
    },
    /// A type dynhost has no use for, or another class than IN.
    Other,
}

/// Why a datagram was not accepted as the answer to a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reject {
    /// It cannot be tied to the query (too short to hold an ID, another ID, another
    /// question): over UDP it may be forged or stray, so the caller keeps waiting.
    Unmatched(Answer),
    /// It is the server's answer to this query, and it is unusable.
    Final(Answer),
}

/// TTLs with the top bit set are treated as 0 (RFC 2181 section 8).
fn sane_ttl(secs: u32) -> u32 {
    if secs > i32::MAX as u32 { 0 } else { secs }
}

/// Ties `bytes` to `query` and reads the records dynhost looks at.
pub(crate) fn match_reply(query: &Query, bytes: &[u8]) -> Result<Reply, Reject> {
    let msg = Message::from_octets(bytes).map_err(|_| {
        Reject::Unmatched(Answer::Malformed(format!(
            "{} bytes, shorter than a DNS header (12)",
            bytes.len()
        )))
    })?;
    let header = msg.header();
    let mismatch = |why: String| Reject::Unmatched(Answer::Mismatch(why));
    if header.id() != query.id {
        return Err(mismatch(format!(
            "ID {:#06x} instead of {:#06x}",
            header.id(),
            query.id
        )));
    }
    if !header.qr() {
        return Err(mismatch("a query, not an answer (QR clear)".into()));
    }
    if header.opcode() != Opcode::QUERY {
        return Err(mismatch(format!(
            "opcode {} instead of QUERY",
            header.opcode()
        )));
    }
    let counts = msg.header_counts();
    let rcode = header.rcode();
    match counts.qdcount() {
        1 => {
            let question = msg.sole_question().map_err(|e| {
                Reject::Unmatched(Answer::Malformed(format!(
                    "the question cannot be read: {e}"
                )))
            })?;
            if question.qtype() != query.qtype.rtype()
                || question.qclass() != Class::IN
                || !question.qname().name_eq(&query.name)
            {
                return Err(mismatch(format!(
                    "it answers {} {} {} instead of {} IN {}",
                    question.qname(),
                    question.qclass(),
                    question.qtype(),
                    query.name,
                    query.qtype
                )));
            }
        }
        // Some servers leave the question out of an error answer.
        0 if rcode != Rcode::NOERROR && rcode != Rcode::NXDOMAIN => {}
        n => return Err(mismatch(format!("{n} questions instead of 1"))),
    }

    let fin = |why: String| Reject::Final(Answer::Malformed(why));
    if header.tc() {
        // The rest of a truncated answer is not looked at: it may be cut anywhere.
        return Ok(Reply {
            rcode: OptRcode::from_rcode(rcode),
            aa: header.aa(),
            tc: true,
            answer: Vec::new(),
            authority: Vec::new(),
        });
    }
    for (section, n) in [
        ("answer", counts.ancount()),
        ("authority", counts.nscount()),
        ("additional", counts.arcount()),
    ] {
        if usize::from(n) > MAX_SECTION_RECORDS {
            return Err(fin(format!(
                "its {section} section announces {n} records; at most {MAX_SECTION_RECORDS} are read"
            )));
        }
    }
    let answer = msg
        .answer()
        .map_err(|e| fin(format!("the question section cannot be read: {e}")))?;
    let answer = read_section(answer).map_err(|e| fin(format!("the answer section: {e}")))?;
    let authority = msg
        .authority()
        .map_err(|e| fin(format!("the answer section cannot be skipped: {e}")))?;
    let authority =
        read_section(authority).map_err(|e| fin(format!("the authority section: {e}")))?;
    // The OPT record (additional section) carries the upper bits of the RCODE.
    let rcode = msg.opt_rcode();
    Ok(Reply {
        rcode,
        aa: header.aa(),
        tc: false,
        answer,
        authority,
    })
}

fn read_section(section: RecordSection<'_, &[u8]>) -> Result<Vec<Rr>, String> {
    let mut out = Vec::new();
    for record in section.take(MAX_SECTION_RECORDS) {
        let record = record.map_err(|e| e.to_string())?;
        out.push(read_record(&record)?);
    }
    Ok(out)
}

fn read_record(record: &ParsedRecord<'_, &[u8]>) -> Result<Rr, String> {
    let owner = record.owner().to_vec();
    let ttl = sane_ttl(record.ttl().as_secs());
    let err = |e: domain::base::wire::ParseError| format!("a {} record: {e}", record.rtype());
    let data = if record.class() != Class::IN {
        Data::Other
    } else {
        match record.rtype() {
            Rtype::A => record
                .to_record::<A>()
                .map_err(err)?
                .map_or(Data::Other, |r| Data::A(r.data().addr())),
            Rtype::AAAA => record
                .to_record::<Aaaa>()
                .map_err(err)?
                .map_or(Data::Other, |r| Data::Aaaa(r.data().addr())),
            Rtype::CNAME => record
                .to_record::<Cname<_>>()
                .map_err(err)?
                .map_or(Data::Other, |r| Data::Cname(r.data().cname().to_vec())),
            Rtype::NS => record
                .to_record::<Ns<_>>()
                .map_err(err)?
                .map_or(Data::Other, |r| Data::Ns(r.data().nsdname().to_vec())),
            Rtype::SOA => record
                .to_record::<SoaData<_>>()
                .map_err(err)?
                .map_or(Data::Other, |r| Data::Soa {
                    serial: r.data().serial().into_int(),
                    minimum: sane_ttl(r.data().minimum().as_secs()),
                }),
            _ => Data::Other,
        }
    };
    Ok(Rr { owner, ttl, data })
}

impl Reply {
    /// The first SOA of the authority section (a negative answer's zone).
    pub fn soa(&self) -> Option<Soa> {
        self.authority.iter().find_map(|rr| match rr.data {
            Data::Soa { serial, minimum } => Some(Soa {
                zone: rr.owner.to_string(),
                serial,
                negative_ttl: rr.ttl.min(minimum),
            }),
            _ => None,
        })
    }

    /// The owner of the first SOA of the authority section, as a wire name.
    pub fn soa_owner(&self) -> Option<&WireName> {
        self.authority
            .iter()
            .find(|rr| matches!(rr.data, Data::Soa { .. }))
            .map(|rr| &rr.owner)
    }

    /// NS targets at `owner` in the answer section, deduplicated, in answer order.
    pub fn ns_at(&self, owner: &WireName) -> Vec<WireName> {
        let mut out: Vec<WireName> = Vec::new();
        for rr in &self.answer {
            if let Data::Ns(target) = &rr.data {
                if rr.owner.name_eq(owner) && !out.iter().any(|n| n.name_eq(target)) {
                    out.push(target.clone());
                }
            }
        }
        out
    }

    /// Addresses of `qtype` at `owner` in the answer section, with their TTLs.
    pub fn addrs_at(&self, owner: &WireName, qtype: Qtype) -> Vec<(IpAddr, u32)> {
        self.answer
            .iter()
            .filter(|rr| rr.owner.name_eq(owner))
            .filter_map(|rr| match (&rr.data, qtype) {
                (Data::A(a), Qtype::A) => Some((IpAddr::V4(*a), rr.ttl)),
                (Data::Aaaa(a), Qtype::Aaaa) => Some((IpAddr::V6(*a), rr.ttl)),
                _ => None,
            })
            .collect()
    }

    /// The CNAME target at `owner` in the answer section.
    pub fn cname_at(&self, owner: &WireName) -> Option<&WireName> {
        self.answer.iter().find_map(|rr| match &rr.data {
            Data::Cname(target) if rr.owner.name_eq(owner) => Some(target),
            _ => None,
        })
    }

    fn referral(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for rr in &self.authority {
            if let Data::Ns(target) = &rr.data {
                let t = target.to_string();
                if out.len() < MAX_REFERRAL_NAMES && !out.contains(&t) {
                    out.push(t);
                }
            }
        }
        out
    }
}

/// The outcome of an address (A or AAAA) query from a matched reply.
pub(crate) fn classify(query: &Query, reply: &Reply) -> Answer {
    if reply.tc {
        return Answer::Truncated;
    }
    let rcode = reply.rcode;
    if rcode == OptRcode::REFUSED {
        return Answer::Refused;
    }
    if rcode == OptRcode::SERVFAIL {
        return Answer::ServFail;
    }
    if rcode != OptRcode::NOERROR && rcode != OptRcode::NXDOMAIN {
        return Answer::Rcode(rcode.to_string());
    }
    if !reply.aa {
        return Answer::NotAuthoritative {
            referral: reply.referral(),
        };
    }
    if rcode == OptRcode::NXDOMAIN {
        return Answer::NxDomain { soa: reply.soa() };
    }
    if let Some(target) = reply.cname_at(&query.name) {
        return Answer::Cname(target.to_string());
    }
    let addrs = reply.addrs_at(&query.name, query.qtype);
    if !addrs.is_empty() {
        return Answer::Authoritative { addrs };
    }
    if !reply.answer.is_empty() {
        return Answer::Mismatch(format!(
            "its answer section holds {} records but no {} record for {}",
            reply.answer.len(),
            query.qtype,
            query.name
        ));
    }
    Answer::NoData { soa: reply.soa() }
}

/// Validates `bytes` as the answer to the address query `query` and classifies it.
/// Never panics; any input ends as one [`Answer`].
pub fn parse_answer(query: &Query, bytes: &[u8]) -> Answer {
    match match_reply(query, bytes) {
        Ok(reply) => classify(query, &reply),
        Err(Reject::Unmatched(a) | Reject::Final(a)) => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::base::{Record, Ttl};

    const NAME: &str = "host.example.com";

    fn name(s: &str) -> WireName {
        WireName::from_str(s).unwrap()
    }

    /// What a test reply holds; encoded with the `domain` builder.
    #[derive(Clone)]
    struct R {
        id: u16,
        qr: bool,
        aa: bool,
        tc: bool,
        rcode: Rcode,
        question: Option<(&'static str, Rtype)>,
        answer: Vec<(&'static str, u32, Rd)>,
        authority: Vec<(&'static str, u32, Rd)>,
    }

    #[derive(Clone)]
    enum Rd {
        A(&'static str),
        Aaaa(&'static str),
        Cname(&'static str),
        Ns(&'static str),
        Soa(u32, u32),
        Txt,
    }

    fn ok(answer: Vec<(&'static str, u32, Rd)>) -> R {
        R {
            id: 7,
            qr: true,
            aa: true,
            tc: false,
            rcode: Rcode::NOERROR,
            question: Some((NAME, Rtype::A)),
            answer,
            authority: vec![],
        }
    }

    fn soa() -> (&'static str, u32, Rd) {
        ("example.com", 300, Rd::Soa(42, 60))
    }

    type TestRecord = Record<WireName, domain::rdata::AllRecordData<Vec<u8>, WireName>>;

    fn record((owner, ttl, rd): &(&'static str, u32, Rd)) -> TestRecord {
        use domain::rdata::AllRecordData as D;
        let data: D<Vec<u8>, WireName> = match rd {
            Rd::A(a) => D::A(A::new(a.parse().unwrap())),
            Rd::Aaaa(a) => D::Aaaa(Aaaa::new(a.parse().unwrap())),
            Rd::Cname(t) => D::Cname(Cname::new(name(t))),
            Rd::Ns(t) => D::Ns(Ns::new(name(t))),
            Rd::Soa(serial, min) => D::Soa(SoaData::new(
                name("ns1.example.com"),
                name("hostmaster.example.com"),
                (*serial).into(),
                Ttl::from_secs(3600),
                Ttl::from_secs(600),
                Ttl::from_secs(86400),
                Ttl::from_secs(*min),
            )),
            Rd::Txt => D::Txt(domain::rdata::Txt::build_from_slice(b"hello").unwrap()),
        };
        Record::new(name(owner), Class::IN, Ttl::from_secs(*ttl), data)
    }

    fn encode(r: &R) -> Vec<u8> {
        let mut msg = MessageBuilder::new_vec();
        let h = msg.header_mut();
        h.set_id(r.id);
        h.set_qr(r.qr);
        h.set_aa(r.aa);
        h.set_tc(r.tc);
        h.set_rcode(r.rcode);
        let mut q = msg.question();
        if let Some((n, t)) = r.question {
            q.push((name(n), t)).unwrap();
        }
        let mut ans = q.answer();
        for rr in &r.answer {
            ans.push(record(rr)).unwrap();
        }
        let mut auth = ans.authority();
        for rr in &r.authority {
            auth.push(record(rr)).unwrap();
        }
        auth.finish()
    }

    fn query() -> Query {
        Query::address(7, NAME, Family::V4).unwrap()
    }

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn query_wire_has_the_question_and_flags() {
        let q = Query::address(0xbeef, "Host.Example.com.", Family::V6).unwrap();
        let msg = Message::from_octets(q.wire()).unwrap();
        let h = msg.header();
        assert_eq!(h.id(), 0xbeef);
        assert!(!h.qr() && !h.rd() && !h.aa());
        assert_eq!(h.opcode(), Opcode::QUERY);
        let question = msg.sole_question().unwrap();
        assert_eq!(question.qtype(), Rtype::AAAA);
        assert_eq!(question.qclass(), Class::IN);
        assert!(question.qname().name_eq(&name("host.example.com")));
        assert_eq!(msg.opt().unwrap().udp_payload_size(), EDNS_UDP_SIZE);
        assert_eq!(q.name(), "Host.Example.com");

        let plain = Query::new(1, NAME, Qtype::Ns, true, None).unwrap();
        let msg = Message::from_octets(plain.wire()).unwrap();
        assert!(msg.header().rd());
        assert!(msg.opt().is_none());
        assert_eq!(msg.sole_question().unwrap().qtype(), Rtype::NS);

        let again = q.with_id(9);
        assert_eq!(Message::from_octets(again.wire()).unwrap().header().id(), 9);
        let bare = q.without_edns(10);
        assert!(Message::from_octets(bare.wire()).unwrap().opt().is_none());
        assert!(!bare.uses_edns());
    }

    #[test]
    fn bad_names_are_refused() {
        let long = format!("{}.com", "a.".repeat(130));
        let label = format!("{}.com", "a".repeat(64));
        for bad in ["", ".", "a..b", long.as_str(), label.as_str(), "a\\"] {
            let e = Query::address(1, bad, Family::V4).unwrap_err();
            assert!(!e.to_string().is_empty(), "{bad:?}");
        }
        assert!(Query::address(1, "a.b", Family::V4).is_ok());
    }

    #[test]
    fn answers_are_classified() {
        let mut cname = ok(vec![
            (NAME, 60, Rd::Cname("target.example.net")),
            ("target.example.net", 60, Rd::A("192.0.2.9")),
        ]);
        cname.aa = true;
        let mut nx = ok(vec![]);
        nx.rcode = Rcode::NXDOMAIN;
        nx.authority = vec![soa()];
        let mut nx_no_aa = nx.clone();
        nx_no_aa.aa = false;
        let mut referral = ok(vec![]);
        referral.aa = false;
        referral.authority = vec![
            ("example.com", 3600, Rd::Ns("ns1.example.com")),
            ("example.com", 3600, Rd::Ns("ns2.example.com")),
            ("example.com", 3600, Rd::Ns("ns1.example.com")),
        ];
        let mut cached = ok(vec![(NAME, 60, Rd::A("192.0.2.1"))]);
        cached.aa = false;
        let rc = |rcode| {
            let mut r = ok(vec![]);
            r.rcode = rcode;
            r
        };
        let mut no_question = rc(Rcode::REFUSED);
        no_question.question = None;
        let mut tc = ok(vec![(NAME, 60, Rd::A("192.0.2.1"))]);
        tc.tc = true;
        let mut nodata = ok(vec![]);
        nodata.authority = vec![soa()];
        let mut upper = ok(vec![("HOST.EXAMPLE.COM", 60, Rd::A("192.0.2.1"))]);
        upper.question = Some(("HoSt.ExAmPlE.CoM", Rtype::A));
        let the_soa = Some(Soa {
            zone: "example.com".into(),
            serial: 42,
            negative_ttl: 60,
        });

        let table: Vec<(&str, R, Answer)> = vec![
            (
                "one address",
                ok(vec![(NAME, 60, Rd::A("192.0.2.1"))]),
                Answer::Authoritative {
                    addrs: vec![(v4("192.0.2.1"), 60)],
                },
            ),
            (
                "two addresses, other owners and types ignored",
                ok(vec![
                    (NAME, 60, Rd::A("192.0.2.1")),
                    ("other.example.com", 60, Rd::A("192.0.2.7")),
                    (NAME, 60, Rd::Txt),
                    (NAME, 30, Rd::A("192.0.2.2")),
                ]),
                Answer::Authoritative {
                    addrs: vec![(v4("192.0.2.1"), 60), (v4("192.0.2.2"), 30)],
                },
            ),
            (
                "case differs",
                upper,
                Answer::Authoritative {
                    addrs: vec![(v4("192.0.2.1"), 60)],
                },
            ),
            (
                "TTL with the top bit",
                ok(vec![(NAME, 0x8000_0000, Rd::A("192.0.2.1"))]),
                Answer::Authoritative {
                    addrs: vec![(v4("192.0.2.1"), 0)],
                },
            ),
            (
                "nodata",
                nodata,
                Answer::NoData {
                    soa: the_soa.clone(),
                },
            ),
            (
                "nodata without soa",
                ok(vec![]),
                Answer::NoData { soa: None },
            ),
            ("nxdomain", nx, Answer::NxDomain { soa: the_soa }),
            (
                "nxdomain without aa",
                nx_no_aa,
                Answer::NotAuthoritative { referral: vec![] },
            ),
            (
                "referral",
                referral,
                Answer::NotAuthoritative {
                    referral: vec!["ns1.example.com".into(), "ns2.example.com".into()],
                },
            ),
            (
                "cached answer",
                cached,
                Answer::NotAuthoritative { referral: vec![] },
            ),
            ("cname", cname, Answer::Cname("target.example.net".into())),
            ("refused", rc(Rcode::REFUSED), Answer::Refused),
            ("refused, no question", no_question, Answer::Refused),
            ("servfail", rc(Rcode::SERVFAIL), Answer::ServFail),
            (
                "formerr",
                rc(Rcode::FORMERR),
                Answer::Rcode("FORMERR".into()),
            ),
            ("notimp", rc(Rcode::NOTIMP), Answer::Rcode("NOTIMP".into())),
            ("truncated", tc, Answer::Truncated),
            (
                "only other names",
                ok(vec![("other.example.com", 60, Rd::A("192.0.2.7"))]),
                Answer::Mismatch(
                    "its answer section holds 1 records but no A record for host.example.com"
                        .into(),
                ),
            ),
        ];
        for (what, r, want) in table {
            assert_eq!(parse_answer(&query(), &encode(&r)), want, "{what}");
        }
    }

    #[test]
    fn aaaa_answers_hold_only_aaaa() {
        let q = Query::address(7, NAME, Family::V6).unwrap();
        let mut r = ok(vec![
            (NAME, 60, Rd::A("192.0.2.1")),
            (NAME, 120, Rd::Aaaa("2001:db8::1")),
        ]);
        r.question = Some((NAME, Rtype::AAAA));
        assert_eq!(
            parse_answer(&q, &encode(&r)),
            Answer::Authoritative {
                addrs: vec![("2001:db8::1".parse().unwrap(), 120)]
            }
        );
        // An A answer to an AAAA question is not an answer.
        let mut wrong = ok(vec![(NAME, 60, Rd::A("192.0.2.1"))]);
        wrong.question = Some((NAME, Rtype::AAAA));
        assert!(matches!(
            parse_answer(&q, &encode(&wrong)),
            Answer::Mismatch(_)
        ));
    }

    #[test]
    fn answers_that_do_not_belong_are_unmatched() {
        let base = ok(vec![(NAME, 60, Rd::A("192.0.2.1"))]);
        let mut wrong_id = base.clone();
        wrong_id.id = 8;
        let mut not_answer = base.clone();
        not_answer.qr = false;
        let mut other_name = base.clone();
        other_name.question = Some(("other.example.com", Rtype::A));
        let mut other_type = base.clone();
        other_type.question = Some((NAME, Rtype::AAAA));
        let mut none = base.clone();
        none.question = None;
        for (what, r, needle) in [
            ("wrong id", wrong_id, "ID 0x0008 instead of 0x0007"),
            ("query", not_answer, "QR clear"),
            (
                "other name",
                other_name,
                "other.example.com IN A instead of",
            ),
            (
                "other type",
                other_type,
                "IN AAAA instead of host.example.com IN A",
            ),
            ("no question", none, "0 questions instead of 1"),
        ] {
            match match_reply(&query(), &encode(&r)) {
                Err(Reject::Unmatched(Answer::Mismatch(why))) => {
                    assert!(why.contains(needle), "{what}: {why}")
                }
                other => panic!("{what}: {other:?}"),
            }
        }
        let mut opcode = encode(&base);
        opcode[2] |= 0x10; // opcode 2 (STATUS)
        assert!(matches!(
            match_reply(&query(), &opcode),
            Err(Reject::Unmatched(Answer::Mismatch(_)))
        ));
        assert!(matches!(
            match_reply(&query(), &[0, 7, 0x84]),
            Err(Reject::Unmatched(Answer::Malformed(_)))
        ));
    }

    #[test]
    fn broken_bodies_are_final() {
        let good = encode(&ok(vec![(NAME, 60, Rd::A("192.0.2.1"))]));
        // The answer's owner is a compression pointer to itself.
        let mut looped = good.clone();
        let at = 12 + 18 + 4; // header, question name (18 bytes), type and class
        looped[at] = 0xc0;
        looped[at + 1] = at as u8;
        // A forward pointer (past the end of the message).
        let mut forward = good.clone();
        forward[at] = 0xc0;
        forward[at + 1] = 0xff;
        // Cut in the middle of the record.
        let cut = good[..good.len() - 2].to_vec();
        // Too many records announced.
        let mut many = good.clone();
        many[6..8].copy_from_slice(&101u16.to_be_bytes());
        // Wrong A rdata length.
        let mut rdlen = good.clone();
        let n = rdlen.len();
        rdlen[n - 6..n - 4].copy_from_slice(&3u16.to_be_bytes());
        rdlen.pop();
        for (what, bytes) in [
            ("loop", looped),
            ("forward pointer", forward),
            ("cut", cut),
            ("too many", many),
            ("rdata length", rdlen),
        ] {
            match match_reply(&query(), &bytes) {
                Err(Reject::Final(Answer::Malformed(why))) => assert!(!why.is_empty()),
                other => panic!("{what}: {other:?}"),
            }
        }
    }

    #[test]
    fn operator_text_names_the_problem() {
        let table = [
            (
                Answer::Authoritative {
                    addrs: vec![(v4("192.0.2.1"), 60), ("2001:db8::1".parse().unwrap(), 5)],
                },
                "answers 192.0.2.1 (TTL 60), 2001:db8::1 (TTL 5)",
            ),
            (
                Answer::NxDomain {
                    soa: Some(Soa {
                        zone: "example.com".into(),
                        serial: 3,
                        negative_ttl: 60,
                    }),
                },
                "does not exist (NXDOMAIN, zone example.com serial 3)",
            ),
            (Answer::NoData { soa: None }, "(NODATA)"),
            (
                Answer::NotAuthoritative {
                    referral: vec!["ns1.example.com".into()],
                },
                "refers to ns1.example.com",
            ),
            (Answer::Refused, "lame delegation"),
            (Answer::ServFail, "SERVFAIL"),
            (Answer::Truncated, "TC"),
            (
                Answer::Cname("a.example.net".into()),
                "CNAME) for a.example.net",
            ),
            (Answer::Rcode("NOTIMP".into()), "NOTIMP"),
            (Answer::Malformed("x".into()), "cannot be read: x"),
            (Answer::Mismatch("y".into()), "does not match the query: y"),
        ];
        for (answer, needle) in table {
            let text = answer.to_string();
            assert!(text.contains(needle), "{text}");
        }
    }
}
