//! Which address, if any, a record publishes. Pure: a snapshot in, a choice out.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::{AddrInfo, Family, Scope, Snapshot};

/// Why an address on the interface is not published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    Private,
    SharedCgnat,
    Loopback,
    LinkLocal,
    UniqueLocal,
    Multicast,
    Reserved,
    NotGlobalScope,
    Tentative,
    Deprecated,
    DadFailed,
    Temporary,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Skip::Private => "private (RFC 1918)",
            Skip::SharedCgnat => "carrier-grade NAT (100.64.0.0/10)",
            Skip::Loopback => "loopback",
            Skip::LinkLocal => "link-local",
            Skip::UniqueLocal => "unique local (fc00::/7)",
            Skip::Multicast => "multicast",
            Skip::Reserved => "reserved, not global unicast",
            Skip::NotGlobalScope => "not of global scope",
            Skip::Tentative => "tentative (duplicate address detection still running)",
            Skip::Deprecated => "deprecated",
            Skip::DadFailed => "duplicate (DAD failed)",
            Skip::Temporary => "temporary (privacy)",
        })
    }
}

/// Whether an address, by value alone, may be published. Documentation ranges
/// (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are allowed on
/// purpose, so that examples and tests can use them.
pub fn classify(addr: &IpAddr) -> Result<(), Skip> {
    match addr {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => classify_v6(a),
    }
}

fn classify_v4(a: &Ipv4Addr) -> Result<(), Skip> {
    let [o0, o1, o2, _] = a.octets();
    if a.is_private() {
        Err(Skip::Private)
    } else if o0 == 100 && (o1 & 0xc0) == 64 {
        Err(Skip::SharedCgnat)
    } else if a.is_loopback() {
        Err(Skip::Loopback)
    } else if a.is_link_local() {
        Err(Skip::LinkLocal)
    } else if a.is_multicast() {
        Err(Skip::Multicast)
    } else if o0 == 0
        || o0 >= 240
        || (o0 == 192 && o1 == 0 && o2 == 0)
        || (o0 == 198 && (o1 & 0xfe) == 18)
    {
        // 0/8, 240/4 (and broadcast), 192.0.0.0/24 protocol assignments, 198.18/15 benchmarking.
        Err(Skip::Reserved)
    } else {
        Ok(())
    }
}

fn classify_v6(a: &Ipv6Addr) -> Result<(), Skip> {
    let s0 = a.segments()[0];
    if a.is_loopback() {
        Err(Skip::Loopback)
    } else if (s0 & 0xffc0) == 0xfe80 {
        Err(Skip::LinkLocal)
    } else if (s0 & 0xfe00) == 0xfc00 {
        Err(Skip::UniqueLocal)
    } else if a.is_multicast() {
        Err(Skip::Multicast)
    } else if (s0 & 0xe000) != 0x2000 {
        // Only 2000::/3 is global unicast (this also rules out ::, mapped IPv4, fec0::/10).
        Err(Skip::Reserved)
    } else {
        Ok(())
    }
}

impl Skip {
    /// Whether `allow_private` (a record for a LAN-only name or a VPN mesh) lifts this
    /// refusal: private, CGNAT and unique local addresses. Link-local and loopback
    /// addresses mean nothing off their link or host, and stay refused.
    pub fn is_private(self) -> bool {
        matches!(self, Skip::Private | Skip::SharedCgnat | Skip::UniqueLocal)
    }
}

/// `classify`, for a record that may publish a private address when `allow_private`.
pub fn classify_for(addr: &IpAddr, allow_private: bool) -> Result<(), Skip> {
    match classify(addr) {
        Err(why) if allow_private && why.is_private() => Ok(()),
        other => other,
    }
}

/// Whether one kernel address may be published, by flags, scope and value.
pub fn judge(a: &AddrInfo) -> Result<(), Skip> {
    judge_for(a, false)
}

