//! An API answer: read within [`MAX_BODY`](super::call::MAX_BODY), then classified
//! (pure) as a JSON value or an [`ApiError`]. Also the HTTP `Date` parser and the moment
//! a call was signed, which "Query out of time" reports.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::LOCATION;
use serde_json::Value;

use super::call::{MAX_BODY, Method};
use super::error::ApiError;

/// Unix seconds on this machine.
pub(super) fn local_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub(super) enum ReadError {
    TooLarge,
    Cut(String),
}

/// An answer: status, `Location`, `Date` (Unix seconds), body.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) location: Option<String>,
    pub(super) date: Option<i64>,
    /// `Retry-After` in seconds (a 429's), if given as a number.
    pub(super) retry_after: Option<u64>,
    pub(super) body: Vec<u8>,
}

pub(super) async fn read(mut resp: reqwest::Response) -> Result<Answer, ReadError> {
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get(LOCATION)
        .map(|v| printable(&String::from_utf8_lossy(v.as_bytes())));
    let date = resp
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(http_date);
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(ReadError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => {
                return Ok(Answer {
                    status,
                    location,
                    date,
                    retry_after,
                    body,
                });
            }
            Err(e) => {
                return Err(ReadError::Cut(format!(
                    "the answer was cut short: {}",
                    crate::https::chain(&e)
                )));
            }
        }
    }
}

/// At most 200 characters of server text, without control characters.
pub(super) fn printable(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(200).collect();
    if s.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// When a signed call was signed, for "Query out of time".
#[derive(Clone, Copy, Debug)]
pub(super) struct Signed {
    pub(super) local: i64,
    pub(super) ts: i64,
    pub(super) sync: i64,
    pub(super) server_now: Option<i64>,
}

/// The answer to one call, as a value or an [`ApiError`] (pure).
pub(super) fn classify(
    method: Method,
    path: &str,
    status: u16,
    location: Option<String>,
    body: &[u8],
    oauth2: bool,
    signed_at: Option<Signed>,
) -> Result<Value, ApiError> {
    let path = path.to_string();
    if (300..400).contains(&status) {
        return Err(ApiError::Redirect {
            method,
            path,
            status,
            location,
        });
    }
    if status >= 500 {
        return Err(ApiError::Server {
            method,
            path,
            status,
            attempts: 1,
        });
    }
    let parsed: Option<Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Some(Value::Null)
    } else {
        serde_json::from_slice(body).ok()
    };
    let Some(value) = parsed else {
        return Err(ApiError::NotJson {
            method,
            path,
            status,
        });
    };
    if (200..300).contains(&status) {
        return Ok(value);
    }
    let code = value
        .get("errorCode")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let message = printable(
        value
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message"),
    );
    let lower = message.to_ascii_lowercase();
    match (status, code.as_str()) {
        (_, "NOT_GRANTED_CALL") => Err(ApiError::NotGranted {
            method,
            path,
            oauth2,
        }),
        (_, "NOT_CREDENTIAL" | "INVALID_CREDENTIAL") => Err(ApiError::Credential { code, oauth2 }),
        (401, _) => Err(ApiError::Credential {
            code: format!("401: {message}"),
            oauth2,
        }),
        (_, "INVALID_KEY") => Err(ApiError::InvalidKey {
            endpoint: String::new(),
            page: String::new(),
        }),
        (_, "INVALID_SIGNATURE") => Err(ApiError::InvalidSignature),
        (400, _) if lower.contains("invalid signature") => Err(ApiError::InvalidSignature),
        (_, "QUERY_TIME_OUT") => Err(out_of_time(signed_at)),
        (400, _) if lower.contains("query out of time") => Err(out_of_time(signed_at)),
        (403, _) => Err(ApiError::Forbidden {
            method,
            path,
            message,
        }),
        (404, _) => Err(ApiError::NotFound {
            method,
            path,
            message,
        }),
        (409, _) => Err(ApiError::Conflict {
            method,
            path,
            message,
        }),
        (460, _) => Err(ApiError::Expired { path, message }),
        _ => Err(ApiError::Refused {
            method,
            path,
            status,
            message,
        }),
    }
}

fn out_of_time(signed_at: Option<Signed>) -> ApiError {
    let s = signed_at.unwrap_or(Signed {
        local: local_now(),
        ts: 0,
        sync: 0,
        server_now: None,
    });
    ApiError::OutOfTime {
        local: s.local,
        signed: s.ts,
        server_at_sync: s.sync,
        server_now: s.server_now,
    }
}

/// An HTTP `Date` (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`) as Unix seconds.
fn http_date(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| x == month)? as i64 + 1;
    let d: i64 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let y: i64 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
    let mut hms = time.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, se) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se)
}

#[cfg(test)]
mod tests {
    use super::super::credentials::Endpoint;
    use super::super::error::with_endpoint;
    use super::*;

    fn c(status: u16, body: &str) -> Result<Value, ApiError> {
        classify(
            Method::Post,
            "/domain/zone/example.com/dynHost/login",
            status,
            None,
            body.as_bytes(),
            false,
            Some(Signed {
                local: 1_000,
                ts: 4_600,
                sync: 4_590,
                server_now: Some(4_700),
            }),
        )
    }

