//! Self-test of the fake provider in `tests/support/provider/`, using plain
//! `std::net::TcpStream` and a bare rustls client (loopback only).

#[path = "support/provider/mod.rs"]
mod provider;

use provider::{Provider, Reply};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(5);

fn b64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn request_bytes(target: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut s = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: selftest\r\n");
    for (k, v) in extra {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str("\r\n");
    s.into_bytes()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(T)).unwrap();
    s.set_write_timeout(Some(T)).unwrap();
    s
}

struct Resp {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn parse_resp(raw: &[u8]) -> Resp {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head terminator");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    Resp {
        status,
        head,
        body: raw[end + 4..].to_vec(),
    }
}

fn get(addr: SocketAddr, target: &str, extra: &[(&str, &str)]) -> Resp {
    let mut s = connect(addr);
    s.write_all(&request_bytes(target, extra)).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    parse_resp(&raw)
}

fn tmp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "provider-selftest-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn good_echo_with_auth_and_percent_encoded_query() {
    let p = Provider::start();
    assert!(p.url().starts_with("http://127.0.0.1:"));
    assert!(p.url().ends_with("/nic/update"));
    assert_eq!(p.addr().ip().to_string(), "127.0.0.1");

    let target =
        "/nic/update?system=dyndns&hostname=a%2Eexample.com&myip=192.0.2.1&note=a+b%20c%C3%A9&flag";
    let auth = format!("Basic {}", b64(b"user-1:p@ss:w0rd"));
    let r = get(p.addr(), target, &[("Authorization", &auth)]);
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.text(), "good 192.0.2.1");
    assert_eq!(r.header("content-length").as_deref(), Some("14"));
    assert_eq!(r.header("connection").as_deref(), Some("close"));
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));

    let reqs = p.wait_for(1, T);
    assert_eq!(reqs.len(), 1);
    let q = &reqs[0];
    assert_eq!(q.method, "GET");
    assert_eq!(q.target, target);
    assert_eq!(q.path, "/nic/update");
    assert_eq!(q.version, "HTTP/1.1");
    assert!(!q.tls);
    assert_eq!(q.param("system"), Some("dyndns"));
    assert_eq!(q.param("hostname"), Some("a.example.com"));
    assert_eq!(q.param("myip"), Some("192.0.2.1"));
    assert_eq!(q.param("note"), Some("a b c\u{e9}"));
    assert_eq!(q.param("flag"), Some(""));
    assert_eq!(q.param("missing"), None);
    assert_eq!(
        q.query.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["system", "hostname", "myip", "note", "flag"]
    );
    assert_eq!(
        q.basic_auth,
        Some(("user-1".to_string(), "p@ss:w0rd".to_string()))
    );
    assert_eq!(q.header("USER-AGENT"), Some("selftest"));
    assert!(q.headers.iter().all(|(k, _)| *k == k.to_ascii_lowercase()));
    assert!(q.at <= Instant::now());
    assert_eq!(p.count(), 1);
    assert_eq!(p.connections(), 1);
}

#[test]
fn no_or_non_basic_auth_is_none_and_echo_falls_back_to_peer() {
    let p = Provider::start();
    let r = get(p.addr(), "/nic/update?hostname=h", &[]);
    assert_eq!(r.text(), "good 127.0.0.1");
    let r = get(
        p.addr(),
        "/nic/update?myip=2001:db8::1",
        &[("Authorization", "Bearer abc")],
    );
    assert_eq!(r.text(), "good 2001:db8::1");
    let reqs = p.wait_for(2, T);
    assert_eq!(reqs[0].basic_auth, None);
    assert_eq!(reqs[1].basic_auth, None);
    // lowercase scheme is accepted too
    let auth = format!("basic {}", b64(b"u:"));
    get(p.addr(), "/x", &[("authorization", &auth)]);
    let reqs = p.wait_for(3, T);
    assert_eq!(reqs[2].basic_auth, Some(("u".into(), String::new())));
    assert_eq!(reqs[2].path, "/x");
    assert!(reqs[2].query.is_empty());
}

