//! Plain data shared by the pure core and the edges: address families, what the kernel
//! told us about links and addresses, and the keys records are tracked by.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

/// An address family. DynHost takes one address per record and family, so every
/// record is tracked as up to two independent slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The spelling used in the config, the state file and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }

    pub fn parse(s: &str) -> Option<Family> {
        match s {
            "ipv4" => Some(Family::V4),
            "ipv6" => Some(Family::V6),
            _ => None,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Address flags we act on, decoded from IFA_FLAGS (the full 32-bit attribute).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddrFlags {
    pub tentative: bool,
    pub deprecated: bool,
    pub dad_failed: bool,
    pub optimistic: bool,
    /// IFA_F_SECONDARY, which for IPv6 is IFA_F_TEMPORARY (a privacy address).
    pub secondary: bool,
}

/// How the kernel scopes an address (rtm scope).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Global,
    Site,
    Link,
    Host,
    Other(u8),
}

/// One address as the kernel reports it, already reduced to what selection needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrInfo {
    pub index: u32,
    /// Our own address: IFA_LOCAL when present (point-to-point links put the peer in
    /// IFA_ADDRESS), IFA_ADDRESS otherwise.
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub scope: Scope,
    pub flags: AddrFlags,
}

/// One link (network interface) as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    /// Administratively up (IFF_UP). Carrier is not required: PPP and port-less bridges
    /// report operstate UNKNOWN while perfectly usable.
    pub up: bool,
}

/// A default route of the main table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// The output interface.
    pub index: u32,
    /// The next hop: the gateway a record behind NAT asks for the public address.
    pub gateway: Option<std::net::IpAddr>,
}

/// A full picture of links and addresses (and default routes, when asked for), from
/// one netlink dump.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub links: Vec<LinkInfo>,
    pub addrs: Vec<AddrInfo>,
    pub routes: Vec<RouteInfo>,
}

impl Snapshot {
    pub fn link_named(&self, name: &str) -> Option<&LinkInfo> {
        self.links.iter().find(|l| l.name == name)
    }

    pub fn addrs_of(&self, index: u32) -> impl Iterator<Item = &AddrInfo> {
        self.addrs.iter().filter(move |a| a.index == index)
    }

    /// The IPv4 next hop of the default route out of the interface named `name`.
    pub fn gateway_of(&self, name: &str) -> Option<std::net::Ipv4Addr> {
        let link = self.link_named(name)?;
        self.routes
            .iter()
            .filter(|r| r.index == link.index)
            .find_map(|r| match r.gateway {
                Some(std::net::IpAddr::V4(g)) => Some(g),
                _ => None,
            })
    }
}

/// A netlink notification, reduced to the hint it carries: something changed here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetEvent {
    /// RTM_NEWLINK / RTM_DELLINK. `name` is absent only if the kernel omitted IFLA_IFNAME;
    /// `up`: administratively up (IFF_UP), as far as the message says.
    Link {
        index: u32,
        name: Option<String>,
        removed: bool,
        up: bool,
    },
    /// RTM_NEWADDR / RTM_DELADDR on link `index`; `family` is `None` for a family
    /// other than IPv4/IPv6 (treated as relevant, to be safe).
    Addr { index: u32, family: Option<Family> },
    /// RTM_NEWROUTE / RTM_DELROUTE of a default route out of link `index`.
    Route { index: u32 },
    /// The kernel dropped notifications (ENOBUFS) or the socket was reopened: resync.
    Resync,
}

/// Where a record's address comes from (`ipv4_source`, `ipv6_source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// The followed interface's own address (a router that holds its public address).
    Interface,
    /// The public address the default gateway reports (NAT-PMP, PCP, UPnP IGD): a box
    /// behind another router.
    Gateway,
    /// A web echo service's view of us (configured URLs only).
    Web,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Interface => "interface",
            Source::Gateway => "gateway",
            Source::Web => "web",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        match s {
            "interface" => Some(Source::Interface),
            "gateway" => Some(Source::Gateway),
            "web" => Some(Source::Web),
            _ => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the kernel must tell the daemon about: links always, the addresses of these
/// families, and default routes when a record asks its gateway.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interest {
    pub families: Vec<Family>,
    pub routes: bool,
}

