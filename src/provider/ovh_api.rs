//! API mode's edge: publishing a record through the OVH API (`provider = "ovh-api"`).
//!
//! One publish: find the zone of the name (the longest the account holds, probed with
//! `GET /domain/zone/{z}` and cached), read the name's A (AAAA) records, `PUT` the stale
//! ones (or `POST` one when there is none), then `POST /domain/zone/{z}/refresh`. The
//! refresh is shared: every publish under way writes first, and the last one to finish
//! its writes refreshes each zone written once, for all of them (an address change
//! published to ten names of one zone costs one refresh). A zone written but not yet
//! refreshed is remembered in `<state_dir>/ovh-refresh-owed` before the first write, so
//! that a process killed between the two completes the refresh at its next publish.
//!
//! Every failure becomes an [`Outcome`] the engine already handles: identity errors
//! (credentials, rights, signature, zone) block the record like `badauth`, 5xx and 429
//! are retried, malformed answers count as unrecognised ones.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use super::Update;
use super::reply::{ApiFailure, Outcome, Reply, Transport};
use crate::config::{Config, Publisher};
use crate::ovh::zone::{self, Plan};
use crate::ovh::{ApiError, Client, Credentials, Method, Retry};

/// The file of zones written but not yet refreshed, in the state directory.
pub const OWED_FILE: &str = "ovh-refresh-owed";
/// API calls under way at once, across all records.
const CALLS_AT_ONCE: usize = 8;
/// A 429 without `Retry-After` waits at least this.
const RATE_LIMIT_FLOOR: Duration = Duration::from_secs(60);

/// The API publisher: one session, shared by every record in API mode.
#[derive(Clone)]
pub struct ApiPublisher {
    inner: Arc<Inner>,
}

struct Inner {
    creds: Credentials,
    ca_file: Option<PathBuf>,
    owed_path: PathBuf,
    client: tokio::sync::Mutex<Option<Arc<Client>>>,
    /// Bounds the calls under way at once (the engine lets batched sends go together).
    calls: tokio::sync::Semaphore,
    /// OVH's clock minus ours, as the last session found it (for messages).
    delta: Mutex<Option<i64>>,
    /// Hostname to zone, found once.
    zones: Mutex<HashMap<String, String>>,
    batch: Mutex<Batch>,
}

type Waiter = oneshot::Sender<Result<(), ApiError>>;

/// The shared refresh: publishes still writing, and those waiting for a zone's refresh.
#[derive(Default)]
struct Batch {
    writing: usize,
    waiting: BTreeMap<String, Vec<Waiter>>,
    /// Zones written and not refreshed (the file's contents).
    owed: BTreeSet<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What went wrong, before it is an [`Outcome`].
enum Failed {
    Api(ApiError),
    /// The answer has the wrong shape (too many records, wrong types).
    Malformed(String),
    /// Several records and no `replace_all`.
    Several(Vec<u64>),
    /// No zone of the account holds the name.
    NoZone(Vec<String>),
}

impl From<ApiError> for Failed {
    fn from(e: ApiError) -> Failed {
        Failed::Api(e)
    }
}

impl ApiPublisher {
    /// The publisher for `config`'s API records, or `None` when it has none. Reads the
    /// `[ovh]` secrets files (bounded) and the OVH_* variables and ovh.conf.
    pub fn new(config: &Config) -> Result<Option<ApiPublisher>, String> {
        let used = config
            .records
            .iter()
            .any(|r| r.enabled && r.provider == Publisher::OvhApi);
        if !used {
            return Ok(None);
        }
        let o = &config.ovh;
        let secret = read_secret(o.application_secret_file.as_deref(), "application_secret")?;
        let consumer = read_secret(o.consumer_key_file.as_deref(), "consumer_key")?;
        let key = o.application_key.clone();
        let overlay = move |var: &str| match var {
            "OVH_APPLICATION_KEY" => key.clone(),
            "OVH_APPLICATION_SECRET" => secret.clone(),
            "OVH_CONSUMER_KEY" => consumer.clone(),
            _ => None,
        };
        let creds = crate::ovh::credentials::load_with(o.endpoint.as_deref(), &overlay)
            .map_err(|e| format!("API mode ([ovh]): {e}"))?;
        let owed_path = config.state_dir.join(OWED_FILE);
        let owed = read_owed(&owed_path);
        if !owed.is_empty() {
            info!(zones = ?owed, "a zone refresh is owed from an earlier run; it is sent with the next update");
        }
        Ok(Some(ApiPublisher {
            inner: Arc::new(Inner {
                creds,
                ca_file: o.ca_file.clone(),
                owed_path,
                client: tokio::sync::Mutex::new(None),
                calls: tokio::sync::Semaphore::new(CALLS_AT_ONCE),
                delta: Mutex::new(None),
                zones: Mutex::new(HashMap::new()),
                batch: Mutex::new(Batch {
                    owed,
                    ..Batch::default()
                }),
            }),
        }))
    }