#[test]
fn scripted_replies_in_order_then_default() {
    let p = Provider::start();
    p.push(Reply::Text(401, "badauth".into()));
    p.push(Reply::Text(200, "nochg 192.0.2.1".into()));
    p.push(Reply::Json(200, "{\"a\":1}".into()));
    p.push(Reply::Html(503, "<html>down</html>".into()));
    p.push(Reply::Redirect(302, "http://127.0.0.1:1/elsewhere".into()));
    p.push(Reply::Raw(b"garbage\r\n\r\nnot http".to_vec()));
    assert_eq!(p.pending(), 6);
    let t = "/nic/update?myip=192.0.2.7";

    let r = get(p.addr(), t, &[]);
    assert_eq!((r.status, r.text().as_str()), (401, "badauth"));
    let r = get(p.addr(), t, &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "nochg 192.0.2.1"));
    let r = get(p.addr(), t, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(r.text(), "{\"a\":1}");
    let r = get(p.addr(), t, &[]);
    assert_eq!(r.status, 503);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let r = get(p.addr(), t, &[]);
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location").as_deref(),
        Some("http://127.0.0.1:1/elsewhere")
    );
    assert!(r.body.is_empty());

    let mut s = connect(p.addr());
    s.write_all(&request_bytes(t, &[])).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    assert_eq!(raw, b"garbage\r\n\r\nnot http");

    // queue empty: default good_echo
    assert_eq!(p.pending(), 0);
    let r = get(p.addr(), t, &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "good 192.0.2.7"));

    // new default
    p.set_default(Reply::Text(500, "911".into()));
    let r = get(p.addr(), t, &[]);
    assert_eq!((r.status, r.text().as_str()), (500, "911"));
    p.push(Reply::good_echo());
    let r = get(p.addr(), t, &[]);
    assert_eq!(r.text(), "good 192.0.2.7");
    let r = get(p.addr(), t, &[]);
    assert_eq!(r.text(), "911");

    assert_eq!(p.count(), 10);
    assert_eq!(p.connections(), 10);
}

#[test]
fn hang_records_and_never_answers_until_drop() {
    let p = Provider::start();
    p.push(Reply::Hang);
    let mut s = connect(p.addr());
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.write_all(&request_bytes("/nic/update?myip=192.0.2.9", &[]))
        .unwrap();
    let reqs = p.wait_for(1, T);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].param("myip"), Some("192.0.2.9"));

    let t0 = Instant::now();
    let mut buf = [0u8; 64];
    let err = s.read(&mut buf).expect_err("hang must not answer");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err:?}"
    );
    assert!(t0.elapsed() >= Duration::from_millis(250));

    // Dropping the provider ends the held connection promptly.
    s.set_read_timeout(Some(T)).unwrap();
    let t0 = Instant::now();
    drop(p);
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) => assert!(
            !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{e:?}"
        ),
        Ok(n) => panic!("unexpected {n} bytes"),
    }
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[test]
fn stall_body_sends_headers_and_part_of_body() {
    let p = Provider::start();
    p.push(Reply::StallBody(200, "good 192.0.2.1".into()));
    let mut s = connect(p.addr());
    s.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    s.write_all(&request_bytes("/nic/update", &[])).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    let err = loop {
        match s.read(&mut buf) {
            Ok(0) => panic!("stall must not close"),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    assert!(matches!(
        err.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));
    let r = parse_resp(&raw);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length").as_deref(), Some("14"));
    assert_eq!(r.text(), "good 19");
}

#[test]
fn huge_sends_exactly_n_body_bytes() {
    let p = Provider::start();
    p.push(Reply::Huge(200, 5_000_000));
    let r = get(p.addr(), "/nic/update?myip=192.0.2.1", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length").as_deref(), Some("5000000"));
    assert_eq!(r.body.len(), 5_000_000);
    assert!(r.body.starts_with(b"good 192.0.2.1\n"));

    // A client that hangs up early does not upset the server.
    p.push(Reply::Huge(200, 50_000_000));
    let mut s = connect(p.addr());
    s.write_all(&request_bytes("/nic/update", &[])).unwrap();
    let mut buf = [0u8; 1024];
    s.read_exact(&mut buf).unwrap();
    drop(s);
    let r = get(p.addr(), "/nic/update?myip=192.0.2.2", &[]);
    assert_eq!(r.text(), "good 192.0.2.2");
}

#[test]
fn reset_gives_connection_reset_or_eof() {
    let p = Provider::start();
    p.push(Reply::Reset);
    let mut s = connect(p.addr());
    s.write_all(&request_bytes("/nic/update", &[])).unwrap();
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => assert!(raw.is_empty(), "got {raw:?}"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e:?}"),
    }
    assert_eq!(p.wait_for(1, T).len(), 1);

    p.push(Reply::ResetMidBody(200));
    let mut s = connect(p.addr());
    s.write_all(&request_bytes("/nic/update?myip=192.0.2.3", &[]))
        .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        match s.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => break Some(e.kind()),
        }
    };
    assert!(
        matches!(end, None | Some(ErrorKind::ConnectionReset)),
        "{end:?}"
    );
    if !raw.is_empty() {
        let r = parse_resp(&raw);
        assert_eq!(r.header("content-length").as_deref(), Some("1000"));
        assert!(r.body.len() < 1000);
    }
    assert_eq!(p.count(), 2);
}

