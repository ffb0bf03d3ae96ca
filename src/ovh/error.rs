//! [`ApiError`]: every way an API call can fail, each with the fix in its sentence.

use std::fmt;

use super::call::{MAX_BODY, Method};
use super::credentials::Endpoint;

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
    /// 429: too many requests; `Retry-After` in seconds, if given.
    TooManyRequests {
        method: Method,
        path: String,
        retry_after: Option<u64>,
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
                let t = |s: i64| crate::date::rfc3339(clamp(s));
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
            ApiError::TooManyRequests {
                method,
                path,
                retry_after,
            } => write!(
                f,
                "OVH refused {method} {path} with HTTP 429 (too many requests){}: wait, then \
                 try again",
                retry_after
                    .map(|s| format!("; it asks to retry after {s} s"))
                    .unwrap_or_default()
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
