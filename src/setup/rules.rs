//! The API rights setup needs (pure): what `--request-token` asks for, and what
//! docs/setup.md lists.

use crate::ovh::Method;

/// Access rules for a consumer key, for one zone or (without one) every zone.
///
/// - `GET /domain/zone/Z`: the zone exists;
/// - `GET /domain/zone/Z/record`, `GET …/record/*`: ordinary A/AAAA records of the name;
/// - `DELETE …/record/*`: `--replace-record`;
/// - `GET|POST|PUT|DELETE …/dynHost/*`: logins (create, changePassword, remove) and
///   DynHost records (create, update, remove);
/// - `POST …/refresh`: apply the changes on the DNS servers.
pub fn access_rules(zone: Option<&str>) -> Vec<(Method, String)> {
    let Some(z) = zone else {
        return [Method::Get, Method::Post, Method::Put, Method::Delete]
            .into_iter()
            .map(|m| (m, "/domain/zone/*".to_string()))
            .collect();
    };
    let base = format!("/domain/zone/{z}");
    vec![
        (Method::Get, base.clone()),
        (Method::Get, format!("{base}/record")),
        (Method::Get, format!("{base}/record/*")),
        (Method::Delete, format!("{base}/record/*")),
        (Method::Get, format!("{base}/dynHost/*")),
        (Method::Post, format!("{base}/dynHost/*")),
        (Method::Put, format!("{base}/dynHost/*")),
        (Method::Delete, format!("{base}/dynHost/*")),
        (Method::Post, format!("{base}/refresh")),
    ]
}

/// The IAM actions an OAuth2 service account's policy needs on the zone.
pub const IAM_ACTIONS: &[&str] = &[
    "dnsZone:apiovh:get",
    "dnsZone:apiovh:record/get",
    "dnsZone:apiovh:record/delete",
    "dnsZone:apiovh:dynHost/login/get",
    "dnsZone:apiovh:dynHost/login/create",
    "dnsZone:apiovh:dynHost/login/changePassword",
    "dnsZone:apiovh:dynHost/login/delete",
    "dnsZone:apiovh:dynHost/record/get",
    "dnsZone:apiovh:dynHost/record/create",
    "dnsZone:apiovh:dynHost/record/edit",
    "dnsZone:apiovh:dynHost/record/delete",
    "dnsZone:apiovh:refresh",
];

/// Whether a rule (`*` matches any run of characters) allows `method path`, as the
/// API matches them (the query is not part of the path).
pub fn allows(rules: &[(Method, String)], method: Method, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    rules
        .iter()
        .any(|(m, pattern)| *m == method && glob(pattern.as_bytes(), path.as_bytes()))
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    // Iterative wildcard match with one backtrack point: linear in practice.
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_setup_makes_is_covered() {
        let rules = access_rules(Some("example.com"));
        let z = "/domain/zone/example.com";
        let calls = [
            (Method::Get, z.to_string()),
            (
                Method::Get,
                format!("{z}/record?fieldType=A&subDomain=home"),
            ),
            (Method::Get, format!("{z}/record/42")),
            (Method::Delete, format!("{z}/record/42")),
            (Method::Get, format!("{z}/dynHost/login?subDomain=home")),
            (Method::Get, format!("{z}/dynHost/login/example.com-home")),
            (Method::Post, format!("{z}/dynHost/login")),
            (
                Method::Post,
                format!("{z}/dynHost/login/example.com-home/changePassword"),
            ),
            (
                Method::Delete,
                format!("{z}/dynHost/login/example.com-home"),
            ),
            (Method::Get, format!("{z}/dynHost/record?subDomain=home")),
            (Method::Get, format!("{z}/dynHost/record/7")),
            (Method::Post, format!("{z}/dynHost/record")),
            (Method::Put, format!("{z}/dynHost/record/7")),
            (Method::Delete, format!("{z}/dynHost/record/7")),
            (Method::Post, format!("{z}/refresh")),
        ];
        for (m, p) in &calls {
            assert!(allows(&rules, *m, p), "{m} {p}");
        }
        // Nothing beyond the zone, and no other write.
        for (m, p) in [
            (Method::Get, "/me".to_string()),
            (Method::Get, "/domain/zone/other.com".to_string()),
            (Method::Post, format!("{z}/record")),
            (Method::Put, format!("{z}/record/42")),
            (Method::Delete, z.to_string()),
        ] {
            assert!(!allows(&rules, m, &p), "{m} {p}");
        }
        assert!(allows(
            &access_rules(None),
            Method::Post,
            "/domain/zone/a.b/refresh"
        ));
    }

    #[test]
    fn glob_matches() {
        for (p, s, want) in [
            ("/a/*", "/a/b/c", true),
            ("/a/*", "/a", false),
            ("/a/*/c", "/a/b/c", true),
            ("/a", "/a", true),
            ("/a", "/ab", false),
            ("*", "", true),
            ("/a/**", "/a/", true),
        ] {
            assert_eq!(glob(p.as_bytes(), s.as_bytes()), want, "{p} {s}");
        }
    }
}
