//! PCP (RFC 6887): a MAP request, whose response carries the assigned external address,
//! its delete (lifetime 0), and the unsolicited ANNOUNCE. Pure.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{GatewayError, Protocol};

pub const VERSION: u8 = 2;
pub const OPCODE_ANNOUNCE: u8 = 0;
pub const OPCODE_MAP: u8 = 1;
/// The R bit of the second byte: set in responses.
pub const RESPONSE: u8 = 0x80;
pub const HEADER_LEN: usize = 24;
/// Header + MAP opcode data.
pub const MAP_LEN: usize = 60;
/// The largest PCP message (section 7).
pub const MAX_LEN: usize = 1100;
pub const PROTO_UDP: u8 = 17;

/// PCP result codes (RFC 6887 section 7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultCode {
    Success,
    UnsuppVersion,
    NotAuthorized,
    MalformedRequest,
    UnsuppOpcode,
    UnsuppOption,
    MalformedOption,
    NetworkFailure,
    NoResources,
    UnsuppProtocol,
    UserExQuota,
    CannotProvideExternal,
    AddressMismatch,
    ExcessiveRemotePeers,
    Unknown(u8),
}

impl ResultCode {
    pub fn from_u8(code: u8) -> ResultCode {
        use ResultCode::*;
        match code {
            0 => Success,
            1 => UnsuppVersion,
            2 => NotAuthorized,
            3 => MalformedRequest,
            4 => UnsuppOpcode,
            5 => UnsuppOption,
            6 => MalformedOption,
            7 => NetworkFailure,
            8 => NoResources,
            9 => UnsuppProtocol,
            10 => UserExQuota,
            11 => CannotProvideExternal,
            12 => AddressMismatch,
            13 => ExcessiveRemotePeers,
            n => Unknown(n),
        }
    }

    pub fn code(self) -> u8 {
        use ResultCode::*;
        match self {
            Success => 0,
            UnsuppVersion => 1,
            NotAuthorized => 2,
            MalformedRequest => 3,
            UnsuppOpcode => 4,
            UnsuppOption => 5,
            MalformedOption => 6,
            NetworkFailure => 7,
            NoResources => 8,
            UnsuppProtocol => 9,
            UserExQuota => 10,
            CannotProvideExternal => 11,
            AddressMismatch => 12,
            ExcessiveRemotePeers => 13,
            Unknown(n) => n,
        }
    }

    /// Operator text.
    pub fn meaning(self) -> &'static str {
        use ResultCode::*;
        match self {
            Success => "success",
            UnsuppVersion => "unsupported version",
            NotAuthorized => "not authorized: the gateway does not allow this client to map ports",
            MalformedRequest => "the gateway found our request malformed",
            UnsuppOpcode => "unsupported opcode",
            UnsuppOption => "unsupported option",
            MalformedOption => "malformed option",
            NetworkFailure => "network failure: the gateway has no public address",
            NoResources => "no resources (miniupnpd also says this when it has no public address)",
            UnsuppProtocol => "unsupported protocol",
            UserExQuota => "port mapping quota exceeded",
            CannotProvideExternal => "cannot provide an external address",
            AddressMismatch => {
                "address mismatch: our address is translated on the way (another NAT in between?)"
            }
            ExcessiveRemotePeers => "excessive remote peers",
            Unknown(_) => "unknown result code",
        }
    }

    /// The error this code means, or `None` for success.
    pub fn to_error(self) -> Option<GatewayError> {
        let protocol = Protocol::Pcp;
        Some(match self {
            ResultCode::Success => return None,
            ResultCode::NetworkFailure => GatewayError::NoPublicAddress {
                protocol,
                detail: "PCP result 7, network failure",
            },
            ResultCode::UnsuppVersion | ResultCode::UnsuppOpcode => GatewayError::Unsupported {
                protocol,
                detail: format!("result code {}: {}", self.code(), self.meaning()),
            },
            _ => GatewayError::ResultCode {
                protocol,
                code: u16::from(self.code()),
                meaning: self.meaning(),
            },
        })
    }
}