#[test]
fn oversized_head_gets_431_and_is_not_recorded() {
    let p = Provider::start();
    let big = "a".repeat(20 * 1024);
    let r = get(p.addr(), "/nic/update", &[("X-Big", &big)]);
    assert_eq!(r.status, 431);
    assert_eq!(p.count(), 0);
    assert_eq!(p.connections(), 1);
    // Still serving.
    let r = get(p.addr(), "/nic/update?myip=192.0.2.4", &[]);
    assert_eq!(r.text(), "good 192.0.2.4");
}

#[test]
fn silent_connections_are_counted_and_wait_for_times_out() {
    let p = Provider::start();
    drop(TcpStream::connect(p.addr()).unwrap());
    let mut s = connect(p.addr());
    s.write_all(b"GET /nic/upd").unwrap(); // partial head, then hang up
    drop(s);
    assert_eq!(p.wait_for_connections(2, T), 2);
    let t0 = Instant::now();
    let got = p.wait_for(1, Duration::from_millis(200));
    assert!(got.is_empty());
    assert!(t0.elapsed() >= Duration::from_millis(190));
    assert_eq!(p.count(), 0);
}

#[test]
fn drop_stops_accepting() {
    let p = Provider::start();
    let addr = p.addr();
    get(addr, "/nic/update", &[]);
    drop(p);
    let e = TcpStream::connect(addr).expect_err("listener must be closed");
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn many_providers_come_and_go() {
    for _ in 0..20 {
        let p = Provider::start();
        p.set_default(Reply::Hang);
        let mut s = connect(p.addr());
        s.write_all(&request_bytes("/nic/update", &[])).unwrap();
        p.wait_for(1, T);
        drop(p);
        let mut buf = [0u8; 8];
        assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
    }
}

#[test]
fn provider_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Provider>();
    check::<provider::Request>();
    check::<Reply>();
}

#[test]
fn decoders() {
    use provider::{base64_decode, parse_query, percent_decode};
    assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
    assert_eq!(base64_decode("YQ==").unwrap(), b"a");
    assert_eq!(base64_decode("YQ").unwrap(), b"a");
    assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
    assert_eq!(base64_decode("").unwrap(), b"");
    assert!(base64_decode("Y").is_none());
    assert!(base64_decode("YQ==YQ").is_none());
    assert!(base64_decode("a*b=").is_none());
    assert_eq!(percent_decode("a%20b+c%2b"), "a b c+");
    assert_eq!(percent_decode("100%"), "100%");
    assert_eq!(percent_decode("%zz%4"), "%zz%4");
    assert_eq!(
        parse_query("a=1&&b=%3D&c"),
        vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "=".to_string()),
            ("c".to_string(), String::new())
        ]
    );
}

