//! The provider's answer, parsed exactly into a closed set of outcomes, and what each
//! outcome means for the record. Pure: status, headers and a bounded body in.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// The dyndns2 return codes (help.dyn.com/return-codes), as OVH uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    BadAuth,
    NotFqdn,
    NoHost,
    NumHost,
    Abuse,
    BadAgent,
    BadSys,
    NotDonator,
    NotYours,
    DnsErr,
    Emergency,
}

impl Code {
    pub const ALL: [Code; 11] = [
        Code::BadAuth,
        Code::NotFqdn,
        Code::NoHost,
        Code::NumHost,
        Code::Abuse,
        Code::BadAgent,
        Code::BadSys,
        Code::NotDonator,
        Code::NotYours,
        Code::DnsErr,
        Code::Emergency,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadAuth => "badauth",
            Code::NotFqdn => "notfqdn",
            Code::NoHost => "nohost",
            Code::NumHost => "numhost",
            Code::Abuse => "abuse",
            Code::BadAgent => "badagent",
            Code::BadSys => "badsys",
            Code::NotDonator => "!donator",
            Code::NotYours => "!yours",
            Code::DnsErr => "dnserr",
            Code::Emergency => "911",
        }
    }

    fn parse(token: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == token)
    }

    /// What the operator should do about it.
    fn hint(self) -> &'static str {
        match self {
            Code::BadAuth => "check username and password (the DynHost login, not the OVH account)",
            Code::NotFqdn => "hostname must be a fully qualified name such as home.example.com",
            Code::NoHost => {
                "create the DynHost record for this hostname in the OVH control panel, or fix hostname"
            }
            Code::NumHost => "too many hosts for this login: contact OVH support",
            Code::Abuse => {
                "the provider blocked this host for abuse: unblock it in the control panel"
            }
            Code::BadAgent => {
                "the provider refused this client: report it to dynhost's maintainers"
            }
            Code::BadSys => "the provider rejected the request format: check provider.url",
            Code::NotDonator => "the request needs a paid feature: check the record's settings",
            Code::NotYours => {
                "this login may not update this hostname: check username and hostname"
            }
            Code::DnsErr | Code::Emergency => "the provider has a problem on its side",
        }
    }
}

/// Everything the provider may answer, closed. Only `Good` and `NoChange` publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Good(Option<IpAddr>),
    NoChange(Option<IpAddr>),
    Code(Code),
    /// A redirect. Never followed: the endpoint must be fixed in the config.
    Redirect {
        status: u16,
        location: String,
    },
    /// OVH's JSON error body, e.g. `{"class":"Client::BadRequest","message":"..."}`.
    ProviderError {
        status: u16,
        class: String,
        message: String,
    },
    /// A non-2xx status without a recognisable body.
    Status(u16),
    /// A 2xx body whose first line is none of the above (HTML from a proxy, garbage,
    /// an upper-case keyword, too large).
    Unparseable {
        status: u16,
        excerpt: String,
    },
    /// A 2xx answer with no body (or only blank lines), 204 included.
    Empty {
        status: u16,
    },
}

/// A failure to get any reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Nothing reached the provider (DNS, connect, TLS handshake).
    NotSent(String),
    /// The request may have reached the provider, but no complete answer came back.
    Unconfirmed(String),
    /// The provider's certificate is not valid at our time: after a boot without an
    /// RTC the clock is in the past. Nothing was sent; retried when the clock is set.
    ClockWrong(String),
}

/// The result of one update attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Reply(Reply),
    Transport(Transport),
    /// `--dry-run`: the request was logged, not sent. Counts as published in memory only.
    DryRun,
    /// The OVH API (a record with `provider = "ovh-api"`) refused or failed; its
    /// sentence names the fix (`ovh::ApiError`).
    Api(ApiFailure),
}

/// An OVH API failure as the engine sees it: a token, the sentence, and its class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiFailure {
    /// `api-not-granted`, `api-credential`, `api-429`...
    pub token: String,
    pub sentence: String,
    /// `None`: blocked until the config is reloaded; `Some(floor)`: retried, no sooner.
    pub retry: Option<Duration>,
    /// An identity error (credentials, rights, zone): it holds for both families.
    pub identity: bool,
}

