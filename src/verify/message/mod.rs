//! The query dynhost sends to a DNS server and the answer it accepts: validated against
//! that query (ID, QR, opcode, the question echoed, RCODE) and reduced to a closed set of
//! outcomes. Pure: bytes in, values out. The wire format is the `domain` crate's.
//!
//! - `query`: the question ([`Query`], [`Qtype`]) and its wire form.
//! - `answer`: the closed set of outcomes ([`Answer`], [`Soa`]) and their operator text.
//! - `reply`: a datagram tied to its query and read ([`parse_answer`]), then classified.

mod answer;
mod query;
mod reply;

use domain::base::name::Name;

pub use answer::{Answer, Soa};
pub use query::{BadName, Qtype, Query};
pub use reply::parse_answer;
pub(crate) use reply::{Reject, Reply, classify, match_reply};

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

#[cfg(test)]
mod tests;
