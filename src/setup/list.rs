//! `dynhost setup --list`: the zone's DynHost logins and records, read only.

use super::api::{Api, check_name};
use super::flow::{hostname_of, load_credentials, zone_arg};
use super::{Error, SetupArgs};
use crate::ovh::Client;

/// `--list --zone Z`: the zone's DynHost logins and records.
pub async fn list(args: &SetupArgs) -> Result<(), Error> {
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
    crate::outln!("DynHost logins in {zone}: {}", logins.len());
    for l in &logins {
        crate::outln!("  {}  for {}", l.login, hostname_of(&l.sub_domain, &zone));
    }
    crate::outln!("DynHost records in {zone}: {}", records.len());
    for r in &records {
        crate::outln!(
            "  {}  {} → {}",
            r.id,
            hostname_of(&r.sub_domain, &zone),
            r.ip
        );
    }
    Ok(())
}
