//! Human durations for the config file: "1s", "500ms", "1m30s", "2h". Pure.

use std::time::Duration;

pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "{s:?} is not a duration (expected e.g. \"1s\", \"500ms\", \"2m\")"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{s:?}: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" | "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            "d" => Duration::from_secs(86400),
            "" if unit_len == rest.len() => {
                return Err(format!("{s:?} needs a unit: ms, s, m, h or d"));
            }
            "" => {
                return Err(format!(
                    "{s:?} is not a duration (expected e.g. \"1s\", \"500ms\", \"2m\")"
                ));
            }
            other => {
                return Err(format!(
                    "{s:?}: unknown unit {other:?} (use ms, s, m, h or d)"
                ));
            }
        };
        rest = &rest[unit_len..];
        let part = unit
            .checked_mul(u32::try_from(n).map_err(|_| format!("{s:?}: number too large"))?)
            .ok_or_else(|| format!("{s:?}: too long"))?;
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("{s:?}: too long"))?;
    }
    Ok(total)
}

/// Restates a duration in the form `parse` accepts, largest units first.
pub fn format(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    let mut ms = d.as_millis();
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    if ms > 0 {
        out.push_str(&format!("{ms}ms"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_restates() {
        let table = [
            ("1s", 1000),
            ("500ms", 500),
            ("1m30s", 90_000),
            ("2h", 7_200_000),
            ("0", 0),
            ("0s", 0),
            ("1d", 86_400_000),
            ("5min", 300_000),
        ];
        for (text, ms) in table {
            let d = parse(text).unwrap();
            assert_eq!(d, Duration::from_millis(ms), "{text}");
            assert_eq!(parse(&format(d)).unwrap(), d, "{text} restated");
        }
        assert_eq!(format(Duration::from_millis(90_500)), "1m30s500ms");
    }

    #[test]
    fn rejects_with_reasons() {
        for (text, needle) in [
            ("", "empty"),
            ("10", "needs a unit"),
            ("1x", "unknown unit"),
            ("s", "not a duration"),
            ("-1s", "not a duration"),
            ("99999999999999999999s", "too large"),
            ("1.5s", "not a duration"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