// ---- records: identity, what the engine needs to know, what survives a restart ----

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotKey {
    pub hostname: String,
    pub family: Family,
}

impl fmt::Display for SlotKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.hostname, self.family)
    }
}

/// What the engine needs to know about one record and family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotSpec {
    pub key: SlotKey,
    /// Which config record it belongs to: slots of one record share a login and a host.
    pub record: usize,
    pub interface: String,
    /// Unix time of the last change to this record's config (file mtimes). A block
    /// persisted before it is stale. `None`: unknown, blocks are not carried over.
    pub config_changed_at: Option<u64>,
    /// Where the address comes from, tried in order.
    pub sources: Vec<Source>,
    /// IPv6 only: publish the interface's /64 with this interface identifier.
    pub suffix: Option<Ipv6Addr>,
    /// Private, CGNAT and unique local addresses may be published (`allow_private`).
    pub allow_private: bool,
    /// Its sends are batched by the publisher (API mode: one zone refresh for the
    /// records changed together), so they go together rather than `MAX_IN_FLIGHT` at
    /// a time.
    pub batched: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub debounce: Duration,
    pub debounce_max: Duration,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// Sends per slot in any hour before the slot is throttled.
    pub max_per_hour: u32,
    /// The safety-net queries of the gateway and web sources (`None`: off): an ISP box
    /// that reconnects makes no event on our side, and a lost announcement is a missed
    /// change. The only timers that run while nothing changes.
    pub gateway_check: Option<Duration>,
    pub web_check: Option<Duration>,
    /// Check what the zone's authoritative servers answer after each update, at start,
    /// reload and reconnect (`verify.enabled`).
    pub verify: bool,
    /// A periodic check besides (`verify.interval`; `None`: off).
    pub verify_interval: Option<Duration>,
}

/// What the last confirmed update was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub addr: IpAddr,
    /// Unix seconds.
    pub at: u64,
}

/// The last answer, whatever it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastReply {
    /// A short token: good, nochg, badauth, http-503...
    pub token: String,
    /// A human sentence, bounded and sanitised.
    pub detail: String,
    pub at: u64,
}

/// The persisted view of every slot.
pub type Memory = BTreeMap<SlotKey, SlotMemory>;

/// What survives a restart, per slot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotMemory {
    pub published: Option<Published>,
    pub last_reply: Option<LastReply>,
    /// Unix seconds before which no retry may be sent.
    pub retry_at: Option<u64>,
    /// Unix seconds since when the slot is blocked by a fatal answer.
    pub blocked_since: Option<u64>,
    /// Unix seconds of the sends of the last hour, oldest first: the hourly budget
    /// holds across restarts and one-shot runs.
    pub sends: Vec<u64>,
    /// The last check of what the zone's authoritative servers answer.
    pub dns: Option<DnsSeen>,
    /// A newer address held back by the hourly budget, and when it goes.
    pub pending: Option<Pending>,
}

/// An address that waits for the hourly budget (the throttle): shown by `status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub addr: IpAddr,
    /// Unix seconds at which it may be sent.
    pub at: u64,
}

/// What a DNS check saw, as kept in the state file and shown by `status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsSeen {
    /// The address the authoritative servers answered (`None`: none, or unknown).
    pub addr: Option<IpAddr>,
    /// It is the published address.
    pub visible: bool,
    /// Unix seconds.
    pub at: u64,
    /// Which server said it, and what (one line).
    pub server: String,
    /// From the update to the first authoritative answer that showed it.
    pub after_ms: Option<u64>,
}