/// `judge`, for a record that may publish a private address when `allow_private`.
pub fn judge_for(a: &AddrInfo, allow_private: bool) -> Result<(), Skip> {
    let v6 = a.addr.is_ipv6();
    if a.flags.dad_failed {
        return Err(Skip::DadFailed);
    }
    if a.flags.tentative || a.flags.optimistic {
        return Err(Skip::Tentative);
    }
    if a.flags.deprecated {
        return Err(Skip::Deprecated);
    }
    if v6 && a.flags.secondary {
        return Err(Skip::Temporary);
    }
    classify_for(&a.addr, allow_private)?;
    if a.scope != Scope::Global {
        return Err(Skip::NotGlobalScope);
    }
    Ok(())
}

/// The outcome of selection for one record and family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    Addr(IpAddr),
    Unavailable(Unavailable),
}

/// Why nothing can be published right now. The record is kept; nothing is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unavailable {
    NoInterface,
    InterfaceDown,
    NoAddress,
    /// Addresses exist but none may be published; each with the reason.
    OnlySkipped(Vec<(IpAddr, Skip)>),
    /// Every configured source failed (gateway, web...); each with what it said.
    NoSource(Vec<String>),
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailable::NoInterface => f.write_str("the interface does not exist"),
            Unavailable::InterfaceDown => f.write_str("the interface is down"),
            Unavailable::NoAddress => f.write_str("the interface has no address of this family"),
            Unavailable::OnlySkipped(list) => {
                for (i, (addr, why)) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{addr} is {why}")?;
                }
                Ok(())
            }
            Unavailable::NoSource(reasons) => f.write_str(&reasons.join("; ")),
        }
    }
}

/// Chooses the address to publish for `family` on the interface named `interface`.
///
/// Among several publishable addresses the one already published wins, so that a second
/// address appearing never flips the record back and forth; otherwise IPv4 primaries win
/// over secondaries, then the kernel's order decides.
pub fn select(
    snapshot: &Snapshot,
    interface: &str,
    family: Family,
    published: Option<IpAddr>,
) -> Selection {
    select_with(snapshot, interface, family, published, &Choice::default())
}

/// What a record asks of selection beyond the interface and the family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Choice {
    /// IPv6: publish the chosen /64 with this interface identifier (`ipv6_suffix`).
    pub suffix: Option<Ipv6Addr>,
    /// Private, CGNAT and unique local addresses may be published (`allow_private`).
    pub allow_private: bool,
}

/// The address a LAN host has on the interface's prefix: the /64 of `addr` with the
/// interface identifier (the low 64 bits) of `suffix`.
pub fn with_suffix(addr: Ipv6Addr, suffix: Ipv6Addr) -> Ipv6Addr {
    let prefix = u128::from(addr) & !(u64::MAX as u128);
    Ipv6Addr::from(prefix | (u128::from(suffix) & u64::MAX as u128))
}

