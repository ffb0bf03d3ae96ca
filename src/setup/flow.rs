//! The calls `dynhost setup` makes, in order: local checks first (nothing is asked of
//! the API for a config setup could not write), then the reads, the plan, the changes
//! and the files, and `check`. A failure half-way says what exists now; running the
//! same command again reads that and completes it.

use std::fmt;
use std::io::{BufRead, IsTerminal, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};
use tracing::debug;

use super::SetupArgs;
use super::files::{self, PasswordRef, RecordSpec, Target};
use super::plan::{
    self, Action, ConfigRecord, DynRecord, Login, Observed, Plan, Refusal, Wanted, ZoneRecord,
};
use super::rules;
use crate::model::Family;
use crate::ovh::api::describe;
use crate::ovh::{ApiError, Auth, Client, Credentials, Method, Retry, credentials};
use crate::policy::{self, Selection};
use crate::secret::Secret;
use crate::{config, netlink};

/// Lists longer than this are refused: a zone's DynHost entries for one name are few.
const MAX_LIST: usize = 500;
/// Length of a generated DynHost password (letters and digits: about 143 bits).
const PASSWORD_LEN: usize = 24;

/// Why setup stopped.
#[derive(Debug)]
pub enum Failure {
    /// The arguments cannot work (exit 2).
    Usage(String),
    /// The config, the credentials or the local files (exit 78).
    Config(String),
    /// The API, the network or the system (exit 1).
    Other(String),
}

impl From<Failure> for crate::app::Error {
    fn from(f: Failure) -> crate::app::Error {
        use crate::app::Error;
        match f {
            Failure::Usage(m) => Error::Usage(m),
            Failure::Config(m) => Error::Config(m),
            Failure::Other(m) => Error::Failed(m),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Config(m) | Failure::Other(m) => f.write_str(m),
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        match e {
            ApiError::Client(_) | ApiError::NoConsumerKey { .. } => Failure::Config(e.to_string()),
            other => Failure::Other(other.to_string()),
        }
    }
}

/// The API as setup uses it: reads always go out; in a dry run, changes are printed
/// instead of sent.
struct Api<'c> {
    client: &'c Client,
    zone: String,
    dry_run: bool,
}

impl Api<'_> {
    fn path(&self, rest: &str) -> String {
        format!("/domain/zone/{}{rest}", self.zone)
    }

    async fn read(&self, path: &str) -> Result<Value, ApiError> {
        if self.dry_run {
            println!(
                "dry run: {} (a read: made)",
                describe(Method::Get, path, None)
            );
        }
        self.client.call(Method::Get, path, None, Retry::Once).await
    }

    /// A change; `None` in a dry run.
    async fn change(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<Option<Value>, ApiError> {
        if self.dry_run {
            println!("dry run: would call {}", describe(method, path, body));
            return Ok(None);
        }
        self.client.call(method, path, body, retry).await.map(Some)
    }

    /// The zone itself: a 404 means it is not in this account.
    async fn zone_exists(&self) -> Result<(), Failure> {
        let path = self.path("");
        match self.read(&path).await {
            Ok(_) => Ok(()),
            Err(ApiError::NotFound { .. }) => Err(Failure::Other(format!(
                "the zone {} is not in this OVH account (GET {path} answered 404): check \
                 --zone, and that the API credentials belong to the account that holds the \
                 zone (its DNS must be at OVH)",
                self.zone
            ))),
            Err(e) => Err(e.into()),
        }
    }

    async fn login_names(&self, query: &str) -> Result<Vec<String>, Failure> {
        let path = self.path(&format!("/dynHost/login{query}"));
        let v = self.read(&path).await?;
        strings(&v, &path)
    }

    async fn login(&self, name: &str) -> Result<Login, Failure> {
        let path = self.path(&format!("/dynHost/login/{name}"));
        let v = self.read(&path).await?;
        Ok(Login {
            login: name.to_string(),
            sub_domain: field(&v, "subDomain", &path)?,
        })
    }

    /// The logins serving `sub`, plus `wanted` wherever it points.
    async fn logins(&self, sub: &str, wanted: &str) -> Result<Vec<Login>, Failure> {
        let mut names = self.login_names(&format!("?subDomain={sub}")).await?;
        for n in self.login_names(&format!("?login={wanted}")).await? {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        let mut out = Vec::new();
        for n in names {
            check_name(&n, "login")?;
            out.push(self.login(&n).await?);
        }
        Ok(out)
    }

    async fn dyn_records(&self, sub: Option<&str>) -> Result<Vec<DynRecord>, Failure> {
        let query = sub.map(|s| format!("?subDomain={s}")).unwrap_or_default();
        let path = self.path(&format!("/dynHost/record{query}"));
        let ids = ids(&self.read(&path).await?, &path)?;
        let mut out = Vec::new();
        for id in ids {
            let path = self.path(&format!("/dynHost/record/{id}"));
            let v = self.read(&path).await?;
            let ip: String = field(&v, "ip", &path)?;
            let ip: IpAddr = ip
                .parse()
                .map_err(|_| unexpected(&path, "ip is not an address"))?;
            out.push(DynRecord {
                id,
                sub_domain: field(&v, "subDomain", &path)?,
                ip,
            });
        }
        Ok(out)
    }

    /// Ordinary A and AAAA records of `sub`.
    async fn ordinary(&self, sub: &str) -> Result<Vec<ZoneRecord>, Failure> {
        let mut out = Vec::new();
        for (kind, family) in [("A", Family::V4), ("AAAA", Family::V6)] {
            let path = self.path(&format!("/record?fieldType={kind}&subDomain={sub}"));
            for id in ids(&self.read(&path).await?, &path)? {
                let path = self.path(&format!("/record/{id}"));
                let v = self.read(&path).await?;
                out.push(ZoneRecord {
                    id,
                    family,
                    target: printable(&field::<String>(&v, "target", &path)?),
                });
            }
        }
        Ok(out)
    }
}

fn unexpected(path: &str, what: &str) -> Failure {
    Failure::Other(format!(
        "unexpected answer to GET {}: {what}; is --endpoint the OVH API?",
        path.split('?').next().unwrap_or(path)
    ))
}

fn strings(v: &Value, path: &str) -> Result<Vec<String>, Failure> {
    let list = v.as_array().ok_or_else(|| unexpected(path, "not a list"))?;
    if list.len() > MAX_LIST {
        return Err(unexpected(path, "more than 500 entries"));
    }
    list.iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .ok_or_else(|| unexpected(path, "a list entry is not a string"))
        })
        .collect()
}

