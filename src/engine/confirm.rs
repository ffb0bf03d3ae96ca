//! Addresses a hook vouches for: pppd runs ip-up once IPCP is done, so the address it
//! passes (`dynhost update --interface IF --ip ADDR`) is final. When the kernel shows
//! that address on that interface, the slots following it need no quiet time; the
//! rest, and every burst seen by netlink alone, keep the debounce.

use std::net::IpAddr;

use crate::model::{Family, Snapshot};

#[derive(Debug)]
pub(super) struct Confirm {
    pub(super) interface: String,
    pub(super) addr: IpAddr,
    /// Kept until a dump numbered above this one has been applied: a dump already
    /// running when the hook spoke may predate the address.
    pub(super) after_dump: u64,
}

/// The hooks' words still waiting for a dump to confirm them.
#[derive(Debug, Default)]
pub(super) struct Confirms(Vec<Confirm>);

impl Confirms {
    pub(super) fn add(&mut self, interface: &str, addr: IpAddr, after_dump: u64) {
        self.0.push(Confirm {
            interface: interface.to_string(),
            addr,
            after_dump,
        });
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `snapshot` shows a vouched-for address of `family` on `interface`.
    pub(super) fn confirmed(&self, snapshot: &Snapshot, interface: &str, family: Family) -> bool {
        let Some(link) = snapshot.link_named(interface) else {
            return false;
        };
        self.0
            .iter()
            .filter(|c| c.interface == interface && Family::of(&c.addr) == family)
            .any(|c| link.up && snapshot.addrs_of(link.index).any(|a| a.addr == c.addr))
    }

    /// After dump number `applied`: words it was meant to check are settled, shown or not.
    pub(super) fn applied(&mut self, applied: u64) {
        self.0.retain(|c| c.after_dump >= applied);
    }

    pub(super) fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AddrFlags, AddrInfo, LinkInfo, Scope};

    fn snap(up: bool, addr: &str) -> Snapshot {
        Snapshot {
            links: vec![LinkInfo {
                index: 5,
                name: "ppp0".into(),
                up,
            }],
            addrs: vec![AddrInfo {
                index: 5,
                addr: addr.parse().unwrap(),
                prefix_len: 32,
                scope: Scope::Global,
                flags: AddrFlags::default(),
            }],
            routes: vec![],
        }
    }

    #[test]
    fn only_the_same_address_on_the_same_up_link_confirms() {
        let mut c = Confirms::default();
        c.add("ppp0", "203.0.113.8".parse().unwrap(), 3);
        assert!(c.confirmed(&snap(true, "203.0.113.8"), "ppp0", Family::V4));
        assert!(!c.confirmed(&snap(true, "203.0.113.9"), "ppp0", Family::V4));
        assert!(!c.confirmed(&snap(false, "203.0.113.8"), "ppp0", Family::V4));
        assert!(!c.confirmed(&snap(true, "203.0.113.8"), "ppp1", Family::V4));
        assert!(!c.confirmed(&snap(true, "203.0.113.8"), "ppp0", Family::V6));
        // Dump 3 was running when the hook spoke: only dump 4 settles the word.
        c.applied(3);
        assert!(!c.is_empty());
        c.applied(4);
        assert!(c.is_empty());
    }
}
