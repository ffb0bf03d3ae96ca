//! Checking a record as the world resolves it: what the zone's authoritative servers
//! answer for a name, and what that means for the address dynhost published.
//!
//! - [`message`] (pure): the query (random ID, RD=0, one A or AAAA question, EDNS0) and
//!   the answer validated against it, reduced to a closed [`Answer`].
//! - [`verdict`] (pure): the answers of several servers for one expected address, as a
//!   [`Verdict`]; only a consistent authoritative answer can say "differs".
//! - [`servers`] (pure but for one file read): resolv.conf's first nameserver, and
//!   `host` / `host:port` / `[v6]:port` from the config.
//! - [`client`] (tokio): [`query`] one server (UDP, TCP on truncation), [`check`] several
//!   at once, [`discover`] a zone's servers through a resolver. All bounded in time.

pub mod client;
pub mod message;
pub mod run;
pub mod servers;
pub mod verdict;

pub use client::{
    DiscoverError, Discovery, DnsError, Transport, check, discover, lookup_addrs, query,
};
pub use message::{Answer, Qtype, Query, Soa, parse_answer};
pub use run::Verifier;
pub use servers::{Server, parse_server, read_resolv_conf, resolv_conf_nameserver};
pub use verdict::{Verdict, describe, verdict};

/// Sorts and deduplicates a short list (NS names, addresses) by insertion: a few
/// hundred bytes of code where the standard sorts cost kilobytes per element type.
pub(crate) fn sort_dedup<T: Ord>(v: &mut Vec<T>) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && v[j - 1] > v[j] {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
    v.dedup();
}

#[cfg(test)]
mod tests {
    #[test]
    fn sort_dedup() {
        for (input, want) in [
            (vec![], vec![]),
            (vec![1], vec![1]),
            (vec![3, 1, 2, 1, 3], vec![1, 2, 3]),
            (vec![5, 4, 3, 2, 1], vec![1, 2, 3, 4, 5]),
        ] {
            let mut v = input.clone();
            super::sort_dedup(&mut v);
            assert_eq!(v, want, "{input:?}");
        }
    }
}
