//! The engine's vocabulary: what identifies a slot, what it needs to know, what it
//! remembers across restarts, the work it hands out and what it reports.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

pub use crate::model::{
    DnsSeen, LastReply, Memory, Pending, Published, SlotKey, SlotMemory, SlotSpec, Timing,
};
use crate::model::{Family, Source};

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
    /// Ask a source outside the kernel, then call `handle_found` with the same ticket:
    /// an answer under a ticket no longer current (a reload, a newer ask) is dropped.
    Query { ticket: u64, query: Query },
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