    #[test]
    fn answers_are_classified() {
        let p = || "/domain/zone/example.com/dynHost/login".to_string();
        let cases: Vec<(u16, &str, Result<Value, ApiError>)> = vec![
            (200, "null", Ok(Value::Null)),
            (200, "", Ok(Value::Null)),
            (200, "[1,2]", Ok(serde_json::json!([1, 2]))),
            (
                403,
                r#"{"errorCode":"NOT_GRANTED_CALL","httpCode":"403 Forbidden","message":"This call has not been granted"}"#,
                Err(ApiError::NotGranted {
                    method: Method::Post,
                    path: p(),
                    oauth2: false,
                }),
            ),
            (
                403,
                r#"{"errorCode":"NOT_CREDENTIAL","message":"This credential does not exist"}"#,
                Err(ApiError::Credential {
                    code: "NOT_CREDENTIAL".into(),
                    oauth2: false,
                }),
            ),
            (
                403,
                r#"{"errorCode":"INVALID_CREDENTIAL","message":"This credential is not valid"}"#,
                Err(ApiError::Credential {
                    code: "INVALID_CREDENTIAL".into(),
                    oauth2: false,
                }),
            ),
            (
                403,
                r#"{"errorCode":"INVALID_KEY","message":"Invalid application key"}"#,
                Err(ApiError::InvalidKey {
                    endpoint: String::new(),
                    page: String::new(),
                }),
            ),
            (
                400,
                r#"{"errorCode":"INVALID_SIGNATURE","httpCode":"400 Bad Request","message":"Invalid signature"}"#,
                Err(ApiError::InvalidSignature),
            ),
            (
                400,
                r#"{"class":"Client::BadRequest","message":"Invalid signature"}"#,
                Err(ApiError::InvalidSignature),
            ),
            (
                400,
                r#"{"class":"Client::BadRequest","message":"Query out of time"}"#,
                Err(ApiError::OutOfTime {
                    local: 1_000,
                    signed: 4_600,
                    server_at_sync: 4_590,
                    server_now: Some(4_700),
                }),
            ),
            (
                404,
                r#"{"class":"Client::NotFound","message":"This service does not exist"}"#,
                Err(ApiError::NotFound {
                    method: Method::Post,
                    path: p(),
                    message: "This service does not exist".into(),
                }),
            ),
            (
                409,
                r#"{"class":"Client::Conflict","message":"This login already exists"}"#,
                Err(ApiError::Conflict {
                    method: Method::Post,
                    path: p(),
                    message: "This login already exists".into(),
                }),
            ),
            (
                460,
                r#"{"class":"Client::ServiceExpired","message":"This service is expired"}"#,
                Err(ApiError::Expired {
                    path: p(),
                    message: "This service is expired".into(),
                }),
            ),
            (
                503,
                "<html>down</html>",
                Err(ApiError::Server {
                    method: Method::Post,
                    path: p(),
                    status: 503,
                    attempts: 1,
                }),
            ),
            (
                200,
                "<html>portal</html>",
                Err(ApiError::NotJson {
                    method: Method::Post,
                    path: p(),
                    status: 200,
                }),
            ),
            (
                400,
                r#"{"class":"Client::BadRequest","message":"Invalid subDomain"}"#,
                Err(ApiError::Refused {
                    method: Method::Post,
                    path: p(),
                    status: 400,
                    message: "Invalid subDomain".into(),
                }),
            ),
        ];
        for (status, body, want) in cases {
            assert_eq!(c(status, body), want, "{status} {body}");
        }
        let redirect = classify(
            Method::Get,
            "/x",
            302,
            Some("https://elsewhere.example/".into()),
            b"",
            false,
            None,
        );
        assert!(matches!(
            redirect,
            Err(ApiError::Redirect { status: 302, .. })
        ));
    }

    #[test]
    fn messages_name_the_fix_and_stay_bounded() {
        let huge = format!(
            r#"{{"class":"Client::BadRequest","message":"{}\u0007"}}"#,
            "x".repeat(10_000)
        );
        let e = c(400, &huge).unwrap_err().to_string();
        assert!(e.len() < 600 && !e.contains('\u{7}'), "{e}");
        let granted = c(403, r#"{"errorCode":"NOT_GRANTED_CALL","message":"m"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            granted.contains("POST /domain/zone/example.com/dynHost/login")
                && granted.contains("--request-token"),
            "{granted}"
        );
        let time = c(400, r#"{"message":"Query out of time"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            time.contains("this machine's clock says 1970-01-01T00:16:40Z")
                && time.contains("OVH's clock says 1970-01-01T01:18:20Z")
                && time.contains("(1970-01-01T01:16:30Z)"),
            "{time}"
        );
        let key = with_endpoint(
            c(403, r#"{"errorCode":"INVALID_KEY"}"#).unwrap_err(),
            &Endpoint::Ca,
        )
        .to_string();
        assert!(key.contains("ovh-ca") && key.contains("https://ca.api.ovh.com/createApp/"));
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            http_date("Tue, 01 Dec 2026 09:14:46 GMT"),
            Some(1_796_116_486)
        );
        for bad in [
            "",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
        ] {
            assert_eq!(http_date(bad), None, "{bad}");
        }
    }
}