// ---------------------------------------------------------------------------
// TLS

mod tls {
    use super::*;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

    fn client_config(roots: RootCertStore) -> Arc<ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }

    fn trusting(p: &Provider) -> Arc<ClientConfig> {
        let path = p.ca_pem_path().expect("ca.pem path");
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&path).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        assert_eq!(roots.len(), 1, "ca.pem holds exactly the CA");
        client_config(roots)
    }

    fn untrusting() -> Arc<ClientConfig> {
        // A different CA, unrelated to the provider's.
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let other = params.self_signed(&key).unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(other.der().clone()).unwrap();
        client_config(roots)
    }

    fn tls_get(
        p: &Provider,
        cfg: Arc<ClientConfig>,
        name: &str,
        target: &str,
    ) -> std::io::Result<Resp> {
        let server_name = ServerName::try_from(name).unwrap().to_owned();
        let conn = ClientConnection::new(cfg, server_name).unwrap();
        let mut s = StreamOwned::new(conn, connect(p.addr()));
        s.write_all(&request_bytes(target, &[]))?;
        s.flush()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        Ok(parse_resp(&raw))
    }

    #[test]
    fn tls_with_ca_works_and_untrusted_handshake_fails() {
        let dir = tmp_dir("tls");
        let p = Provider::start_tls(&dir);
        assert!(p.url().starts_with("https://127.0.0.1:"));
        assert_eq!(p.ca_pem_path(), Some(dir.join("ca.pem")));
        let pem = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
        assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 1);
        assert!(!pem.contains("PRIVATE KEY"));

        let ok = trusting(&p);
        let r = tls_get(&p, ok.clone(), "127.0.0.1", "/nic/update?myip=192.0.2.5").unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "good 192.0.2.5"));
        let r = tls_get(&p, ok.clone(), "localhost", "/nic/update?myip=192.0.2.6").unwrap();
        assert_eq!(r.text(), "good 192.0.2.6");

        let err = tls_get(&p, untrusting(), "127.0.0.1", "/nic/update")
            .err()
            .expect("untrusted handshake must fail");
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{err:?}");
        // Wrong name with the right CA fails too.
        assert!(tls_get(&p, ok.clone(), "example.com", "/nic/update").is_err());

        // The server keeps serving afterwards.
        p.push(Reply::Text(200, "nochg 192.0.2.5".into()));
        let r = tls_get(&p, ok, "127.0.0.1", "/nic/update?myip=192.0.2.5").unwrap();
        assert_eq!(r.text(), "nochg 192.0.2.5");

        let reqs = p.wait_for(3, T);
        assert_eq!(reqs.len(), 3);
        assert!(reqs.iter().all(|r| r.tls));
        assert_eq!(p.count(), 3);
        assert_eq!(p.wait_for_connections(5, T), 5);
        drop(p);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tls_hang_and_reset() {
        let dir = tmp_dir("tls-hang");
        let p = Provider::start_tls(&dir);
        let ok = trusting(&p);
        p.push(Reply::Hang);
        p.push(Reply::Reset);

        let server_name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
        let conn = ClientConnection::new(ok.clone(), server_name).unwrap();
        let mut s = StreamOwned::new(conn, connect(p.addr()));
        s.sock
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        s.write_all(&request_bytes("/nic/update", &[])).unwrap();
        s.flush().unwrap();
        assert_eq!(p.wait_for(1, T).len(), 1);
        let mut buf = [0u8; 16];
        let e = s.read(&mut buf).expect_err("hang");
        assert!(matches!(
            e.kind(),
            ErrorKind::WouldBlock | ErrorKind::TimedOut
        ));

        let r = tls_get(&p, ok, "127.0.0.1", "/nic/update");
        assert!(r.is_err(), "reset must surface as an error");
        assert_eq!(p.wait_for(2, T).len(), 2);
        drop(p);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
