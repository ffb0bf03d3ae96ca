//! API mode's vocabulary (pure): which zones may hold a name, the subdomain within one,
//! the zone's records read from answers of a checked shape, what to write, the rights a
//! consumer key needs, and the right a refused call names.

use std::net::IpAddr;

use serde_json::Value;

use super::Method;
use crate::model::Family;

/// Records of one name and type read at most: a name has one or two; more is a zone
/// that dynhost must not touch by guessing.
pub const MAX_IDS: usize = 64;

/// The zones that may hold `hostname`, longest first: the name itself (a wildcard
/// without its `*.`), then each parent down to two labels.
pub fn candidates(hostname: &str) -> Vec<String> {
    let name = hostname.strip_prefix("*.").unwrap_or(hostname);
    let labels: Vec<&str> = name.split('.').collect();
    (0..labels.len().saturating_sub(1))
        .map(|i| labels[i..].join("."))
        .collect()
}

/// The subdomain of `hostname` in `zone`: `""` for the apex, `*` or `*.home` for a
/// wildcard.
pub fn sub_domain(hostname: &str, zone: &str) -> String {
    if hostname == zone {
        return String::new();
    }
    hostname
        .strip_suffix(zone)
        .and_then(|h| h.strip_suffix('.'))
        .unwrap_or(hostname)
        .to_string()
}

pub fn field_type(family: Family) -> &'static str {
    match family {
        Family::V4 => "A",
        Family::V6 => "AAAA",
    }
}

/// The path listing the records of one name and type.
pub fn list_path(zone: &str, sub: &str, family: Family) -> String {
    format!(
        "/domain/zone/{zone}/record?fieldType={}&subDomain={sub}",
        field_type(family)
    )
}

/// A list of record ids: an array of at most [`MAX_IDS`] non-negative integers.
pub fn ids(v: &Value) -> Result<Vec<u64>, String> {
    let Some(list) = v.as_array() else {
        return Err(format!("expected a list of record ids, got {}", kind(v)));
    };
    if list.len() > MAX_IDS {
        return Err(format!(
            "{} records for one name, more than the {MAX_IDS} dynhost reads",
            list.len()
        ));
    }
    list.iter()
        .map(|i| {
            i.as_u64()
                .ok_or_else(|| format!("a record id is {}", kind(i)))
        })
        .collect()
}

/// One A/AAAA record as the API describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneRecord {
    pub id: u64,
    pub target: String,
}

/// A record answer: an object whose `id`, `fieldType` and `target` have the expected
/// types and values.
pub fn record(v: &Value, id: u64, family: Family) -> Result<ZoneRecord, String> {
    let got_id = v.get("id").and_then(Value::as_u64);
    let ft = v.get("fieldType").and_then(Value::as_str);
    let target = v.get("target").and_then(Value::as_str);
    match (got_id, ft, target) {
        (Some(i), Some(f), Some(t)) if i == id && f == field_type(family) && t.len() <= 256 => {
            Ok(ZoneRecord {
                id,
                target: t.to_string(),
            })
        }
        _ => Err(format!(
            "record {id} is not an {} record with an id and a target",
            field_type(family)
        )),
    }
}

/// What publishing `addr` means for the name's records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// No record of this type: create one.
    Create,
    /// These records hold another address: change them.
    Change(Vec<u64>),
    /// Every record already holds it.
    Same,
    /// Several records and no `replace_all`: dynhost does not guess which.
    Several(Vec<u64>),
}

/// The plan for `records` (all the name's records of the type).
pub fn plan(records: &[ZoneRecord], addr: IpAddr, replace_all: bool) -> Plan {
    if records.len() > 1 && !replace_all {
        return Plan::Several(records.iter().map(|r| r.id).collect());
    }
    if records.is_empty() {
        return Plan::Create;
    }
    let stale: Vec<u64> = records
        .iter()
        .filter(|r| r.target.parse::<IpAddr>().ok() != Some(addr))
        .map(|r| r.id)
        .collect();
    if stale.is_empty() {
        Plan::Same
    } else {
        Plan::Change(stale)
    }
}

