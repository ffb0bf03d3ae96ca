//! Where to ask: the system resolver from `/etc/resolv.conf`, and servers as written in
//! the config (`host`, `host:port`, `[v6]:port`). Pure, except [`read_resolv_conf`].
//!
//! Interface names in IPv6 scope ids (`fe80::1%eth0`) are turned into indexes by the
//! `if_index` function the caller passes (the edge's is [`if_index`]), so that parsing
//! stays testable.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use crate::server::parse_v6;
pub use crate::server::{DNS_PORT, Server, parse_server};

/// A larger resolv.conf is refused; at most this many lines are looked at.
pub const MAX_RESOLV_CONF: usize = 64 * 1024;
const MAX_RESOLV_LINES: usize = 1000;
/// The first usable `nameserver` of resolv.conf text, on port 53. Lines that are not
/// valid are skipped, as the C library does; comments start with '#' or ';'.
pub fn resolv_conf_nameserver(
    text: &str,
    if_index: impl Fn(&str) -> Option<u32>,
) -> Result<SocketAddr, String> {
    let mut skipped: Option<String> = None;
    for line in text.lines().take(MAX_RESOLV_LINES) {
        let mut words = line.split_ascii_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(addr) = words.next() else {
            continue;
        };
        if addr.starts_with('#') || addr.starts_with(';') {
            continue;
        }
        let parsed = match addr.parse::<IpAddr>() {
            Ok(ip) => Ok(SocketAddr::new(ip, DNS_PORT)),
            Err(_) if addr.contains(':') => parse_v6(addr, DNS_PORT, &if_index),
            Err(_) => Err("not an IP address".to_string()),
        };
        match parsed {
            Ok(a) => return Ok(a),
            Err(why) if skipped.is_none() => {
                let shown: String = addr.chars().take(60).collect();
                skipped = Some(format!("{shown:?}: {why}"));
            }
            Err(_) => {}
        }
    }
    Err(match skipped {
        Some(why) => format!("no usable nameserver line (skipped {why}); set verify.resolver"),
        None => "no nameserver line; set verify.resolver".into(),
    })
}

/// Reads the first nameserver from the resolv.conf at `path`, through [`crate::bounded`]
/// (a regular file of at most [`MAX_RESOLV_CONF`] bytes: a FIFO cannot block the loop).
pub fn read_resolv_conf(path: &Path) -> Result<SocketAddr, String> {
    let place = path.display();
    let bytes = crate::bounded::read(path, MAX_RESOLV_CONF)
        .map_err(|e| format!("{place}: {e}; set verify.resolver"))?;
    let text = String::from_utf8_lossy(&bytes);
    resolv_conf_nameserver(&text, if_index).map_err(|e| format!("{place}: {e}"))
}