/// `select` as `choice` asks: for IPv6 with a suffix (`ipv6_suffix`), the chosen
/// address's /64 with that interface identifier: a router publishing a LAN host (a NAS)
/// that has no agent of its own. A new delegated prefix is then an address change like
/// any other. With `allow_private`, private and CGNAT addresses count as publishable.
pub fn select_with(
    snapshot: &Snapshot,
    interface: &str,
    family: Family,
    published: Option<IpAddr>,
    choice: &Choice,
) -> Selection {
    let publish = |a: IpAddr| match (a, choice.suffix) {
        (IpAddr::V6(v6), Some(s)) => IpAddr::V6(with_suffix(v6, s)),
        (a, _) => a,
    };
    let Some(link) = snapshot.link_named(interface) else {
        return Selection::Unavailable(Unavailable::NoInterface);
    };
    if !link.up {
        return Selection::Unavailable(Unavailable::InterfaceDown);
    }
    let mut skipped = Vec::new();
    let mut best: Option<&AddrInfo> = None;
    for a in snapshot
        .addrs_of(link.index)
        .filter(|a| Family::of(&a.addr) == family)
    {
        if let Err(why) = judge_for(a, choice.allow_private) {
            skipped.push((a.addr, why));
            continue;
        }
        if Some(publish(a.addr)) == published {
            return Selection::Addr(publish(a.addr));
        }
        let better = match best {
            None => true,
            // For IPv4 the secondary flag marks a secondary address: prefer the primary.
            Some(b) => b.flags.secondary && !a.flags.secondary,
        };
        if better {
            best = Some(a);
        }
    }
    match best {
        Some(a) => Selection::Addr(publish(a.addr)),
        None if skipped.is_empty() => Selection::Unavailable(Unavailable::NoAddress),
        None => Selection::Unavailable(Unavailable::OnlySkipped(skipped)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AddrFlags, LinkInfo};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classification_table() {
        let table: &[(&str, Result<(), Skip>)] = &[
            ("203.0.113.5", Ok(())),
            ("198.51.100.1", Ok(())),
            ("192.0.2.1", Ok(())),
            ("81.2.69.160", Ok(())),
            ("10.1.2.3", Err(Skip::Private)),
            ("172.16.0.1", Err(Skip::Private)),
            ("172.31.255.254", Err(Skip::Private)),
            ("172.32.0.1", Ok(())),
            ("192.168.1.1", Err(Skip::Private)),
            ("100.64.0.1", Err(Skip::SharedCgnat)),
            ("100.127.255.254", Err(Skip::SharedCgnat)),
            ("100.128.0.1", Ok(())),
            ("100.63.255.255", Ok(())),
            ("127.0.0.1", Err(Skip::Loopback)),
            ("169.254.3.4", Err(Skip::LinkLocal)),
            ("224.0.0.1", Err(Skip::Multicast)),
            ("0.0.0.0", Err(Skip::Reserved)),
            ("255.255.255.255", Err(Skip::Reserved)),
            ("240.0.0.1", Err(Skip::Reserved)),
            ("192.0.0.8", Err(Skip::Reserved)),
            ("198.18.0.1", Err(Skip::Reserved)),
            ("198.19.255.1", Err(Skip::Reserved)),
            ("198.20.0.1", Ok(())),
            ("2001:db8::5", Ok(())),
            ("2a01:e0a:1::1", Ok(())),
            ("fe80::1", Err(Skip::LinkLocal)),
            ("febf::1", Err(Skip::LinkLocal)),
            ("fd12:3456::1", Err(Skip::UniqueLocal)),
            ("fc00::1", Err(Skip::UniqueLocal)),
            ("::1", Err(Skip::Loopback)),
            ("::", Err(Skip::Reserved)),
            ("::ffff:203.0.113.5", Err(Skip::Reserved)),
            ("fec0::1", Err(Skip::Reserved)),
            ("ff02::1", Err(Skip::Multicast)),
            ("4000::1", Err(Skip::Reserved)),
        ];
        for (addr, want) in table {
            assert_eq!(classify(&ip(addr)), *want, "{addr}");
        }
    }

    fn addr(index: u32, a: &str, flags: AddrFlags) -> AddrInfo {
        let addr = ip(a);
        let scope = match addr {
            IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => Scope::Link,
            _ if addr.is_loopback() => Scope::Host,
            _ => Scope::Global,
        };
        AddrInfo {
            index,
            addr,
            prefix_len: 24,
            scope,
            flags,
        }
    }

    fn snap(addrs: Vec<AddrInfo>) -> Snapshot {
        Snapshot {
            links: vec![
                LinkInfo {
                    index: 7,
                    name: "ppp0".into(),
                    up: true,
                },
                LinkInfo {
                    index: 2,
                    name: "lan".into(),
                    up: true,
                },
            ],
            addrs,
            routes: Vec::new(),
        }
    }

    const PLAIN: AddrFlags = AddrFlags {
        tentative: false,
        deprecated: false,
        dad_failed: false,
        optimistic: false,
        secondary: false,
    };

    fn with(f: impl FnOnce(&mut AddrFlags)) -> AddrFlags {
        let mut flags = PLAIN;
        f(&mut flags);
        flags
    }

    #[test]
    fn selection_table() {
        let unavail = |u| Selection::Unavailable(u);
        let pick = |s: &str| Selection::Addr(ip(s));
        // (scenario, addresses on the interfaces, family, published, expected)
        type Case = (
            &'static str,
            Vec<AddrInfo>,
            Family,
            Option<&'static str>,
            Selection,
        );
        let cases: Vec<Case> = vec![
            (
                "a single global IPv4 address is chosen",
                vec![addr(7, "203.0.113.5", PLAIN)],
                Family::V4,
                None,
                pick("203.0.113.5"),
            ),
            (
                "addresses on other interfaces are ignored",
                vec![addr(2, "203.0.113.9", PLAIN)],
                Family::V4,
                None,
                unavail(Unavailable::NoAddress),
            ),
            (
                "the other family is ignored",
                vec![addr(7, "2001:db8::1", PLAIN)],
                Family::V4,
                None,
                unavail(Unavailable::NoAddress),
            ),
            (
                "a private address alone gives nothing, with the reason",
                vec![addr(7, "10.0.0.2", PLAIN)],
                Family::V4,
                None,
                unavail(Unavailable::OnlySkipped(vec![(
                    ip("10.0.0.2"),
                    Skip::Private,
                )])),
            ),
            (
                "CGNAT is skipped in favour of a public address",
                vec![addr(7, "100.64.1.1", PLAIN), addr(7, "198.51.100.7", PLAIN)],
                Family::V4,
                None,
                pick("198.51.100.7"),
            ),
            (
                "an IPv4 primary wins over a secondary",
                vec![
                    addr(7, "203.0.113.5", with(|f| f.secondary = true)),
                    addr(7, "203.0.113.6", PLAIN),
                ],
                Family::V4,
                None,
                pick("203.0.113.6"),
            ),
            (
                "an IPv4 secondary is still publishable",
                vec![addr(7, "203.0.113.5", with(|f| f.secondary = true))],
                Family::V4,
                None,
                pick("203.0.113.5"),
            ),
            (
                "the published address is kept while it remains valid",
                vec![addr(7, "203.0.113.6", PLAIN), addr(7, "203.0.113.5", PLAIN)],
                Family::V4,
                Some("203.0.113.5"),
                pick("203.0.113.5"),
            ),
            (
                "a tentative IPv6 address is not published yet",
                vec![addr(7, "2001:db8::5", with(|f| f.tentative = true))],
                Family::V6,
                None,
                unavail(Unavailable::OnlySkipped(vec![(
                    ip("2001:db8::5"),
                    Skip::Tentative,
                )])),
            ),
            (
                "temporary, deprecated and DAD-failed IPv6 addresses are skipped",
                vec![
                    addr(7, "2001:db8::a", with(|f| f.secondary = true)),
                    addr(7, "2001:db8::b", with(|f| f.deprecated = true)),
                    addr(7, "2001:db8::c", with(|f| f.dad_failed = true)),
                    addr(7, "2001:db8::d", PLAIN),
                ],
                Family::V6,
                None,
                pick("2001:db8::d"),
            ),
            (
                "link-local and ULA give nothing",
                vec![addr(7, "fe80::1", PLAIN), addr(7, "fd00::1", PLAIN)],
                Family::V6,
                None,
                unavail(Unavailable::OnlySkipped(vec![
                    (ip("fe80::1"), Skip::LinkLocal),
                    (ip("fd00::1"), Skip::UniqueLocal),
                ])),
            ),
            (
                "an interface without addresses has nothing to publish",
                vec![],
                Family::V4,
                None,
                unavail(Unavailable::NoAddress),
            ),
        ];
        for (name, addrs, family, published, want) in cases {
            let got = select(&snap(addrs), "ppp0", family, published.map(ip));
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn interface_missing_or_down() {
        let mut s = snap(vec![addr(7, "203.0.113.5", PLAIN)]);
        assert_eq!(
            select(&s, "wan", Family::V4, None),
            Selection::Unavailable(Unavailable::NoInterface)
        );
        s.links[0].up = false;
        assert_eq!(
            select(&s, "ppp0", Family::V4, None),
            Selection::Unavailable(Unavailable::InterfaceDown)
        );
    }

    #[test]
    fn global_scope_is_required() {
        let mut a = addr(7, "203.0.113.5", PLAIN);
        a.scope = Scope::Host;
        assert_eq!(judge(&a), Err(Skip::NotGlobalScope));
    }

    #[test]
    fn reasons_read_well() {
        let u = Unavailable::OnlySkipped(vec![
            (ip("10.0.0.2"), Skip::Private),
            (ip("100.64.0.9"), Skip::SharedCgnat),
        ]);
        assert_eq!(
            u.to_string(),
            "10.0.0.2 is private (RFC 1918); 100.64.0.9 is carrier-grade NAT (100.64.0.0/10)"
        );
    }

    #[test]
    fn a_suffix_takes_the_interface_s_prefix() {
        let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        assert_eq!(
            with_suffix(v6("2001:db8:1:2::a"), v6("::1234")),
            v6("2001:db8:1:2::1234")
        );
        assert_eq!(
            with_suffix(
                v6("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
                v6("::211:32ff:fe12:3456")
            ),
            v6("2001:db8:1:2:211:32ff:fe12:3456")
        );
        // The chosen address's /64, the published one kept while it stays valid.
        let s = snap(vec![
            addr(7, "2001:db8:5::a", PLAIN),
            addr(7, "2001:db8:6::b", PLAIN),
        ]);
        let choice = Choice {
            suffix: Some(v6("::1234")),
            ..Choice::default()
        };
        let pick = |published: Option<&str>| {
            select_with(&s, "ppp0", Family::V6, published.map(ip), &choice)
        };
        assert_eq!(pick(None), Selection::Addr(ip("2001:db8:5::1234")));
        assert_eq!(
            pick(Some("2001:db8:6::1234")),
            Selection::Addr(ip("2001:db8:6::1234"))
        );
    }

    #[test]
    fn allow_private_lifts_only_the_private_refusals() {
        for a in [
            "10.1.2.3",
            "192.168.1.1",
            "100.64.0.1",
            "fd12:3456::1",
            "203.0.113.5",
        ] {
            assert_eq!(classify_for(&ip(a), true), Ok(()), "{a}");
        }
        let refused = [
            ("127.0.0.1", Skip::Loopback),
            ("169.254.3.4", Skip::LinkLocal),
            ("fe80::1", Skip::LinkLocal),
            ("::1", Skip::Loopback),
            ("224.0.0.1", Skip::Multicast),
            ("0.0.0.0", Skip::Reserved),
        ];
        for (a, why) in refused {
            assert_eq!(classify_for(&ip(a), true), Err(why), "{a}");
        }
        assert_eq!(classify_for(&ip("10.1.2.3"), false), Err(Skip::Private));

        // On the interface: a private address is chosen, a link-local one never.
        let s = snap(vec![
            addr(7, "169.254.0.9", PLAIN),
            addr(7, "100.64.0.9", PLAIN),
        ]);
        let open = Choice {
            allow_private: true,
            ..Choice::default()
        };
        assert_eq!(
            select_with(&s, "ppp0", Family::V4, None, &open),
            Selection::Addr(ip("100.64.0.9"))
        );
        assert!(matches!(
            select(&s, "ppp0", Family::V4, None),
            Selection::Unavailable(Unavailable::OnlySkipped(_))
        ));
        let only_local = snap(vec![addr(7, "169.254.0.9", PLAIN)]);
        assert_eq!(
            select_with(&only_local, "ppp0", Family::V4, None, &open),
            Selection::Unavailable(Unavailable::OnlySkipped(vec![(
                ip("169.254.0.9"),
                Skip::LinkLocal
            )]))
        );
        // A still-valid private address is kept when a global one appears: no flip.
        let both = snap(vec![
            addr(7, "10.8.0.2", PLAIN),
            addr(7, "203.0.113.5", PLAIN),
        ]);
        assert_eq!(
            select_with(&both, "ppp0", Family::V4, Some(ip("10.8.0.2")), &open),
            Selection::Addr(ip("10.8.0.2"))
        );
    }
}