/// The rights API mode needs on `zone`, exactly: find the zone, read the name's
/// records, change or create one, refresh.
pub fn api_rules(zone: &str) -> Vec<(Method, String)> {
    let base = format!("/domain/zone/{zone}");
    vec![
        (Method::Get, base.clone()),
        (Method::Get, format!("{base}/record")),
        (Method::Get, format!("{base}/record/*")),
        (Method::Put, format!("{base}/record/*")),
        (Method::Post, format!("{base}/record")),
        (Method::Post, format!("{base}/refresh")),
    ]
}

/// The rule that grants `method path` among [`api_rules`]: the path itself, or its
/// record-id form with `*`.
pub fn right_for(method: Method, path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let parts: Vec<&str> = path.split('/').collect();
    // ["", "domain", "zone", Z, "record", ID]
    if parts.len() == 6 && parts[4] == "record" {
        return format!("{method} /domain/zone/{}/record/*", parts[3]);
    }
    format!("{method} {path}")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zones_longest_first_and_subdomains() {
        assert_eq!(
            candidates("*.home.example.com"),
            ["home.example.com", "example.com"]
        );
        assert_eq!(candidates("example.com"), ["example.com"]);
        assert_eq!(sub_domain("*.home.example.com", "example.com"), "*.home");
        assert_eq!(sub_domain("*.home.example.com", "home.example.com"), "*");
        assert_eq!(sub_domain("example.com", "example.com"), "");
        assert_eq!(
            list_path("example.com", "", Family::V6),
            "/domain/zone/example.com/record?fieldType=AAAA&subDomain="
        );
    }

    #[test]
    fn answers_of_the_wrong_shape_are_refused() {
        assert_eq!(ids(&json!([1, 2])).unwrap(), [1, 2]);
        assert!(ids(&json!({"a": 1})).unwrap_err().contains("an object"));
        assert!(ids(&json!(["1"])).unwrap_err().contains("a string"));
        assert!(ids(&json!((0..100).collect::<Vec<_>>())).is_err());
        let good = json!({"id": 7, "fieldType": "A", "subDomain": "", "target": "192.0.2.1"});
        assert_eq!(record(&good, 7, Family::V4).unwrap().target, "192.0.2.1");
        assert!(record(&good, 8, Family::V4).is_err());
        assert!(record(&good, 7, Family::V6).is_err());
        assert!(
            record(
                &json!({"id": 7, "fieldType": "A", "target": 3}),
                7,
                Family::V4
            )
            .is_err()
        );
    }

    #[test]
    fn plans() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let r = |id, t: &str| ZoneRecord {
            id,
            target: t.into(),
        };
        assert_eq!(plan(&[], a, false), Plan::Create);
        assert_eq!(plan(&[r(1, "192.0.2.1")], a, false), Plan::Same);
        assert_eq!(plan(&[r(1, "192.0.2.9")], a, false), Plan::Change(vec![1]));
        let two = [r(1, "192.0.2.9"), r(2, "192.0.2.1")];
        assert_eq!(plan(&two, a, false), Plan::Several(vec![1, 2]));
        assert_eq!(plan(&two, a, true), Plan::Change(vec![1]));
    }

    #[test]
    #[cfg(feature = "setup")]
    fn rights_cover_every_call_and_name_the_missing_one() {
        let rules = api_rules("example.com");
        let z = "/domain/zone/example.com";
        for (m, p) in [
            (Method::Get, z.to_string()),
            (Method::Get, format!("{z}/record?fieldType=A&subDomain=*")),
            (Method::Get, format!("{z}/record/42")),
            (Method::Put, format!("{z}/record/42")),
            (Method::Post, format!("{z}/record")),
            (Method::Post, format!("{z}/refresh")),
        ] {
            assert!(crate::setup::rules::allows(&rules, m, &p), "{m} {p}");
        }
        assert!(!crate::setup::rules::allows(
            &rules,
            Method::Delete,
            &format!("{z}/record/42")
        ));
        assert_eq!(
            right_for(Method::Put, &format!("{z}/record/42")),
            "PUT /domain/zone/example.com/record/*"
        );
        assert_eq!(
            right_for(Method::Post, &format!("{z}/refresh")),
            "POST /domain/zone/example.com/refresh"
        );
    }
}
