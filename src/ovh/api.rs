//! The OVH API client: a thin edge over reqwest + rustls.
//!
//! Signed credentials: `GET /auth/time` once, keep the signed delta (server minus local),
//! and sign every call with local time + delta, so that a router with a wrong clock
//! still signs correctly. OAuth2: one client-credentials token (scope `all`), then
//! `Authorization: Bearer` on every call. JSON bodies go out compact, exactly the bytes
//! signed. Answers are bounded, redirects are never followed, and every failure is an
//! [`ApiError`] whose sentence names the fix.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{CONTENT_TYPE, HeaderValue, LOCATION};
use serde_json::Value;
use tracing::{debug, trace};

use super::credentials::{Auth, Credentials, Endpoint};
use super::sign;
use crate::provider::http::CONNECT_TIMEOUT;
use crate::provider::{USER_AGENT, init_tls};
use crate::secret::Secret;

/// The most of an answer that is read; DynHost lists and records are a few KiB.
pub const MAX_BODY: usize = 256 * 1024;
/// Bound on one whole call (connect, TLS, answer).
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Pause before the one retry after a 5xx.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    fn http(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a call may be sent again after a 5xx. Creating calls are not: the caller
/// looks first whether the first attempt took effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    Once,
    Never,
}

/// Every way a call can fail, each with the fix in its sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// 403 NOT_GRANTED_CALL: the consumer key (or IAM policy) lacks this right.
    NotGranted {
        method: Method,
        path: String,
        oauth2: bool,
    },
    /// NOT_CREDENTIAL / INVALID_CREDENTIAL (or a 401): unknown, expired or not yet
    /// validated consumer key, or a refused OAuth2 token.
    Credential {
        code: String,
        oauth2: bool,
    },
    /// INVALID_KEY: the application key is unknown to this endpoint.
    InvalidKey {
        endpoint: String,
        page: String,
    },
    /// The application secret does not match the application key.
    InvalidSignature,
    /// "Query out of time": the timestamp was refused.
    OutOfTime {
        local: i64,
        signed: i64,
        server_at_sync: i64,
        /// The `Date` of the refusing answer: the API's clock now, if it sent one.
        server_now: Option<i64>,
    },
    Forbidden {
        method: Method,
        path: String,
        message: String,
    },
    NotFound {
        method: Method,
        path: String,
        message: String,
    },
    /// 409, e.g. "This login already exists".
    Conflict {
        method: Method,
        path: String,
        message: String,
    },
    /// 460: the service (domain, zone) has expired.
    Expired {
        path: String,
        message: String,
    },
    /// Any other 4xx.
    Refused {
        method: Method,
        path: String,
        status: u16,
        message: String,
    },
    /// 5xx, after `attempts` tries.
    Server {
        method: Method,
        path: String,
        status: u16,
        attempts: u8,
    },
    NotJson {
        method: Method,
        path: String,
        status: u16,
    },
    /// A 3xx: never followed.
    Redirect {
        method: Method,
        path: String,
        status: u16,
        location: Option<String>,
    },
    TooLarge {
        method: Method,
        path: String,
    },
    /// No answer: connect failure, TLS failure, timeout, reset.
    Transport {
        method: Method,
        path: String,
        detail: String,
    },
    /// The OAuth2 token endpoint refused or failed.
    OAuth2 {
        detail: String,
    },
    /// Signed credentials without a consumer key.
    NoConsumerKey {
        endpoint: String,
    },
    /// The client could not be built (CA file).
    Client(String),
}

impl ApiError {
    /// Whether the call surely did not take effect (the API answered with an error).
    /// Transport failures and 5xx leave it unknown.
    pub fn surely_not_applied(&self) -> bool {
        !matches!(
            self,
            ApiError::Transport { .. } | ApiError::Server { .. } | ApiError::TooLarge { .. }
        )
    }
}