    /// Publishes `req` (an API record). Counted as writing from now, so that the
    /// publishes of one engine turn share their zone's refresh.
    pub fn publish(&self, req: Update) -> impl Future<Output = Outcome> + 'static + use<> {
        let inner = self.inner.clone();
        lock(&inner.batch).writing += 1;
        // Uncounted when left, or when the future is dropped, polled or not.
        let mut entered = Entered {
            inner: inner.clone(),
            left: false,
        };
        async move {
            let written = inner.write(&req).await;
            let (zone, changed) = match &written {
                Ok((zone, changed)) => {
                    let owed = lock(&inner.batch).owed.contains(zone);
                    ((*changed || owed).then(|| zone.clone()), *changed)
                }
                Err(_) => (None, false),
            };
            let refreshed = entered.leave(zone).await;
            let addr = req.addr;
            match (written, refreshed) {
                (Err(f), _) => outcome(f, &req, inner.client_delta()),
                (Ok(_), Some(Err(e))) => outcome(Failed::Api(e), &req, None),
                (Ok(_), _) if changed => Outcome::Reply(Reply::Good(Some(addr))),
                (Ok(_), _) => Outcome::Reply(Reply::NoChange(Some(addr))),
            }
        }
    }
}

/// A publish counted in `writing`; leaving (or dropping) uncounts it.
struct Entered {
    inner: Arc<Inner>,
    left: bool,
}

impl Entered {
    /// Stops writing; waits for `zone`'s refresh if given. The last publish to stop
    /// writing refreshes every zone waited for, once each.
    async fn leave(&mut self, zone: Option<String>) -> Option<Result<(), ApiError>> {
        self.left = true;
        let (rx, due) = {
            let mut b = lock(&self.inner.batch);
            let rx = zone.map(|z| {
                let (tx, rx) = oneshot::channel();
                b.waiting.entry(z).or_default().push(tx);
                rx
            });
            b.writing -= 1;
            let due = if b.writing == 0 {
                std::mem::take(&mut b.waiting)
            } else {
                BTreeMap::new()
            };
            (rx, due)
        };
        for (zone, waiters) in due {
            let res = self.inner.refresh(&zone).await;
            for w in waiters {
                let _ = w.send(res.clone());
            }
        }
        match rx {
            Some(rx) => Some(rx.await.unwrap_or(Ok(()))),
            None => None,
        }
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        if !self.left {
            // Cancelled (shutdown): waiters left behind are served by the next publish.
            lock(&self.inner.batch).writing -= 1;
        }
    }
}

impl Inner {
    async fn client(&self) -> Result<Arc<Client>, ApiError> {
        let mut c = self.client.lock().await;
        if let Some(client) = c.as_ref() {
            return Ok(client.clone());
        }
        let client = Arc::new(Client::connect(&self.creds, self.ca_file.as_deref()).await?);
        *lock(&self.delta) = client.clock_delta();
        *c = Some(client.clone());
        Ok(client)
    }

    fn client_delta(&self) -> Option<i64> {
        *lock(&self.delta)
    }

