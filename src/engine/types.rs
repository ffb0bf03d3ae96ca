//! The engine's vocabulary: what identifies a slot, what it needs to know, what it
//! remembers across restarts, the work it hands out and what it reports.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::model::{Family, Source};

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

impl Timing {
    /// The longest any slot waits before its next attempt: the retry cap, or the
    /// provider-trouble floor (911) if longer. No stamp in a state file can make a
    /// record wait more.
    pub fn longest_wait(&self) -> Duration {
        self.retry_max
            .max(crate::provider::reply::PROVIDER_TROUBLE_FLOOR)
    }
}

/// Once a slot has sent `max_per_hour` times within an hour, it sends at most this
/// often: a link that flaps with a new address every few seconds must not turn into a
/// request every few seconds.
pub const THROTTLE_SPACING: Duration = Duration::from_secs(300);
pub(super) const HOUR: Duration = Duration::from_secs(3600);

/// The daemon debounces events and forgets blocks at start; a one-shot run works on
/// the snapshot it is given and honours a block persisted under the same config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Daemon,
    OneShot,
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

/// Work for the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read all links and addresses, then call `handle_snapshot` (or `handle_dump_failed`).
    Dump,
    /// Send one update, then call `handle_outcome` with the same key and address.
    Send { key: SlotKey, addr: IpAddr },
    /// The persistent view changed: write `memory()` out.
    Persist,
    /// A trigger's round is complete.
    Report {
        ticket: u64,
        results: Vec<SlotReport>,
    },
    /// Ask a source outside the kernel, then call `handle_found` with the same query.
    Query(Query),
    /// Ask the zone's authoritative servers what they answer for the slot, then call
    /// `handle_checked` with the same key, address and purpose.
    Verify {
        key: SlotKey,
        expected: IpAddr,
        purpose: Purpose,
    },
}

/// Why the authoritative servers are asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// After `good` or `nochg`: is the update visible yet?
    AfterUpdate,
    /// At start, reload, reconnect, or the periodic check: was the record changed
    /// elsewhere while the state file says it is published?
    Drift,
}

/// What the authoritative servers answered, reduced for the engine. Only a consistent
/// authoritative answer is `Missing` or `Differs`; anything doubtful is `Unknown`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dns {
    Visible,
    /// No address of this family (NODATA, NXDOMAIN).
    Missing,
    Differs(IpAddr),
    Unknown,
}

/// A DNS check's answer: the verdict and, for logs and `status`, what was said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    pub dns: Dns,
    /// One line: which server answered what (or why nothing is known).
    pub server: String,
}

/// A question to a source outside the kernel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Query {
    /// The public address the default gateway of `interface` reports (NAT-PMP, then
    /// PCP, then UPnP IGD), asked from our `client` address on link `link`.
    Gateway {
        interface: String,
        link: u32,
        gateway: Ipv4Addr,
        client: Ipv4Addr,
    },
    /// Our address as a web echo service sees it, over `family`.
    Web { family: Family },
}

impl Query {
    pub fn source(&self) -> Source {
        match self {
            Query::Gateway { .. } => Source::Gateway,
            Query::Web { .. } => Source::Web,
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::Gateway {
                interface, gateway, ..
            } => write!(f, "the gateway {gateway} of {interface}"),
            Query::Web { family } => write!(f, "the web echo services over {family}"),
        }
    }
}

/// A source's answer: the address, and who said it (`NAT-PMP`, a URL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub addr: IpAddr,
    pub via: String,
}

/// Where one slot stands, for `update` and for `status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotReport {
    pub key: SlotKey,
    pub result: SlotResult,
    /// The last answer for this slot, whenever it came.
    pub last_reply: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotResult {
    /// The provider has this address.
    UpToDate(IpAddr),
    /// Nothing publishable: nothing sent.
    Unavailable(String),
    /// The last attempt failed; the next one waits.
    Retrying { reply: String, in_secs: u64 },
    /// A fatal answer: nothing is sent until the config changes.
    Blocked { reply: String },
    /// No snapshot has been seen yet, or a send is under way.
    Pending,
}

impl SlotResult {
    /// Whether this counts as a failure to publish for `update`'s exit code.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            SlotResult::Retrying { .. } | SlotResult::Blocked { .. }
        )
    }
}

/// Why the engine refused a request (`dynhost update`, a hook).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// No enabled record follows this interface (`None`: any) and publishes this family
    /// (`None`: any). Nothing to do, rather than something wrong.
    NoRecordFollows {
        interface: Option<String>,
        family: Option<Family>,
    },
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::NoRecordFollows { interface, family } => {
                f.write_str("no enabled record")?;
                match (interface, family) {
                    (Some(i), Some(family)) => write!(f, " follows interface {i:?} with {family}"),
                    (Some(i), None) => write!(f, " follows interface {i:?}"),
                    (None, Some(family)) => write!(f, " with {family}"),
                    (None, None) => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for RequestError {}
