//! `dynhost setup --request-token`: asks OVH for a consumer key with exactly the rights
//! setup needs, and says how to validate and use it.

use serde_json::{Value, json};

use super::api::{printable, unexpected};
use super::flow::load_credentials;
use super::{Error, SetupArgs, rules};
use crate::ovh::call::describe;
use crate::ovh::{Auth, Client, Method, Retry};

/// `--request-token [--zone Z]`: a consumer key with exactly the rights setup needs.
pub async fn request_token(args: &SetupArgs, dry_run: bool) -> Result<(), Error> {
    let creds = load_credentials(args)?;
    if let Auth::OAuth2 { .. } = creds.auth {
        return Err(Error::Config(format!(
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
    crate::outln!("Rights requested:");
    for (m, p) in &list {
        crate::outln!("  {m} {p}");
    }
    if args.zone.is_none() {
        crate::outln!(
            "note: without --zone these rights cover every DNS zone of the account; give \
             --zone to limit them to one"
        );
    }
    if dry_run {
        crate::outln!(
            "dry run: would call {}",
            describe(Method::Post, "/auth/credential", Some(&body))
        );
        return Ok(());
    }
    let client = Client::application_only(&creds, args.ca_file.as_deref())?;
    let (ck, url) = request_credential(&client, &body).await?;
    let section = creds.endpoint.name();
    crate::outln!(
        "1. Open this URL, log in to OVH and grant the rights:\n   {url}\n\
         2. Give dynhost the new consumer key, either as\n   export OVH_CONSUMER_KEY={ck}\n\
         \x20  or as consumer_key={ck} in the [{section}] section of ~/.ovh.conf (mode 0600)\n\
         3. Run dynhost setup --zone … --subdomain … again."
    );
    Ok(())
}

/// `POST /auth/credential`: the new consumer key and the URL where its rights are
/// granted, each checked before it is printed or stored.
pub(super) async fn request_credential(
    client: &Client,
    body: &Value,
) -> Result<(String, String), Error> {
    let v = client
        .call(Method::Post, "/auth/credential", Some(body), Retry::Never)
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
    Ok((ck.to_string(), url))
}