const NEW_TOKEN: &str = "run `dynhost setup --request-token` for a consumer key with every \
                         right setup needs (docs/setup.md lists them), open the URL it prints, and use \
                         the new key";

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::NotGranted {
                method,
                path,
                oauth2: false,
            } => write!(
                f,
                "OVH refused {method} {path}: the consumer key was not granted this call \
                 (NOT_GRANTED_CALL). To fix it, {NEW_TOKEN}"
            ),
            ApiError::NotGranted {
                method,
                path,
                oauth2: true,
            } => write!(
                f,
                "OVH refused {method} {path}: the service account's IAM policy does not \
                 allow it (NOT_GRANTED_CALL). Add the dnsZone:apiovh:dynHost/* and \
                 dnsZone:apiovh:record/* actions on this zone to its policy"
            ),
            ApiError::Credential {
                code,
                oauth2: false,
            } => write!(
                f,
                "OVH does not accept the consumer key ({code}): it is unknown, expired, \
                 revoked or not validated yet. If you just requested it, open its \
                 validation URL and log in; otherwise {NEW_TOKEN}"
            ),
            ApiError::Credential { code, oauth2: true } => write!(
                f,
                "OVH does not accept the OAuth2 token ({code}): check the service account \
                 (client_id, client_secret) and that it still exists"
            ),
            ApiError::InvalidKey { endpoint, page } => write!(
                f,
                "OVH does not know this application key on {endpoint} (INVALID_KEY): check \
                 application_key (or OVH_APPLICATION_KEY) and --endpoint; keys of one region \
                 do not work in another. Create one at {page}"
            ),
            ApiError::InvalidSignature => f.write_str(
                "OVH says the signature is invalid: the application secret does not belong \
                 to the application key. Check application_secret (or \
                 OVH_APPLICATION_SECRET)",
            ),
            ApiError::OutOfTime {
                local,
                signed,
                server_at_sync,
                server_now,
            } => {
                let t = |s: i64| crate::state::rfc3339(clamp(s));
                write!(
                    f,
                    "OVH refused the request's timestamp (\"Query out of time\"): this \
                     machine's clock says {}",
                    t(*local)
                )?;
                if let Some(now) = server_now {
                    write!(f, ", OVH's clock says {} (its answer's Date)", t(*now))?;
                }
                write!(
                    f,
                    "; the call was signed for {}, from OVH's clock as /auth/time gave it \
                     ({}). The clock jumped while setup ran, or something between rewrote \
                     the time: check the clock (NTP, timedatectl) and run setup again",
                    t(*signed),
                    t(*server_at_sync)
                )
            }
            ApiError::Forbidden {
                method,
                path,
                message,
            } => write!(
                f,
                "OVH refused {method} {path} (403: {message}). Check that the credentials \
                 belong to the account that holds this zone"
            ),
            ApiError::NotFound {
                method,
                path,
                message,
            } => write!(
                f,
                "OVH has no such object: {method} {path} (404: {message})"
            ),
            ApiError::Conflict {
                method,
                path,
                message,
            } => write!(
                f,
                "OVH refused {method} {path} as a conflict (409: {message}). Something else \
                 changed the zone at the same time; run `dynhost setup --list` to see it, then \
                 run setup again"
            ),
            ApiError::Expired { path, message } => write!(
                f,
                "OVH says the service behind {path} has expired (460: {message}). Renew the \
                 domain or DNS zone in the OVH control panel, then run setup again"
            ),
            ApiError::Refused {
                method,
                path,
                status,
                message,
            } => write!(
                f,
                "OVH refused {method} {path} ({status}: {message}). Check the zone, subdomain \
                 and login suffix given"
            ),
            ApiError::Server {
                method,
                path,
                status,
                attempts,
            } => write!(
                f,
                "OVH failed {method} {path} with HTTP {status}{}: a problem on OVH's side. \
                 Wait a few minutes and run setup again",
                if *attempts > 1 { ", twice" } else { "" }
            ),
            ApiError::NotJson {
                method,
                path,
                status,
            } => write!(
                f,
                "the answer to {method} {path} (HTTP {status}) is not JSON, so it did not come \
                 from the OVH API: check --endpoint, and for a proxy or captive portal in the \
                 way"
            ),
            ApiError::Redirect {
                method,
                path,
                status,
                location,
            } => write!(
                f,
                "{method} {path} was answered with a redirect (HTTP {status}{}); redirects are \
                 never followed. Check --endpoint: give the API base itself (for example \
                 https://eu.api.ovh.com/1.0)",
                location
                    .as_deref()
                    .map(|l| format!(" to {l}"))
                    .unwrap_or_default()
            ),
            ApiError::TooLarge { method, path } => write!(
                f,
                "the answer to {method} {path} is larger than {} KiB, far more than the API \
                 sends: check --endpoint",
                MAX_BODY / 1024
            ),
            ApiError::Transport {
                method,
                path,
                detail,
            } => write!(
                f,
                "{method} {path} got no answer ({detail}); check the network, --endpoint and \
                 --ca-file, then run setup again"
            ),
            ApiError::OAuth2 { detail } => write!(
                f,
                "the OAuth2 token request failed: {detail}. Check client_id and \
                 client_secret (or OVH_CLIENT_ID, OVH_CLIENT_SECRET) and --endpoint"
            ),
            ApiError::NoConsumerKey { endpoint } => write!(
                f,
                "no consumer key is configured for {endpoint}: {NEW_TOKEN} as \
                 OVH_CONSUMER_KEY or consumer_key in ovh.conf"
            ),
            ApiError::Client(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for ApiError {}

fn clamp(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

/// Unix seconds on this machine.
fn local_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

enum Session {
    Signed {
        application_key: String,
        secret: Secret,
        consumer_key: Secret,
        delta: i64,
        server_at_sync: i64,
    },
    /// Only the application key: `POST /auth/credential` before a consumer key exists.
    AppOnly {
        application_key: String,
    },
    Bearer {
        token: Secret,
    },
}

/// An authenticated API session.
pub struct Client {
    http: reqwest::Client,
    endpoint: Endpoint,
    base: String,
    session: Session,
}

/// What a call sends, for `--dry-run` and logs: the body with passwords redacted.
pub fn describe(method: Method, path: &str, body: Option<&Value>) -> String {
    match body {
        None => format!("{method} {path}"),
        Some(b) => format!("{method} {path} {}", redacted(b)),
    }
}

/// The body as JSON text with every `password` value replaced.
pub fn redacted(body: &Value) -> String {
    let mut b = body.clone();
    if let Some(obj) = b.as_object_mut() {
        for (k, v) in obj.iter_mut() {
            if k.eq_ignore_ascii_case("password") {
                *v = Value::String("<redacted>".into());
            }
        }
    }
    b.to_string()
}

impl Client {
    /// A session for `creds`: the clock delta for signed credentials, a token for OAuth2.
    pub async fn connect(creds: &Credentials, ca_file: Option<&Path>) -> Result<Client, ApiError> {
        let http = http_client(ca_file)?;
        let base = creds.endpoint.api_base();
        match &creds.auth {
            Auth::Signed {
                consumer_key: None, ..
            } => Err(ApiError::NoConsumerKey {
                endpoint: creds.endpoint.name(),
            }),
            Auth::Signed {
                application_key,
                application_secret,
                consumer_key: Some(ck),
            } => {
                let mut client = Client {
                    http,
                    endpoint: creds.endpoint.clone(),
                    base,
                    session: Session::AppOnly {
                        application_key: application_key.clone(),
                    },
                };
                let (server, local) = client.server_time().await?;
                let delta = sign::clock_delta(server, local);
                debug!(delta, "OVH's clock minus ours, in seconds");
                client.session = Session::Signed {
                    application_key: application_key.clone(),
                    secret: application_secret.clone(),
                    consumer_key: ck.clone(),
                    delta,
                    server_at_sync: server,
                };
                Ok(client)
            }
            Auth::OAuth2 {
                client_id,
                client_secret,
            } => {
                let token = fetch_token(&http, &creds.endpoint, client_id, client_secret).await?;
                Ok(Client {
                    http,
                    endpoint: creds.endpoint.clone(),
                    base,
                    session: Session::Bearer { token },
                })
            }
        }
    }

    /// A session that only names the application (`POST /auth/credential`).
    pub fn application_only(
        creds: &Credentials,
        ca_file: Option<&Path>,
    ) -> Result<Client, ApiError> {
        let Auth::Signed {
            application_key, ..
        } = &creds.auth
        else {
            return Err(ApiError::Client(
                "OAuth2 service accounts have no consumer keys: their rights come from an \
                 IAM policy (see docs/setup.md)"
                    .into(),
            ));
        };
        Ok(Client {
            http: http_client(ca_file)?,
            endpoint: creds.endpoint.clone(),
            base: creds.endpoint.api_base(),
            session: Session::AppOnly {
                application_key: application_key.clone(),
            },
        })
    }

    /// The signed clock delta (server minus local), for signed sessions.
    pub fn clock_delta(&self) -> Option<i64> {
        match &self.session {
            Session::Signed { delta, .. } => Some(*delta),
            _ => None,
        }
    }

    async fn server_time(&self) -> Result<(i64, i64), ApiError> {
        let v = self
            .send(Method::Get, "/auth/time", None, false, Retry::Once)
            .await?;
        let local = local_now();
        let server = v.as_i64().ok_or_else(|| ApiError::NotJson {
            method: Method::Get,
            path: "/auth/time".into(),
            status: 200,
        })?;
        Ok((server, local))
    }

    /// One authenticated call. `path` starts with `/` and may carry a query.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<Value, ApiError> {
        self.send(method, path, body, true, retry).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        auth: bool,
        retry: Retry,
    ) -> Result<Value, ApiError> {
        let bytes = body.map(|b| b.to_string().into_bytes());
        let url = format!("{}{path}", self.base);
        let mut attempt = 1;
        loop {
            debug!(call = %describe(method, path, body), attempt, "OVH API");
            match self.once(method, path, &url, bytes.as_deref(), auth).await {
                Err(ApiError::Server { status, .. }) if retry == Retry::Once && attempt == 1 => {
                    debug!(status, "OVH API: server error, retrying once");
                    tokio::time::sleep(RETRY_PAUSE).await;
                    attempt += 1;
                }
                Err(ApiError::Server { status, .. }) => {
                    return Err(ApiError::Server {
                        method,
                        path: strip_query(path),
                        status,
                        attempts: attempt,
                    });
                }
                other => return other.map_err(|e| with_endpoint(e, &self.endpoint)),
            }
        }
    }

    async fn once(
        &self,
        method: Method,
        path: &str,
        url: &str,
        body: Option<&[u8]>,
        auth: bool,
    ) -> Result<Value, ApiError> {
        let mut req = self.http.request(method.http(), url);
        if let Some(b) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(b.to_vec());
        }
        let oauth2 = matches!(self.session, Session::Bearer { .. });
        let mut signed_at = None;
        if auth {
            match &self.session {
                Session::Signed {
                    application_key,
                    secret,
                    consumer_key,
                    delta,
                    server_at_sync,
                } => {
                    let local = local_now();
                    let ts = sign::timestamp(local, *delta);
                    let sig = sign::signature(
                        secret,
                        consumer_key,
                        method.as_str(),
                        url,
                        body.unwrap_or_default(),
                        ts,
                    );
                    req = req
                        .header("X-Ovh-Application", application_key.as_str())
                        .header("X-Ovh-Consumer", sensitive(consumer_key.expose())?)
                        .header("X-Ovh-Timestamp", ts.to_string())
                        .header("X-Ovh-Signature", sig);
                    signed_at = Some((local, ts, *server_at_sync));
                }
                Session::AppOnly { application_key } => {
                    req = req.header("X-Ovh-Application", application_key.as_str());
                }
                Session::Bearer { token } => {
                    let value = sensitive(&format!("Bearer {}", token.expose()))?;
                    req = req.header(reqwest::header::AUTHORIZATION, value);
                }
            }
        }
        let shown = strip_query(path);
        let resp = req.send().await.map_err(|e| ApiError::Transport {
            method,
            path: shown.clone(),
            detail: crate::provider::http::chain(&e),
        })?;
        let answer = read(resp).await.map_err(|e| match e {
            ReadError::TooLarge => ApiError::TooLarge {
                method,
                path: shown.clone(),
            },
            ReadError::Cut(detail) => ApiError::Transport {
                method,
                path: shown.clone(),
                detail,
            },
        })?;
        trace!(
            status = answer.status,
            bytes = answer.body.len(),
            "OVH API answer"
        );
        let signed_at = signed_at.map(|(local, ts, sync)| Signed {
            local,
            ts,
            sync,
            server_now: answer.date,
        });
        classify(
            method,
            &shown,
            answer.status,
            answer.location,
            &answer.body,
            oauth2,
            signed_at,
        )
    }
}

