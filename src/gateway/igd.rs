//! UPnP IGD: the control URL of the WAN connection service from the device description,
//! and the SOAP `GetExternalIPAddress` exchange. Pure.

use std::net::Ipv4Addr;

use reqwest::Url;

use super::ssdp::check_gateway_url;
use super::xml::{self, Event};
use super::{GatewayError, Protocol, sanitize};

/// The services that answer `GetExternalIPAddress`, most preferred first.
pub const SERVICES: [&str; 3] = [
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
];
/// The largest device description read (miniupnpd's is about 3 KiB).
pub const MAX_DESCRIPTION: usize = 64 * 1024;
/// The largest SOAP answer read (miniupnpd's is about 400 bytes).
pub const MAX_SOAP: usize = 16 * 1024;
/// The longest text accepted in one field (serviceType, controlURL, URLBase, address).
const MAX_FIELD: usize = 512;
/// The most `<service>` entries a description may list.
const MAX_SERVICE_ENTRIES: usize = 64;

/// One service to ask, with its absolute control URL (checked: http, on the gateway).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Control {
    pub service_type: &'static str,
    pub url: Url,
}

fn malformed(detail: String) -> GatewayError {
    GatewayError::Malformed {
        protocol: Protocol::Upnp,
        detail,
    }
}

fn text(doc: &[u8], what: &str) -> Result<String, GatewayError> {
    match std::str::from_utf8(doc) {
        Ok(s) => Ok(s.to_string()),
        Err(_) => Err(malformed(format!("the {what} is not UTF-8 text"))),
    }
}

/// Appends `t` to a field, refusing fields longer than [`MAX_FIELD`].
fn push_field(field: &mut String, t: &str) -> Result<(), xml::Error> {
    if field.len() + t.len() > MAX_FIELD {
        return Err(xml::Error(format!("a field over {MAX_FIELD} bytes")));
    }
    field.push_str(t);
    Ok(())
}