/// A MAP request for one UDP port of ours. With `lifetime` 0 it deletes the mapping
/// made with the same nonce, protocol and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapRequest {
    pub nonce: [u8; 12],
    /// Our own address, which must be the packet's source (else ADDRESS_MISMATCH).
    pub client: Ipv4Addr,
    pub internal_port: u16,
    pub lifetime: u32,
}

impl MapRequest {
    pub fn encode(&self) -> [u8; MAP_LEN] {
        let mut p = [0u8; MAP_LEN];
        p[0] = VERSION;
        p[1] = OPCODE_MAP;
        p[4..8].copy_from_slice(&self.lifetime.to_be_bytes());
        p[8..24].copy_from_slice(&self.client.to_ipv6_mapped().octets());
        p[24..36].copy_from_slice(&self.nonce);
        p[36] = PROTO_UDP;
        p[40..42].copy_from_slice(&self.internal_port.to_be_bytes());
        // Suggested external port 0 and address ::ffff:0.0.0.0: no preference, IPv4.
        p[44..60].copy_from_slice(&Ipv4Addr::UNSPECIFIED.to_ipv6_mapped().octets());
        p
    }

    /// The delete of this mapping.
    pub fn delete(&self) -> MapRequest {
        MapRequest {
            lifetime: 0,
            ..*self
        }
    }
}

/// A successful MAP response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapResponse {
    /// The lifetime the gateway granted (miniupnpd raises short ones to 120 s).
    pub lifetime: u32,
    pub epoch: u32,
    pub external_port: u16,
    /// As reported, not yet judged (see [`super::judge_reported`]).
    pub external: Ipv4Addr,
}

fn malformed(detail: String) -> GatewayError {
    GatewayError::Malformed {
        protocol: Protocol::Pcp,
        detail,
    }
}

/// Checks what every PCP response shares: size, version, R bit. Returns
/// (opcode, result code, lifetime, epoch).
fn header(packet: &[u8]) -> Result<(u8, ResultCode, u32, u32), GatewayError> {
    let len = packet.len();
    if len < 4 {
        return Err(malformed(format!("{len} bytes, too short")));
    }
    if packet[0] != VERSION {
        // A NAT-PMP-only gateway answers version 2 with a NAT-PMP "unsupported version";
        // a PCP server of another version answers UNSUPP_VERSION with its own version.
        if packet[0] == 0 && packet[1] & RESPONSE != 0 {
            return Err(GatewayError::Unsupported {
                protocol: Protocol::Pcp,
                detail: "the gateway answered in NAT-PMP (version 0)".into(),
            });
        }
        if packet[3] == ResultCode::UnsuppVersion.code() && packet[1] & RESPONSE != 0 {
            return Err(GatewayError::Unsupported {
                protocol: Protocol::Pcp,
                detail: format!("the gateway speaks PCP version {} only", packet[0]),
            });
        }
        return Err(malformed(format!(
            "version {}, expected {VERSION}",
            packet[0]
        )));
    }
    if len < HEADER_LEN {
        return Err(malformed(format!("{len} bytes, too short")));
    }
    if len > MAX_LEN || !len.is_multiple_of(4) {
        return Err(malformed(format!(
            "{len} bytes: not a multiple of 4 up to {MAX_LEN}"
        )));
    }
    if packet[1] & RESPONSE == 0 {
        return Err(malformed("a request, not a response (R bit clear)".into()));
    }
    let be32 =
        |i: usize| u32::from_be_bytes([packet[i], packet[i + 1], packet[i + 2], packet[i + 3]]);
    Ok((
        packet[1] & !RESPONSE,
        ResultCode::from_u8(packet[3]),
        be32(4),
        be32(8),
    ))
}

