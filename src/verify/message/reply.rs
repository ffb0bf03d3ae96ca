//! A datagram tied to its query (ID, QR, opcode, the question echoed), its records
//! read within bounds, then classified as an [`Answer`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use domain::base::iana::{Class, Opcode, OptRcode, Rcode};
use domain::base::name::ToName;
use domain::base::{Message, ParsedRecord, RecordSection, Rtype};
use domain::rdata::{A, Aaaa, Cname, Ns, Soa as SoaData};

use super::{Answer, MAX_REFERRAL_NAMES, MAX_SECTION_RECORDS, Qtype, Query, Soa, WireName};

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
