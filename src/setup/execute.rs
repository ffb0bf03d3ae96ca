//! The plan's changes, in order: each API call, the password it sets and the file it
//! writes. A failure stops at once and says what exists and what is left.

use std::net::IpAddr;

use serde_json::json;
use tracing::debug;

use super::Error;
use super::api::Api;
use super::files::{self, PasswordRef, RecordSpec, Target};
use super::plan::{Action, Plan};
use super::progress::{Names, Progress, done_text, todo_text};
use crate::ovh::{ApiError, Method, Retry};
use crate::secret::Secret;

/// Length of a generated DynHost password (letters and digits: about 143 bits).
const PASSWORD_LEN: usize = 24;

/// A strong DynHost password: letters and digits (every DynHost client and the
/// dyndns2 Basic header take them), with at least one of each kind.
pub fn new_password() -> Result<Secret, Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for _ in 0..16 {
        let mut raw =
            crate::random::bytes::<64>().map_err(|e| Error::Failed(format!("{e}; retry")))?;
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
    Err(Error::Failed(
        "could not draw a password from the random number generator; retry".into(),
    ))
}

pub(super) async fn execute(
    api: &Api<'_>,
    plan: &Plan,
    n: &Names,
    target: &Target,
    spec: &RecordSpec,
) -> Result<(), Error> {
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
                crate::outln!(
                    "dry run: would add to {}:\n{}",
                    target.path.display(),
                    text[old..].trim_start_matches('\n')
                );
                Ok(())
            }
            Action::AddToConfig => files::add_record(target, spec)
                .map(|e| debug!(outcome = ?e, "config record"))
                .map_err(Step::Local),
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

pub(super) enum Step {
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
        crate::outln!(
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
pub(super) async fn delete(api: &Api<'_>, path: &str) -> Result<(), Step> {
    match api.change(Method::Delete, path, None, Retry::Once).await {
        Ok(_) | Err(ApiError::NotFound { .. }) => Ok(()),
        Err(e) => Err(Step::Api(e)),
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
}