/// Parses the response to `request`. `Ok(None)`: a valid PCP message that does not
/// answer it (an ANNOUNCE, another nonce, another port): ignore it and keep waiting.
pub fn parse_map_response(
    packet: &[u8],
    request: &MapRequest,
) -> Result<Option<MapResponse>, GatewayError> {
    let (opcode, result, lifetime, epoch) = header(packet)?;
    if opcode == OPCODE_ANNOUNCE {
        return Ok(None);
    }
    if opcode != OPCODE_MAP {
        return Err(malformed(format!(
            "opcode {opcode}, expected {OPCODE_MAP} (MAP)"
        )));
    }
    let has_body = packet.len() >= MAP_LEN;
    if has_body {
        let port = u16::from_be_bytes([packet[40], packet[41]]);
        if packet[24..36] != request.nonce
            || packet[36] != PROTO_UDP
            || port != request.internal_port
        {
            return Ok(None);
        }
    }
    // An error response may be just the header (section 8.3): the code is all we learn.
    if let Some(e) = result.to_error() {
        return Err(e);
    }
    if !has_body {
        return Err(malformed(format!(
            "{} bytes, a MAP response has {MAP_LEN}",
            packet.len()
        )));
    }
    let mut ip = [0u8; 16];
    ip.copy_from_slice(&packet[44..60]);
    let Some(external) = Ipv6Addr::from(ip).to_ipv4_mapped() else {
        return Err(malformed(format!(
            "assigned external address {} is not IPv4",
            Ipv6Addr::from(ip)
        )));
    };
    Ok(Some(MapResponse {
        lifetime,
        epoch,
        external_port: u16::from_be_bytes([packet[42], packet[43]]),
        external,
    }))
}

