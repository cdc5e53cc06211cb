//! Who holds a lock: the lock's value names its holder, so a request that waits (or gives up) can
//! say whom it waited for, on any host.
//!
//! The value is `<secret>|<since>|<host>|<pid>|<request>`: 128 random bits in hex (new per
//! acquisition), the acquisition time in Unix milliseconds of the holder's clock, its host name,
//! its process id and what it runs (`POST /checkout/pay` under php-fpm, the script under the CLI).
//! Scripts compare the whole value, so only the request that took a lock can write under it,
//! renew it or release it. phpredis compares its own lock secret only, and a phpredis lock (any
//! other value) reads as a holder without details.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest `request` kept in a lock value; the rest of a long URI is cut.
const MAX_REQUEST_BYTES: usize = 160;
const MAX_HOST_BYTES: usize = 64;

/// This process's side of a lock value: where it runs and what it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderContext {
    pub host: String,
    pub pid: u32,
    pub request: String,
}

impl HolderContext {
    /// This process, running `request` (as the boundary describes it).
    pub fn this_process(request: &str) -> HolderContext {
        HolderContext {
            host: host_name(),
            pid: std::process::id(),
            request: request.to_string(),
        }
    }
}

/// The host name, read once per process (it is the same for every request).
fn host_name() -> String {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown-host".to_string())
    })
    .clone()
}

/// Printable, `|`-free and bounded: a field of a lock value.
fn field(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = if c.is_control() || c == '|' { '?' } else { c };
        if out.len() + c.len_utf8() > max {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out
}

fn unix_millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A lock token: the lock's whole value. Each acquisition gets a fresh one, so a request can only
/// ever write under, renew or release the lock it took itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockToken(String);

impl LockToken {
    pub fn new(context: &HolderContext) -> LockToken {
        let mut bytes = [0u8; 16];
        // The kernel's RNG is per process by construction, so forked php-fpm workers can never
        // share a token (a userspace RNG copied by fork could).
        getrandom::fill(&mut bytes).expect("the OS random number generator is available");
        let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        LockToken(format!(
            "{secret}|{}|{}|{}|{}",
            unix_millis(SystemTime::now()),
            field(&context.host, MAX_HOST_BYTES),
            context.pid,
            field(&context.request, MAX_REQUEST_BYTES),
        ))
    }

    /// A token for this process with no request description (tests, tools).
    pub fn random() -> LockToken {
        LockToken::new(&HolderContext::this_process("-"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The random part alone (32 hex digits): unique to this acquisition.
    pub fn secret(&self) -> &str {
        self.0.split('|').next().unwrap_or_default()
    }
}

/// The secret of a lock value in our format (a [`LockToken`]'s), None for any other value.
pub(super) fn token_secret(value: &[u8]) -> Option<&str> {
    Holder::parse(value).details?;
    std::str::from_utf8(value.get(..32)?).ok()
}

/// A lock's holder, as its value describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// None: a lock value that is not ours (phpredis, another tool).
    pub details: Option<HolderDetails>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderDetails {
    pub since_unix_ms: u64,
    pub host: String,
    pub pid: u32,
    pub request: String,
}

impl Holder {
    pub fn parse(value: &[u8]) -> Holder {
        let details = std::str::from_utf8(value).ok().and_then(|text| {
            let mut parts = text.splitn(5, '|');
            let secret = parts.next()?;
            if secret.len() != 32 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            Some(HolderDetails {
                since_unix_ms: parts.next()?.parse().ok()?,
                host: parts.next()?.to_string(),
                pid: parts.next()?.parse().ok()?,
                request: parts.next()?.to_string(),
            })
        });
        Holder { details }
    }

    /// How long it has held the lock, by this host's clock (None: unknown, or the clocks disagree).
    pub fn held_for(&self) -> Option<Duration> {
        let since = self.details.as_ref()?.since_unix_ms;
        unix_millis(SystemTime::now())
            .checked_sub(since)
            .map(Duration::from_millis)
    }
}

/// `held for 41.2 s by POST /checkout/pay on web-3, pid 4411`
impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.details {
            None => {
                f.write_str("held by a client that records no holder (phpredis or another tool)")
            }
            Some(d) => {
                if let Some(held) = self.held_for() {
                    write!(f, "held for {:.1} s ", held.as_secs_f64())?;
                } else {
                    f.write_str("held ")?;
                }
                write!(f, "by {} on {}, pid {}", d.request, d.host, d.pid)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_holder() {
        let context = HolderContext {
            host: "web-3".into(),
            pid: 4411,
            request: "POST /checkout/pay".into(),
        };
        let token = LockToken::new(&context);
        let holder = Holder::parse(token.as_str().as_bytes());
        let details = holder.details.clone().expect("our own format");
        assert_eq!(details.host, "web-3");
        assert_eq!(details.pid, 4411);
        assert_eq!(details.request, "POST /checkout/pay");
        let text = holder.to_string();
        assert!(text.starts_with("held for 0."), "{text}");
        assert!(
            text.ends_with("by POST /checkout/pay on web-3, pid 4411"),
            "{text}"
        );
        assert_ne!(LockToken::new(&context), token, "a fresh secret each time");
    }

    #[test]
    fn hostile_request_text_stays_one_bounded_field() {
        let context = HolderContext {
            host: "h".into(),
            pid: 1,
            request: format!("GET /a|b\n\0{}", "x".repeat(1000)),
        };
        let token = LockToken::new(&context);
        assert!(token.as_str().len() < 300);
        assert!(!token.as_str().contains('\n') && !token.as_str().contains('\0'));
        let details = Holder::parse(token.as_str().as_bytes()).details.unwrap();
        assert!(details.request.starts_with("GET /a?b??x"));
    }

    #[test]
    fn foreign_lock_values_have_no_details() {
        for value in [&b"abc"[..], b"", b"phpredis-secret|1|h|2|r", b"\xff\xfe"] {
            assert_eq!(Holder::parse(value).details, None);
            assert!(Holder::parse(value)
                .to_string()
                .contains("records no holder"));
        }
    }
}
