//! The netlink edge against the real kernel, in a private network namespace: what
//! dumps and notifications decode to.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use dynhost::model::{Family, Interest, NetEvent, Scope, Snapshot};
use dynhost::netlink::{self, Watcher};
use support::netns::{bridge, in_netns, ip, ip_batch, ppp};

/// Links and the addresses of `families`, no routes.
fn interest(families: &[Family]) -> Interest {
    Interest {
        families: families.to_vec(),
        routes: false,
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn addr<'a>(snap: &'a Snapshot, a: &str) -> &'a dynhost::model::AddrInfo {
    let want: IpAddr = a.parse().unwrap();
    snap.addrs
        .iter()
        .find(|x| x.addr == want)
        .unwrap_or_else(|| panic!("{a} not in {snap:#?}"))
}

#[test]
fn dumps_decode_links_addresses_and_flags() {
    in_netns(|| {
        bridge("br0");
        ip(&["addr", "add", "203.0.113.5/24", "dev", "br0"]);
        ip(&["addr", "add", "203.0.113.6/24", "dev", "br0"]); // a secondary
        ip(&["-6", "addr", "add", "2001:db8::5/64", "dev", "br0", "nodad"]);
        ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8::6/64",
            "dev",
            "br0",
            "nodad",
            "preferred_lft",
            "0",
        ]);
        ip(&["-6", "addr", "add", "2001:db8::7/64", "dev", "br0"]); // tentative for a while
        ppp("ppp0", "192.0.2.1", "192.0.2.2");
        ip(&["link", "add", "br1", "type", "bridge"]); // down
        let snap = rt().block_on(netlink::dump()).unwrap();
        let br0 = snap.link_named("br0").unwrap();
        assert!(br0.up);
        assert!(!snap.link_named("br1").unwrap().up);
        let ppp0 = snap.link_named("ppp0").unwrap();
        assert!(ppp0.up, "administratively up even without carrier");
        let a = addr(&snap, "203.0.113.5");
        assert_eq!(
            (a.index, a.prefix_len, a.scope),
            (br0.index, 24, Scope::Global)
        );
        assert!(!a.flags.secondary);
        assert!(addr(&snap, "203.0.113.6").flags.secondary);
        let p = addr(&snap, "192.0.2.1");
        assert_eq!(
            p.index, ppp0.index,
            "the local side of the point-to-point link"
        );
        assert!(snap.addrs.iter().all(|x| x.addr.to_string() != "192.0.2.2"));
        assert!(!addr(&snap, "2001:db8::5").flags.tentative);
        assert!(addr(&snap, "2001:db8::6").flags.deprecated);
        assert!(addr(&snap, "2001:db8::7").flags.tentative);
        assert_eq!(addr(&snap, "127.0.0.1").scope, Scope::Host);
    });
}

#[test]
fn the_default_route_interface_is_found() {
    in_netns(|| {
        bridge("wan0");
        ip(&["addr", "add", "198.51.100.2/24", "dev", "wan0"]);
        let rt = rt();
        assert_eq!(
            rt.block_on(netlink::default_route_interface()).unwrap(),
            None
        );
        ip(&[
            "route",
            "add",
            "default",
            "via",
            "198.51.100.1",
            "dev",
            "wan0",
        ]);
        assert_eq!(
            rt.block_on(netlink::default_route_interface()).unwrap(),
            Some("wan0".into())
        );
    });
}

#[test]
fn notifications_name_the_link_and_follow_a_recreated_one() {
    in_netns(|| {
        rt().block_on(async {
            let mut w =
                Watcher::subscribe(netlink::DEFAULT_RCVBUF, &interest(&Family::ALL)).unwrap();
            ppp("ppp0", "192.0.2.1", "192.0.2.2");
            let mut seen = Vec::new();
            while !seen.iter().any(|e| matches!(e, NetEvent::Addr { .. })) {
                let ev = tokio::time::timeout(Duration::from_secs(5), w.next())
                    .await
                    .expect("a notification")
                    .expect("socket open");
                seen.push(ev);
            }
            let first = seen
                .iter()
                .find_map(|e| match e {
                    NetEvent::Link {
                        index,
                        name: Some(n),
                        removed: false,
                        ..
                    } if n == "ppp0" => Some(*index),
                    _ => None,
                })
                .expect("NEWLINK for ppp0");
            ip(&["link", "del", "ppp0"]);
            ppp("ppp0", "198.51.100.7", "198.51.100.1");
            // Fails by timeout unless the link comes back under a new ifindex.
            let mut removed = false;
            loop {
                let ev = tokio::time::timeout(Duration::from_secs(5), w.next())
                    .await
                    .unwrap()
                    .unwrap();
                match ev {
                    NetEvent::Link {
                        index,
                        removed: true,
                        ..
                    } if index == first => removed = true,
                    NetEvent::Link {
                        index,
                        name: Some(n),
                        removed: false,
                        ..
                    } if n == "ppp0" && index != first => {
                        break;
                    }
                    _ => {}
                }
            }
            assert!(removed, "DELLINK seen before the new link");
        });
    });
}

