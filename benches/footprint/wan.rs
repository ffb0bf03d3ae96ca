//! The followed WAN interface in a scenario's namespace (a bridge, or a tun standing in
//! for PPP), its address plan, and changes timed from the kernel's side.

use std::net::Ipv4Addr;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::host::command_output;
use crate::netlink::{Monitor, Rtnl, V4};
use crate::netns::{bridge, ip};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Bridge,
    Ppp,
}

/// The followed interface and its address plan, in the current namespace.
pub struct Wan {
    pub link: Link,
    pub name: &'static str,
    pub ifindex: u32,
    pub rtnl: Rtnl,
    pub monitor: Monitor,
    pub current: V4,
    /// Largest gap seen between the ack and our notification for an added address.
    pub skew: Duration,
}

impl Wan {
    /// Creates the interface with address 0 on it.
    pub fn create(link: Link) -> Wan {
        let name = match link {
            Link::Bridge => {
                bridge("br-wan");
                "br-wan"
            }
            Link::Ppp => {
                ip(&["tuntap", "add", "dev", "ppp0", "mode", "tun"]);
                ip(&["link", "set", "ppp0", "up"]);
                "ppp0"
            }
        };
        let mut wan = Wan {
            link,
            name,
            ifindex: if_index(name),
            rtnl: Rtnl::new(),
            monitor: Monitor::start(),
            current: Wan::plan(link, 0),
            skew: Duration::ZERO,
        };
        wan.rtnl.addr(true, wan.ifindex, wan.current);
        if link == Link::Bridge {
            wan.settle_ipv6();
        }
        wan
    }

    /// Waits for the bridge's own IPv6 link-local address. The kernel notifies it once,
    /// when its DAD completes 1 to 2 s after the link comes up. dynhost ignores it when
    /// no record publishes IPv6, but the wait keeps every scenario's start the same
    /// for records that do. The v6noise scenario checks that IPv6 events do not delay
    /// an IPv4-only record.
    fn settle_ipv6(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let args = [
            "-6",
            "-o",
            "addr",
            "show",
            "dev",
            self.name,
            "scope",
            "link",
            "-tentative",
        ];
        while command_output("ip", &args).is_none() {
            assert!(
                Instant::now() < deadline,
                "no IPv6 link-local address on {} within 10 s (IPv6 disabled?)",
                self.name
            );
            sleep(Duration::from_millis(50));
        }
        // Its notification is on its way to every subscriber.
        sleep(Duration::from_millis(200));
    }

    /// Address `i`: 203.0.113.x/24 on a bridge, 198.51.100.x peer 192.0.2.1 on ppp0.
    pub fn plan(link: Link, i: usize) -> V4 {
        let x = 10 + (i % 240) as u8;
        match link {
            Link::Bridge => V4 {
                local: Ipv4Addr::new(203, 0, 113, x),
                prefix: 24,
                peer: None,
            },
            Link::Ppp => V4 {
                local: Ipv4Addr::new(198, 51, 100, x),
                prefix: 32,
                peer: Some(Ipv4Addr::new(192, 0, 2, 1)),
            },
        }
    }

    pub fn address(&self) -> Ipv4Addr {
        self.current.local
    }

    /// Replaces the address by plan entry `i` (delete, then add), and returns the moment
    /// the new one exists: the earlier of the ack and our RTM_NEWADDR.
    pub fn change(&mut self, i: usize) -> Instant {
        let next = Wan::plan(self.link, i);
        assert_ne!(next, self.current, "a change must change the address");
        self.rtnl.addr(false, self.ifindex, self.current);
        let mark = self.monitor.mark();
        let ack = self.rtnl.addr(true, self.ifindex, next);
        let ifindex = self.ifindex;
        let ev = self
            .monitor
            .wait(mark, Duration::from_secs(5), |e| {
                e.new && e.ifindex == ifindex && e.local == next.local
            })
            .expect("no RTM_NEWADDR for the added address");
        self.current = next;
        self.skew = self.skew.max(if ack > ev.at {
            ack - ev.at
        } else {
            ev.at - ack
        });
        ack.min(ev.at)
    }
}

pub fn if_index(name: &str) -> u32 {
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    assert!(i != 0, "no interface {name}");
    i
}
