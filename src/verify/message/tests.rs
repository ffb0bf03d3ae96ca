//! The query's wire form, and answers of every kind built with the `domain` builder and
//! read back.

use std::net::IpAddr;
use std::str::FromStr;

use domain::base::iana::{Class, Opcode, Rcode};
use domain::base::name::ToName;
use domain::base::{Message, MessageBuilder, Record, Rtype, Ttl};
use domain::rdata::{A, Aaaa, Cname, Ns, Soa as SoaData};

use super::*;
use crate::model::Family;

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
                "its answer section holds 1 records but no A record for host.example.com".into(),
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
