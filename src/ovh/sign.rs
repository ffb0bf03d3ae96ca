//! OVH's request signature (pure): what the API checks on every call made with an
//! application key and a consumer key.
//!
//! `"$1$" + hex(sha1(AS + "+" + CK + "+" + METHOD + "+" + URL + "+" + BODY + "+" + TS))`,
//! where URL is the whole URL with its query, BODY the exact bytes sent (empty for a
//! GET and for a POST without data) and TS the server's Unix time.

use ring::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY};

use crate::secret::Secret;

/// The `X-Ovh-Signature` header for one request. `method` is upper-cased here, as the
/// API expects.
pub fn signature(
    application_secret: &Secret,
    consumer_key: &Secret,
    method: &str,
    url: &str,
    body: &[u8],
    timestamp: i64,
) -> String {
    let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(application_secret.expose().as_bytes());
    ctx.update(b"+");
    ctx.update(consumer_key.expose().as_bytes());
    ctx.update(b"+");
    ctx.update(method.to_ascii_uppercase().as_bytes());
    ctx.update(b"+");
    ctx.update(url.as_bytes());
    ctx.update(b"+");
    ctx.update(body);
    ctx.update(b"+");
    ctx.update(timestamp.to_string().as_bytes());
    let digest = ctx.finish();
    let mut out = String::with_capacity(3 + 40);
    out.push_str("$1$");
    for b in digest.as_ref() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `server - local`: how far the API's clock is ahead of ours (negative when behind).
/// Saturating, so that a wild clock cannot overflow.
pub fn clock_delta(server: i64, local: i64) -> i64 {
    server.saturating_sub(local)
}

/// The timestamp to sign with: our clock corrected by the delta measured once.
pub fn timestamp(local: i64, delta: i64) -> i64 {
    local.saturating_add(delta)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed by OVH's official Python client (1.2.0) with its clock frozen; the
    /// application secret is not in the file (it is never sent), it is this one.
    const VECTORS: &str = include_str!("../../tests/data/ovh-api-signature-vectors.jsonl");
    const AS: &str = "EXEgWIz07P0HYwtQDs7cNIqCiQaWSuHF";

    #[test]
    fn every_vector_of_the_official_client_is_reproduced() {
        let secret = Secret::new(AS.into());
        let mut signed = 0;
        for (n, line) in VECTORS.lines().filter(|l| !l.trim().is_empty()).enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let headers = &v["headers"];
            let method = v["method"].as_str().expect("method");
            let url = v["url"].as_str().expect("url");
            let body = v["body"].as_str().expect("body");
            let Some(want) = headers["X-Ovh-Signature"].as_str() else {
                // POST /auth/credential goes out with the application key alone.
                assert_eq!(
                    url, "https://eu.api.ovh.com/1.0/auth/credential",
                    "line {n}"
                );
                assert!(headers.get("X-Ovh-Consumer").is_none(), "line {n}");
                continue;
            };
            let ck = Secret::new(headers["X-Ovh-Consumer"].as_str().expect("ck").into());
            let ts: i64 = headers["X-Ovh-Timestamp"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .expect("timestamp");
            let got = signature(&secret, &ck, method, url, body.as_bytes(), ts);
            assert_eq!(got, want, "line {n}: {method} {url}");
            signed += 1;
        }
        assert_eq!(signed, 7, "the file holds 7 signed calls");
    }

    #[test]
    fn the_documented_example() {
        let sig = signature(
            &Secret::new(AS.into()),
            &Secret::new("MtSwSrPpNjqfVSmJhLbPyr2i45lSwPU1".into()),
            "post",
            "https://eu.api.ovh.com/1.0/domain/zone/example.com/dynHost/record",
            br#"{"ip":"203.0.113.7","subDomain":"home"}"#,
            1_764_576_000,
        );
        assert_eq!(sig, "$1$82ebada49d9a5e287b0e35394b8040898217f558");
    }

    #[test]
    fn every_input_counts() {
        let a = Secret::new("a".into());
        let c = Secret::new("c".into());
        let base = signature(&a, &c, "GET", "https://x/1.0/a", b"", 1);
        for other in [
            signature(
                &Secret::new("b".into()),
                &c,
                "GET",
                "https://x/1.0/a",
                b"",
                1,
            ),
            signature(
                &a,
                &Secret::new("d".into()),
                "GET",
                "https://x/1.0/a",
                b"",
                1,
            ),
            signature(&a, &c, "PUT", "https://x/1.0/a", b"", 1),
            signature(&a, &c, "GET", "https://x/1.0/a?x=1", b"", 1),
            signature(&a, &c, "GET", "https://x/1.0/a", b"{}", 1),
            signature(&a, &c, "GET", "https://x/1.0/a", b"", 2),
        ] {
            assert_ne!(base, other);
        }
        assert!(base.starts_with("$1$") && base.len() == 43, "{base}");
    }

    #[test]
    fn clock_delta_is_signed_both_ways() {
        let cases = [
            // (server, local, delta, signed timestamp at local + 10)
            (1_000, 400, 600, 1_010),
            (400, 1_000, -600, 410),
            (1_000, 1_000, 0, 1_010),
            (i64::MAX, -1, i64::MAX, i64::MAX),
        ];
        for (server, local, delta, ts) in cases {
            let d = clock_delta(server, local);
            assert_eq!(d, delta, "{server} - {local}");
            assert_eq!(timestamp(local + 10, d), ts);
        }
    }
}
