//! Session ids and the Redis keys derived from them.

/// PHP generates ids from `[0-9a-zA-Z,-]` (session.sid_bits_per_character 4, 5 or 6), at most 256
/// characters long (session.sid_length). Anything else did not come from PHP: it never becomes part
/// of a Redis key, so `x\0y` cannot alias `x`, and `../`, `*`, spaces or newlines reach nothing.
pub const MAX_SESSION_ID_LEN: usize = 256;

pub fn is_valid_session_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_SESSION_ID_LEN
        && id
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b',' || b == b'-')
}

/// The keys of one session. The data and lock keys are laid out as phpredis lays them out
/// (`<prefix><id>` and `<prefix><id>_LOCK`) so both handlers share sessions and respect each
/// other's locks during a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeys {
    pub data: Vec<u8>,
    pub lock: Vec<u8>,
    /// A one-element list the lock holder pushes to on release, so a waiter blocked on it with
    /// BLPOP learns of the release at once instead of at its next poll.
    pub wake: Vec<u8>,
    /// How many requests wait for the lock (short TTL), so a release only signals when someone
    /// listens and uncontended requests leave no wake-up list behind.
    pub waiting: Vec<u8>,
}

impl SessionKeys {
    /// Callers validate the id first; keys are only built from valid ids.
    pub fn new(prefix: &[u8], id: &[u8]) -> SessionKeys {
        debug_assert!(is_valid_session_id(id));
        let mut data = Vec::with_capacity(prefix.len() + id.len());
        data.extend_from_slice(prefix);
        data.extend_from_slice(id);
        let mut lock = data.clone();
        lock.extend_from_slice(b"_LOCK");
        let mut wake = lock.clone();
        wake.extend_from_slice(b"_WAKE");
        let mut waiting = lock.clone();
        waiting.extend_from_slice(b"_WAITING");
        SessionKeys {
            data,
            lock,
            wake,
            waiting,
        }
    }
    /// Where a large write is staged before its owner-checked rename onto the data key, so the
    /// data never passes through Lua: one per writer (`tag` comes from its lock token).
    pub fn staging(&self, tag: &str) -> Vec<u8> {
        let mut key = self.lock.clone();
        key.extend_from_slice(b"_WRITE_");
        key.extend_from_slice(tag.as_bytes());
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_php_alphabet() {
        assert!(is_valid_session_id(b"0123456789abcdef"));
        assert!(is_valid_session_id(b"abcdefghijklmnopqrstuv0123456789"));
        assert!(is_valid_session_id(b"AZaz09,-"));
        assert!(is_valid_session_id(&[b'a'; 256]));
    }

    #[test]
    fn rejects_hostile_ids() {
        for id in [
            &b""[..],
            b"../../etc/passwd",
            b"abc*",
            b"a b",
            b"a\nb",
            b"a\rb",
            b"x\0y",
            b"x%00y",
            b"sess\xff",
            b"{tag}",
        ] {
            assert!(
                !is_valid_session_id(id),
                "{:?} must be rejected",
                String::from_utf8_lossy(id)
            );
        }
        assert!(!is_valid_session_id(&[b'a'; 257]));
        assert!(!is_valid_session_id(&[b'a'; 600]));
    }

    #[test]
    fn phpredis_key_layout() {
        let keys = SessionKeys::new(b"PHPREDIS_SESSION:", b"abc123");
        assert_eq!(keys.data, b"PHPREDIS_SESSION:abc123");
        assert_eq!(keys.lock, b"PHPREDIS_SESSION:abc123_LOCK");
        assert_eq!(keys.wake, b"PHPREDIS_SESSION:abc123_LOCK_WAKE");
        assert_eq!(keys.waiting, b"PHPREDIS_SESSION:abc123_LOCK_WAITING");
    }
}