fn sensitive(s: &str) -> Result<HeaderValue, ApiError> {
    let mut v = HeaderValue::from_str(s).map_err(|_| {
        ApiError::Client(
            "a credential holds characters that cannot go in an HTTP header; check \
             ovh.conf and the OVH_* variables"
                .into(),
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

fn strip_query(path: &str) -> String {
    path.split('?').next().unwrap_or(path).to_string()
}

fn http_client(ca_file: Option<&Path>) -> Result<reqwest::Client, ApiError> {
    init_tls();
    let mut b = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .pool_max_idle_per_host(0)
        .no_proxy()
        .http1_only();
    if let Some(path) = ca_file {
        let shown = path.display();
        let pem = std::fs::read(path).map_err(|e| ApiError::Client(format!("{shown}: {e}")))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| ApiError::Client(format!("{shown}: not a PEM certificate bundle: {e}")))?;
        if certs.is_empty() {
            return Err(ApiError::Client(format!("{shown}: holds no certificate")));
        }
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(|e| {
        ApiError::Client(format!(
            "cannot set up the HTTPS client: {}",
            crate::provider::http::chain(&e)
        ))
    })
}

enum ReadError {
    TooLarge,
    Cut(String),
}

/// An answer: status, `Location`, `Date` (Unix seconds), body.
struct Answer {
    status: u16,
    location: Option<String>,
    date: Option<i64>,
    body: Vec<u8>,
}

async fn read(mut resp: reqwest::Response) -> Result<Answer, ReadError> {
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
                    body,
                });
            }
            Err(e) => {
                return Err(ReadError::Cut(format!(
                    "the answer was cut short: {}",
                    crate::provider::http::chain(&e)
                )));
            }
        }
    }
}

