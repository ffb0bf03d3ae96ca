//! SSDP discovery of the gateway's IGD: the M-SEARCH request and the `LOCATION` of its
//! answer, accepted only as a plain http URL to the gateway's own address. Pure.

use std::net::{Ipv4Addr, SocketAddrV4};

use reqwest::Url;

use super::{GatewayError, Protocol, sanitize};

/// Where M-SEARCH goes.
pub const MULTICAST: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 255, 255, 250), 1900);
pub const IGD: &str = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";
pub const WAN_IP: &str = "urn:schemas-upnp-org:service:WANIPConnection:1";
pub const WAN_PPP: &str = "urn:schemas-upnp-org:service:WANPPPConnection:1";
/// What we search for; any of them leads to the root description.
pub const SEARCH_TARGETS: [&str; 3] = [IGD, WAN_IP, WAN_PPP];
/// Seconds a device may wait before answering.
pub const MX: u8 = 1;
/// The largest answer datagram accepted (miniupnpd's is about 450 bytes).
pub const MAX_ANSWER: usize = 4096;
/// The largest `LOCATION` value accepted.
pub const MAX_LOCATION: usize = 512;

/// The M-SEARCH datagram for `st`.
pub fn msearch(st: &str) -> String {
    format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\n\
         MX: {MX}\r\nST: {st}\r\nUSER-AGENT: {} UPnP/1.1 dynhost\r\n\r\n",
        std::env::consts::OS
    )
}

fn malformed(detail: String) -> GatewayError {
    GatewayError::Malformed {
        protocol: Protocol::Upnp,
        detail,
    }
}

/// Checks that `url` is plain http to the gateway's own address, without credentials.
pub fn check_gateway_url(url: &Url, gateway: Ipv4Addr, what: &str) -> Result<(), GatewayError> {
    if url.scheme() != "http" {
        return Err(GatewayError::WrongSource {
            protocol: Protocol::Upnp,
            detail: format!(
                "the {what} URL {} is not plain http",
                sanitize(url.as_str(), 120)
            ),
        });
    }
    // The URL parser normalises IPv4 hosts, so the text comparison is exact.
    if url.host_str() != Some(gateway.to_string().as_str())
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(GatewayError::WrongSource {
            protocol: Protocol::Upnp,
            detail: format!(
                "the {what} URL {} points to another host than the gateway {gateway}",
                sanitize(url.as_str(), 120)
            ),
        });
    }
    Ok(())
}

