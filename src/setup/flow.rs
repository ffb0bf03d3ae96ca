//! `dynhost setup`'s calls, in order: local checks first (nothing is asked of the API for
//! a config setup could not write), then the reads and the plan (here), the changes
//! ([`super::execute`]) and the files, and `check` ([`super::report`]). A failure
//! half-way says what exists now; running the same command again reads that and
//! completes it. The argument and credential helpers here serve the other modes too.

use std::path::{Path, PathBuf};

use tracing::debug;

use super::api::Api;
use super::execute::execute;
use super::files::{self, PasswordRef, RecordSpec};
use super::plan::{self, ConfigRecord, Observed, Plan, Refusal, Wanted};
use super::progress::Names;
use super::report::{check, dry_run_summary, report};
use super::{Error, SetupArgs};
use crate::model::Family;
use crate::ovh::{Client, Credentials, credentials};
use crate::policy::{self, Selection};
use crate::{config, netlink};

pub(super) fn hostname_of(sub: &str, zone: &str) -> String {
    if sub.is_empty() {
        zone.to_string()
    } else {
        format!("{sub}.{zone}")
    }
}

pub(super) fn load_credentials(args: &SetupArgs) -> Result<Credentials, Error> {
    let creds = credentials::load(args.endpoint.as_deref()).map_err(Error::Config)?;
    debug!(endpoint = %creds.endpoint, sources = ?creds.sources, "OVH API credentials");
    Ok(creds)
}

pub(super) fn zone_arg(args: &SetupArgs) -> Result<String, Error> {
    args.zone
        .clone()
        .ok_or_else(|| Error::Usage("--zone is required".into()))
}

pub(super) fn sub_arg(args: &SetupArgs) -> Result<String, Error> {
    args.subdomain
        .clone()
        .ok_or_else(|| Error::Usage("--subdomain is required".into()))
}

