//! A server as written in the config (`host`, `host:port`, `[v6]:port`, `fe80::1%eth0`):
//! shared vocabulary, parsed by `config` to check it and by `verify` to use it. Pure:
//! interface names in IPv6 scope ids are turned into indexes by the `if_index` function
//! the caller passes.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// The DNS port.
pub const DNS_PORT: u16 = 53;
/// Longest server text accepted (a hostname of 253 characters and a port).
const MAX_SERVER_TEXT: usize = 260;

/// A server as configured: an address, or a name the resolver must turn into addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Server {
    Addr(SocketAddr),
    Host { name: String, port: u16 },
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Server::Addr(a) => write!(f, "{a}"),
            Server::Host { name, port } => write!(f, "{name}:{port}"),
        }
    }
}

/// Parses `192.0.2.1`, `192.0.2.1:5353`, `2001:db8::1`, `[2001:db8::1]:5353`,
/// `fe80::1%eth0`, `[fe80::1%2]:53`, `ns1.example.net` or `ns1.example.net:5353`. A bare
/// IPv6 address takes no port: use brackets for one. The port defaults to 53.
pub fn parse_server(text: &str, if_index: impl Fn(&str) -> Option<u32>) -> Result<Server, String> {
    let shown: String = text.chars().take(40).collect();
    let fail = |why: &str| Err(format!("server {shown:?}: {why}"));
    if text.is_empty() {
        return fail("empty");
    }
    if text.len() > MAX_SERVER_TEXT {
        return fail("too long for an address or a hostname");
    }
    if let Some(rest) = text.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return fail("'[' without ']': write [2001:db8::1]:53");
        };
        let port = match after {
            "" => DNS_PORT,
            _ => match after.strip_prefix(':') {
                Some(p) => match parse_port(p) {
                    Some(p) => p,
                    None => return fail("the port must be a number from 1 to 65535"),
                },
                None => return fail("after ']' only ':port' may follow"),
            },
        };
        return match parse_v6(inside, port, &if_index) {
            Ok(a) => Ok(Server::Addr(a)),
            Err(why) => fail(&why),
        };
    }
    if text.matches(':').count() >= 2 {
        return match parse_v6(text, DNS_PORT, &if_index) {
            Ok(a) => Ok(Server::Addr(a)),
            Err(why) => fail(&format!("{why} (a port needs brackets: [2001:db8::1]:53)")),
        };
    }
    let (host, port) = match text.split_once(':') {
        Some((h, p)) => match parse_port(p) {
            Some(p) => (h, p),
            None => return fail("the port must be a number from 1 to 65535"),
        },
        None => (text, DNS_PORT),
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Server::Addr(SocketAddr::new(ip, port)));
    }
    match check_hostname(host) {
        Ok(()) => Ok(Server::Host {
            name: host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase(),
            port,
        }),
        Err(why) => fail(&why),
    }
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&p| p != 0)
}

/// An IPv6 address with an optional `%scope` (a number or an interface name).
pub(crate) fn parse_v6(
    text: &str,
    port: u16,
    if_index: &impl Fn(&str) -> Option<u32>,
) -> Result<SocketAddr, String> {
    let (addr, scope) = match text.split_once('%') {
        Some((a, s)) => (a, Some(s)),
        None => (text, None),
    };
    let ip: Ipv6Addr = addr
        .parse()
        .map_err(|_| "not an IPv6 address".to_string())?;
    let scope_id = match scope {
        None => 0,
        Some("") => return Err("empty scope after '%'".into()),
        Some(s) if s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse::<u32>()
            .map_err(|_| format!("scope {s} is not an interface index"))?,
        Some(s) => {
            if s.len() > 15 || !s.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!("scope {s:?} is not an interface name"));
            }
            if_index(s).ok_or_else(|| format!("scope {s}: no such interface"))?
        }
    };
    Ok(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope_id)))
}

/// Letters, digits, '-' and '_', labels of 1 to 63 characters, at most 253 in all.
fn check_hostname(host: &str) -> Result<(), String> {
    let bare = host.strip_suffix('.').unwrap_or(host);
    if bare.is_empty() || bare.len() > 253 {
        return Err("not a hostname (1 to 253 characters)".into());
    }
    for label in bare.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "{label:?} is not a hostname label (letters, digits, '-', 1 to 63 characters)"
            ));
        }
    }
    if bare.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err("not a valid IPv4 address".into());
    }
    Ok(())
}
