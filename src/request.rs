//! `dynhost update`'s request: one type from the command line (clap parses it), through
//! the control socket (its line protocol carries it), to the engine (which alone decides
//! which records it concerns and refuses it when none).
//!
//! Its fields are checked once, where text becomes a value (`parse_interface`,
//! `parse_ip`), by every entry point alike.

use std::ffi::OsStr;
use std::net::IpAddr;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;

use crate::config::check_interface;
use crate::model::Family;
use crate::policy;

#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateRequest {
    /// Only the records that follow this interface.
    #[arg(short, long, value_name = "IF", value_parser = Checked(parse_interface))]
    pub interface: Option<String>,

    /// Publish this address instead of reading the interface (must be a global address).
    #[arg(long, value_name = "ADDR", value_parser = Checked(parse_ip))]
    pub ip: Option<IpAddr>,

    /// Send even when the address is unchanged, waiting to retry, or blocked.
    #[arg(long)]
    pub force: bool,
}

impl UpdateRequest {
    /// The family a hook's address limits the round to.
    pub fn family(&self) -> Option<Family> {
        self.ip.as_ref().map(Family::of)
    }
}

/// An interface name, as every entry point accepts it.
pub fn parse_interface(s: &str) -> Result<String, String> {
    check_interface(s).map(|()| s.to_string())
}

/// An address to publish: it must be a global unicast address. The error never echoes
/// more than a short excerpt of the input.
pub fn parse_ip(s: &str) -> Result<IpAddr, String> {
    let shown: String = s.chars().take(64).collect();
    let addr: IpAddr = s
        .parse()
        .map_err(|_| format!("{shown:?} is not an IPv4 or IPv6 address"))?;
    policy::classify(&addr).map_err(|why| {
        format!("{addr} is {why}; dynhost publishes only global unicast addresses")
    })?;
    Ok(addr)
}

/// A clap value parser whose errors never echo the raw argument (which may be huge or
/// hostile); the check's own message quotes a bounded excerpt.
#[derive(Clone)]
pub struct Checked<T>(pub fn(&str) -> Result<T, String>);

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Checked<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let name = arg.map_or_else(|| "value".to_string(), ToString::to_string);
        let fail =
            |kind, msg: String| clap::Error::raw(kind, format!("{name}: {msg}\n")).with_cmd(cmd);
        let s = value
            .to_str()
            .ok_or_else(|| fail(ErrorKind::InvalidUtf8, "not valid UTF-8".into()))?;
        (self.0)(s).map_err(|e| fail(ErrorKind::ValueValidation, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_arguments_are_checked() {
        assert!(parse_ip("203.0.113.5").is_ok());
        assert!(parse_ip("2001:db8::5").is_ok());
        for bad in [
            "10.0.0.1",
            "100.64.0.1",
            "fe80::1",
            "1.2.3",
            "$(reboot)",
            "203.0.113.5;id",
        ] {
            assert!(parse_ip(bad).is_err(), "{bad}");
        }
        let long = "9".repeat(10_000);
        assert!(parse_ip(&long).unwrap_err().len() < 200);
        assert!(parse_interface("ppp0").is_ok());
        assert!(parse_interface("ppp0; rm -rf /").is_err());
    }
}
