//! The settings themselves: one entry each. See `settings` for what an entry holds.
//! Adding a setting is one entry here plus the field it fills.

use std::time::Duration;

use super::Publisher;
use super::checks::{check_hostname, check_interface, check_username};
use super::notify;
use super::quote;
use super::settings::{Default, Kind, Setting, Target};
use crate::duration;
use crate::model::Source;
use crate::secret::Secret;

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

macro_rules! global {
    ($field:ident . $($rest:ident).+ , $as:ident, $show:expr) => {
        Target::Global {
            set: |c, v| c.$field.$($rest).+ = v.$as(),
            show: $show,
        }
    };
    ($field:ident, $as:ident, $show:expr) => {
        Target::Global {
            set: |c, v| c.$field = v.$as(),
            show: $show,
        }
    };
}

macro_rules! record {
    ($field:ident, $as:ident, $show:expr) => {
        Target::Record {
            set: |r, v| r.$field = v.$as(),
            show: $show,
        }
    };
}

fn dur(d: Duration) -> Option<String> {
    Some(quote(&duration::format(d)))
}

fn path(p: &std::path::Path) -> Option<String> {
    Some(quote(&p.display().to_string()))
}

/// Every setting, in the order `check` restates them and the README lists them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "state_dir",
        uci: "state_dir",
        kind: Kind::Path,
        default: Default::Value("/var/lib/dynhost"),
        uci_default: None,
        help: "Holds the state file (`state`) and the lock (`lock`).",
        target: global!(state_dir, path, |c| path(&c.state_dir)),
    },
    Setting {
        key: "control_socket",
        uci: "control_socket",
        kind: Kind::Path,
        default: Default::Value("/run/dynhost/control.sock"),
        uci_default: Some("/var/run/dynhost/control.sock"),
        help: "Unix socket of the running daemon. A UCI config defaults to `/var/run` \
               (tmpfs): OpenWrt has no `/run`.",
        target: global!(control_socket, path, |c| path(&c.control_socket)),
    },
    Setting {
        key: "debounce",
        uci: "debounce",
        kind: Kind::Duration {
            min: Duration::ZERO,
            max: secs(60),
        },
        default: Default::Value("1s"),
        uci_default: None,
        help: "Quiet time after the last relevant event before a decision.",
        target: global!(debounce, duration, |c| dur(c.debounce)),
    },
    Setting {
        key: "debounce_max",
        uci: "debounce_max",
        kind: Kind::Duration {
            min: Duration::ZERO,
            max: secs(600),
        },
        default: Default::Derived {
            value: "10s",
            doc: "`\"10s\"` (or `debounce`, if longer)",
        },
        uci_default: None,
        help: "Upper bound on the wait after the first event of a burst, so that a \
               flapping link cannot starve the update.",
        target: global!(debounce_max, duration, |c| dur(c.debounce_max)),
    },
    Setting {
        key: "max_updates_per_hour",
        uci: "max_updates_per_hour",
        kind: Kind::Count { min: 1, max: 3600 },
        default: Default::Value("12"),
        uci_default: None,
        help: "Once a record and family has sent this many updates within an hour, it \
               sends at most one every 5 minutes until the rate drops. A link that keeps \
               reconnecting with new addresses cannot turn into a request every few \
               seconds. The send times of the last hour are kept in the state file, so \
               the budget holds across restarts and for one-shot `dynhost update` runs \
               without a daemon.",
        target: global!(max_updates_per_hour, count, |c| Some(
            c.max_updates_per_hour.to_string()
        )),
    },
    Setting {
        key: "provider.url",
        uci: "url",
        kind: Kind::Url,
        default: Default::Value("https://dns.eu.ovhapis.com/nic/update"),
        uci_default: None,
        help: "The dyndns2 endpoint. Plain `http://` is accepted only to loopback. It must \
               not contain credentials or a query. The legacy \
               `https://www.ovh.com/nic/update` also works.",
        target: global!(provider.url, url, |c| Some(quote(c.provider.url.as_str()))),
    },
    Setting {
        key: "provider.ca_file",
        uci: "ca_file",
        kind: Kind::Path,
        default: Default::Absent("none"),
        uci_default: None,
        help: "Extra trusted root certificates (PEM), added to the system store. \
               Certificate verification cannot be turned off.",
        target: Target::Global {
            set: |c, v| c.provider.ca_file = Some(v.path()),
            show: |c| c.provider.ca_file.as_deref().and_then(path),
        },
    },
    Setting {
        key: "provider.timeout",
        uci: "timeout",
        kind: Kind::Duration {
            min: secs(1),
            max: secs(300),
        },
        default: Default::Value("30s"),
        uci_default: None,
        help: "Bound on one whole request: connect (at most 10 s of it), TLS, answer.",
        target: global!(provider.timeout, duration, |c| dur(c.provider.timeout)),
    },
    Setting {
        key: "retry.initial",
        uci: "retry_initial",
        kind: Kind::Duration {
            min: secs(1),
            max: secs(3600),
        },
        default: Default::Value("30s"),
        uci_default: None,
        help: "First retry delay after a transient failure. It doubles at each failure.",
        target: global!(retry.initial, duration, |c| dur(c.retry.initial)),
    },
    Setting {
        key: "retry.max",
        uci: "retry_max",
        kind: Kind::Duration {
            min: secs(1),
            max: secs(86400),
        },
        default: Default::Derived {
            value: "1h",
            doc: "`\"1h\"` (or `retry.initial`, if longer)",
        },
        uci_default: None,
        help: "Longest retry delay.",
        target: global!(retry.max, duration, |c| dur(c.retry.max)),
    },
    Setting {
        key: "gateway.check",
        uci: "gateway_check",
        kind: Kind::Interval {
            min: secs(60),
            max: secs(86400),
        },
        default: Default::Value("10m"),
        uci_default: None,
        help: "The safety-net query of records whose source is `\"gateway\"`. Changes come as \
               events (netlink, the gateway's announcements); this catches the one no event \
               tells: miniupnpd sends a single announcement datagram, not the RFC's ten, \
               and a lost one would be a missed change. The only timer that runs while \
               nothing changes.",
        target: global!(gateway_check, interval, |c| interval(c.gateway_check)),
    },
    Setting {
        key: "web.urls",
        uci: "web_url",
        kind: Kind::Urls,
        default: Default::Absent("none"),
        uci_default: None,
        help: "The echo services the `\"web\"` source asks, in turn (a UCI `list`). \
               Required when a record uses it; nothing is contacted unless listed here \
               (see \"Behind another router\").",
        target: Target::Global {
            set: |c, v| c.web.urls = v.urls(),
            show: |c| {
                (!c.web.urls.is_empty()).then(|| {
                    let urls: Vec<String> = c.web.urls.iter().map(|u| quote(u.as_str())).collect();
                    format!("[{}]", urls.join(", "))
                })
            },
        },
    },
    Setting {
        key: "web.check",
        uci: "web_check",
        kind: Kind::Interval {
            min: secs(60),
            max: secs(86400),
        },
        default: Default::Value("1h"),
        uci_default: None,
        help: "The safety-net query of records whose source is `\"web\"`: nothing tells \
               when an upstream box's address changes.",
        target: global!(web.check, interval, |c| interval(c.web.check)),
    },
    Setting {
        key: "verify.enabled",
        uci: "verify",
        kind: Kind::Bool,
        default: Default::Value("true"),
        uci_default: None,
        help: "Ask the zone's authoritative servers what they answer: after each update \
               until it is visible (1 s, 5 s, 30 s, 2 min, 10 min, then hourly for a day; \
               never a re-send because DNS is slow), and at start, reload and reconnect, \
               to publish again a record changed elsewhere.",
        target: global!(verify.enabled, bool, |c| Some(c.verify.enabled.to_string())),
    },
    Setting {
        key: "verify.servers",
        uci: "verify_server",
        kind: Kind::Hosts { many: true },
        default: Default::Absent("discovered"),
        uci_default: None,
        help: "The authoritative servers to ask (`host` or `host:port`, a UCI `list`), \
               instead of finding them by walking up the name through the resolver.",
        target: Target::Global {
            set: |c, v| c.verify.servers = v.hosts(),
            show: |c| {
                (!c.verify.servers.is_empty()).then(|| {
                    let s: Vec<String> = c.verify.servers.iter().map(|h| quote(h)).collect();
                    format!("[{}]", s.join(", "))
                })
            },
        },
    },
    Setting {
        key: "verify.resolver",
        uci: "verify_resolver",
        kind: Kind::Hosts { many: false },
        default: Default::Absent("the first `nameserver` of `/etc/resolv.conf`"),
        uci_default: None,
        help: "The resolver that finds the zone's authoritative servers (`host` or \
               `host:port`).",
        target: Target::Global {
            set: |c, v| c.verify.resolver = v.hosts().into_iter().next(),
            show: |c| c.verify.resolver.as_deref().map(quote),
        },
    },
    Setting {
        key: "verify.interval",
        uci: "verify_interval",
        kind: Kind::Interval {
            min: secs(60),
            max: secs(7 * 86400),
        },
        default: Default::Value("off"),
        uci_default: None,
        help: "A periodic check besides. Off by default: every check is triggered by an \
               event, and no timer runs while things agree.",
        target: global!(verify.interval, interval, |c| interval(c.verify.interval)),
    },
    Setting {
        key: "metrics_file",
        uci: "metrics_file",
        kind: Kind::Path,
        default: Default::Absent("none"),
        uci_default: None,
        help: "Per record and family, in node_exporter's textfile format (a `.prom` file in \
               its `--collector.textfile.directory`): the last publish time, updates and \
               failures counted, the last reply's class, DNS agreement. Rewritten atomically \
               at each change; no listener, no timer.",
        target: Target::Global {
            set: |c, v| c.metrics_file = Some(v.path()),
            show: |c| c.metrics_file.as_deref().and_then(path),
        },
    },
    Setting {
        key: "notify.urls",
        uci: "notify_url",
        kind: Kind::Strings {
            check: notify::check_urls,
            many: true,
        },
        default: Default::Absent("none"),
        uci_default: None,
        help: "Where events are sent: service URLs in shoutrrr's syntax (`ntfy://`, \
               `gotify://`, `discord://`, `slack://`, `telegram://`, `generic+https://`; \
               see \"Notifications\"; a UCI `list`). Their tokens are secrets: shown \
               redacted.",
        target: Target::Global {
            set: |c, v| c.notify.urls = v.strings().into_iter().map(Secret::new).collect(),
            show: |c| {
                (!c.notify.urls.is_empty()).then(|| {
                    let l: Vec<String> = c
                        .notify
                        .urls
                        .iter()
                        .map(|u| {
                            quote(
                                &notify::parse(u.expose())
                                    .map_or_else(|_| "<redacted>".into(), |t| t.label),
                            )
                        })
                        .collect();
                    format!("[{}]", l.join(", "))
                })
            },
        },
    },
    Setting {
        key: "notify.command",
        uci: "notify_command",
        kind: Kind::Strings {
            check: notify::check_command,
            many: true,
        },
        default: Default::Absent("none"),
        uci_default: None,
        help: "A program run at each event, as an argv (no shell; a UCI `list`), with \
               `DYNHOST_EVENT`, `DYNHOST_HOSTNAME`, `DYNHOST_FAMILY`, `DYNHOST_ADDRESS`, \
               `DYNHOST_PREVIOUS`, `DYNHOST_REPLY`, `DYNHOST_MESSAGE` and `DYNHOST_DNS` in \
               its environment (and `PATH`, nothing else); killed after 30 s, its output \
               logged (2 KiB).",
        target: Target::Global {
            set: |c, v| c.notify.command = v.strings(),
            show: |c| (!c.notify.command.is_empty()).then(|| list(&c.notify.command)),
        },
    },
    Setting {
        key: "notify.events",
        uci: "notify_event",
        kind: Kind::Strings {
            check: notify::check_events,
            many: true,
        },
        default: Default::Absent(
            "`[\"published\", \"failed\", \"blocked\", \"not_visible\", \"drift\", \"unavailable\"]`",
        ),
        uci_default: None,
        help: "The events sent: any of `published`, `visible`, `not_visible`, `drift`, \
               `failed`, `recovered`, `blocked`, `unavailable` (a UCI `list`).",
        target: Target::Global {
            set: |c, v| {
                c.notify.events = v
                    .strings()
                    .iter()
                    .filter_map(|k| notify::Kind::parse(k))
                    .collect()
            },
            show: |c| {
                let names: Vec<String> = c
                    .notify
                    .events
                    .iter()
                    .map(|k| k.as_str().to_string())
                    .collect();
                Some(list(&names))
            },
        },
    },
    Setting {
        key: "notify.heartbeat_url",
        uci: "heartbeat_url",
        kind: Kind::Strings {
            check: notify::check_heartbeat_url,
            many: false,
        },
        default: Default::Absent("none"),
        uci_default: None,
        help: "A monitor pinged after each publish and at each `heartbeat`: \
               healthchecks.io (`<url>`, or `<url>/fail` with the reason) or an Uptime Kuma \
               push URL (`status=up`, or `status=down` with the reason). A secret: shown \
               redacted.",
        target: Target::Global {
            set: |c, v| c.notify.heartbeat_url = v.strings().into_iter().next().map(Secret::new),
            show: |c| {
                c.notify
                    .heartbeat_url
                    .as_ref()
                    .map(|u| quote(&notify::heartbeat_label(u.expose())))
            },
        },
    },
    Setting {
        key: "notify.heartbeat",
        uci: "heartbeat",
        kind: Kind::Interval {
            min: secs(60),
            max: secs(7 * 86400),
        },
        default: Default::Value("off"),
        uci_default: None,
        help: "How often the heartbeat is pinged besides after each publish (the one timer \
               notifications add).",
        target: global!(notify.heartbeat, interval, |c| interval(c.notify.heartbeat)),
    },
    Setting {
        key: "ovh.endpoint",
        uci: "ovh_endpoint",
        kind: Kind::Name(check_endpoint),
        default: Default::Absent("`OVH_ENDPOINT`, else ovh.conf"),
        uci_default: None,
        help: "API mode: `ovh-eu`, `ovh-ca`, `ovh-us`, or an API base URL (https, or http \
               to loopback).",
        target: Target::Global {
            set: |c, v| c.ovh.endpoint = Some(v.text()),
            show: |c| c.ovh.endpoint.as_deref().map(quote),
        },
    },
    Setting {
        key: "ovh.application_key",
        uci: "ovh_application_key",
        kind: Kind::Name(check_key),
        default: Default::Absent("`OVH_APPLICATION_KEY`, else ovh.conf"),
        uci_default: None,
        help: "API mode: the application key (not a secret).",
        target: Target::Global {
            set: |c, v| c.ovh.application_key = Some(v.text()),
            show: |c| c.ovh.application_key.as_deref().map(quote),
        },
    },
    Setting {
        key: "ovh.application_secret_file",
        uci: "ovh_application_secret_file",
        kind: Kind::Path,
        default: Default::Absent("`OVH_APPLICATION_SECRET`, else ovh.conf"),
        uci_default: None,
        help: "API mode: a file holding the application secret (one line). Secrets are \
               never inline in the config.",
        target: Target::Global {
            set: |c, v| c.ovh.application_secret_file = Some(v.path()),
            show: |c| c.ovh.application_secret_file.as_deref().and_then(path),
        },
    },
    Setting {
        key: "ovh.consumer_key_file",
        uci: "ovh_consumer_key_file",
        kind: Kind::Path,
        default: Default::Absent("`OVH_CONSUMER_KEY`, else ovh.conf"),
        uci_default: None,
        help: "API mode: a file holding the consumer key (one line); `dynhost setup \
               --api-record` requests one with exactly the rights API mode needs.",
        target: Target::Global {
            set: |c, v| c.ovh.consumer_key_file = Some(v.path()),
            show: |c| c.ovh.consumer_key_file.as_deref().and_then(path),
        },
    },
    Setting {
        key: "ovh.ca_file",
        uci: "ovh_ca_file",
        kind: Kind::Path,
        default: Default::Absent("none"),
        uci_default: None,
        help: "API mode: extra trusted root certificates (PEM), as `provider.ca_file`.",
        target: Target::Global {
            set: |c, v| c.ovh.ca_file = Some(v.path()),
            show: |c| c.ovh.ca_file.as_deref().and_then(path),
        },
    },
    Setting {
        key: "record.hostname",
        uci: "hostname",
        kind: Kind::Name(check_record_name),
        default: Default::Required,
        uci_default: None,
        help: "The name: a fully qualified name. A wildcard (`*.home.example.com`) or a \
               zone apex only with `provider = \"ovh-api\"`.",
        target: Target::Record {
            set: |r, v| r.hostname = v.text().trim_end_matches('.').to_ascii_lowercase(),
            show: |r| Some(quote(&r.hostname)),
        },
    },
    Setting {
        key: "record.username",
        uci: "username",
        kind: Kind::Name(check_username),
        default: Default::Absent("required for `dyndns`"),
        uci_default: None,
        help: "The DynHost login, usually `<zone>-<suffix>` (not used by `ovh-api`).",
        target: Target::Record {
            set: |r, v| r.username = v.text(),
            show: |r| (r.provider == Publisher::DynDns).then(|| quote(&r.username)),
        },
    },
    Setting {
        key: "record.password_file",
        uci: "password_file",
        kind: Kind::Path,
        default: Default::Absent(""),
        uci_default: None,
        help: "Path to a file holding the password (one line). A relative path is looked \
               up first in systemd's `$CREDENTIALS_DIRECTORY` (`LoadCredential=`), then \
               next to the config file. dynhost warns if group or others can read it.",
        target: Target::Record {
            set: |r, v| r.password_file = Some(v.path()),
            show: |r| {
                let p = r.password_file.as_deref()?;
                Some(format!(
                    "{}  # read: {} bytes",
                    quote(&p.display().to_string()),
                    r.password.len()
                ))
            },
        },
    },
    Setting {
        key: "record.password",
        uci: "password",
        kind: Kind::Secret,
        default: Default::Absent(""),
        uci_default: None,
        help: "The password inline. Use one of the two (neither for `ovh-api`).",
        target: Target::Record {
            set: |r, v| r.password = v.secret(),
            show: |r| {
                (r.password_file.is_none() && r.provider == Publisher::DynDns)
                    .then(|| format!("\"<redacted>\"  # {} bytes", r.password.len()))
            },
        },
    },
    Setting {
        key: "record.interface",
        uci: "interface",
        kind: Kind::Name(check_interface),
        default: Default::Required,
        uci_default: None,
        help: "The interface to follow, by name (`ppp0`, `pppoe-wan`, `eth0.2`). In a UCI \
               config, an OpenWrt logical interface (`wan`) is mapped to its device.",
        target: Target::Record {
            set: |r, v| r.interface = v.text(),
            show: |r| {
                let q = quote(&r.interface);
                Some(match &r.interface_alias {
                    Some(logical) => format!("{q}  # OpenWrt interface {logical:?}"),
                    None => q,
                })
            },
        },
    },
    Setting {
        key: "record.ipv4",
        uci: "ipv4",
        kind: Kind::Bool,
        default: Default::Value("true"),
        uci_default: None,
        help: "Publish the interface's IPv4 address.",
        target: record!(ipv4, bool, |r| Some(r.ipv4.to_string())),
    },
    Setting {
        key: "record.ipv6",
        uci: "ipv6",
        kind: Kind::Bool,
        default: Default::Value("false"),
        uci_default: None,
        help: "Publish its IPv6 address. OVH takes an A and an AAAA record for one name as \
               two DynHost records. dynhost sends one request per family, always with an \
               explicit `myip`.",
        target: record!(ipv6, bool, |r| Some(r.ipv6.to_string())),
    },
    Setting {
        key: "record.enabled",
        uci: "enabled",
        kind: Kind::Bool,
        default: Default::Value("true"),
        uci_default: None,
        help: "`false` keeps the record (and its state) but never sends.",
        target: record!(enabled, bool, |r| Some(r.enabled.to_string())),
    },
    Setting {
        key: "record.ipv4_source",
        uci: "ipv4_source",
        kind: Kind::Sources(&[Source::Interface, Source::Gateway, Source::Web]),
        default: Default::Value("interface"),
        uci_default: None,
        help: "Where the IPv4 address comes from: the interface's own address; the \
               public address its default gateway reports (NAT-PMP, PCP, UPnP IGD: a box \
               behind another router); or the configured web echo services.",
        target: record!(ipv4_source, sources, |r| Some(sources(&r.ipv4_source))),
    },
    Setting {
        key: "record.ipv6_source",
        uci: "ipv6_source",
        kind: Kind::Sources(&[Source::Interface, Source::Web]),
        default: Default::Value("interface"),
        uci_default: None,
        help: "Where the IPv6 address comes from (IPv6 needs no NAT: usually the interface).",
        target: record!(ipv6_source, sources, |r| Some(sources(&r.ipv6_source))),
    },
    Setting {
        key: "record.ipv6_suffix",
        uci: "ipv6_suffix",
        kind: Kind::Suffix,
        default: Default::Absent(""),
        uci_default: None,
        help: "Publish the interface's global IPv6 /64 with this interface identifier \
               (`\"::1234\"`): a router publishing a LAN host, such as a NAS, that has no \
               agent of its own. A new delegated prefix is a change like any other.",
        target: Target::Record {
            set: |r, v| r.ipv6_suffix = Some(v.suffix()),
            show: |r| r.ipv6_suffix.map(|s| quote(&s.to_string())),
        },
    },
    Setting {
        key: "record.allow_private",
        uci: "allow_private",
        kind: Kind::Bool,
        default: Default::Value("false"),
        uci_default: None,
        help: "Publish a private (RFC 1918), CGNAT (100.64.0.0/10) or unique local \
               (fc00::/7) address too: a name for the LAN only, or a VPN mesh. Link-local \
               and loopback addresses are never published. `check` warns when it is on.",
        target: record!(allow_private, bool, |r| Some(r.allow_private.to_string())),
    },
    Setting {
        key: "record.provider",
        uci: "provider",
        kind: Kind::Name(check_provider),
        default: Default::Value("dyndns"),
        uci_default: None,
        help: "How the record is published: `dyndns` (a DynHost login) or `ovh-api` (the \
               zone's own A/AAAA records through the OVH API with the `[ovh]` \
               credentials, then a zone refresh; see \"API mode\").",
        target: Target::Record {
            set: |r, v| r.provider = Publisher::parse(&v.text()).unwrap_or(Publisher::DynDns),
            show: |r| Some(quote(r.provider.as_str())),
        },
    },
    Setting {
        key: "record.replace_all",
        uci: "replace_all",
        kind: Kind::Bool,
        default: Default::Value("false"),
        uci_default: None,
        help: "API mode: when the name holds several A (AAAA) records, change them all \
               (otherwise the update is refused, naming their ids).",
        target: record!(replace_all, bool, |r| Some(r.replace_all.to_string())),
    },
];

