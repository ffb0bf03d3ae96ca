//! NAT-PMP (RFC 6886): the public address request and its answer, which is also the
//! format of the gateway's announcements. Pure.

use std::net::Ipv4Addr;

use super::{GatewayError, Protocol};

/// The gateway's NAT-PMP (and PCP) server port.
pub const SERVER_PORT: u16 = 5351;
/// Where announcements go (224.0.0.1:5350).
pub const ANNOUNCE_PORT: u16 = 5350;
/// The public address request: version 0, opcode 0.
pub const REQUEST: [u8; 2] = [0, 0];
/// The public address answer's opcode (128 + the request's 0).
pub const OPCODE_ANSWER: u8 = 128;
/// The one valid length of a successful answer.
pub const ANSWER_LEN: usize = 12;

/// NAT-PMP result codes (RFC 6886 section 3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultCode {
    Success,
    UnsupportedVersion,
    NotAuthorized,
    /// The gateway has no public address (e.g. no DHCP lease on its WAN yet).
    NetworkFailure,
    OutOfResources,
    UnsupportedOpcode,
    Unknown(u16),
}

impl ResultCode {
    pub fn from_u16(code: u16) -> ResultCode {
        match code {
            0 => ResultCode::Success,
            1 => ResultCode::UnsupportedVersion,
            2 => ResultCode::NotAuthorized,
            3 => ResultCode::NetworkFailure,
            4 => ResultCode::OutOfResources,
            5 => ResultCode::UnsupportedOpcode,
            n => ResultCode::Unknown(n),
        }
    }

    pub fn code(self) -> u16 {
        match self {
            ResultCode::Success => 0,
            ResultCode::UnsupportedVersion => 1,
            ResultCode::NotAuthorized => 2,
            ResultCode::NetworkFailure => 3,
            ResultCode::OutOfResources => 4,
            ResultCode::UnsupportedOpcode => 5,
            ResultCode::Unknown(n) => n,
        }
    }

    /// Operator text.
    pub fn meaning(self) -> &'static str {
        match self {
            ResultCode::Success => "success",
            ResultCode::UnsupportedVersion => "unsupported version",
            ResultCode::NotAuthorized => "not authorized or refused: NAT-PMP is disabled",
            ResultCode::NetworkFailure => "network failure: the gateway has no public address",
            ResultCode::OutOfResources => "out of resources",
            ResultCode::UnsupportedOpcode => "unsupported opcode",
            ResultCode::Unknown(_) => "unknown result code",
        }
    }

    /// The error this code means, or `None` for success.
    pub fn to_error(self) -> Option<GatewayError> {
        let protocol = Protocol::NatPmp;
        Some(match self {
            ResultCode::Success => return None,
            ResultCode::NetworkFailure => GatewayError::NoPublicAddress {
                protocol,
                detail: "NAT-PMP result 3, network failure",
            },
            ResultCode::UnsupportedVersion | ResultCode::UnsupportedOpcode => {
                GatewayError::Unsupported {
                    protocol,
                    detail: format!("result code {}: {}", self.code(), self.meaning()),
                }
            }
            _ => GatewayError::ResultCode {
                protocol,
                code: self.code(),
                meaning: self.meaning(),
            },
        })
    }
}

/// A successful answer (or announcement): the gateway's epoch and public address, as
/// reported (not yet judged: see [`super::judge_reported`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicAddress {
    /// Seconds since the gateway's mapping table started; going backwards means it restarted.
    pub epoch: u32,
    pub addr: Ipv4Addr,
}

fn malformed(detail: String) -> GatewayError {
    GatewayError::Malformed {
        protocol: Protocol::NatPmp,
        detail,
    }
}