/// What an outcome means for the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Published,
    /// Retry with backoff, never sooner than `floor`.
    Transient {
        floor: Duration,
    },
    /// Stop sending for this record until the config is reloaded.
    Fatal,
}

/// The No-IP/dyn rule for 911 and dnserr: retry no sooner than 30 minutes.
pub const PROVIDER_TROUBLE_FLOOR: Duration = Duration::from_secs(30 * 60);

impl Outcome {
    pub fn class(&self) -> Class {
        let transient = Class::Transient {
            floor: Duration::ZERO,
        };
        let trouble = Class::Transient {
            floor: PROVIDER_TROUBLE_FLOOR,
        };
        match self {
            Outcome::DryRun => Class::Published,
            Outcome::Api(a) => match a.retry {
                Some(floor) => Class::Transient { floor },
                None => Class::Fatal,
            },
            Outcome::Transport(_) => transient,
            Outcome::Reply(r) => match r {
                Reply::Good(_) | Reply::NoChange(_) => Class::Published,
                Reply::Code(Code::DnsErr | Code::Emergency) => trouble,
                Reply::Code(_) => Class::Fatal,
                Reply::Redirect { .. } => Class::Fatal,
                // The status decides, with or without OVH's JSON error body.
                Reply::Status(429) | Reply::ProviderError { status: 429, .. } => trouble,
                Reply::ProviderError { status, .. } | Reply::Status(status) => {
                    if *status >= 500 {
                        transient
                    } else {
                        Class::Fatal
                    }
                }
                Reply::Unparseable { .. } | Reply::Empty { .. } => transient,
            },
        }
    }

    /// Whether a fatal answer is about the login or the host, and so holds for both
    /// families of the record, rather than about this one request.
    pub fn concerns_record(&self) -> bool {
        if let Outcome::Api(a) = self {
            return a.identity;
        }
        matches!(
            self,
            Outcome::Reply(
                Reply::Code(
                    Code::BadAuth
                        | Code::NotFqdn
                        | Code::NoHost
                        | Code::NumHost
                        | Code::Abuse
                        | Code::BadAgent
                        | Code::NotYours
                ) | Reply::Status(401 | 403)
                    | Reply::ProviderError {
                        status: 401 | 403,
                        ..
                    }
            )
        )
    }

    /// A short token for the state file and `status`: `good`, `badauth`, `http-503`...
    pub fn token(&self) -> String {
        match self {
            Outcome::DryRun => "dry-run".into(),
            Outcome::Api(a) => a.token.clone(),
            Outcome::Transport(Transport::NotSent(_)) => "not-sent".into(),
            Outcome::Transport(Transport::Unconfirmed(_)) => "unconfirmed".into(),
            Outcome::Transport(Transport::ClockWrong(_)) => "clock".into(),
            Outcome::Reply(r) => match r {
                Reply::Good(_) => "good".into(),
                Reply::NoChange(_) => "nochg".into(),
                Reply::Code(c) => c.as_str().into(),
                Reply::Redirect { status, .. } => format!("redirect-{status}"),
                Reply::ProviderError { status, .. } => format!("error-{status}"),
                Reply::Status(s) => format!("http-{s}"),
                Reply::Unparseable { status, .. } => format!("garbage-{status}"),
                Reply::Empty { status } => format!("empty-{status}"),
            },
        }
    }