fn ids(v: &Value, path: &str) -> Result<Vec<u64>, Failure> {
    let list = v.as_array().ok_or_else(|| unexpected(path, "not a list"))?;
    if list.len() > MAX_LIST {
        return Err(unexpected(path, "more than 500 entries"));
    }
    list.iter()
        .map(|x| {
            x.as_u64()
                .ok_or_else(|| unexpected(path, "a list entry is not an id"))
        })
        .collect()
}

fn field<T: FromValue>(v: &Value, key: &str, path: &str) -> Result<T, Failure> {
    v.get(key)
        .and_then(T::from_value)
        .ok_or_else(|| unexpected(path, &format!("no {key}")))
}

trait FromValue: Sized {
    fn from_value(v: &Value) -> Option<Self>;
}

impl FromValue for String {
    fn from_value(v: &Value) -> Option<String> {
        v.as_str().filter(|s| s.len() <= 1024).map(str::to_string)
    }
}

/// Names from the API go into paths: only what a login or zone can hold.
fn check_name(s: &str, what: &str) -> Result<(), Failure> {
    if s.is_empty()
        || s.len() > 255
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(Failure::Other(format!(
            "the API listed a {what} whose name cannot be used in a request ({:?})",
            printable(s)
        )));
    }
    Ok(())
}

fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn hostname_of(sub: &str, zone: &str) -> String {
    if sub.is_empty() {
        zone.to_string()
    } else {
        format!("{sub}.{zone}")
    }
}

/// A strong DynHost password: letters and digits (every DynHost client and the
/// dyndns2 Basic header take them), with at least one of each kind.
pub fn new_password() -> Result<Secret, Failure> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let rng = SystemRandom::new();
    for _ in 0..16 {
        let mut raw = [0u8; 64];
        rng.fill(&mut raw).map_err(|_| {
            Failure::Other("the system's random number generator failed; retry".into())
        })?;
        // 248 = 4 * 62: no modulo bias.
        let pw: String = raw
            .iter()
            .filter(|&&b| b < 248)
            .take(PASSWORD_LEN)
            .map(|&b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
            .collect();
        raw.fill(0);
        if pw.len() == PASSWORD_LEN
            && pw.bytes().any(|b| b.is_ascii_lowercase())
            && pw.bytes().any(|b| b.is_ascii_uppercase())
            && pw.bytes().any(|b| b.is_ascii_digit())
        {
            return Ok(Secret::new(pw));
        }
    }
    Err(Failure::Other(
        "could not draw a password from the random number generator; retry".into(),
    ))
}

