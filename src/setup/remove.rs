//! `dynhost setup --remove`: deletes the name's DynHost records, then its logins, after
//! asking; the config is left to the operator, with a note when it still names the host.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use super::api::{Api, check_name};
use super::execute::{Step, delete};
use super::flow::{hostname_of, load_credentials, sub_arg, zone_arg};
use super::progress::Progress;
use super::{Error, SetupArgs, files, plan};
use crate::ovh::{Client, Method, Retry};

/// `--remove --zone Z --subdomain S`: the DynHost records of the name, then its logins.
pub async fn remove(
    args: &SetupArgs,
    config_path: &Path,
    given: bool,
    dry_run: bool,
) -> Result<(), Error> {
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
        crate::outln!("dynhost setup: {hostname}: no DynHost record or login to remove");
        return Ok(());
    }
    crate::outln!("To remove for {hostname}:");
    for r in &records {
        crate::outln!("  DynHost record {} → {}", r.id, r.ip);
    }
    for l in &logins {
        crate::outln!("  DynHost login {}", l.login);
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
        crate::outln!("dry run: nothing was removed");
        return Ok(());
    }
    crate::outln!("dynhost setup: {hostname}: removed");
    // The config is the operator's: say what still refers to the name.
    if let Ok(target) = files::locate(config_path, given)
        && let Ok(Some(c)) = files::existing(&target)
        && let Some(r) = c.records.iter().find(|r| r.hostname == hostname)
    {
        crate::outln!(
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
fn confirm() -> Result<(), Error> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::Usage(
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
        .map_err(|e| Error::Failed(format!("cannot read the answer: {e}")))?;
    match line.trim() {
        "y" | "Y" | "yes" | "YES" | "Yes" => Ok(()),
        _ => Err(Error::Failed("not confirmed: nothing was deleted".into())),
    }
}