    /// What the operator can do, for fatal outcomes.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Outcome::Reply(Reply::Code(c)) => Some(c.hint()),
            Outcome::Reply(Reply::Status(401)) => Some(Code::BadAuth.hint()),
            Outcome::Reply(Reply::Status(404)) => Some(Code::NoHost.hint()),
            Outcome::Reply(Reply::Redirect { .. }) => {
                Some("the endpoint moved: set provider.url to the new address")
            }
            Outcome::Reply(Reply::ProviderError { .. } | Reply::Status(_)) => {
                Some("check provider.url, hostname and username")
            }
            Outcome::Api(_) => Some("the reply says what to fix; then reload the config"),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::DryRun => f.write_str("dry run, nothing sent"),
            Outcome::Api(a) => f.write_str(&a.sentence),
            Outcome::Transport(Transport::NotSent(e)) => write!(f, "not sent: {e}"),
            Outcome::Transport(Transport::ClockWrong(e)) => write!(f, "the clock is wrong: {e}"),
            Outcome::Transport(Transport::Unconfirmed(e)) => {
                write!(f, "could not confirm the update: {e}")
            }
            Outcome::Reply(r) => match r {
                Reply::Good(Some(a)) => write!(f, "good {a}"),
                Reply::Good(None) => f.write_str("good"),
                Reply::NoChange(Some(a)) => write!(f, "nochg {a}"),
                Reply::NoChange(None) => f.write_str("nochg"),
                Reply::Code(c) => f.write_str(c.as_str()),
                Reply::Redirect { status, location } => {
                    write!(f, "HTTP {status} redirect to {location:?} (not followed)")
                }
                Reply::ProviderError {
                    status,
                    class,
                    message,
                } => write!(f, "HTTP {status} {class}: {message:?}"),
                Reply::Status(s) => write!(f, "HTTP {s}"),
                Reply::Unparseable { status, excerpt } => {
                    write!(f, "unrecognised reply (HTTP {status}): {excerpt:?}")
                }
                Reply::Empty { status } => write!(f, "an empty reply (HTTP {status})"),
            },
        }
    }
}

/// How much of a body we look at. dyndns2 answers are a line; anything longer is not one.
pub const BODY_LIMIT: usize = 4096;

/// Parses one HTTP answer. `body` holds at most `BODY_LIMIT` bytes; `truncated` says the
/// provider sent more.
///
/// A redirect is a redirect; any other non-2xx status decides by itself (OVH's JSON
/// error body only lends its message); a 2xx answer is judged by its first non-empty
/// line alone, which must be exactly a dyndns2 keyword.
pub fn parse(status: u16, location: Option<&str>, body: &[u8], truncated: bool) -> Reply {
    let text = String::from_utf8_lossy(body);
    if (300..400).contains(&status) {
        return Reply::Redirect {
            status,
            location: sanitize(location.unwrap_or("")),
        };
    }
    if !(200..300).contains(&status) {
        return match json_error(&text) {
            Some((class, message)) => Reply::ProviderError {
                status,
                class,
                message,
            },
            None => Reply::Status(status),
        };
    }
    if truncated {
        return Reply::Unparseable {
            status,
            excerpt: format!("{} bytes or more", BODY_LIMIT),
        };
    }
    let Some(first) = text.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return Reply::Empty { status };
    };
    let mut words = first.split_ascii_whitespace();
    let keyword = words.next().unwrap_or("");
    let addr = || words.clone().next().and_then(|w| w.parse().ok());
    match keyword {
        "good" => Reply::Good(addr()),
        "nochg" => Reply::NoChange(addr()),
        other => match Code::parse(other) {
            Some(code) => Reply::Code(code),
            None => Reply::Unparseable {
                status,
                excerpt: sanitize(&text),
            },
        },
    }
}

/// `class` and `message` from OVH's JSON error body (top-level strings).
fn json_error(text: &str) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let field = |k| v.get(k).and_then(serde_json::Value::as_str);
    let class = field("class")?;
    Some((sanitize(class), sanitize(field("message").unwrap_or(""))))
}