/// `--interface`, or the interface of the default route.
pub(super) async fn interface_arg(args: &SetupArgs) -> Result<String, Error> {
    match &args.interface {
        Some(i) => Ok(i.clone()),
        None => netlink::default_route_interface()
            .await
            .map_err(Error::Failed)?
            .ok_or_else(|| {
                Error::Usage(
                    "no --interface was given and there is no default route to take it from: \
                     pass --interface IF (e.g. ppp0)"
                        .into(),
                )
            }),
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// `dynhost setup --zone Z --subdomain S …`: steps 1 to 7 of the issue.
pub async fn setup(
    args: &SetupArgs,
    config_path: &Path,
    given: bool,
    dry_run: bool,
) -> Result<(), Error> {
    let zone = zone_arg(args)?;
    let sub = sub_arg(args)?;
    let hostname = hostname_of(&sub, &zone);
    config::check_hostname(&hostname).map_err(Error::Usage)?;
    let families = if args.ipv6 {
        vec![Family::V4, Family::V6]
    } else {
        vec![Family::V4]
    };
    for (i, ip) in args.ip.iter().enumerate() {
        let family = Family::of(ip);
        if !families.contains(&family) {
            return Err(Error::Usage(format!(
                "--ip {ip} is IPv6, but the record publishes IPv4 only: add --ipv6"
            )));
        }
        if args.ip[..i].iter().any(|o| Family::of(o) == family) {
            return Err(Error::Usage(format!(
                "--ip is given twice for {family}; give at most one address per family"
            )));
        }
    }

    // Local checks first: nothing is asked of the API for a config setup cannot write.
    let target = files::locate(config_path, given).map_err(Error::Config)?;
    let existing = files::existing(&target).map_err(Error::Config)?;
    let password_file = match &args.password_file {
        Some(p) => absolute(p),
        None => files::default_password_file(&target, &hostname),
    };
    files::check_value("the password file path", &password_file.to_string_lossy())
        .map_err(Error::Usage)?;
    let have_password = files::password_file_state(&password_file).map_err(Error::Config)?;
    let interface = interface_arg(args).await?;
    let device = files::device_of(&target, &interface);
    let config_record = existing
        .as_ref()
        .and_then(|c| c.records.iter().find(|r| r.hostname == hostname))
        .map(|r| ConfigRecord {
            username: r.username.clone(),
            password_file: r.password_file.clone(),
            interface: r.interface.clone(),
            ipv4: r.ipv4,
            ipv6: r.ipv6,
        });
    let default_login = plan::login_name(
        &zone,
        &args
            .login_suffix
            .clone()
            .unwrap_or_else(|| plan::default_suffix(&sub)),
    );
    let mut spec = RecordSpec {
        hostname: hostname.clone(),
        username: default_login.clone(),
        password_file: password_file.clone(),
        interface: interface.clone(),
        ipv6: args.ipv6,
    };
    if config_record.is_none() {
        let text = files::with_record(&target, &spec, PasswordRef::Placeholder);
        files::validate(&target, &text).map_err(|e| {
            Error::Config(format!(
                "adding the record for {hostname} would break {}, so setup stops before \
                 changing anything:\n{e}",
                target.path.display()
            ))
        })?;
    }
    let names = Names {
        zone: zone.clone(),
        sub: sub.clone(),
        hostname: hostname.clone(),
        password_file: password_file.clone(),
        config: target.path.clone(),
    };

    // 1, 2: credentials, and the server's clock (or an OAuth2 token).
    let creds = load_credentials(args).map_err(nothing_changed)?;
    let client = Client::connect(&creds, args.ca_file.as_deref())
        .await
        .map_err(|e| nothing_changed(e.into()))?;
    let api = Api {
        client: &client,
        zone: zone.clone(),
        dry_run,
    };
    let plan = observe_and_plan(&api, args, &names, &device, have_password, config_record)
        .await
        .map_err(nothing_changed)?;
    spec.username = plan.login.clone();
    debug!(actions = ?plan.actions, "setup plan");

    execute(&api, &plan, &names, &target, &spec).await?;
    if dry_run {
        return dry_run_summary(&plan, &names, &target, &spec);
    }
    let checked = check(&target)?;
    report(&plan, &names, &target, &spec, &checked);
    Ok(())
}

/// Says so when a failure came before any change.
fn nothing_changed(f: Error) -> Error {
    let add = |m: String| {
        if m.contains("Nothing was changed") {
            m
        } else {
            format!("{m}\nNothing was changed.")
        }
    };
    match f {
        Error::Usage(m) => Error::Usage(add(m)),
        Error::Config(m) => Error::Config(add(m)),
        Error::Failed(m) => Error::Failed(add(m)),
        Error::NotFollowed(m) => Error::NotFollowed(add(m)),
    }
}

/// Steps 3 to 5, reads only: what exists, the address to publish, and the plan.
async fn observe_and_plan(
    api: &Api<'_>,
    args: &SetupArgs,
    names: &Names,
    device: &str,
    have_password: bool,
    config_record: Option<ConfigRecord>,
) -> Result<Plan, Error> {
    let (zone, sub) = (&names.zone, &names.sub);
    let families = if args.ipv6 {
        vec![Family::V4, Family::V6]
    } else {
        vec![Family::V4]
    };
    let wanted_login = plan::login_name(
        zone,
        &args
            .login_suffix
            .clone()
            .unwrap_or_else(|| plan::default_suffix(sub)),
    );

    // The zone, its ordinary records, the logins and the DynHost records.
    api.zone_exists().await?;
    let logins = api.logins(sub, &wanted_login).await?;
    let records = api.dyn_records(Some(sub)).await?;
    let ordinary = api.ordinary(sub).await?;

    // The address to publish now: the daemon's choice on the record's interface.
    let need_dump = families
        .iter()
        .any(|f| !args.ip.iter().any(|ip| Family::of(ip) == *f));
    let snapshot = if need_dump {
        Some(netlink::dump().await.map_err(Error::Failed)?)
    } else {
        None
    };
    let mut addrs = Vec::new();
    for family in &families {
        let given = args.ip.iter().find(|ip| Family::of(ip) == *family).copied();
        let addr = match (given, &snapshot) {
            (Some(ip), _) => Ok(ip),
            (None, Some(snap)) => {
                let published = records
                    .iter()
                    .find(|r| Family::of(&r.ip) == *family)
                    .map(|r| r.ip);
                match policy::select(snap, device, *family, published) {
                    Selection::Addr(ip) => Ok(ip),
                    Selection::Unavailable(why) => Err(format!("{device}: {why}")),
                }
            }
            (None, None) => Err(format!("{device}: not read")),
        };
        addrs.push((*family, addr));
    }

    let observed = Observed {
        logins,
        records,
        ordinary,
        password_file: have_password,
        config_record,
    };
    let wanted = Wanted {
        zone: zone.clone(),
        subdomain: sub.clone(),
        login_suffix: args.login_suffix.clone(),
        addrs,
        rotate_password: args.rotate_password,
        replace_record: args.replace_record,
        config_record: ConfigRecord {
            username: String::new(),
            password_file: Some(names.password_file.clone()),
            interface: device.to_string(),
            ipv4: true,
            ipv6: args.ipv6,
        },
    };
    plan::plan(&observed, &wanted).map_err(|r| refusal(r, names, device))
}

fn refusal(r: Refusal, n: &Names, device: &str) -> Error {
    match r {
        Refusal::OrdinaryRecords(list) => Error::Failed(format!(
            "{} already has {} in the zone: {}. A DynHost name must not also have ordinary \
             A or AAAA records (OVH makes them for the DynHost record itself). Delete them in \
             the control panel, or run setup again with --replace-record to have it delete \
             them. Nothing was changed.",
            n.hostname,
            if list.len() == 1 {
                "an ordinary record"
            } else {
                "ordinary records"
            },
            list.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Refusal::LoginElsewhere { login, sub_domain } => Error::Failed(format!(
            "the DynHost login {login} exists and serves {}, not {}: choose another \
             --login-suffix. Nothing was changed.",
            hostname_of(&sub_domain, &n.zone),
            n.hostname
        )),
        Refusal::SeveralLogins(list) => Error::Failed(format!(
            "several DynHost logins serve {}: {}. Say which one setup uses with \
             --login-suffix. Nothing was changed.",
            n.hostname,
            list.join(", ")
        )),
        Refusal::NoAddress { family, why } => Error::Failed(format!(
            "there is no {family} address to publish for {} now ({why}), so setup stops \
             before creating the DynHost record. Run it once the link has a public address, \
             or give one with --ip ADDR. Nothing was changed.",
            n.hostname
        )),
        Refusal::ConfigDiffers { what } => Error::Config(format!(
            "{} already has a record for {} that is not the one setup would write ({}; \
             interface {device}). Remove that record or make it match, then run setup again. \
             Nothing was changed.",
            n.config.display(),
            n.hostname,
            what.join("; ")
        )),
    }
}
