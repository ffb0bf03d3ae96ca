//! What `dynhost setup` has to change (pure): the account's DynHost logins and records,
//! the zone's ordinary records, the password file and the config, as observed, against
//! what is wanted. Every refusal is decided here, before anything is changed.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::model::Family;

/// A DynHost login as the API lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    pub login: String,
    pub sub_domain: String,
}

/// A DynHost record (`/domain/zone/{zone}/dynHost/record/{id}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynRecord {
    pub id: u64,
    pub sub_domain: String,
    pub ip: IpAddr,
}

/// An ordinary A or AAAA record of the zone (`/domain/zone/{zone}/record/{id}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneRecord {
    pub id: u64,
    pub family: Family,
    pub target: String,
}

impl fmt::Display for ZoneRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.family {
            Family::V4 => "A",
            Family::V6 => "AAAA",
        };
        write!(f, "{kind} record {} ({})", self.id, self.target)
    }
}

/// The record the config already holds for the hostname.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigRecord {
    pub username: String,
    pub password_file: Option<PathBuf>,
    pub interface: String,
    pub ipv4: bool,
    pub ipv6: bool,
}

/// What exists now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// The logins for the subdomain, and the wanted login wherever it points.
    pub logins: Vec<Login>,
    /// The DynHost records of the subdomain.
    pub records: Vec<DynRecord>,
    /// Ordinary A/AAAA records of the subdomain.
    pub ordinary: Vec<ZoneRecord>,
    /// Whether a usable password file exists at the path setup uses.
    pub password_file: bool,
    pub config_record: Option<ConfigRecord>,
}

/// What the operator asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub zone: String,
    pub subdomain: String,
    /// `--login-suffix`, when given.
    pub login_suffix: Option<String>,
    /// Per family published: the address to publish now, or why there is none.
    pub addrs: Vec<(Family, Result<IpAddr, String>)>,
    pub rotate_password: bool,
    pub replace_record: bool,
    /// The record setup adds to the config (its username is the login the plan picks).
    pub config_record: ConfigRecord,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create the login with a new password, then write the password file.
    CreateLogin {
        login: String,
        suffix: String,
    },
    /// Set a new password on an existing login, then write the password file.
    ChangePassword {
        login: String,
        why: PasswordWhy,
    },
    DeleteOrdinary(ZoneRecord),
    CreateRecord {
        ip: IpAddr,
    },
    UpdateRecord {
        id: u64,
        from: IpAddr,
        to: IpAddr,
    },
    /// Apply the zone changes on OVH's DNS servers.
    Refresh,
    AddToConfig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordWhy {
    Rotate,
    /// The login exists but this machine does not hold its password.
    NoPasswordFile,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub login: String,
    pub actions: Vec<Action>,
    /// What is already as wanted, for "nothing to change".
    pub unchanged: Vec<String>,
    /// Things worth knowing that change nothing.
    pub notes: Vec<String>,
}

/// Why setup stops before changing anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Ordinary A/AAAA records hold the name (and `--replace-record` was not given).
    OrdinaryRecords(Vec<ZoneRecord>),
    /// The login name exists for another subdomain.
    LoginElsewhere { login: String, sub_domain: String },
    /// Several logins serve the subdomain and none was chosen.
    SeveralLogins(Vec<String>),
    /// A family has no address to publish and no record yet.
    NoAddress { family: Family, why: String },
    /// The config holds another record for the hostname.
    ConfigDiffers { what: Vec<String> },
}

/// The login suffix used when none is given: the subdomain, dots made dashes.
pub fn default_suffix(subdomain: &str) -> String {
    subdomain.replace('.', "-")
}

pub fn login_name(zone: &str, suffix: &str) -> String {
    format!("{zone}-{suffix}")
}