/// Bounds and cleans provider text before it reaches a log line or the state file.
fn sanitize(s: &str) -> String {
    const MAX: usize = 120;
    let mut out: String = s
        .trim()
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.trim().chars().count() > MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Reply {
        parse(200, None, body.as_bytes(), false)
    }

    #[test]
    fn success_replies() {
        let a: IpAddr = "203.0.113.5".parse().unwrap();
        assert_eq!(ok("good 203.0.113.5"), Reply::Good(Some(a)));
        assert_eq!(ok("good 203.0.113.5\n"), Reply::Good(Some(a)));
        assert_eq!(ok("nochg 203.0.113.5\r\n"), Reply::NoChange(Some(a)));
        assert_eq!(ok("good"), Reply::Good(None));
        assert_eq!(ok("nochg 000.000.000.000"), Reply::NoChange(None));
        assert_eq!(
            ok("good 2001:db8::1"),
            Reply::Good(Some("2001:db8::1".parse().unwrap()))
        );
    }

    #[test]
    fn every_code_is_recognised_and_classified() {
        for code in Code::ALL {
            let r = ok(code.as_str());
            assert_eq!(r, Reply::Code(code));
            let class = Outcome::Reply(r).class();
            match code {
                Code::DnsErr | Code::Emergency => assert_eq!(
                    class,
                    Class::Transient {
                        floor: PROVIDER_TROUBLE_FLOOR
                    }
                ),
                _ => assert_eq!(class, Class::Fatal, "{code:?}"),
            }
            // A failed status decides by itself: a 5xx page saying "abuse" blocks
            // nothing, a 401 is a 401.
            assert_eq!(
                parse(401, None, code.as_str().as_bytes(), false),
                Reply::Status(401)
            );
            assert_eq!(
                parse(503, None, code.as_str().as_bytes(), false),
                Reply::Status(503)
            );
        }
    }

    #[test]
    fn only_the_first_non_empty_line_counts() {
        assert_eq!(ok("\n\n  good 192.0.2.1\nsome trailer\n"), {
            Reply::Good(Some("192.0.2.1".parse().unwrap()))
        });
        // An HTML page that happens to hold a line starting with a keyword.
        let html = "<html>\n<body>\ngood 192.0.2.1\n</body></html>";
        assert!(
            matches!(ok(html), Reply::Unparseable { .. }),
            "{:?}",
            ok(html)
        );
        assert!(matches!(
            ok("X-Debug: 1\nbadauth\ngood 192.0.2.1"),
            Reply::Unparseable { .. }
        ));
    }

    #[test]
    fn empty_answers_are_their_own_class_and_never_publish() {
        for (status, body) in [(200, ""), (200, "\n \r\n"), (204, "")] {
            let r = parse(status, None, body.as_bytes(), false);
            assert_eq!(r, Reply::Empty { status });
            assert!(matches!(Outcome::Reply(r).class(), Class::Transient { .. }));
        }
    }

    #[test]
    fn keywords_are_exact() {
        for body in [
            "GOOD 192.0.2.1",
            "Nochg 192.0.2.1",
            "BADAUTH",
            "goodish",
            "ok",
            "nochange",
            "badauth!",
        ] {
            assert!(
                matches!(ok(body), Reply::Unparseable { status: 200, .. }),
                "{body:?}"
            );
        }
    }

    #[test]
    fn success_words_need_a_success_status() {
        assert_eq!(
            parse(500, None, b"good 192.0.2.1", false),
            Reply::Status(500)
        );
        let page = b"<h1>Error</h1>\n911\nabuse\n";
        assert_eq!(parse(502, None, page, false), Reply::Status(502));
    }

    #[test]
    fn http_statuses() {
        let table = [
            (401, Class::Fatal),
            (403, Class::Fatal),
            (404, Class::Fatal),
            (400, Class::Fatal),
            (
                429,
                Class::Transient {
                    floor: PROVIDER_TROUBLE_FLOOR,
                },
            ),
            (
                500,
                Class::Transient {
                    floor: Duration::ZERO,
                },
            ),
            (
                503,
                Class::Transient {
                    floor: Duration::ZERO,
                },
            ),
        ];
        for (status, class) in table {
            let r = parse(status, None, b"", false);
            assert_eq!(r, Reply::Status(status));
            assert_eq!(Outcome::Reply(r).class(), class, "{status}");
        }
        let html = b"<html><body><h1>503 Service Unavailable</h1></body></html>";
        assert_eq!(parse(503, None, html, false), Reply::Status(503));
    }

    #[test]
    fn redirects_are_fatal_and_quoted() {
        let r = parse(301, Some("http://evil.example/\x1b[2J"), b"", false);
        assert_eq!(
            r,
            Reply::Redirect {
                status: 301,
                location: "http://evil.example/ [2J".into()
            }
        );
        assert_eq!(Outcome::Reply(r).class(), Class::Fatal);
    }

    #[test]
    fn ovh_json_errors() {
        let body = br#"{"class":"Client::BadRequest","message":"{'system': ['Missing data for required field.']}"}"#;
        let r = parse(400, None, body, false);
        assert_eq!(
            r,
            Reply::ProviderError {
                status: 400,
                class: "Client::BadRequest".into(),
                message: "{'system': ['Missing data for required field.']}".into()
            }
        );
        assert_eq!(Outcome::Reply(r).class(), Class::Fatal);
        let r = parse(
            404,
            None,
            br#"{ "message" : "no record found", "class": "Client::NotFound" }"#,
            false,
        );
        assert!(
            matches!(&r, Reply::ProviderError { status: 404, class, .. } if class == "Client::NotFound")
        );
        let r = parse(
            503,
            None,
            br#"{"class":"Server::Unavailable","message":"x\u0041"}"#,
            false,
        );
        assert!(matches!(&r, Reply::ProviderError { message, .. } if message == "xA"));
        assert_eq!(
            Outcome::Reply(r).class(),
            Class::Transient {
                floor: Duration::ZERO
            }
        );
    }

    #[test]
    fn garbage_is_bounded_and_transient() {
        let r = parse(200, None, &[0xff, 0xfe, 0x00, b'g', 0x1b], false);
        assert!(
            matches!(&r, Reply::Unparseable { excerpt, .. } if !excerpt.chars().any(char::is_control))
        );
        let long = "x".repeat(5000);
        let r = ok(&long);
        assert!(matches!(&r, Reply::Unparseable { excerpt, .. } if excerpt.chars().count() == 121));
        let r = parse(200, None, b"good 192.0.2.1\n", true);
        assert!(matches!(&r, Reply::Unparseable { .. }), "{r:?}");
        assert_eq!(
            Outcome::Reply(r).class(),
            Class::Transient {
                floor: Duration::ZERO
            }
        );
        let html = "<!DOCTYPE html><html><head><title>Login</title></head></html>";
        assert!(matches!(ok(html), Reply::Unparseable { .. }));
    }

    #[test]
    fn identity_failures_concern_the_whole_record() {
        let o = |r| Outcome::Reply(r);
        assert!(o(Reply::Code(Code::BadAuth)).concerns_record());
        assert!(o(Reply::Status(401)).concerns_record());
        assert!(!o(Reply::Code(Code::BadSys)).concerns_record());
        assert!(!o(Reply::Status(400)).concerns_record());
        assert!(!o(Reply::Status(503)).concerns_record());
    }

    #[test]
    fn a_json_error_body_is_classed_by_its_status() {
        let json = |status| {
            let body = br#"{"class":"Client::Forbidden","message":"no"}"#;
            Outcome::Reply(parse(status, None, body, false))
        };
        assert!(matches!(
            json(429).class(),
            Class::Transient { floor } if floor == PROVIDER_TROUBLE_FLOOR
        ));
        assert!(json(401).concerns_record() && json(403).concerns_record());
        assert_eq!(json(403).class(), Class::Fatal);
        assert!(!json(400).concerns_record());
        assert!(matches!(json(502).class(), Class::Transient { .. }));
    }

    #[test]
    fn tokens() {
        assert_eq!(Outcome::Reply(Reply::Good(None)).token(), "good");
        assert_eq!(
            Outcome::Reply(Reply::Code(Code::NotYours)).token(),
            "!yours"
        );
        assert_eq!(Outcome::Reply(Reply::Status(503)).token(), "http-503");
        assert_eq!(
            Outcome::Transport(Transport::Unconfirmed("timeout".into())).token(),
            "unconfirmed"
        );
    }
}