fn load_credentials(args: &SetupArgs) -> Result<Credentials, Failure> {
    let creds = credentials::load(args.endpoint.as_deref()).map_err(Failure::Config)?;
    debug!(endpoint = %creds.endpoint, sources = ?creds.sources, "OVH API credentials");
    Ok(creds)
}

fn zone_arg(args: &SetupArgs) -> Result<String, Failure> {
    args.zone
        .clone()
        .ok_or_else(|| Failure::Usage("--zone is required".into()))
}

fn sub_arg(args: &SetupArgs) -> Result<String, Failure> {
    args.subdomain
        .clone()
        .ok_or_else(|| Failure::Usage("--subdomain is required".into()))
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

/// What a failure half-way leaves, for the operator.
struct Progress {
    done: Vec<String>,
    todo: Vec<String>,
}

impl Progress {
    fn fail(&self, error: impl fmt::Display, unknown: Option<String>) -> Failure {
        let mut m = error.to_string();
        if self.done.is_empty() && unknown.is_none() {
            m.push_str("\nNothing was changed.");
        } else {
            m.push_str("\nWhat exists now:");
            for d in &self.done {
                m.push_str(&format!("\n  - {d}"));
            }
            if let Some(u) = unknown {
                m.push_str(&format!("\n  - {u}"));
            }
        }
        if !self.todo.is_empty() {
            m.push_str("\nNot done yet:");
            for t in &self.todo {
                m.push_str(&format!("\n  - {t}"));
            }
            m.push_str(
                "\nRun the same command again once the cause is fixed: it reads what exists \
                 and completes the rest.",
            );
        }
        Failure::Other(m)
    }
}

struct Names {
    zone: String,
    sub: String,
    hostname: String,
    password_file: PathBuf,
    config: PathBuf,
}

fn todo_text(a: &Action, n: &Names) -> String {
    let file = n.password_file.display();
    match a {
        Action::CreateLogin { login, .. } => format!(
            "create the DynHost login {login} for {} and write its password to {file}",
            n.hostname
        ),
        Action::ChangePassword { login, .. } => {
            format!("set a new password on the DynHost login {login} and write it to {file}")
        }
        Action::DeleteOrdinary(r) => format!("delete the ordinary {r} of {}", n.hostname),
        Action::CreateRecord { ip } => {
            format!("create the DynHost record {} → {ip}", n.hostname)
        }
        Action::UpdateRecord { id, from, to } => {
            format!("point the DynHost record {id} from {from} to {to}")
        }
        Action::Refresh => format!(
            "refresh the zone {} (applies the changes on OVH's DNS servers)",
            n.zone
        ),
        Action::AddToConfig => format!(
            "add the record for {} to {}",
            n.hostname,
            n.config.display()
        ),
    }
}

fn done_text(a: &Action, n: &Names) -> String {
    let file = n.password_file.display();
    match a {
        Action::CreateLogin { login, .. } => format!(
            "the DynHost login {login} for {}; its password is in {file} (mode 0600)",
            n.hostname
        ),
        Action::ChangePassword { login, .. } => {
            format!("a new password on the DynHost login {login}, written to {file} (mode 0600)")
        }
        Action::DeleteOrdinary(r) => format!("the ordinary {r} of {} was deleted", n.hostname),
        Action::CreateRecord { ip } => format!("the DynHost record {} → {ip}", n.hostname),
        Action::UpdateRecord { id, to, .. } => {
            format!("the DynHost record {id} points to {to}")
        }
        Action::Refresh => format!("the zone {} was refreshed", n.zone),
        Action::AddToConfig => format!("the record for {} in {}", n.hostname, n.config.display()),
    }
}

/// `dynhost setup --zone Z --subdomain S …`: steps 1 to 7 of the issue.
pub async fn setup(
    args: &SetupArgs,
    config_path: &Path,
    given: bool,
    dry_run: bool,
) -> Result<(), Failure> {
    let zone = zone_arg(args)?;
    let sub = sub_arg(args)?;
    let hostname = hostname_of(&sub, &zone);
    config::check_hostname(&hostname).map_err(Failure::Usage)?;
    let families = if args.ipv6 {
        vec![Family::V4, Family::V6]
    } else {
        vec![Family::V4]
    };
    for (i, ip) in args.ip.iter().enumerate() {
        let family = Family::of(ip);
        if !families.contains(&family) {
            return Err(Failure::Usage(format!(
                "--ip {ip} is IPv6, but the record publishes IPv4 only: add --ipv6"
            )));
        }
        if args.ip[..i].iter().any(|o| Family::of(o) == family) {
            return Err(Failure::Usage(format!(
                "--ip is given twice for {family}; give at most one address per family"
            )));
        }
    }

    // Local checks first: nothing is asked of the API for a config setup cannot write.
    let target = files::locate(config_path, given).map_err(Failure::Config)?;
    let existing = files::existing(&target).map_err(Failure::Config)?;
    let password_file = match &args.password_file {
        Some(p) => absolute(p),
        None => files::default_password_file(&target, &hostname),
    };
    files::check_value("the password file path", &password_file.to_string_lossy())
        .map_err(Failure::Usage)?;
    let have_password = files::password_file_state(&password_file).map_err(Failure::Config)?;
    let interface = match &args.interface {
        Some(i) => i.clone(),
        None => netlink::default_route_interface()
            .await
            .map_err(Failure::Other)?
            .ok_or_else(|| {
                Failure::Usage(
                    "no --interface was given and there is no default route to take it from: \
                     pass --interface IF (e.g. ppp0)"
                        .into(),
                )
            })?,
    };
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
            Failure::Config(format!(
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
fn nothing_changed(f: Failure) -> Failure {
    let add = |m: String| {
        if m.contains("Nothing was changed") {
            m
        } else {
            format!("{m}\nNothing was changed.")
        }
    };
    match f {
        Failure::Usage(m) => Failure::Usage(add(m)),
        Failure::Config(m) => Failure::Config(add(m)),
        Failure::Other(m) => Failure::Other(add(m)),
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
) -> Result<Plan, Failure> {
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
        Some(netlink::dump().await.map_err(Failure::Other)?)
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

fn refusal(r: Refusal, n: &Names, device: &str) -> Failure {
    match r {
        Refusal::OrdinaryRecords(list) => Failure::Other(format!(
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
        Refusal::LoginElsewhere { login, sub_domain } => Failure::Other(format!(
            "the DynHost login {login} exists and serves {}, not {}: choose another \
             --login-suffix. Nothing was changed.",
            hostname_of(&sub_domain, &n.zone),
            n.hostname
        )),
        Refusal::SeveralLogins(list) => Failure::Other(format!(
            "several DynHost logins serve {}: {}. Say which one setup uses with \
             --login-suffix. Nothing was changed.",
            n.hostname,
            list.join(", ")
        )),
        Refusal::NoAddress { family, why } => Failure::Other(format!(
            "there is no {family} address to publish for {} now ({why}), so setup stops \
             before creating the DynHost record. Run it once the link has a public address, \
             or give one with --ip ADDR. Nothing was changed.",
            n.hostname
        )),
        Refusal::ConfigDiffers { what } => Failure::Config(format!(
            "{} already has a record for {} that is not the one setup would write ({}; \
             interface {device}). Remove that record or make it match, then run setup again. \
             Nothing was changed.",
            n.config.display(),
            n.hostname,
            what.join("; ")
        )),
    }
}

async fn execute(
    api: &Api<'_>,
    plan: &Plan,
    n: &Names,
    target: &Target,
    spec: &RecordSpec,
) -> Result<(), Failure> {
    let mut p = Progress {
        done: Vec::new(),
        todo: plan.actions.iter().map(|a| todo_text(a, n)).collect(),
    };
    for action in &plan.actions {
        p.todo.remove(0);
        let result = match action {
            Action::CreateLogin { login, suffix } => create_login(api, n, login, suffix).await,
            Action::ChangePassword { login, .. } => change_password(api, n, login).await,
            Action::DeleteOrdinary(r) => delete(api, &api.path(&format!("/record/{}", r.id))).await,
            Action::CreateRecord { ip } => create_record(api, n, *ip).await,
            Action::UpdateRecord { id, to, .. } => {
                let body = json!({ "ip": to.to_string() });
                let path = api.path(&format!("/dynHost/record/{id}"));
                api.change(Method::Put, &path, Some(&body), Retry::Once)
                    .await
                    .map(drop)
                    .map_err(Step::Api)
            }
            Action::Refresh => api
                .change(Method::Post, &api.path("/refresh"), None, Retry::Once)
                .await
                .map(drop)
                .map_err(Step::Api),
            Action::AddToConfig if api.dry_run => {
                let text = files::with_record(target, spec, PasswordRef::File);
                let old = target.text.as_deref().map_or(0, str::len);
                println!(
                    "dry run: would add to {}:\n{}",
                    target.path.display(),
                    text[old..].trim_start_matches('\n')
                );
                Ok(())
            }
            Action::AddToConfig => {
                let text = files::with_record(target, spec, PasswordRef::File);
                files::write_config(target, &text).map_err(Step::Local)
            }
        };
        match result {
            Ok(()) => p.done.push(done_text(action, n)),
            Err(Step::Api(e)) => {
                let unknown = (!e.surely_not_applied()).then(|| {
                    format!(
                        "it is not known whether OVH applied this step ({}); the next run \
                         checks",
                        todo_text(action, n)
                    )
                });
                p.todo.insert(0, todo_text(action, n));
                return Err(p.fail(e, unknown));
            }
            Err(Step::Local(e)) => {
                p.todo.insert(0, todo_text(action, n));
                return Err(p.fail(e, None));
            }
            Err(Step::LoginWithoutPassword(e)) => {
                return Err(p.fail(
                    e,
                    Some(format!(
                        "the DynHost login {} exists, but its password could not be saved; \
                         the next run sets a new one",
                        plan.login
                    )),
                ));
            }
        }
    }
    Ok(())
}

enum Step {
    Api(ApiError),
    Local(String),
    /// The login was created or changed, but the password file could not be written.
    LoginWithoutPassword(String),
}

async fn create_login(api: &Api<'_>, n: &Names, login: &str, suffix: &str) -> Result<(), Step> {
    let password = new_password().map_err(|f| Step::Local(f.to_string()))?;
    let body = json!({
        "loginSuffix": suffix,
        "password": password.expose(),
        "subDomain": n.sub,
    });
    let path = api.path("/dynHost/login");
    let mut attempt = 0;
    loop {
        attempt += 1;
        match api
            .change(Method::Post, &path, Some(&body), Retry::Never)
            .await
        {
            Ok(_) => break,
            // A 5xx after the login was made, or another client at the same time: if it
            // exists now, its password is unknown, so set ours.
            Err(e @ (ApiError::Server { .. } | ApiError::Conflict { .. })) => {
                let exists = api
                    .login_names(&format!("?login={login}"))
                    .await
                    .map_err(|f| Step::Local(f.to_string()))?
                    .iter()
                    .any(|l| l == login);
                if exists {
                    debug!("the login exists after {e}; setting the password instead");
                    return change_password(api, n, login).await;
                }
                if attempt >= 2 || matches!(e, ApiError::Conflict { .. }) {
                    return Err(Step::Api(e));
                }
            }
            Err(e) => return Err(Step::Api(e)),
        }
    }
    save_password(api, n, &password)
}

/// Writes the password file after its login call succeeded (a dry run says so only).
fn save_password(api: &Api<'_>, n: &Names, password: &Secret) -> Result<(), Step> {
    if api.dry_run {
        println!(
            "dry run: would write the new password to {} (mode 0600)",
            n.password_file.display()
        );
        return Ok(());
    }
    files::write_password_file(&n.password_file, password).map_err(Step::LoginWithoutPassword)
}

async fn change_password(api: &Api<'_>, n: &Names, login: &str) -> Result<(), Step> {
    let password = new_password().map_err(|f| Step::Local(f.to_string()))?;
    let body = json!({ "password": password.expose() });
    let path = api.path(&format!("/dynHost/login/{login}/changePassword"));
    api.change(Method::Post, &path, Some(&body), Retry::Once)
        .await
        .map_err(Step::Api)?;
    save_password(api, n, &password)
}

async fn create_record(api: &Api<'_>, n: &Names, ip: IpAddr) -> Result<(), Step> {
    let body = json!({ "ip": ip.to_string(), "subDomain": n.sub });
    let path = api.path("/dynHost/record");
    for attempt in 1..=2 {
        match api
            .change(Method::Post, &path, Some(&body), Retry::Never)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e @ ApiError::Server { .. }) => {
                // Made despite the error? Then it is there now.
                let now = api
                    .dyn_records(Some(&n.sub))
                    .await
                    .map_err(|f| Step::Local(f.to_string()))?;
                if now.iter().any(|r| r.ip == ip) {
                    return Ok(());
                }
                if attempt == 2 {
                    return Err(Step::Api(e));
                }
            }
            Err(e) => return Err(Step::Api(e)),
        }
    }
    Ok(())
}

/// A DELETE; one that finds nothing (a retry after the first took effect) is done.
async fn delete(api: &Api<'_>, path: &str) -> Result<(), Step> {
    match api.change(Method::Delete, path, None, Retry::Once).await {
        Ok(_) | Err(ApiError::NotFound { .. }) => Ok(()),
        Err(e) => Err(Step::Api(e)),
    }
}

/// Step 7: `dynhost check` on the file as it is now.
fn check(target: &Target) -> Result<String, Failure> {
    let loaded = config::load(&target.path).map_err(|e| Failure::Config(e.to_string()))?;
    for w in &loaded.warnings {
        println!("warning: {w}");
    }
    crate::provider::HttpPublisher::new(&loaded.config.provider).map_err(Failure::Config)?;
    let c = &loaded.config;
    Ok(format!(
        "check: {}: OK, {} record(s), {} enabled",
        target.path.display(),
        c.records.len(),
        c.records.iter().filter(|r| r.enabled).count()
    ))
}

fn report(plan: &Plan, n: &Names, target: &Target, spec: &RecordSpec, checked: &str) {
    if plan.actions.is_empty() {
        println!("dynhost setup: {}: nothing to change", n.hostname);
        for u in &plan.unchanged {
            println!("  {u}");
        }
    } else {
        println!("dynhost setup: {}: done", n.hostname);
        for a in &plan.actions {
            println!("  {}", done_text(a, n));
        }
    }
    for note in &plan.notes {
        println!("note: {note}");
    }
    println!("{checked}");
    if plan.actions.is_empty() {
        return;
    }
    match target.format {
        files::Format::Uci => println!(
            "next: /etc/init.d/dynhost reload (or start) so that the daemon takes the record"
        ),
        files::Format::Toml => println!(
            "next: if dynhost runs, reload it (systemctl reload dynhost, or send it SIGHUP); \
             otherwise start it (systemctl enable --now dynhost, or dynhost run)"
        ),
    }
    let in_config = files::password_file_in_config(target, &spec.password_file);
    if target.format == files::Format::Toml && !in_config.contains('/') {
        println!(
            "  with the systemd unit from contrib/systemd, hand it the password: systemctl \
             edit dynhost, and under [Service] add LoadCredential={in_config}:{}",
            spec.password_file.display()
        );
    }
}

/// The end of a dry run: the checked config as it would be, and what would change.
fn dry_run_summary(
    plan: &Plan,
    n: &Names,
    target: &Target,
    spec: &RecordSpec,
) -> Result<(), Failure> {
    for note in &plan.notes {
        println!("note: {note}");
    }
    if plan.actions.contains(&Action::AddToConfig) {
        let text = files::with_record(target, spec, PasswordRef::Placeholder);
        files::validate(target, &text).map_err(Failure::Config)?;
        println!(
            "check (the config as it would be): {}: OK",
            target.path.display()
        );
    } else {
        println!("{}", check(target)?);
    }
    if plan.actions.is_empty() {
        println!("dry run: {}: nothing to change", n.hostname);
        for u in &plan.unchanged {
            println!("  {u}");
        }
    } else {
        println!(
            "dry run: nothing was changed; setup would make {} change(s)",
            plan.actions.len()
        );
    }
    Ok(())
}

/// `--request-token [--zone Z]`: a consumer key with exactly the rights setup needs.
pub async fn request_token(args: &SetupArgs, dry_run: bool) -> Result<(), Failure> {
    let creds = load_credentials(args)?;
    if let Auth::OAuth2 { .. } = creds.auth {
        return Err(Failure::Config(format!(
            "the credentials are an OAuth2 service account: it has no consumer key, its \
             rights come from an IAM policy. Grant it these actions on the zone: {}",
            rules::IAM_ACTIONS.join(", ")
        )));
    }
    let list = rules::access_rules(args.zone.as_deref());
    let body = json!({
        "accessRules": list
            .iter()
            .map(|(m, p)| json!({"method": m.as_str(), "path": p}))
            .collect::<Vec<_>>(),
        "redirection": Value::Null,
    });
    println!("Rights requested:");
    for (m, p) in &list {
        println!("  {m} {p}");
    }
    if args.zone.is_none() {
        println!(
            "note: without --zone these rights cover every DNS zone of the account; give \
             --zone to limit them to one"
        );
    }
    if dry_run {
        println!(
            "dry run: would call {}",
            describe(Method::Post, "/auth/credential", Some(&body))
        );
        return Ok(());
    }
    let client = Client::application_only(&creds, args.ca_file.as_deref())?;
    let v = client
        .call(Method::Post, "/auth/credential", Some(&body), Retry::Never)
        .await?;
    let ck = v
        .get("consumerKey")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or_else(|| unexpected("/auth/credential", "no usable consumerKey"))?;
    let url = v
        .get("validationUrl")
        .and_then(Value::as_str)
        .map(printable)
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .ok_or_else(|| unexpected("/auth/credential", "no validationUrl"))?;
    let section = creds.endpoint.name();
    println!(
        "1. Open this URL, log in to OVH and grant the rights:\n   {url}\n\
         2. Give dynhost the new consumer key, either as\n   export OVH_CONSUMER_KEY={ck}\n\
         \x20  or as consumer_key={ck} in the [{section}] section of ~/.ovh.conf (mode 0600)\n\
         3. Run dynhost setup --zone … --subdomain … again."
    );
    Ok(())
}

/// `--list --zone Z`: the zone's DynHost logins and records.
pub async fn list(args: &SetupArgs) -> Result<(), Failure> {
    let zone = zone_arg(args)?;
    let creds = load_credentials(args)?;
    let client = Client::connect(&creds, args.ca_file.as_deref()).await?;
    let api = Api {
        client: &client,
        zone: zone.clone(),
        dry_run: false,
    };
    api.zone_exists().await?;
    let mut logins = Vec::new();
    for name in api.login_names("").await? {
        check_name(&name, "login")?;
        logins.push(api.login(&name).await?);
    }
    let records = api.dyn_records(None).await?;
    println!("DynHost logins in {zone}: {}", logins.len());
    for l in &logins {
        println!("  {}  for {}", l.login, hostname_of(&l.sub_domain, &zone));
    }
    println!("DynHost records in {zone}: {}", records.len());
    for r in &records {
        println!(
            "  {}  {} → {}",
            r.id,
            hostname_of(&r.sub_domain, &zone),
            r.ip
        );
    }
    Ok(())
}

/// `--remove --zone Z --subdomain S`: the DynHost records of the name, then its logins.
pub async fn remove(
    args: &SetupArgs,
    config_path: &Path,
    given: bool,
    dry_run: bool,
) -> Result<(), Failure> {
    let zone = zone_arg(args)?;
    let sub = sub_arg(args)?;
    let hostname = hostname_of(&sub, &zone);
    let creds = load_credentials(args)?;
    let client = Client::connect(&creds, args.ca_file.as_deref()).await?;
    let api = Api {
        client: &client,
        zone: zone.clone(),
        dry_run,
    };
    api.zone_exists().await?;
    let records = api.dyn_records(Some(&sub)).await?;
    let mut logins = Vec::new();
    for name in api.login_names(&format!("?subDomain={sub}")).await? {
        check_name(&name, "login")?;
        let l = api.login(&name).await?;
        let chosen = args
            .login_suffix
            .as_ref()
            .is_none_or(|s| l.login == plan::login_name(&zone, s));
        if l.sub_domain == sub && chosen {
            logins.push(l);
        }
    }
    if records.is_empty() && logins.is_empty() {
        println!("dynhost setup: {hostname}: no DynHost record or login to remove");
        return Ok(());
    }
    println!("To remove for {hostname}:");
    for r in &records {
        println!("  DynHost record {} → {}", r.id, r.ip);
    }
    for l in &logins {
        println!("  DynHost login {}", l.login);
    }
    if !dry_run && !args.yes {
        confirm()?;
    }
    let mut steps: Vec<(Method, String, String, String)> = Vec::new();
    for r in &records {
        steps.push((
            Method::Delete,
            api.path(&format!("/dynHost/record/{}", r.id)),
            format!("delete the DynHost record {} → {}", r.id, r.ip),
            format!("the DynHost record {} was deleted", r.id),
        ));
    }
    if !records.is_empty() {
        steps.push((
            Method::Post,
            api.path("/refresh"),
            format!("refresh the zone {zone}"),
            format!("the zone {zone} was refreshed"),
        ));
    }
    for l in &logins {
        steps.push((
            Method::Delete,
            api.path(&format!("/dynHost/login/{}", l.login)),
            format!("delete the DynHost login {}", l.login),
            format!("the DynHost login {} was deleted", l.login),
        ));
    }
    let mut p = Progress {
        done: Vec::new(),
        todo: steps.iter().map(|s| s.2.clone()).collect(),
    };
    for (method, path, todo, done) in steps {
        p.todo.remove(0);
        let r = if method == Method::Delete {
            delete(&api, &path).await
        } else {
            api.change(method, &path, None, Retry::Once)
                .await
                .map(drop)
                .map_err(Step::Api)
        };
        match r {
            Ok(()) => p.done.push(done),
            Err(Step::Api(e)) => {
                p.todo.insert(0, todo);
                return Err(p.fail(e, None));
            }
            Err(Step::Local(e) | Step::LoginWithoutPassword(e)) => {
                p.todo.insert(0, todo);
                return Err(p.fail(e, None));
            }
        }
    }
    if dry_run {
        println!("dry run: nothing was removed");
        return Ok(());
    }
    println!("dynhost setup: {hostname}: removed");
    // The config is the operator's: say what still refers to the name.
    if let Ok(target) = files::locate(config_path, given)
        && let Ok(Some(c)) = files::existing(&target)
        && let Some(r) = c.records.iter().find(|r| r.hostname == hostname)
    {
        println!(
            "note: {} still has the record for {hostname}{}: remove it, then reload dynhost \
             (its updates would now fail)",
            target.path.display(),
            r.password_file
                .as_ref()
                .map(|p| format!(" (and its password file {})", p.display()))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// Asks on the terminal; refuses without one.
fn confirm() -> Result<(), Failure> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::Usage(
            "--remove deletes from the zone and asks first, but stdin is not a terminal: pass \
             --yes to confirm. Nothing was deleted."
                .into(),
        ));
    }
    eprint!("Delete these from OVH? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let mut limited = std::io::Read::take(stdin.lock(), 64);
    let mut reader = std::io::BufReader::new(&mut limited);
    reader
        .read_line(&mut line)
        .map_err(|e| Failure::Other(format!("cannot read the answer: {e}")))?;
    match line.trim() {
        "y" | "Y" | "yes" | "YES" | "Yes" => Ok(()),
        _ => Err(Failure::Other("not confirmed: nothing was deleted".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_strong_and_plain() {
        let a = new_password().unwrap();
        let b = new_password().unwrap();
        assert_ne!(a.expose(), b.expose());
        for p in [&a, &b] {
            let s = p.expose();
            assert_eq!(s.len(), PASSWORD_LEN);
            assert!(s.bytes().all(|c| c.is_ascii_alphanumeric()), "{s}");
        }
        assert_eq!(format!("{a:?}"), "<redacted>");
    }

    #[test]
    fn a_failure_half_way_says_what_exists_and_what_is_left() {
        let p = Progress {
            done: vec!["the DynHost login example.com-home".into()],
            todo: vec!["create the DynHost record".into(), "refresh".into()],
        };
        let m = p.fail("OVH failed", None).to_string();
        assert!(
            m.contains("What exists now:\n  - the DynHost login")
                && m.contains("Not done yet:\n  - create the DynHost record\n  - refresh")
                && m.contains("Run the same command again"),
            "{m}"
        );
        let none = Progress {
            done: vec![],
            todo: vec![],
        };
        assert!(
            none.fail("x", None)
                .to_string()
                .ends_with("Nothing was changed.")
        );
    }

    #[test]
    fn api_answers_of_the_wrong_shape_are_errors() {
        assert!(strings(&json!({"a": 1}), "/x").is_err());
        assert!(strings(&json!([1]), "/x").is_err());
        assert!(ids(&json!(["a"]), "/x").is_err());
        assert!(ids(&json!((0..600).collect::<Vec<_>>()), "/x").is_err());
        assert_eq!(ids(&json!([1, 2]), "/x").unwrap(), vec![1, 2]);
        assert!(check_name("example.com-home", "login").is_ok());
        for bad in ["", "a/b", "a?b", "a b", "../x"] {
            assert!(check_name(bad, "login").is_err(), "{bad}");
        }
    }
}