pub fn plan(o: &Observed, w: &Wanted) -> Result<Plan, Refusal> {
    let mut actions = Vec::new();
    let mut unchanged = Vec::new();
    let mut notes = Vec::new();

    // The login.
    let of_sub: Vec<&Login> = o
        .logins
        .iter()
        .filter(|l| l.sub_domain == w.subdomain)
        .collect();
    let (login, suffix) = match &w.login_suffix {
        Some(s) => (login_name(&w.zone, s), s.clone()),
        None => {
            let default = default_suffix(&w.subdomain);
            let name = login_name(&w.zone, &default);
            match of_sub.as_slice() {
                [] => (name, default),
                [one] => {
                    let suffix = one
                        .login
                        .strip_prefix(&format!("{}-", w.zone))
                        .unwrap_or(&one.login)
                        .to_string();
                    (one.login.clone(), suffix)
                }
                many if many.iter().any(|l| l.login == name) => (name, default),
                many => {
                    return Err(Refusal::SeveralLogins(
                        many.iter().map(|l| l.login.clone()).collect(),
                    ));
                }
            }
        }
    };
    // The config: setup's own record, or nothing there yet.
    let add_to_config = match &o.config_record {
        None => true,
        Some(have) => {
            let want = &w.config_record;
            let mut what = Vec::new();
            if have.username != login {
                what.push(format!(
                    "username is {:?}, setup uses {login:?}",
                    have.username
                ));
            }
            if have.password_file != want.password_file {
                what.push(match (&have.password_file, &want.password_file) {
                    (None, Some(p)) => format!(
                        "the password is inline, setup uses password_file {}",
                        p.display()
                    ),
                    (Some(h), Some(p)) => format!(
                        "password_file is {}, setup uses {}",
                        h.display(),
                        p.display()
                    ),
                    _ => "the password source differs".to_string(),
                });
            }
            if have.interface != want.interface {
                what.push(format!(
                    "interface is {:?}, setup was given {:?}",
                    have.interface, want.interface
                ));
            }
            if (have.ipv4, have.ipv6) != (want.ipv4, want.ipv6) {
                what.push(format!(
                    "it publishes ipv4 = {}, ipv6 = {}; setup was asked for ipv4 = {}, ipv6 = {}",
                    have.ipv4, have.ipv6, want.ipv4, want.ipv6
                ));
            }
            if !what.is_empty() {
                return Err(Refusal::ConfigDiffers { what });
            }
            false
        }
    };

    let existing = o.logins.iter().find(|l| l.login == login);
    match existing {
        Some(l) if l.sub_domain != w.subdomain && l.sub_domain != "*" => {
            return Err(Refusal::LoginElsewhere {
                login,
                sub_domain: l.sub_domain.clone(),
            });
        }
        Some(_) if w.rotate_password => actions.push(Action::ChangePassword {
            login: login.clone(),
            why: PasswordWhy::Rotate,
        }),
        Some(_) if !o.password_file => actions.push(Action::ChangePassword {
            login: login.clone(),
            why: PasswordWhy::NoPasswordFile,
        }),
        Some(_) => unchanged.push(format!("the DynHost login {login} exists")),
        None => actions.push(Action::CreateLogin {
            login: login.clone(),
            suffix,
        }),
    }

    // Ordinary records that hold the name. One whose address is a DynHost record's of
    // the same name is taken for the zone's view of that DynHost record.
    let conflicts: Vec<ZoneRecord> = o
        .ordinary
        .iter()
        .filter(|r| {
            let target: Option<IpAddr> = r.target.parse().ok();
            !o.records.iter().any(|d| Some(d.ip) == target)
        })
        .cloned()
        .collect();
    if !conflicts.is_empty() && !w.replace_record {
        return Err(Refusal::OrdinaryRecords(conflicts));
    }
    let mut zone_changed = false;
    for r in conflicts {
        actions.push(Action::DeleteOrdinary(r));
        zone_changed = true;
    }

    // The DynHost records, one per family published.
    for (family, addr) in &w.addrs {
        let mut of_family = o.records.iter().filter(|r| Family::of(&r.ip) == *family);
        let first = of_family.next();
        let extra: Vec<u64> = of_family.map(|r| r.id).collect();
        if !extra.is_empty() {
            notes.push(format!(
                "the zone has more {family} DynHost records for {}: {}; setup keeps \
                 record {} up to date and leaves the others alone",
                w.subdomain,
                extra
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                first.map_or(0, |r| r.id)
            ));
        }
        match (first, addr) {
            (Some(r), Ok(ip)) if r.ip == *ip => {
                unchanged.push(format!("the DynHost record {} points to {ip}", r.id))
            }
            (Some(r), Ok(ip)) => {
                actions.push(Action::UpdateRecord {
                    id: r.id,
                    from: r.ip,
                    to: *ip,
                });
                zone_changed = true;
            }
            (Some(r), Err(why)) => notes.push(format!(
                "no {family} address to publish now ({why}); the DynHost record {} keeps \
                 {} until the daemon sees one",
                r.id, r.ip
            )),
            (None, Ok(ip)) => {
                actions.push(Action::CreateRecord { ip: *ip });
                zone_changed = true;
            }
            (None, Err(why)) => {
                return Err(Refusal::NoAddress {
                    family: *family,
                    why: why.clone(),
                });
            }
        }
    }
    // A run that stopped before the config was written may have stopped before its
    // refresh: refresh whenever the setup is being completed, not only after a change.
    if zone_changed || add_to_config {
        actions.push(Action::Refresh);
    }
    if add_to_config {
        actions.push(Action::AddToConfig);
    } else {
        unchanged.push("the config holds the record".into());
    }
    Ok(Plan {
        login,
        actions,
        unchanged,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn login(name: &str, sub: &str) -> Login {
        Login {
            login: name.into(),
            sub_domain: sub.into(),
        }
    }

    fn rec(id: u64, addr: &str) -> DynRecord {
        DynRecord {
            id,
            sub_domain: "home".into(),
            ip: ip(addr),
        }
    }

    fn ours() -> ConfigRecord {
        ConfigRecord {
            username: "example.com-home".into(),
            password_file: Some("/etc/dynhost/home.example.com.secret".into()),
            interface: "ppp0".into(),
            ipv4: true,
            ipv6: false,
        }
    }

    fn wanted() -> Wanted {
        Wanted {
            zone: "example.com".into(),
            subdomain: "home".into(),
            login_suffix: None,
            addrs: vec![(Family::V4, Ok(ip("203.0.113.7")))],
            rotate_password: false,
            replace_record: false,
            config_record: ours(),
        }
    }

    fn create_login() -> Action {
        Action::CreateLogin {
            login: "example.com-home".into(),
            suffix: "home".into(),
        }
    }

    #[test]
    fn plans() {
        use Action::*;
        type Case = (
            &'static str,
            Observed,
            Box<dyn Fn(&mut Wanted)>,
            Result<Vec<Action>, Refusal>,
        );
        let set_up = Observed {
            logins: vec![login("example.com-home", "home")],
            records: vec![rec(7, "203.0.113.7")],
            ordinary: vec![],
            password_file: true,
            config_record: Some(ours()),
        };
        let a_record = ZoneRecord {
            id: 42,
            family: Family::V4,
            target: "198.51.100.1".into(),
        };
        let cases: Vec<Case> = vec![
            (
                "a fresh zone: login, record, refresh, config",
                Observed::default(),
                Box::new(|_| {}),
                Ok(vec![
                    create_login(),
                    CreateRecord {
                        ip: ip("203.0.113.7"),
                    },
                    Refresh,
                    AddToConfig,
                ]),
            ),
            (
                "the zone is set up but the config lacks the record: refresh, then config",
                Observed {
                    config_record: None,
                    ..set_up.clone()
                },
                Box::new(|_| {}),
                Ok(vec![Refresh, AddToConfig]),
            ),
            (
                "everything in place: nothing to do",
                set_up.clone(),
                Box::new(|_| {}),
                Ok(vec![]),
            ),
            (
                "a new address: update and refresh only",
                set_up.clone(),
                Box::new(|w| w.addrs = vec![(Family::V4, Ok(ip("203.0.113.8")))]),
                Ok(vec![
                    UpdateRecord {
                        id: 7,
                        from: ip("203.0.113.7"),
                        to: ip("203.0.113.8"),
                    },
                    Refresh,
                ]),
            ),
            (
                "--rotate-password changes the password only",
                set_up.clone(),
                Box::new(|w| w.rotate_password = true),
                Ok(vec![ChangePassword {
                    login: "example.com-home".into(),
                    why: PasswordWhy::Rotate,
                }]),
            ),
            (
                "a login whose password file is missing gets a new password",
                Observed {
                    password_file: false,
                    config_record: None,
                    records: vec![],
                    ..set_up.clone()
                },
                Box::new(|_| {}),
                Ok(vec![
                    ChangePassword {
                        login: "example.com-home".into(),
                        why: PasswordWhy::NoPasswordFile,
                    },
                    CreateRecord {
                        ip: ip("203.0.113.7"),
                    },
                    Refresh,
                    AddToConfig,
                ]),
            ),
            (
                "an existing login of another suffix for the subdomain is reused",
                Observed {
                    logins: vec![login("example.com-router", "home")],
                    password_file: true,
                    ..Observed::default()
                },
                Box::new(|_| {}),
                Ok(vec![
                    CreateRecord {
                        ip: ip("203.0.113.7"),
                    },
                    Refresh,
                    AddToConfig,
                ]),
            ),
            (
                "several logins for the subdomain and no suffix: refused",
                Observed {
                    logins: vec![
                        login("example.com-a", "home"),
                        login("example.com-b", "home"),
                    ],
                    ..Observed::default()
                },
                Box::new(|_| {}),
                Err(Refusal::SeveralLogins(vec![
                    "example.com-a".into(),
                    "example.com-b".into(),
                ])),
            ),
            (
                "the login name serves another subdomain: refused",
                Observed {
                    logins: vec![login("example.com-home", "office")],
                    ..Observed::default()
                },
                Box::new(|_| {}),
                Err(Refusal::LoginElsewhere {
                    login: "example.com-home".into(),
                    sub_domain: "office".into(),
                }),
            ),
            (
                "an ordinary A record holds the name: refused",
                Observed {
                    ordinary: vec![a_record.clone()],
                    ..Observed::default()
                },
                Box::new(|_| {}),
                Err(Refusal::OrdinaryRecords(vec![a_record.clone()])),
            ),
            (
                "--replace-record deletes it before the DynHost record is made",
                Observed {
                    ordinary: vec![a_record.clone()],
                    ..Observed::default()
                },
                Box::new(|w| w.replace_record = true),
                Ok(vec![
                    create_login(),
                    DeleteOrdinary(a_record.clone()),
                    CreateRecord {
                        ip: ip("203.0.113.7"),
                    },
                    Refresh,
                    AddToConfig,
                ]),
            ),
            (
                "an A record with the DynHost record's address is its own",
                Observed {
                    ordinary: vec![ZoneRecord {
                        target: "203.0.113.7".into(),
                        ..a_record.clone()
                    }],
                    ..set_up.clone()
                },
                Box::new(|_| {}),
                Ok(vec![]),
            ),
            (
                "no address and no record: refused before anything",
                Observed::default(),
                Box::new(|w| w.addrs = vec![(Family::V4, Err("10.0.0.2 is private".into()))]),
                Err(Refusal::NoAddress {
                    family: Family::V4,
                    why: "10.0.0.2 is private".into(),
                }),
            ),
            (
                "no address but a record: kept as it is",
                set_up.clone(),
                Box::new(|w| w.addrs = vec![(Family::V4, Err("the interface is down".into()))]),
                Ok(vec![]),
            ),
            (
                "IPv6 too: a second DynHost record",
                set_up.clone(),
                Box::new(|w| {
                    w.addrs.push((Family::V6, Ok(ip("2001:db8::7"))));
                    w.config_record.ipv6 = true;
                }),
                Err(Refusal::ConfigDiffers {
                    what: vec![
                        "it publishes ipv4 = true, ipv6 = false; setup was asked for ipv4 = \
                         true, ipv6 = true"
                            .into(),
                    ],
                }),
            ),
            (
                "IPv6 on a fresh zone",
                Observed::default(),
                Box::new(|w| {
                    w.addrs.push((Family::V6, Ok(ip("2001:db8::7"))));
                    w.config_record.ipv6 = true;
                }),
                Ok(vec![
                    create_login(),
                    CreateRecord {
                        ip: ip("203.0.113.7"),
                    },
                    CreateRecord {
                        ip: ip("2001:db8::7"),
                    },
                    Refresh,
                    AddToConfig,
                ]),
            ),
            (
                "the config's record for the name differs: refused",
                Observed {
                    config_record: Some(ConfigRecord {
                        password_file: None,
                        interface: "eth0".into(),
                        ..ours()
                    }),
                    ..Observed::default()
                },
                Box::new(|_| {}),
                Err(Refusal::ConfigDiffers {
                    what: vec![
                        "the password is inline, setup uses password_file \
                         /etc/dynhost/home.example.com.secret"
                            .into(),
                        "interface is \"eth0\", setup was given \"ppp0\"".into(),
                    ],
                }),
            ),
            (
                "an explicit suffix creates that login",
                Observed {
                    logins: vec![login("example.com-router", "home")],
                    ..Observed::default()
                },
                Box::new(|w| {
                    w.login_suffix = Some("home".into());
                }),
                Ok(vec![
                    create_login(),
                    CreateRecord {
                        ip: ip("203.0.113.7"),
                    },
                    Refresh,
                    AddToConfig,
                ]),
            ),
        ];
        for (name, observed, tweak, want) in cases {
            let mut w = wanted();
            tweak(&mut w);
            let got = plan(&observed, &w).map(|p| p.actions);
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn the_login_of_a_plan() {
        let o = Observed {
            logins: vec![login("example.com-router", "home")],
            ..Observed::default()
        };
        assert_eq!(plan(&o, &wanted()).unwrap().login, "example.com-router");
        assert_eq!(default_suffix("a.b"), "a-b");
        assert_eq!(login_name("example.com", "home"), "example.com-home");
    }

    #[test]
    fn unchanged_and_notes_explain_a_no_op() {
        let o = Observed {
            logins: vec![login("example.com-home", "home")],
            records: vec![rec(7, "203.0.113.7"), rec(9, "203.0.113.9")],
            password_file: true,
            config_record: Some(ours()),
            ..Observed::default()
        };
        let p = plan(&o, &wanted()).unwrap();
        assert!(p.actions.is_empty());
        assert_eq!(p.unchanged.len(), 3, "{:?}", p.unchanged);
        assert!(p.notes[0].contains("9"), "{:?}", p.notes);
    }
}