/// The settings of one table (`""`, `"provider"`, `"record"`...).
pub fn in_section(section: &str) -> impl Iterator<Item = &'static Setting> + '_ {
    SETTINGS.iter().filter(move |s| s.section() == section)
}

/// The tables that hold settings, in order, without the top level.
pub fn sections() -> Vec<&'static str> {
    let mut out: Vec<&str> = Vec::new();
    for s in SETTINGS {
        let sec = s.section();
        if !sec.is_empty() && !out.contains(&sec) {
            out.push(sec);
        }
    }
    out
}

/// The README's reference table, rendered from `SETTINGS` (its test prints it).
#[cfg(test)]
pub(super) fn markdown_table() -> String {
    let mut out =
        String::from("| Key | UCI option | Default | Meaning |\n| --- | --- | --- | --- |\n");
    for s in SETTINGS {
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {}{} |\n",
            s.key,
            s.uci,
            super::settings::doc_default(s),
            s.help,
            super::settings::doc_range(&s.kind)
        ));
    }
    out
}

fn check_provider(s: &str) -> Result<(), String> {
    match Publisher::parse(s) {
        Some(_) => Ok(()),
        None => Err(format!(
            "{s:?} is not a provider: use \"dyndns\" or \"ovh-api\""
        )),
    }
}

fn check_endpoint(s: &str) -> Result<(), String> {
    crate::ovh::Endpoint::parse(s).map(|_| ())
}

fn check_key(s: &str) -> Result<(), String> {
    if !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err("an application key is 1 to 128 letters and digits".into())
    }
}

/// A host name, or a wildcard (`*.` then a host name): which provider may take a
/// wildcard is checked with the record.
fn check_record_name(s: &str) -> Result<(), String> {
    check_hostname(s.strip_prefix("*.").unwrap_or(s))
}

fn interval(d: Option<Duration>) -> Option<String> {
    Some(match d {
        Some(d) => quote(&duration::format(d)),
        None => quote("off"),
    })
}

fn sources(list: &[Source]) -> String {
    match list {
        [one] => quote(one.as_str()),
        many => {
            let names: Vec<String> = many.iter().map(|s| quote(s.as_str())).collect();
            format!("[{}]", names.join(", "))
        }
    }
}

fn list(items: &[String]) -> String {
    let q: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", q.join(", "))
}