/// The WAN connection services of a device description, in order of preference, with
/// their control URLs resolved against `URLBase` or, without one, `description_url`.
pub fn controls(
    description: &[u8],
    description_url: &Url,
    gateway: Ipv4Addr,
) -> Result<Vec<Control>, GatewayError> {
    if description.len() > MAX_DESCRIPTION {
        return Err(malformed(format!(
            "the device description is over {} KiB",
            MAX_DESCRIPTION / 1024
        )));
    }
    let doc = text(description, "device description")?;
    let mut base: Option<String> = None;
    let mut services: Vec<(String, String)> = Vec::new();
    let (mut st, mut ctl) = (String::new(), String::new());
    let mut root_seen = false;
    xml::walk(&doc, |path, ev| {
        let n = path.len();
        let in_service = n >= 3 && path[n - 3] == "serviceList" && path[n - 2] == "service";
        match ev {
            Event::Start(name) => {
                if n == 1 {
                    if name != "root" {
                        return Err(xml::Error(format!(
                            "the root element is <{}>, not <root>",
                            sanitize(name, 40)
                        )));
                    }
                    root_seen = true;
                }
                if name == "service" && n >= 2 && path[n - 2] == "serviceList" {
                    st.clear();
                    ctl.clear();
                }
            }
            Event::Text(t) if in_service && path[n - 1] == "serviceType" => {
                push_field(&mut st, &t)?
            }
            Event::Text(t) if in_service && path[n - 1] == "controlURL" => {
                push_field(&mut ctl, &t)?
            }
            Event::Text(t) if path == ["root", "URLBase"] => {
                push_field(base.get_or_insert_with(String::new), &t)?
            }
            Event::End("service") if n >= 2 && path[n - 2] == "serviceList" => {
                if services.len() == MAX_SERVICE_ENTRIES {
                    return Err(xml::Error(format!(
                        "more than {MAX_SERVICE_ENTRIES} services"
                    )));
                }
                services.push((st.trim().to_string(), ctl.trim().to_string()));
            }
            _ => {}
        }
        Ok(())
    })
    .map_err(|e| malformed(format!("the device description is not usable XML: {}", e.0)))?;
    if !root_seen {
        return Err(malformed("the device description has no <root>".into()));
    }
    let base_url = match &base {
        Some(b) => Url::parse(b.trim()).map_err(|e| {
            malformed(format!(
                "URLBase {:?} is not a URL: {e}",
                sanitize(b.trim(), 80)
            ))
        })?,
        None => description_url.clone(),
    };
    let mut found: Vec<Control> = Vec::new();
    let mut first_error = None;
    for wanted in SERVICES {
        for (st, ctl) in services
            .iter()
            .filter(|(st, _)| st.eq_ignore_ascii_case(wanted))
        {
            if ctl.is_empty() {
                first_error.get_or_insert_with(|| malformed(format!("{wanted} has no controlURL")));
                continue;
            }
            let resolved = base_url.join(ctl).map_err(|e| {
                malformed(format!(
                    "the controlURL {:?} of {st} is not a URL: {e}",
                    sanitize(ctl, 80)
                ))
            });
            match resolved.and_then(|url| check_gateway_url(&url, gateway, "control").map(|()| url))
            {
                Ok(url)
                    if !found
                        .iter()
                        .any(|c| c.url == url && c.service_type == wanted) =>
                {
                    found.push(Control {
                        service_type: wanted,
                        url,
                    })
                }
                Ok(_) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    if found.is_empty() {
        return Err(first_error.unwrap_or_else(|| GatewayError::Unsupported {
            protocol: Protocol::Upnp,
            detail: "its device description lists no WANIPConnection or WANPPPConnection service"
                .into(),
        }));
    }
    Ok(found)
}

/// The `SOAPAction` header value and the body of `GetExternalIPAddress` for a service.
pub fn soap_request(service_type: &str) -> (String, String) {
    let action = format!("\"{service_type}#GetExternalIPAddress\"");
    let body = format!(
        "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>\
         <u:GetExternalIPAddress xmlns:u=\"{service_type}\"></u:GetExternalIPAddress>\
         </s:Body></s:Envelope>\r\n"
    );
    (action, body)
}

/// Operator text for the UPnP error codes a gateway may return here.
fn upnp_error_meaning(code: u16) -> &'static str {
    match code {
        401 => "invalid action",
        402 => "invalid arguments",
        501 => "action failed",
        600..=699 => "the service refused the action",
        _ => "a SOAP fault",
    }
}

/// Parses the answer to `GetExternalIPAddress` (HTTP status and body): the address as
/// reported, not yet judged (see [`super::judge_reported`]).
pub fn parse_soap(status: u16, body: &[u8]) -> Result<Ipv4Addr, GatewayError> {
    if body.len() > MAX_SOAP {
        return Err(malformed(format!(
            "the SOAP answer is over {} KiB",
            MAX_SOAP / 1024
        )));
    }
    let doc = text(body, "SOAP answer")?;
    let mut addr: Option<String> = None;
    let mut fault = false;
    let (mut code, mut description) = (String::new(), String::new());
    xml::walk(&doc, |path, ev| {
        let n = path.len();
        let parent = if n >= 2 { path[n - 2] } else { "" };
        match ev {
            Event::Start(name) if n == 1 && name != "Envelope" => {
                return Err(xml::Error(format!(
                    "the root element is <{}>, not a SOAP <Envelope>",
                    sanitize(name, 40)
                )));
            }
            Event::Start("Fault") => fault = true,
            // The guard records the element; a second one is refused.
            Event::Start("NewExternalIPAddress")
                if parent == "GetExternalIPAddressResponse"
                    && addr.replace(String::new()).is_some() =>
            {
                return Err(xml::Error("two NewExternalIPAddress elements".into()));
            }
            Event::Text(t) if path[n - 1] == "NewExternalIPAddress" => {
                if let Some(a) = addr.as_mut() {
                    push_field(a, &t)?;
                }
            }
            Event::Text(t) if fault && path[n - 1] == "errorCode" => push_field(&mut code, &t)?,
            Event::Text(t) if fault && path[n - 1] == "errorDescription" => {
                push_field(&mut description, &t)?
            }
            _ => {}
        }
        Ok(())
    })
    .map_err(|e| malformed(format!("the SOAP answer is not usable XML: {}", e.0)))?;
    if fault {
        let Ok(code) = code.trim().parse::<u16>() else {
            return Err(malformed(format!(
                "a SOAP fault (HTTP {status}) without a UPnP error code"
            )));
        };
        if code == 401 || code == 602 {
            return Err(GatewayError::Unsupported {
                protocol: Protocol::Upnp,
                detail: format!(
                    "GetExternalIPAddress: UPnP error {code} {}",
                    sanitize(description.trim(), 60)
                ),
            });
        }
        return Err(GatewayError::ResultCode {
            protocol: Protocol::Upnp,
            code,
            meaning: upnp_error_meaning(code),
        });
    }
    if status != 200 {
        return Err(malformed(format!(
            "HTTP status {status} to GetExternalIPAddress, without a SOAP fault"
        )));
    }
    let Some(addr) = addr else {
        return Err(malformed(
            "the SOAP answer has no GetExternalIPAddressResponse/NewExternalIPAddress".into(),
        ));
    };
    let addr = addr.trim();
    if addr.is_empty() {
        return Err(GatewayError::NoPublicAddress {
            protocol: Protocol::Upnp,
            detail: "NewExternalIPAddress is empty",
        });
    }
    addr.parse().map_err(|_| {
        malformed(format!(
            "NewExternalIPAddress {:?} is not an IPv4 address",
            sanitize(addr, 60)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GW: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 1);

    /// miniupnpd 2.3.1's description (captured), trimmed to the structure that matters.
    const MINIUPNPD: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0" configId="1337"><specVersion><major>1</major><minor>1</minor></specVersion><device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType><friendlyName>Debian router</friendlyName><UDN>uuid:3d6b1a8e-1c2b-4f7a-9c55-5a1d2e3f4a5b</UDN><serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType><serviceId>urn:upnp-org:serviceId:L3Forwarding1</serviceId><SCPDURL>/L3F.xml</SCPDURL><controlURL>/ctl/L3F</controlURL><eventSubURL>/evt/L3F</eventSubURL></service></serviceList><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType><controlURL>/ctl/CmnIfCfg</controlURL></service></serviceList><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/WANIPCn.xml</SCPDURL><controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL></service><service><serviceType>urn:schemas-upnp-org:service:WANIPv6FirewallControl:1</serviceType><controlURL>/ctl/IP6FCtl</controlURL></service></serviceList></device></deviceList></device></deviceList><presentationURL>http://192.168.77.1/</presentationURL></device></root>"#;

    fn desc_url() -> Url {
        Url::parse("http://192.168.77.1:38405/rootDesc.xml").unwrap()
    }

    /// A description with these (serviceType, controlURL) pairs and an optional URLBase.
    fn describe(base: Option<&str>, services: &[(&str, &str)]) -> String {
        let base = base
            .map(|b| format!("<URLBase>{b}</URLBase>"))
            .unwrap_or_default();
        let list: String = services
            .iter()
            .map(|(st, c)| {
                format!(
                    "<service><serviceType>{st}</serviceType><controlURL>{c}</controlURL></service>"
                )
            })
            .collect();
        format!(
            "<?xml version=\"1.0\"?><root xmlns=\"urn:schemas-upnp-org:device-1-0\">{base}<device>\
             <deviceList><device><serviceList>{list}</serviceList></device></deviceList></device></root>"
        )
    }

    const IP1: &str = "urn:schemas-upnp-org:service:WANIPConnection:1";
    const IP2: &str = "urn:schemas-upnp-org:service:WANIPConnection:2";
    const PPP1: &str = "urn:schemas-upnp-org:service:WANPPPConnection:1";

    #[test]
    fn control_urls() {
        // (what, description, Ok([(type, url)]) / Err(text))
        type Want = Result<Vec<(&'static str, &'static str)>, &'static str>;
        let huge = format!("<root>{}</root>", " ".repeat(MAX_DESCRIPTION));
        let many = describe(None, &vec![(IP1, "/c"); MAX_SERVICE_ENTRIES + 1]);
        let cases: Vec<(&str, String, Want)> = vec![
            (
                "miniupnpd",
                MINIUPNPD.into(),
                Ok(vec![(IP2, "http://192.168.77.1:38405/ctl/IPConn")]),
            ),
            (
                "preference: IP:2, IP:1, PPP:1",
                describe(None, &[(PPP1, "/ppp"), (IP1, "/ip1"), (IP2, "/ip2")]),
                Ok(vec![
                    (IP2, "http://192.168.77.1:38405/ip2"),
                    (IP1, "http://192.168.77.1:38405/ip1"),
                    (PPP1, "http://192.168.77.1:38405/ppp"),
                ]),
            ),
            (
                "relative to the description URL",
                describe(None, &[(IP1, "ctl/x")]),
                Ok(vec![(IP1, "http://192.168.77.1:38405/ctl/x")]),
            ),
            (
                "relative to URLBase",
                describe(Some("http://192.168.77.1:5000/base/"), &[(IP1, "ctl")]),
                Ok(vec![(IP1, "http://192.168.77.1:5000/base/ctl")]),
            ),
            (
                "absolute control URL",
                describe(
                    None,
                    &[(PPP1, "http://192.168.77.1:49000/upnp/control/WANPPPConn1")],
                ),
                Ok(vec![(
                    PPP1,
                    "http://192.168.77.1:49000/upnp/control/WANPPPConn1",
                )]),
            ),
            (
                "a bad candidate is skipped when a good one exists",
                describe(None, &[(IP2, "http://192.0.2.9/x"), (IP1, "/ok")]),
                Ok(vec![(IP1, "http://192.168.77.1:38405/ok")]),
            ),
            (
                "whitespace around fields",
                describe(None, &[(&format!("\n {IP1} \n"), " /c ")]),
                Ok(vec![(IP1, "http://192.168.77.1:38405/c")]),
            ),
            (
                "URLBase to another host",
                describe(Some("http://192.0.2.9/"), &[(IP1, "ctl")]),
                Err("points to another host than the gateway"),
            ),
            (
                "control URL to another host",
                describe(None, &[(IP1, "http://10.0.0.9:80/ctl")]),
                Err("points to another host than the gateway"),
            ),
            (
                "https control URL",
                describe(None, &[(IP1, "https://192.168.77.1/ctl")]),
                Err("not plain http"),
            ),
            (
                "no controlURL",
                describe(None, &[(IP1, "")]),
                Err("has no controlURL"),
            ),
            (
                "no WAN service",
                describe(
                    None,
                    &[("urn:schemas-upnp-org:service:Layer3Forwarding:1", "/l3f")],
                ),
                Err("lists no WANIPConnection"),
            ),
            (
                "bad URLBase",
                describe(Some("::"), &[(IP1, "ctl")]),
                Err("URLBase"),
            ),
            ("not XML", "HTTP/1.1 200 OK".into(), Err("not usable XML")),
            (
                "HTML",
                "<html><body>hi</body></html>".into(),
                Err("<html>, not <root>"),
            ),
            ("unclosed", MINIUPNPD[..1000].into(), Err("not usable XML")),
            ("huge", huge, Err("over 64 KiB")),
            ("too many services", many, Err("more than 64 services")),
            (
                "a long field",
                describe(None, &[(IP1, &"/x".repeat(400))]),
                Err("a field over 512 bytes"),
            ),
        ];
        for (what, doc, want) in cases {
            match (want, controls(doc.as_bytes(), &desc_url(), GW)) {
                (Ok(list), Ok(got)) => {
                    let got: Vec<_> = got
                        .iter()
                        .map(|c| (c.service_type, c.url.as_str()))
                        .collect();
                    assert_eq!(got, list, "{what}");
                }
                (Err(needle), Err(e)) => {
                    assert_eq!(e.protocol(), Protocol::Upnp, "{what}");
                    assert!(e.to_string().contains(needle), "{what}: {e}");
                }
                (want, got) => panic!("{what}: want {want:?}, got {got:?}"),
            }
        }
        let e = controls(&[0xff, 0xfe], &desc_url(), GW).unwrap_err();
        assert!(e.to_string().contains("not UTF-8"), "{e}");
    }

    #[test]
    fn soap_request_names_the_service() {
        let (action, body) = soap_request(IP2);
        assert_eq!(action, format!("\"{IP2}#GetExternalIPAddress\""));
        assert!(body.contains(&format!("<u:GetExternalIPAddress xmlns:u=\"{IP2}\">")));
        xml::walk(&body, |_, _| Ok(())).unwrap();
    }

    fn envelope(inner: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?>\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>{inner}</s:Body></s:Envelope>"
        )
    }

    fn answer(addr: &str) -> String {
        envelope(&format!(
            "<u:GetExternalIPAddressResponse xmlns:u=\"{IP2}\"><NewExternalIPAddress>{addr}\
             </NewExternalIPAddress></u:GetExternalIPAddressResponse>"
        ))
    }

    fn fault(code: &str) -> String {
        envelope(&format!(
            "<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>\
             <UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>{code}</errorCode>\
             <errorDescription>Invalid Action</errorDescription></UPnPError></detail></s:Fault>"
        ))
    }

    #[test]
    fn soap_answers() {
        let cases: Vec<(&str, u16, String, Result<&str, &str>)> = vec![
            ("miniupnpd", 200, answer("203.0.113.8"), Ok("203.0.113.8")),
            (
                "whitespace",
                200,
                answer(" 203.0.113.8\n"),
                Ok("203.0.113.8"),
            ),
            (
                "CGNAT parses; judging is later",
                200,
                answer("100.64.1.2"),
                Ok("100.64.1.2"),
            ),
            (
                "0.0.0.0 parses; judging is later",
                200,
                answer("0.0.0.0"),
                Ok("0.0.0.0"),
            ),
            (
                "miniupnpd without a public address",
                200,
                answer(""),
                Err("no public address (NewExternalIPAddress is empty)"),
            ),
            (
                "an empty element",
                200,
                envelope(
                    "<u:GetExternalIPAddressResponse><NewExternalIPAddress/></u:GetExternalIPAddressResponse>",
                ),
                Err("no public address"),
            ),
            (
                "a name",
                200,
                answer("gw.example.net"),
                Err("not an IPv4 address"),
            ),
            (
                "IPv6",
                200,
                answer("2001:db8::1"),
                Err("not an IPv4 address"),
            ),
            (
                "invalid action",
                500,
                fault("401"),
                Err("does not offer it (GetExternalIPAddress: UPnP error 401 Invalid Action)"),
            ),
            (
                "action failed",
                500,
                fault("501"),
                Err("result code 501 (action failed)"),
            ),
            (
                "not authorized",
                500,
                fault("606"),
                Err("result code 606 (the service refused"),
            ),
            (
                "a fault without a code",
                500,
                fault("x"),
                Err("without a UPnP error code"),
            ),
            (
                "an HTML error",
                404,
                "<html><body>no</body></html>".into(),
                Err("not a SOAP <Envelope>"),
            ),
            ("an error status", 503, envelope(""), Err("HTTP status 503")),
            (
                "no answer element",
                200,
                envelope("<x/>"),
                Err("no GetExternalIPAddressResponse"),
            ),
            (
                "two addresses",
                200,
                envelope(
                    "<u:GetExternalIPAddressResponse><NewExternalIPAddress>192.0.2.1</NewExternalIPAddress><NewExternalIPAddress>192.0.2.2</NewExternalIPAddress></u:GetExternalIPAddressResponse>",
                ),
                Err("two NewExternalIPAddress"),
            ),
            ("not XML", 200, "203.0.113.8".into(), Err("not usable XML")),
            (
                "huge",
                200,
                answer(&" ".repeat(MAX_SOAP)),
                Err("over 16 KiB"),
            ),
            (
                "a long address",
                200,
                answer(&"1".repeat(600)),
                Err("a field over 512 bytes"),
            ),
            (
                "an entity trick",
                200,
                format!("<!DOCTYPE x>{}", answer("1.2.3.4")),
                Err("DOCTYPE"),
            ),
        ];
        for (what, status, body, want) in cases {
            match (want, parse_soap(status, body.as_bytes())) {
                (Ok(a), Ok(got)) => assert_eq!(got, a.parse::<Ipv4Addr>().unwrap(), "{what}"),
                (Err(needle), Err(e)) => {
                    assert_eq!(e.protocol(), Protocol::Upnp, "{what}");
                    assert!(e.to_string().contains(needle), "{what}: {e}");
                }
                (want, got) => panic!("{what}: want {want:?}, got {got:?}"),
            }
        }
    }
}