/// Recognises an unsolicited ANNOUNCE (opcode 0, R bit, success) and returns its epoch.
/// It carries no address: it means "ask again now".
pub fn parse_announce(packet: &[u8]) -> Result<u32, GatewayError> {
    let (opcode, result, _, epoch) = header(packet)?;
    if opcode != OPCODE_ANNOUNCE {
        return Err(malformed(format!(
            "opcode {opcode}, expected {OPCODE_ANNOUNCE} (ANNOUNCE)"
        )));
    }
    if let Some(e) = result.to_error() {
        return Err(e);
    }
    Ok(epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const NONCE: [u8; 12] = [
        0xce, 0xc7, 0x57, 0x0e, 0xcd, 0x15, 0x05, 0x65, 0xd0, 0xf1, 0x7c, 0x30,
    ];

    fn request() -> MapRequest {
        MapRequest {
            nonce: NONCE,
            client: Ipv4Addr::new(192, 168, 77, 2),
            internal_port: 54437,
            lifetime: 30,
        }
    }

    // miniupnpd 2.3.1's answer to `request()` (captured), granting 120 s.
    const ANSWER: &str = "02810000 00000078 00000015 000000000000000000000000
        cec7570ecd150565d0f17c30 11000000 d4a5 d4a5 00000000000000000000ffffcb007108";

    #[test]
    fn map_request_layout() {
        let p = request().encode();
        let want = hex("02010000 0000001e 00000000000000000000ffffc0a84d02
            cec7570ecd150565d0f17c30 11000000 d4a5 0000 00000000000000000000ffff00000000");
        assert_eq!(p.to_vec(), want);
        let d = request().delete().encode();
        assert_eq!(&d[4..8], &[0, 0, 0, 0]);
        assert_eq!(&d[8..], &p[8..]);
    }

    #[test]
    fn map_responses() {
        let good = hex(ANSWER);
        let with = |i: usize, b: u8| {
            let mut p = good.clone();
            p[i] = b;
            p
        };
        let mut v6 = good.clone();
        v6[44..60].copy_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        let mut with_option = good.clone();
        with_option.extend_from_slice(&[0x01, 0x00, 0x00, 0x00]);
        // (what, packet, Ok(Some(addr)) / Ok(None) / Err(text))
        type Want = Result<Option<&'static str>, &'static str>;
        let cases: Vec<(&str, Vec<u8>, Want)> = vec![
            ("miniupnpd's answer", good.clone(), Ok(Some("203.0.113.8"))),
            ("options are skipped", with_option, Ok(Some("203.0.113.8"))),
            ("another nonce is not ours", with(24, 0), Ok(None)),
            ("another port is not ours", with(41, 0), Ok(None)),
            ("another protocol is not ours", with(36, 6), Ok(None)),
            (
                "an ANNOUNCE is not an answer",
                hex("02800000 00000000 00000000 000000000000000000000000"),
                Ok(None),
            ),
            (
                "miniupnpd without a public address: NO_RESOURCES",
                with(3, 8),
                Err("result code 8 (no resources"),
            ),
            (
                "network failure",
                with(3, 7),
                Err("no public address (PCP result 7"),
            ),
            (
                "not authorized",
                with(3, 2),
                Err("result code 2 (not authorized"),
            ),
            (
                "unknown result",
                with(3, 200),
                Err("result code 200 (unknown"),
            ),
            (
                "a header-only error",
                hex("02810004 00000000 00000015 000000000000000000000000"),
                Err("does not offer it (result code 4"),
            ),
            (
                "a header-only success",
                hex("02810000 00000078 00000015 000000000000000000000000"),
                Err("24 bytes, a MAP response has 60"),
            ),
            ("R bit clear", with(1, 0x01), Err("R bit clear")),
            ("PEER opcode", with(1, 0x82), Err("opcode 2, expected 1")),
            (
                "NAT-PMP answer",
                hex("0081000100000002"),
                Err("answered in NAT-PMP"),
            ),
            (
                "UNSUPP_VERSION from a version 1 server",
                hex("01810001 00000000 00000015 000000000000000000000000"),
                Err("speaks PCP version 1 only"),
            ),
            ("version 3", with(0, 3), Err("version 3, expected 2")),
            ("empty", vec![], Err("0 bytes, too short")),
            ("short", good[..20].to_vec(), Err("20 bytes, too short")),
            ("not a multiple of 4", good[..58].to_vec(), Err("58 bytes")),
            ("oversized", [2, 0x81, 0, 0].repeat(300), Err("1200 bytes")),
            (
                "an IPv6 external address",
                v6,
                Err("2001:db8::1 is not IPv4"),
            ),
        ];
        for (what, packet, want) in cases {
            let got = parse_map_response(&packet, &request());
            match (want, got) {
                (Ok(Some(addr)), Ok(Some(r))) => {
                    assert_eq!(r.external, addr.parse::<Ipv4Addr>().unwrap(), "{what}");
                    assert_eq!(r.lifetime, 120, "{what}");
                    assert_eq!(r.epoch, 21, "{what}");
                    assert_eq!(r.external_port, 54437, "{what}");
                }
                (Ok(None), Ok(None)) => {}
                (Err(needle), Err(e)) => {
                    assert_eq!(e.protocol(), Protocol::Pcp, "{what}");
                    assert!(e.to_string().contains(needle), "{what}: {e}");
                }
                (want, got) => panic!("{what}: want {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn announces() {
        // miniupnpd 2.3.1's ANNOUNCE (captured): epoch 0.
        let good = hex("02800000 00000000 00000000 000000000000000000000000");
        assert_eq!(parse_announce(&good), Ok(0));
        let mut epoch = good.clone();
        epoch[8..12].copy_from_slice(&77u32.to_be_bytes());
        assert_eq!(parse_announce(&epoch), Ok(77));
        let bad: Vec<(&str, Vec<u8>, &str)> = vec![
            ("a MAP response", hex(ANSWER), "opcode 1, expected 0"),
            (
                "a request",
                hex("02000000 00000000 00000000 000000000000000000000000"),
                "R bit",
            ),
            ("short", good[..12].to_vec(), "12 bytes, too short"),
            (
                "NAT-PMP",
                hex("008000000000000bcb007108"),
                "answered in NAT-PMP",
            ),
            (
                "failure",
                hex("02800007 00000000 00000000 000000000000000000000000"),
                "no public address",
            ),
            ("odd length", [good.clone(), vec![0]].concat(), "25 bytes"),
        ];
        for (what, packet, needle) in bad {
            let e = parse_announce(&packet).unwrap_err();
            assert!(e.to_string().contains(needle), "{what}: {e}");
        }
    }

    #[test]
    fn result_codes_round_trip() {
        for n in 0..=255u8 {
            assert_eq!(ResultCode::from_u8(n).code(), n);
        }
        assert!(ResultCode::Success.to_error().is_none());
    }
}