/// At most 200 characters of server text, without control characters.
fn printable(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(200).collect();
    if s.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// When a signed call was signed, for "Query out of time".
#[derive(Clone, Copy, Debug)]
struct Signed {
    local: i64,
    ts: i64,
    sync: i64,
    server_now: Option<i64>,
}

/// The answer to one call, as a value or an [`ApiError`] (pure).
fn classify(
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

/// OAuth2 client credentials: `grant_type=client_credentials&scope=all`, the client
/// authenticated with HTTP Basic (as OVH's clients do).
async fn fetch_token(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    client_id: &str,
    client_secret: &Secret,
) -> Result<Secret, ApiError> {
    let url = endpoint.token_url();
    debug!(url = %url, "OAuth2: requesting a token");
    let resp = http
        .post(&url)
        .basic_auth(client_id, Some(client_secret.expose()))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=all")
        .send()
        .await
        .map_err(|e| ApiError::OAuth2 {
            detail: format!("no answer from {url}: {}", crate::provider::http::chain(&e)),
        })?;
    let Answer {
        status,
        location,
        body,
        ..
    } = read(resp).await.map_err(|e| ApiError::OAuth2 {
        detail: match e {
            ReadError::TooLarge => format!("the answer from {url} is too large"),
            ReadError::Cut(d) => d,
        },
    })?;
    if (300..400).contains(&status) {
        return Err(ApiError::Redirect {
            method: Method::Post,
            path: url,
            status,
            location,
        });
    }
    let value: Value = serde_json::from_slice(&body).map_err(|_| ApiError::OAuth2 {
        detail: format!("the answer from {url} (HTTP {status}) is not JSON"),
    })?;
    if !(200..300).contains(&status) {
        let error = value.get("error").and_then(Value::as_str).unwrap_or("");
        let description = value
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or("");
        return Err(ApiError::OAuth2 {
            detail: format!(
                "HTTP {status}: {}",
                printable(format!("{error} {description}").trim())
            ),
        });
    }
    let token = value.get("access_token").and_then(Value::as_str);
    let kind = value
        .get("token_type")
        .and_then(Value::as_str)
        .unwrap_or("");
    match token {
        Some(t) if kind.eq_ignore_ascii_case("bearer") && !t.is_empty() && t.len() <= 8192 => {
            Ok(Secret::new(t.to_string()))
        }
        _ => Err(ApiError::OAuth2 {
            detail: format!("the answer from {url} holds no bearer access_token"),
        }),
    }
}

/// Fills in the endpoint for an [`ApiError::InvalidKey`] (the classifier cannot know it).
pub fn with_endpoint(e: ApiError, endpoint: &Endpoint) -> ApiError {
    match e {
        ApiError::InvalidKey { .. } => ApiError::InvalidKey {
            endpoint: endpoint.name(),
            page: endpoint.create_app_page(),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn dry_run_descriptions_redact_passwords() {
        let body =
            serde_json::json!({"loginSuffix": "home", "password": "hunter2", "subDomain": "home"});
        let d = describe(
            Method::Post,
            "/domain/zone/example.com/dynHost/login",
            Some(&body),
        );
        assert_eq!(
            d,
            r#"POST /domain/zone/example.com/dynHost/login {"loginSuffix":"home","password":"<redacted>","subDomain":"home"}"#
        );
        // The body sent is compact and sorted, as the signature vectors are.
        assert_eq!(
            body.to_string(),
            r#"{"loginSuffix":"home","password":"hunter2","subDomain":"home"}"#
        );
    }
}