/// Parses an answer to one of our M-SEARCHes from the gateway. `Ok(None)`: a valid
/// answer for another search target (ignore it).
pub fn parse_answer(datagram: &[u8], gateway: Ipv4Addr) -> Result<Option<Url>, GatewayError> {
    if datagram.len() > MAX_ANSWER {
        return Err(malformed(format!("SSDP answer over {MAX_ANSWER} bytes")));
    }
    let Ok(text) = std::str::from_utf8(datagram) else {
        return Err(malformed("SSDP answer is not text".into()));
    };
    // The header block ends with an empty line; anything after it is ignored.
    let Some(head) = text
        .find("\r\n\r\n")
        .or_else(|| text.find("\n\n"))
        .map(|end| &text[..end])
    else {
        return Err(malformed(
            "SSDP answer does not end with an empty line".into(),
        ));
    };
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status = lines.next().unwrap_or_default();
    let mut parts = status.split(' ').filter(|s| !s.is_empty());
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !(version.eq_ignore_ascii_case("HTTP/1.1") || version.eq_ignore_ascii_case("HTTP/1.0")) {
        return Err(malformed(format!(
            "SSDP answer starts with {:?}, not HTTP/1.1",
            sanitize(status, 40)
        )));
    }
    if code != "200" {
        return Err(malformed(format!(
            "SSDP answer has status {}",
            sanitize(code, 10)
        )));
    }
    let (mut location, mut st) = (None, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(malformed(format!(
                "SSDP header line without a colon: {:?}",
                sanitize(line, 40)
            )));
        };
        let slot = if name.trim().eq_ignore_ascii_case("LOCATION") {
            &mut location
        } else if name.trim().eq_ignore_ascii_case("ST") {
            &mut st
        } else {
            continue;
        };
        if slot.replace(value.trim()).is_some() {
            return Err(malformed(format!(
                "SSDP answer has two {} headers",
                name.trim().to_ascii_uppercase()
            )));
        }
    }
    let Some(st) = st else {
        return Err(malformed("SSDP answer without ST".into()));
    };
    if !SEARCH_TARGETS.iter().any(|t| t.eq_ignore_ascii_case(st)) {
        return Ok(None);
    }
    let Some(location) = location else {
        return Err(malformed("SSDP answer without LOCATION".into()));
    };
    if location.len() > MAX_LOCATION {
        return Err(malformed(format!(
            "SSDP LOCATION over {MAX_LOCATION} bytes"
        )));
    }
    let url = Url::parse(location).map_err(|e| {
        malformed(format!(
            "SSDP LOCATION {:?} is not a URL: {e}",
            sanitize(location, 80)
        ))
    })?;
    check_gateway_url(&url, gateway, "description")?;
    Ok(Some(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GW: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 1);

    // miniupnpd 2.3.1's answer (captured).
    const ANSWER: &str = "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n\
        ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
        USN: uuid:3d6b1a8e-1c2b-4f7a-9c55-5a1d2e3f4a5b::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
        EXT:\r\nSERVER: Debian/6.18 UPnP/1.1 MiniUPnPd/2.3.1\r\n\
        LOCATION: http://192.168.77.1:38405/rootDesc.xml\r\n\
        OPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n01-NLS: 1796115139\r\n\
        BOOTID.UPNP.ORG: 1796115139\r\nCONFIGID.UPNP.ORG: 1337\r\n\r\n";

    #[test]
    fn msearch_is_well_formed() {
        let m = msearch(IGD);
        assert!(m.starts_with("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"));
        assert!(m.contains("\r\nMAN: \"ssdp:discover\"\r\n"));
        assert!(m.contains("\r\nMX: 1\r\n"));
        assert!(m.contains(&format!("\r\nST: {IGD}\r\n")));
        assert!(m.ends_with("\r\n\r\n"));
    }

    #[test]
    fn answers() {
        let swap = |from: &str, to: &str| ANSWER.replace(from, to);
        let loc = |l: &str| swap("http://192.168.77.1:38405/rootDesc.xml", l);
        let huge = format!(
            "{}X-PAD: {}\r\n\r\n",
            &ANSWER[..ANSWER.len() - 2],
            "a".repeat(5000)
        );
        // (what, datagram, Ok(Some(url)) / Ok(None) / Err(text))
        type Want = Result<Option<&'static str>, &'static str>;
        let cases: Vec<(&str, String, Want)> = vec![
            (
                "miniupnpd's answer",
                ANSWER.into(),
                Ok(Some("http://192.168.77.1:38405/rootDesc.xml")),
            ),
            (
                "headers are case-insensitive, LF alone is fine",
                swap("LOCATION:", "location:")
                    .replace("\r\n", "\n")
                    .replace("ST:", "st:"),
                Ok(Some("http://192.168.77.1:38405/rootDesc.xml")),
            ),
            (
                "a service search target",
                swap(IGD, WAN_PPP),
                Ok(Some("http://192.168.77.1:38405/rootDesc.xml")),
            ),
            (
                "no port means 80",
                loc("http://192.168.77.1/d.xml"),
                Ok(Some("http://192.168.77.1/d.xml")),
            ),
            (
                "another search target is not ours",
                swap(IGD, "urn:schemas-upnp-org:device:MediaServer:1"),
                Ok(None),
            ),
            (
                "another host",
                loc("http://192.168.77.9:38405/rootDesc.xml"),
                Err("points to another host than the gateway 192.168.77.1"),
            ),
            (
                "a name, not the address",
                loc("http://router.lan:38405/rootDesc.xml"),
                Err("points to another host"),
            ),
            (
                "credentials",
                loc("http://u:p@192.168.77.1:38405/rootDesc.xml"),
                Err("points to another host"),
            ),
            (
                "https",
                loc("https://192.168.77.1/d.xml"),
                Err("is not plain http"),
            ),
            ("file", loc("file:///etc/passwd"), Err("is not plain http")),
            ("relative", loc("/rootDesc.xml"), Err("is not a URL")),
            (
                "no LOCATION",
                swap("LOCATION: http://192.168.77.1:38405/rootDesc.xml\r\n", ""),
                Err("without LOCATION"),
            ),
            (
                "two LOCATIONs",
                swap("EXT:\r\n", "LOCATION: http://192.168.77.9/x\r\n"),
                Err("two LOCATION headers"),
            ),
            (
                "no ST",
                swap(
                    "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n",
                    "",
                ),
                Err("without ST"),
            ),
            (
                "long LOCATION",
                loc(&format!("http://192.168.77.1/{}", "a".repeat(600))),
                Err("LOCATION over 512 bytes"),
            ),
            ("huge", huge, Err("over 4096 bytes")),
            (
                "a NOTIFY",
                swap("HTTP/1.1 200 OK", "NOTIFY * HTTP/1.1"),
                Err("not HTTP/1.1"),
            ),
            (
                "an error status",
                swap("200 OK", "404 Not Found"),
                Err("status 404"),
            ),
            (
                "truncated",
                ANSWER[..ANSWER.len() - 2].into(),
                Err("empty line"),
            ),
            ("no colon", swap("EXT:", "EXT"), Err("without a colon")),
            ("empty", String::new(), Err("empty line")),
        ];
        for (what, datagram, want) in cases {
            match (want, parse_answer(datagram.as_bytes(), GW)) {
                (Ok(Some(url)), Ok(Some(got))) => assert_eq!(got.as_str(), url, "{what}"),
                (Ok(None), Ok(None)) => {}
                (Err(needle), Err(e)) => {
                    assert_eq!(e.protocol(), Protocol::Upnp, "{what}");
                    assert!(e.to_string().contains(needle), "{what}: {e}");
                }
                (want, got) => panic!("{what}: want {want:?}, got {got:?}"),
            }
        }
        let e = parse_answer(&[0xff, 0xfe, 0x00], GW).unwrap_err();
        assert!(e.to_string().contains("not text"), "{e}");
    }
}
