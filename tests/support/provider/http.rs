//! HTTP/1.1 as the provider speaks it: reading and parsing a request head (query,
//! percent-decoding, Basic auth), and writing a reply.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use super::{MAX_HEAD, Request};

pub const TEXT: &str = "text/plain";
pub const JSON: &str = "application/json";
pub const HTML: &str = "text/html; charset=utf-8";
/// Chunk size used by `Huge`.
const CHUNK: usize = 64 * 1024;

pub(super) enum Head {
    Complete(Vec<u8>),
    TooBig,
    Closed,
}

/// Read until the end of the request head (`\r\n\r\n`, or a bare `\n\n`).
pub(super) fn read_head(conn: &mut impl Read) -> Head {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = head_end(&buf) {
            if end > MAX_HEAD {
                return Head::TooBig;
            }
            buf.truncate(end);
            return Head::Complete(buf);
        }
        if buf.len() > MAX_HEAD {
            return Head::TooBig;
        }
        match conn.read(&mut chunk) {
            Ok(0) => return Head::Closed,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Head::Closed,
        }
    }
}

/// Length of the head including its terminating blank line, if complete.
fn head_end(buf: &[u8]) -> Option<usize> {
    for i in 0..buf.len() {
        if buf[i..].starts_with(b"\r\n\r\n") {
            return Some(i + 4);
        }
        if buf[i..].starts_with(b"\n\n") {
            return Some(i + 2);
        }
    }
    None
}

pub(super) fn write_huge(
    conn: &mut impl Write,
    code: u16,
    n: usize,
    echo_ip: &str,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: text/plain\r\nContent-Length: {n}\r\nConnection: close\r\nServer: dynhost-fake-provider\r\n\r\n",
        reason(code)
    );
    conn.write_all(head.as_bytes())?;
    let prefix = format!("good {echo_ip}\n");
    let prefix = &prefix.as_bytes()[..prefix.len().min(n)];
    conn.write_all(prefix)?;
    let mut left = n - prefix.len();
    let mut filler = vec![b'x'; CHUNK];
    if let Some(last) = filler.last_mut() {
        *last = b'\n';
    }
    while left > 0 {
        let k = left.min(CHUNK);
        conn.write_all(&filler[..k])?;
        left -= k;
    }
    conn.flush()
}

/// Status line, headers (plus Content-Length, Connection: close), body.
/// `declared` overrides the Content-Length (for stalls / resets).
pub(super) fn write_response(
    conn: &mut impl Write,
    code: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    declared: Option<usize>,
) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {code} {}\r\n", reason(code));
    for (k, v) in headers {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\nServer: dynhost-fake-provider\r\n\r\n",
        declared.unwrap_or(body.len())
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    conn.write_all(&bytes)?;
    conn.flush()
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

pub(super) fn parse_head(head: &[u8], at: Instant, peer: SocketAddr, tls: bool) -> Option<Request> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next()?;
    let mut parts = request_line.split(' ').filter(|p| !p.is_empty());
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let version = parts.next()?.to_string();
    if parts.next().is_some() || !version.starts_with("HTTP/") {
        return None;
    }
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), parse_query(q)),
        None => (target.clone(), Vec::new()),
    };
    let basic_auth = headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .and_then(|(_, v)| parse_basic(v));
    Some(Request {
        at,
        method,
        target,
        path,
        query,
        headers,
        basic_auth,
        version,
        peer,
        tls,
    })
}

/// Split `a=1&b=2`, percent-decoding names and values (`+` is a space).
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    let q = q.split('#').next().unwrap_or("");
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// Percent-decode (lenient: a bad escape is kept literally), `+` -> space.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < b.len() => match (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h << 4) | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `Basic <base64(user:pass)>` -> (user, pass). Scheme is case-insensitive.
fn parse_basic(v: &str) -> Option<(String, String)> {
    let v = v.trim();
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64_decode(rest.trim())?;
    let text = String::from_utf8_lossy(&raw);
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Standard-alphabet base64 decoder; padding optional, whitespace ignored.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut seen_pad = false;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                seen_pad = true;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        if seen_pad {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // 6 leftover bits would mean a single dangling character: invalid.
    if bits >= 6 {
        return None;
    }
    Some(out)
}
