//! The one source of randomness: the kernel's, through ring's `SystemRandom` (linked
//! anyway for TLS). Temporary-file names, the gateway protocols' nonces, generated
//! passwords and the retry jitter's seed all come from here.

use ring::rand::{SecureRandom, SystemRandom};

/// The system's random number generator failed (getrandom(2) unavailable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unavailable;

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the system's random number generator failed")
    }
}

impl std::error::Error for Unavailable {}

/// `N` random bytes.
pub fn bytes<const N: usize>() -> Result<[u8; N], Unavailable> {
    let mut b = [0u8; N];
    SystemRandom::new().fill(&mut b).map_err(|_| Unavailable)?;
    Ok(b)
}

/// A seed for the retry jitter. The jitter needs variety between clients, not
/// secrecy: should the generator fail, the clock and the process id still differ.
pub fn seed() -> u64 {
    bytes::<8>().map_or_else(
        |_| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            t ^ (u64::from(std::process::id()) << 32)
        },
        u64::from_ne_bytes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_draws_differ() {
        assert_ne!(bytes::<16>().unwrap(), bytes::<16>().unwrap());
        assert_ne!(seed(), seed());
    }
}
