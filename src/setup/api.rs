//! The OVH API as setup uses it: reads always go out, changes are printed instead in a
//! dry run, and every answer is checked for the shape setup expects before it is used.

use std::net::IpAddr;

use serde_json::Value;

use super::Error;
use super::plan::{DynRecord, Login, ZoneRecord};
use crate::model::Family;
use crate::ovh::call::describe;
use crate::ovh::{ApiError, Client, Method, Retry};

/// Lists longer than this are refused: a zone's DynHost entries for one name are few.
const MAX_LIST: usize = 500;

/// The API as setup uses it: reads always go out; in a dry run, changes are printed
/// instead of sent.
pub(super) struct Api<'c> {
    pub(super) client: &'c Client,
    pub(super) zone: String,
    pub(super) dry_run: bool,
}

impl Api<'_> {
    pub(super) fn path(&self, rest: &str) -> String {
        format!("/domain/zone/{}{rest}", self.zone)
    }

    async fn read(&self, path: &str) -> Result<Value, ApiError> {
        if self.dry_run {
            crate::outln!(
                "dry run: {} (a read: made)",
                describe(Method::Get, path, None)
            );
        }
        self.client.call(Method::Get, path, None, Retry::Once).await
    }

    /// A change; `None` in a dry run.
    pub(super) async fn change(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<Option<Value>, ApiError> {
        if self.dry_run {
            crate::outln!("dry run: would call {}", describe(method, path, body));
            return Ok(None);
        }
        self.client.call(method, path, body, retry).await.map(Some)
    }

    /// The zone itself: a 404 means it is not in this account.
    pub(super) async fn zone_exists(&self) -> Result<(), Error> {
        let path = self.path("");
        match self.read(&path).await {
            Ok(_) => Ok(()),
            Err(ApiError::NotFound { .. }) => Err(Error::Failed(format!(
                "the zone {} is not in this OVH account (GET {path} answered 404): check \
                 --zone, and that the API credentials belong to the account that holds the \
                 zone (its DNS must be at OVH)",
                self.zone
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn login_names(&self, query: &str) -> Result<Vec<String>, Error> {
        let path = self.path(&format!("/dynHost/login{query}"));
        let v = self.read(&path).await?;
        strings(&v, &path)
    }

    pub(super) async fn login(&self, name: &str) -> Result<Login, Error> {
        let path = self.path(&format!("/dynHost/login/{name}"));
        let v = self.read(&path).await?;
        Ok(Login {
            login: name.to_string(),
            sub_domain: field(&v, "subDomain", &path)?,
        })
    }

    /// The logins serving `sub`, plus `wanted` wherever it points.
    pub(super) async fn logins(&self, sub: &str, wanted: &str) -> Result<Vec<Login>, Error> {
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

    pub(super) async fn dyn_records(&self, sub: Option<&str>) -> Result<Vec<DynRecord>, Error> {
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
    pub(super) async fn ordinary(&self, sub: &str) -> Result<Vec<ZoneRecord>, Error> {
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

pub(super) fn unexpected(path: &str, what: &str) -> Error {
    Error::Failed(format!(
        "unexpected answer to GET {}: {what}; is --endpoint the OVH API?",
        path.split('?').next().unwrap_or(path)
    ))
}

fn strings(v: &Value, path: &str) -> Result<Vec<String>, Error> {
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

fn ids(v: &Value, path: &str) -> Result<Vec<u64>, Error> {
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

fn field<T: FromValue>(v: &Value, key: &str, path: &str) -> Result<T, Error> {
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
pub(super) fn check_name(s: &str, what: &str) -> Result<(), Error> {
    if s.is_empty()
        || s.len() > 255
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(Error::Failed(format!(
            "the API listed a {what} whose name cannot be used in a request ({:?})",
            printable(s)
        )));
    }
    Ok(())
}

pub(super) fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
