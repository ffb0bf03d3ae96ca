//! `dynhost setup --api-record --zone Z --subdomain S`: a record published through the
//! OVH API (`provider = "ovh-api"`). Asks OVH for a consumer key whose rights are
//! exactly API mode's calls on that zone, prints them, writes the key to a mode-0600
//! file next to the config, and appends the record (and, when the config has none, the
//! `[ovh]` section that names the key file) to the config.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::flow::{hostname_of, interface_arg, load_credentials, sub_arg, zone_arg};
use super::{Error, SetupArgs, files};
use crate::config::{self, quote};
use crate::ovh::call::describe;
use crate::ovh::{Auth, Client, Method, zone};
use crate::secret::Secret;

/// The subdomain as given: `@` is the apex.
fn sub_of(s: &str) -> String {
    if s == "@" {
        String::new()
    } else {
        s.to_string()
    }
}

/// The text appended to a TOML config: the record, and `[ovh]` if `ovh` is given.
pub fn record_text(hostname: &str, interface: &str, ipv6: bool, ovh: Option<&str>) -> String {
    let mut t = format!(
        "\n[[record]]\nhostname = {}\nprovider = \"ovh-api\"\ninterface = {}\n",
        quote(hostname),
        quote(interface)
    );
    if ipv6 {
        t.push_str("ipv6 = true\n");
    }
    if let Some(o) = ovh {
        t.push_str(o);
    }
    t
}

/// `--api-record`: the consumer key with API mode's rights, and the record.
pub async fn api_record(
    args: &SetupArgs,
    config: &Path,
    given: bool,
    dry_run: bool,
) -> Result<(), Error> {
    let zone_name = zone_arg(args)?;
    let sub = sub_of(&sub_arg(args)?);
    let hostname = hostname_of(&sub, &zone_name);
    let target = files::locate(config, given).map_err(Error::Config)?;
    if target.format == files::Format::Uci {
        return Err(Error::Usage(format!(
            "{} is a UCI config: --api-record writes TOML only for now; add the record by \
             hand (option provider 'ovh-api', see README \"API mode\")",
            target.path.display()
        )));
    }
    let existing = files::existing(&target).map_err(Error::Config)?;
    if let Some(c) = &existing
        && c.records.iter().any(|r| r.hostname == hostname)
    {
        return Err(Error::Config(format!(
            "{} already has a record for {hostname}; remove it first",
            target.path.display()
        )));
    }
    let creds = load_credentials(args)?;
    let Auth::Signed {
        application_key, ..
    } = &creds.auth
    else {
        return Err(Error::Config(
            "API mode signs its calls with an application key and a consumer key; an \
             OAuth2 service account is not supported by it yet"
                .into(),
        ));
    };
    let interface = interface_arg(args).await?;
    let rules = zone::api_rules(&zone_name);
    println!("Rights requested (API mode, exactly these calls on {zone_name}):");
    for (m, p) in &rules {
        println!("  {m} {p}");
    }
    let body = json!({
        "accessRules": rules
            .iter()
            .map(|(m, p)| json!({"method": m.as_str(), "path": p}))
            .collect::<Vec<_>>(),
        "redirection": Value::Null,
    });
    let key_file = key_file_for(&target.path, &zone_name);
    let mut ovh_section = format!(
        "\n[ovh]\nendpoint = {}\napplication_key = {}\nconsumer_key_file = {}\n",
        quote(&creds.endpoint.name()),
        quote(application_key),
        quote(&key_file.display().to_string())
    );
    if let Some(ca) = &args.ca_file {
        let ca = std::path::absolute(ca).unwrap_or_else(|_| ca.clone());
        ovh_section.push_str(&format!("ca_file = {}\n", quote(&ca.display().to_string())));
    }
    // The text with the record (and `[ovh]` when the config has none), from the text
    // as it is; whether `[ovh]` was added.
    let appended = |now: Option<&str>| -> Result<(String, bool), String> {
        let t = files::Target {
            text: now.map(str::to_string),
            ..target.clone()
        };
        let ex = files::existing(&t)?;
        if ex
            .as_ref()
            .is_some_and(|c| c.records.iter().any(|r| r.hostname == hostname))
        {
            return Err(format!(
                "{} has a record for {hostname} (added while setup ran?); nothing was added",
                target.path.display()
            ));
        }
        let add_ovh = ex.as_ref().is_none_or(|c| c.ovh == config::Ovh::default());
        let mut text = now.unwrap_or("").to_string();
        text.push_str(&record_text(
            &hostname,
            &interface,
            args.ipv6,
            add_ovh.then_some(ovh_section.as_str()),
        ));
        Ok((text, add_ovh))
    };
    let (text, add_ovh) = appended(target.text.as_deref()).map_err(Error::Config)?;
    if dry_run {
        println!(
            "dry run: would call {}\nand append to {}:{}",
            describe(Method::Post, "/auth/credential", Some(&body)),
            target.path.display(),
            &text[target.text.as_deref().map_or(0, str::len)..]
        );
        return Ok(());
    }
    files::validate(&target, &text).map_err(Error::Config)?;
    let client = Client::application_only(&creds, args.ca_file.as_deref())?;
    let (ck, url) = super::token::request_credential(&client, &body).await?;
    files::write_password_file(&key_file, &Secret::new(ck.clone())).map_err(Error::Config)?;
    // Through the one config writer: under its lock, on the file as it is now.
    let change = |now: Option<&str>| appended(now).map(|(t, _)| Some(t));
    config::write::edit(&target.path, target.text.as_deref(), &change).map_err(Error::Config)?;
    let ovh = add_ovh.then_some(());
    println!(
        "The consumer key is in {} (mode 0600); {} has the record for {hostname}{}.\n\
         1. Open this URL, log in to OVH and grant the rights:\n   {url}\n\
         2. Give the daemon the application secret (OVH_APPLICATION_SECRET, ovh.conf, or \
         ovh.application_secret_file), then reload it.",
        key_file.display(),
        target.path.display(),
        if ovh.is_some() {
            " and an [ovh] section naming the key file"
        } else {
            "; the config already had an [ovh] section: point its consumer_key_file at the \
             new key"
        }
    );
    Ok(())
}

/// `<config dir>/ovh-<zone>.consumer-key`.
fn key_file_for(config: &Path, zone: &str) -> PathBuf {
    config
        .parent()
        .unwrap_or(Path::new("/"))
        .join(format!("ovh-{zone}.consumer-key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_text_parses_as_an_api_record() {
        let text = record_text(
            "*.home.example.com",
            "ppp0",
            true,
            Some(
                "\n[ovh]\nendpoint = \"ovh-eu\"\napplication_key = \"abc\"\nconsumer_key_file = \"/etc/dynhost/ck\"\n",
            ),
        );
        let c = config::parse(&text, None).unwrap().config;
        assert_eq!(c.records[0].hostname, "*.home.example.com");
        assert_eq!(c.records[0].provider, config::Publisher::OvhApi);
        assert!(c.records[0].ipv6);
        assert_eq!(c.ovh.application_key.as_deref(), Some("abc"));
        assert_eq!(sub_of("@"), "");
    }
}