    /// One call; a refused timestamp re-reads OVH's clock and tries once more (the
    /// router's clock was set since the session began), as does a session to build.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let _permit = self.calls.acquire().await;
        let client = self.client().await?;
        match client.call(method, path, body, Retry::Never).await {
            Err(ApiError::OutOfTime { .. }) => {
                debug!("OVH refused the timestamp; reading its clock again");
                *self.client.lock().await = None;
                self.client()
                    .await?
                    .call(method, path, body, Retry::Never)
                    .await
            }
            Err(e @ (ApiError::Credential { .. } | ApiError::InvalidSignature)) => {
                // The next attempt starts a new session (a new key after a reload).
                *self.client.lock().await = None;
                Err(e)
            }
            other => other,
        }
    }

    /// The zone of `hostname`: the longest candidate the account holds.
    async fn zone(&self, hostname: &str) -> Result<String, Failed> {
        if let Some(z) = lock(&self.zones).get(hostname) {
            return Ok(z.clone());
        }
        let tried = zone::candidates(hostname);
        for z in &tried {
            match self
                .call(Method::Get, &format!("/domain/zone/{z}"), None)
                .await
            {
                Ok(_) => {
                    lock(&self.zones).insert(hostname.to_string(), z.clone());
                    return Ok(z.clone());
                }
                // Not this one: absent, or not among the key's zones.
                Err(ApiError::NotFound { .. } | ApiError::NotGranted { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Failed::NoZone(tried))
    }

    /// The writes for `req`: its zone, and whether anything was written.
    async fn write(&self, req: &Update) -> Result<(String, bool), Failed> {
        let family = req.key.family;
        let zone = self.zone(&req.key.hostname).await?;
        let sub = zone::sub_domain(&req.key.hostname, &zone);
        let listed = self
            .call(Method::Get, &zone::list_path(&zone, &sub, family), None)
            .await?;
        let ids = zone::ids(&listed).map_err(Failed::Malformed)?;
        if ids.len() > 1 && !req.replace_all {
            return Err(Failed::Several(ids));
        }
        let mut records = Vec::new();
        for id in ids {
            let path = format!("/domain/zone/{zone}/record/{id}");
            let v = self.call(Method::Get, &path, None).await?;
            records.push(zone::record(&v, id, family).map_err(Failed::Malformed)?);
        }
        let target = req.addr.to_string();
        match zone::plan(&records, req.addr, req.replace_all) {
            Plan::Same => return Ok((zone, false)),
            Plan::Several(ids) => return Err(Failed::Several(ids)),
            Plan::Create => {
                self.owe(&zone);
                let body = json!({"fieldType": zone::field_type(family), "subDomain": sub, "target": target});
                self.call(
                    Method::Post,
                    &format!("/domain/zone/{zone}/record"),
                    Some(&body),
                )
                .await?;
            }
            Plan::Change(ids) => {
                self.owe(&zone);
                // Only the target: the record's TTL stays as it is.
                let body = json!({ "target": target });
                for id in ids {
                    let path = format!("/domain/zone/{zone}/record/{id}");
                    self.call(Method::Put, &path, Some(&body)).await?;
                }
            }
        }
        Ok((zone, true))
    }

    /// Remembers, before writing, that `zone` will need a refresh.
    fn owe(&self, zone: &str) {
        let mut b = lock(&self.batch);
        if b.owed.insert(zone.to_string()) {
            save_owed(&self.owed_path, &b.owed);
        }
    }

    async fn refresh(&self, zone: &str) -> Result<(), ApiError> {
        let path = format!("/domain/zone/{zone}/refresh");
        self.call(Method::Post, &path, None).await?;
        debug!(zone, "zone refreshed");
        let mut b = lock(&self.batch);
        if b.owed.remove(zone) {
            save_owed(&self.owed_path, &b.owed);
        }
        Ok(())
    }
}

/// A secret from its file (one line, bounded), or `None` to look it up elsewhere.
fn read_secret(path: Option<&Path>, what: &str) -> Result<Option<String>, String> {
    let Some(p) = path else { return Ok(None) };
    let text = crate::bounded::read_text(p, 4096)
        .map_err(|e| format!("ovh.{what}_file: {}: {e}", p.display()))?;
    let line = text.lines().next().unwrap_or("").trim().to_string();
    if line.is_empty() {
        return Err(format!("ovh.{what}_file: {} is empty", p.display()));
    }
    Ok(Some(line))
}

fn read_owed(path: &Path) -> BTreeSet<String> {
    match crate::bounded::read_text(path, 64 * 1024) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| crate::config::check_hostname(l).is_ok())
            .map(str::to_string)
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// Writes the owed zones (temporary file, fsync, rename); removes the file when none.
fn save_owed(path: &Path, owed: &BTreeSet<String>) {
    let res = if owed.is_empty() {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    } else {
        let tmp = path.with_extension("tmp");
        let text: String = owed.iter().map(|z| format!("{z}\n")).collect();
        (|| {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })()
    };
    if let Err(e) = res {
        warn!(path = %path.display(), "cannot record the owed zone refresh: {e}");
    }
}

/// The engine's view of a failure.
fn outcome(f: Failed, req: &Update, delta: Option<i64>) -> Outcome {
    let fail = |token: &str, sentence: String, retry: Option<Duration>, identity: bool| {
        Outcome::Api(ApiFailure {
            token: token.into(),
            sentence,
            retry,
            identity,
        })
    };
    let blocked = |token: &str, sentence: String| fail(token, sentence, None, true);
    let host = &req.key.hostname;
    match f {
        Failed::Several(ids) => {
            let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
            fail(
                "api-several",
                format!(
                    "{host} has {} {} records (ids {}); dynhost does not guess which one to \
                     change: remove the extra ones in the zone, or set replace_all = true to \
                     change them all",
                    ids.len(),
                    zone::field_type(req.key.family),
                    ids.join(", ")
                ),
                None,
                false,
            )
        }
        Failed::NoZone(tried) => blocked(
            "api-no-zone",
            format!(
                "no zone of this OVH account holds {host} (tried {}: not found, or the \
                 consumer key may not read it); check the hostname, the [ovh] credentials, \
                 and that the key's rights include GET /domain/zone/ZONE",
                tried.join(", ")
            ),
        ),
        Failed::Malformed(why) => Outcome::Reply(Reply::Unparseable {
            status: 200,
            excerpt: format!("the OVH API answered out of shape: {why}"),
        }),
        Failed::Api(e) => match e {
            ApiError::Transport { .. } => Outcome::Transport(Transport::Unconfirmed(e.to_string())),
            ApiError::Server { .. } => fail("api-5xx", e.to_string(), Some(Duration::ZERO), false),
            ApiError::TooManyRequests { retry_after, .. } => {
                let floor =
                    retry_after.map_or(RATE_LIMIT_FLOOR, |s| Duration::from_secs(s.min(24 * 3600)));
                fail("api-429", e.to_string(), Some(floor), false)
            }
            ApiError::NotJson { status, .. } => Outcome::Reply(Reply::Unparseable {
                status,
                excerpt: e.to_string(),
            }),
            ApiError::TooLarge { .. } => Outcome::Reply(Reply::Unparseable {
                status: 200,
                excerpt: e.to_string(),
            }),
            ApiError::NotGranted { method, path, .. } => {
                let zone = path.split('/').nth(3).unwrap_or("ZONE").to_string();
                let sub = zone::sub_domain(host, &zone);
                blocked(
                    "api-not-granted",
                    format!(
                        "OVH refused {method} {path}: the consumer key was not granted this \
                         call (NOT_GRANTED_CALL). Add the right {} to the key: run `dynhost \
                         setup --api-record --zone {zone} --subdomain '{sub}'` for a key with \
                         exactly the rights API mode needs, open the URL it prints, and put \
                         the new key in ovh.consumer_key_file",
                        zone::right_for(method, &path)
                    ),
                )
            }
            ApiError::InvalidSignature => blocked(
                "api-signature",
                format!(
                    "{e}, or ovh.application_secret_file{}",
                    delta
                        .map(|d| format!(
                            " (the clock is not the cause: this machine's clock is {d} s from \
                             OVH's, and dynhost signs with OVH's)"
                        ))
                        .unwrap_or_default()
                ),
            ),
            ApiError::OutOfTime { .. } => blocked("api-clock", e.to_string()),
            ApiError::Credential { .. } | ApiError::NoConsumerKey { .. } => blocked(
                "api-credential",
                format!(
                    "{e}. For API mode, `dynhost setup --api-record` requests a key with \
                     exactly its rights"
                ),
            ),
            ApiError::InvalidKey { .. } => blocked("api-key", e.to_string()),
            ApiError::Forbidden { .. } | ApiError::OAuth2 { .. } | ApiError::Client(_) => {
                blocked("api-forbidden", e.to_string())
            }
            ApiError::Expired { .. } => blocked("api-expired", e.to_string()),
            ApiError::NotFound { .. }
            | ApiError::Conflict { .. }
            | ApiError::Refused { .. }
            | ApiError::Redirect { .. } => fail("api-refused", e.to_string(), None, false),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SlotKey;
    use crate::model::Family;
    use crate::provider::reply::Class;

    fn req() -> Update {
        Update {
            key: SlotKey {
                hostname: "*.home.example.com".into(),
                family: Family::V4,
            },
            addr: "192.0.2.1".parse().unwrap(),
            url: reqwest::Url::parse("https://example.invalid/").unwrap(),
            username: String::new(),
            password: crate::secret::Secret::new(String::new()),
            provider: Publisher::OvhApi,
            replace_all: false,
        }
    }

    #[test]
    fn each_error_class_maps_to_an_engine_outcome() {
        let granted = outcome(
            Failed::Api(ApiError::NotGranted {
                method: Method::Post,
                path: "/domain/zone/example.com/refresh".into(),
                oauth2: false,
            }),
            &req(),
            None,
        );
        assert_eq!(granted.class(), Class::Fatal);
        assert!(granted.concerns_record());
        let text = granted.to_string();
        assert!(
            text.contains("Add the right POST /domain/zone/example.com/refresh"),
            "{text}"
        );
        assert!(text.contains("--subdomain '*.home'"), "{text}");
        let many = outcome(
            Failed::Api(ApiError::TooManyRequests {
                method: Method::Get,
                path: "/x".into(),
                retry_after: Some(120),
            }),
            &req(),
            None,
        );
        assert_eq!(
            many.class(),
            Class::Transient {
                floor: Duration::from_secs(120)
            }
        );
        let server = outcome(
            Failed::Api(ApiError::Server {
                method: Method::Put,
                path: "/x".into(),
                status: 503,
                attempts: 1,
            }),
            &req(),
            None,
        );
        assert!(matches!(server.class(), Class::Transient { .. }));
        let sig = outcome(Failed::Api(ApiError::InvalidSignature), &req(), Some(-3600));
        assert_eq!(sig.class(), Class::Fatal);
        assert!(sig.to_string().contains("-3600 s from OVH's"), "{sig}");
        let several = outcome(Failed::Several(vec![7, 9]), &req(), None);
        assert_eq!(several.class(), Class::Fatal);
        assert!(!several.concerns_record());
        assert!(several.to_string().contains("ids 7, 9"), "{several}");
        let bad = outcome(Failed::Malformed("x".into()), &req(), None);
        assert!(matches!(bad.class(), Class::Transient { .. }));
    }

    #[test]
    fn owed_zones_survive_in_their_file() {
        let dir = std::env::temp_dir().join(format!("dynhost-owed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(OWED_FILE);
        let set: BTreeSet<String> = ["example.com".to_string()].into();
        save_owed(&path, &set);
        assert_eq!(read_owed(&path), set);
        save_owed(&path, &BTreeSet::new());
        assert!(!path.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