#[test]
fn an_overrun_becomes_a_resync() {
    in_netns(|| {
        bridge("storm0");
        rt().block_on(async {
            // The kernel doubles the value and enforces a minimum; this is tiny.
            let mut w = Watcher::subscribe(1024, &interest(&Family::ALL)).unwrap();
            // A storm the socket cannot hold while nobody reads it.
            let lines: Vec<String> = (0..400)
                .map(|i| format!("addr add 203.0.113.{}/32 dev storm0", i % 250 + 1))
                .chain((0..150).map(|i| format!("addr add 198.51.100.{}/32 dev storm0", i + 1)))
                .collect();
            let lines: Vec<String> = {
                let mut seen = std::collections::HashSet::new();
                lines
                    .into_iter()
                    .filter(|l| seen.insert(l.clone()))
                    .collect()
            };
            tokio::task::spawn_blocking(move || ip_batch(&lines))
                .await
                .unwrap();
            let mut resync = false;
            while let Ok(Some(ev)) =
                tokio::time::timeout(Duration::from_millis(500), w.next()).await
            {
                if ev == NetEvent::Resync {
                    resync = true;
                    break;
                }
            }
            assert!(resync, "ENOBUFS must surface as a resync");
            // And the watcher goes on afterwards.
            ip(&["addr", "add", "192.0.2.77/32", "dev", "storm0"]);
            let ev = tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    if let Some(NetEvent::Addr { .. }) = w.next().await {
                        break;
                    }
                }
            })
            .await;
            assert!(ev.is_ok());
        });
    });
}

#[test]
fn only_the_address_families_asked_for_wake_the_watcher() {
    in_netns(|| {
        bridge("wan0");
        rt().block_on(async {
            let mut w =
                Watcher::subscribe(netlink::DEFAULT_RCVBUF, &interest(&[Family::V4])).unwrap();
            // IPv6 addresses come and go: not a single notification.
            for i in 1..=5 {
                ip(&[
                    "-6",
                    "addr",
                    "add",
                    &format!("2001:db8::{i}/64"),
                    "dev",
                    "wan0",
                    "nodad",
                ]);
            }
            ip(&["-6", "addr", "del", "2001:db8::1/64", "dev", "wan0"]);
            let quiet = tokio::time::timeout(Duration::from_millis(300), w.next()).await;
            assert!(
                quiet.is_err(),
                "an IPv6 address woke an IPv4-only watcher: {quiet:?}"
            );
            // An IPv4 address does.
            ip(&["addr", "add", "203.0.113.9/24", "dev", "wan0"]);
            let ev = tokio::time::timeout(Duration::from_secs(5), w.next())
                .await
                .expect("a notification")
                .expect("socket open");
            assert!(
                matches!(
                    ev,
                    NetEvent::Addr {
                        family: Some(Family::V4),
                        ..
                    }
                ),
                "{ev:?}"
            );
        });
    });
}

/// Only the kernel speaks for the kernel: a process that learns the watcher's port id
/// and sends it a made-up RTM_NEWADDR is not heard.
#[test]
fn messages_that_do_not_come_from_the_kernel_are_dropped() {
    use dynhost::netlink::wire;
    use netlink_sys::protocols::NETLINK_ROUTE;
    use netlink_sys::{Socket, SocketAddr};
    in_netns(|| {
        bridge("br0");
        let rt = rt();
        rt.block_on(async {
            let mut w = Watcher::subscribe(1 << 16, &interest(&[Family::V4])).unwrap();
            let port = w.port_id().unwrap();
            let mut forger = Socket::new(NETLINK_ROUTE).unwrap();
            forger.bind_auto().unwrap();
            // An address event for an interface that does not exist (index 4242).
            let forged = wire::addr_request(
                wire::RTM_NEWADDR,
                4242,
                "203.0.113.66".parse().unwrap(),
                32,
                None,
                1,
            );
            forger
                .send_to(&forged, &SocketAddr::new(port, 0), 0)
                .unwrap();
            // Then a real change: the first event heard must be the kernel's.
            ip(&["addr", "add", "203.0.113.5/24", "dev", "br0"]);
            let index = netlink::dump()
                .await
                .unwrap()
                .link_named("br0")
                .unwrap()
                .index;
            let ev = tokio::time::timeout(Duration::from_secs(5), w.next())
                .await
                .expect("the real event arrives")
                .unwrap();
            assert_eq!(
                ev,
                NetEvent::Addr {
                    index,
                    family: Some(Family::V4)
                },
                "the forged message was not taken for an event"
            );
        });
    });
}
