//! The OVH API client: a thin edge over reqwest + rustls.
//!
//! Signed credentials: `GET /auth/time` once, keep the signed delta (server minus local),
//! and sign every call with local time + delta, so that a router with a wrong clock
//! still signs correctly. OAuth2: one client-credentials token (scope `all`), then
//! `Authorization: Bearer` on every call. JSON bodies go out compact, exactly the bytes
//! signed. Answers are bounded, redirects are never followed, and every failure is an
//! [`ApiError`] whose sentence names the fix.
//!
//! The call's vocabulary is in [`super::call`], its errors in [`super::error`], and the
//! reading and classing of answers in [`super::answer`].

use std::path::Path;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::Value;
use tracing::{debug, trace};

use super::answer::{Answer, ReadError, Signed, classify, local_now, printable, read};
use super::call::{Method, Retry, TIMEOUT, describe};
use super::credentials::{Auth, Credentials, Endpoint};
use super::error::{ApiError, with_endpoint};
use super::sign;
use crate::https::{CONNECT_TIMEOUT, USER_AGENT, init_tls};
use crate::secret::Secret;

/// Pause before the one retry after a 5xx.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

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
            detail: crate::https::chain(&e),
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
        if answer.status == 429 {
            return Err(ApiError::TooManyRequests {
                method,
                path: shown,
                retry_after: answer.retry_after,
            });
        }
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
            crate::https::chain(&e)
        ))
    })
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
            detail: format!("no answer from {url}: {}", crate::https::chain(&e)),
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