/// The index of the interface `name` (for IPv6 scope ids), if it exists.
pub fn if_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (index != 0).then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddrV6;

    fn idx(name: &str) -> Option<u32> {
        (name == "eth0").then_some(2)
    }

    fn v6(s: &str, port: u16, scope: u32) -> SocketAddr {
        SocketAddr::V6(SocketAddrV6::new(s.parse().unwrap(), port, 0, scope))
    }

    #[test]
    fn servers() {
        let host = |n: &str, port| {
            Ok(Server::Host {
                name: n.into(),
                port,
            })
        };
        let addr = |s: &str| Ok(Server::Addr(s.parse().unwrap()));
        let table: Vec<(&str, Result<Server, &str>)> = vec![
            ("192.0.2.1", addr("192.0.2.1:53")),
            ("192.0.2.1:5353", addr("192.0.2.1:5353")),
            ("2001:db8::1", addr("[2001:db8::1]:53")),
            ("[2001:db8::1]", addr("[2001:db8::1]:53")),
            ("[2001:db8::1]:5353", addr("[2001:db8::1]:5353")),
            ("fe80::1%eth0", Ok(Server::Addr(v6("fe80::1", 53, 2)))),
            ("[fe80::1%7]:54", Ok(Server::Addr(v6("fe80::1", 54, 7)))),
            ("ns1.example.net", host("ns1.example.net", 53)),
            ("NS1.Example.NET.", host("ns1.example.net", 53)),
            ("ns1.example.net:5353", host("ns1.example.net", 5353)),
            ("dns200.anycast.me", host("dns200.anycast.me", 53)),
            ("", Err("empty")),
            ("192.0.2.1:0", Err("port")),
            ("192.0.2.1:65536", Err("port")),
            ("192.0.2.1:", Err("port")),
            ("192.0.2.1:+53", Err("port")),
            ("[2001:db8::1", Err("without ']'")),
            ("[2001:db8::1]53", Err("only ':port'")),
            ("[ns1.example.net]:53", Err("not an IPv6 address")),
            ("2001:db8::1:53:", Err("brackets")),
            ("fe80::1%wlan9", Err("no such interface")),
            ("fe80::1%", Err("empty scope")),
            ("fe80::1%99999999999", Err("not an interface index")),
            ("256.1.1.1", Err("not a valid IPv4")),
            ("ns1..example.net", Err("not a hostname label")),
            ("-ns.example.net", Err("not a hostname label")),
            ("ns 1.example.net", Err("not a hostname label")),
            ("ns1.example.net:53:54", Err("brackets")),
        ];
        for (text, want) in table {
            let got = parse_server(text, idx);
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(g, w, "{text}"),
                (Err(needle), Err(e)) => assert!(e.contains(needle), "{text}: {e}"),
                (w, g) => panic!("{text}: want {w:?}, got {g:?}"),
            }
        }
        let long = "a".repeat(300);
        assert!(parse_server(&long, idx).unwrap_err().contains("too long"));
        assert_eq!(
            Server::Host {
                name: "ns1.example.net".into(),
                port: 53
            }
            .to_string(),
            "ns1.example.net:53"
        );
    }

    #[test]
    fn resolv_conf() {
        let table: Vec<(&str, Result<SocketAddr, &str>)> = vec![
            (
                "nameserver 127.0.0.53\n",
                Ok("127.0.0.53:53".parse().unwrap()),
            ),
            (
                "# generated\nsearch lan\noptions edns0\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n",
                Ok("192.0.2.53:53".parse().unwrap()),
            ),
            ("nameserver ::1", Ok("[::1]:53".parse().unwrap())),
            (
                "nameserver\tfe80::1%eth0 # router",
                Ok(v6("fe80::1", 53, 2)),
            ),
            ("nameserver fe80::1%3", Ok(v6("fe80::1", 53, 3))),
            (
                "nameserver bogus\nnameserver fe80::1%wlan9\nnameserver 192.0.2.1",
                Ok("192.0.2.1:53".parse().unwrap()),
            ),
            (
                "  nameserver 192.0.2.9  ",
                Ok("192.0.2.9:53".parse().unwrap()),
            ),
            (
                ";nameserver 192.0.2.1\n#nameserver 192.0.2.2\n",
                Err("no nameserver line"),
            ),
            ("nameservers 192.0.2.1", Err("no nameserver line")),
            ("nameserver\nnameserver #x", Err("no nameserver line")),
            ("", Err("no nameserver line")),
            (
                "nameserver bogus",
                Err("skipped \"bogus\": not an IP address"),
            ),
            ("nameserver fe80::1%wlan9", Err("no such interface")),
            ("nameserver 192.0.2.1:53", Err("not an IPv6 address")),
        ];
        for (text, want) in table {
            let got = resolv_conf_nameserver(text, idx);
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(g, w, "{text}"),
                (Err(needle), Err(e)) => assert!(e.contains(needle), "{text}: {e}"),
                (w, g) => panic!("{text:?}: want {w:?}, got {g:?}"),
            }
        }
        // Only the first lines are looked at.
        let late = format!(
            "{}nameserver 192.0.2.1\n",
            "# padding\n".repeat(MAX_RESOLV_LINES)
        );
        assert!(resolv_conf_nameserver(&late, idx).is_err());
    }

    #[test]
    fn reads_the_file() {
        let dir = std::env::temp_dir().join(format!("dynhost-resolv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("resolv.conf");
        std::fs::write(&path, "search lan\nnameserver 192.0.2.53\n").unwrap();
        assert_eq!(
            read_resolv_conf(&path),
            Ok("192.0.2.53:53".parse().unwrap())
        );
        let e = read_resolv_conf(&dir.join("missing")).unwrap_err();
        assert!(e.contains("set verify.resolver"), "{e}");
        // A FIFO in its place is refused at once instead of blocking the daemon's loop.
        let fifo = dir.join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_resolv_conf(&fifo).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        assert_eq!(
            if_index("lo").is_some(),
            Path::new("/sys/class/net/lo").exists()
        );
        assert_eq!(if_index("no-such-if0"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