/// Parses an answer to [`REQUEST`], or an announcement (the same 12 bytes).
///
/// A failure answer may be shorter (miniupnpd sends 8 bytes for an unsupported
/// version); a success must be exactly 12 bytes. A version-2 packet means the gateway
/// speaks PCP, not NAT-PMP.
pub fn parse(packet: &[u8]) -> Result<PublicAddress, GatewayError> {
    let len = packet.len();
    if len < 2 {
        return Err(malformed(format!("{len} bytes, too short")));
    }
    match packet[0] {
        0 => {}
        2 if len >= 4 => {
            return Err(GatewayError::Unsupported {
                protocol: Protocol::NatPmp,
                detail: "the gateway answered in PCP (version 2)".into(),
            });
        }
        v => return Err(malformed(format!("version {v}, expected 0"))),
    }
    if len > ANSWER_LEN {
        return Err(malformed(format!("{len} bytes, expected {ANSWER_LEN}")));
    }
    if packet[1] != OPCODE_ANSWER {
        return Err(malformed(format!(
            "opcode {}, expected {OPCODE_ANSWER} (public address answer)",
            packet[1]
        )));
    }
    if len < 4 {
        return Err(malformed(format!("{len} bytes, too short")));
    }
    let result = ResultCode::from_u16(u16::from_be_bytes([packet[2], packet[3]]));
    if let Some(e) = result.to_error() {
        return Err(e);
    }
    if len != ANSWER_LEN {
        return Err(malformed(format!("{len} bytes, expected {ANSWER_LEN}")));
    }
    Ok(PublicAddress {
        epoch: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
        addr: Ipv4Addr::new(packet[8], packet[9], packet[10], packet[11]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn request_is_version_0_opcode_0() {
        assert_eq!(REQUEST, [0, 0]);
    }

    #[test]
    fn answers() {
        // (what, packet in hex, Ok(epoch, addr) or Err(text the error contains))
        type Want = Result<(u32, &'static str), &'static str>;
        let table: &[(&str, &str, Want)] = &[
            // Captured from miniupnpd 2.3.1.
            (
                "miniupnpd's answer",
                "008000000000000acb007107",
                Ok((10, "203.0.113.7")),
            ),
            (
                "an announcement is the same format",
                "008000000000000bcb007108",
                Ok((11, "203.0.113.8")),
            ),
            (
                "a CGNAT address parses; judging is later",
                "008000000000000364400102",
                Ok((3, "100.64.1.2")),
            ),
            (
                "epoch is big-endian",
                "0080000001020304c0000201",
                Ok((0x01020304, "192.0.2.1")),
            ),
            (
                "result 3 from miniupnpd without a public address",
                "008000030000000200000000",
                Err("no public address (NAT-PMP result 3"),
            ),
            (
                "result 2",
                "008000020000000200000000",
                Err("result code 2 (not authorized"),
            ),
            ("result 4", "008000040000000200000000", Err("result code 4")),
            (
                "unknown result",
                "0080010000000002cb007107",
                Err("result code 256 (unknown"),
            ),
            (
                "miniupnpd's 8-byte unsupported version",
                "0080000100000002",
                Err("does not offer it (result code 1"),
            ),
            (
                "unsupported opcode",
                "0080000500000002",
                Err("does not offer it (result code 5"),
            ),
            ("empty", "", Err("0 bytes, too short")),
            ("one byte", "00", Err("1 bytes, too short")),
            ("three bytes", "008000", Err("3 bytes, too short")),
            (
                "short success",
                "0080000000000001cb0071",
                Err("11 bytes, expected 12"),
            ),
            (
                "trailing bytes",
                "008000000000000acb00710700",
                Err("13 bytes, expected 12"),
            ),
            (
                "wrong version",
                "018000000000000acb007107",
                Err("version 1, expected 0"),
            ),
            (
                "a PCP answer",
                "028100000000007800000015000000000000000000000000",
                Err("answered in PCP"),
            ),
            (
                "our own request echoed",
                "0000",
                Err("opcode 0, expected 128"),
            ),
            (
                "a mapping answer",
                "008100000000000acb007107",
                Err("opcode 129, expected 128"),
            ),
            (
                "garbage",
                "ffffffffffffffffffffffff",
                Err("version 255, expected 0"),
            ),
        ];
        for (what, packet, want) in table {
            let got = parse(&hex(packet));
            match (want, got) {
                (Ok((epoch, addr)), Ok(a)) => {
                    assert_eq!(a.epoch, *epoch, "{what}");
                    assert_eq!(a.addr, addr.parse::<Ipv4Addr>().unwrap(), "{what}");
                }
                (Err(needle), Err(e)) => {
                    assert_eq!(e.protocol(), Protocol::NatPmp, "{what}");
                    assert!(e.to_string().contains(needle), "{what}: {e}");
                }
                (want, got) => panic!("{what}: want {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn result_codes_round_trip() {
        for n in 0..8 {
            assert_eq!(ResultCode::from_u16(n).code(), n);
        }
        assert_eq!(ResultCode::from_u16(3), ResultCode::NetworkFailure);
        assert!(ResultCode::Success.to_error().is_none());
        assert!(
            ResultCode::NetworkFailure
                .to_error()
                .unwrap()
                .is_about_upstream()
        );
    }

    #[test]
    fn long_garbage_is_bounded() {
        let big = vec![0u8; 1 << 16];
        let e = parse(&big).unwrap_err();
        assert!(e.to_string().contains("65536 bytes, expected 12"), "{e}");
    }
}
