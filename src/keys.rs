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

/// How the keys of a session are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLayout {
    /// phpredis's (one Redis, Sentinel): `<prefix><id>`, `<prefix><id>_LOCK`, …
    Phpredis,
    /// Redis Cluster: the data key stays `<prefix><id>` and the others are hash-tagged to it,
    /// `{<prefix><id>}_LOCK` and so on (the layout of phpredis's proposed cluster locking), so
    /// every key of one session is in one hash slot and every script stays single-slot. Redis
    /// hashes a key without braces whole and `{X}_LOCK` by X, so `X` and `{X}_LOCK` share a slot.
    /// A prefix that carries a hash tag of its own (`{sessions}:`) already puts `<prefix><id>`
    /// and `<prefix><id>_LOCK` in that tag's slot: then the phpredis names are kept.
    Cluster,
}

/// What Redis Cluster hashes of `key`: the content of its first `{…}` when that is not empty,
/// else the whole key (CLUSTER KEYSLOT's rule).
pub fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    match key[open + 1..].iter().position(|&b| b == b'}') {
        Some(0) | None => key,
        Some(len) => &key[open + 1..open + 1 + len],
    }
}

/// Why `prefix` cannot keep a session's keys in one slot of a Redis Cluster, if it cannot: it
/// has braces, but not a whole hash tag (`{…}` with something inside) before any stray `}`.
pub fn cluster_prefix_problem(prefix: &[u8]) -> Option<String> {
    let braces = prefix.iter().any(|&b| b == b'{' || b == b'}');
    if !braces || hash_tag(prefix) != prefix {
        return None;
    }
    Some(format!(
        "prefix '{}' has '{{' or '}}' but no hash tag Redis Cluster can use; a cluster prefix has \
         no braces, or one whole {{tag}}",
        String::from_utf8_lossy(prefix)
    ))
}

/// The keys of one session. The data and lock keys are laid out as phpredis lays them out
/// (`<prefix><id>` and `<prefix><id>_LOCK`) so both handlers share sessions and respect each
/// other's locks during a migration; in a Redis Cluster the lock and the others are hash-tagged
/// to the data key ([`KeyLayout::Cluster`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeys {
    pub data: Vec<u8>,
    pub lock: Vec<u8>,
    /// A one-element list the lock holder pushes to on release, so a waiter blocked on it with
    /// BLPOP learns of the release at once instead of at its next poll.
    pub wake: Vec<u8>,
    /// How many requests wait for the lock to be free without wanting it (an optimistic write,
    /// a destroy without our lock; short TTL), so a release only signals when someone listens
    /// and uncontended requests leave no wake-up list behind.
    pub waiting: Vec<u8>,
    pub layout: KeyLayout,
    /// The requests waiting to take the lock, oldest first: a sorted set of their tokens, scored
    /// by arrival. A release hands the lock to the oldest one still alive.
    pub queue: Vec<u8>,
    /// For each token in `queue`: until when (Redis time, ms) its waiter counts as alive, and
    /// the lease its lock gets when handed over (a hash).
    pub queue_info: Vec<u8>,
}

impl SessionKeys {
    /// phpredis's layout. Callers validate the id first; keys are only built from valid ids.
    pub fn new(prefix: &[u8], id: &[u8]) -> SessionKeys {
        SessionKeys::with_layout(KeyLayout::Phpredis, prefix, id)
    }

    /// The keys in `layout`; a cluster prefix passed [`cluster_prefix_problem`].
    pub fn with_layout(layout: KeyLayout, prefix: &[u8], id: &[u8]) -> SessionKeys {
        debug_assert!(is_valid_session_id(id));
        let mut data = Vec::with_capacity(prefix.len() + id.len());
        data.extend_from_slice(prefix);
        data.extend_from_slice(id);
        let mut lock = Vec::with_capacity(data.len() + 7);
        if layout == KeyLayout::Cluster && hash_tag(&data) == data.as_slice() {
            lock.push(b'{');
            lock.extend_from_slice(&data);
            lock.push(b'}');
        } else {
            // phpredis's, or a prefix with a hash tag of its own, which the suffix keeps.
            lock.extend_from_slice(&data);
        }
        lock.extend_from_slice(b"_LOCK");
        let mut wake = lock.clone();
        wake.extend_from_slice(b"_WAKE");
        let mut waiting = lock.clone();
        waiting.extend_from_slice(b"_WAITING");
        let mut queue = lock.clone();
        queue.extend_from_slice(b"_QUEUE");
        let mut queue_info = queue.clone();
        queue_info.extend_from_slice(b"_INFO");
        SessionKeys {
            data,
            lock,
            wake,
            waiting,
            layout,
            queue,
            queue_info,
        }
    }
    /// The list through which the lock holder with secret `tag` hands the lock (and the data) to
    /// the waiter queued right behind it, which blocks on it; a waiter that gives up wakes its
    /// own follower through its own. `tag` comes from a lock token.
    pub fn handoff(&self, tag: &str) -> Vec<u8> {
        let mut key = self.lock.clone();
        key.extend_from_slice(b"_HANDOFF_");
        key.extend_from_slice(tag.as_bytes());
        key
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
        assert_eq!(keys.queue, b"PHPREDIS_SESSION:abc123_LOCK_QUEUE");
        assert_eq!(keys.queue_info, b"PHPREDIS_SESSION:abc123_LOCK_QUEUE_INFO");
        assert_eq!(
            keys.handoff("f00d"),
            b"PHPREDIS_SESSION:abc123_LOCK_HANDOFF_f00d"
        );
    }

    #[test]
    fn cluster_keys_are_hash_tagged_to_the_data_key() {
        let keys =
            SessionKeys::with_layout(KeyLayout::Cluster, b"PHPREDIS_CLUSTER_SESSION:", b"abc");
        assert_eq!(keys.data, b"PHPREDIS_CLUSTER_SESSION:abc");
        assert_eq!(keys.lock, b"{PHPREDIS_CLUSTER_SESSION:abc}_LOCK");
        assert_eq!(keys.wake, b"{PHPREDIS_CLUSTER_SESSION:abc}_LOCK_WAKE");
        assert_eq!(keys.waiting, b"{PHPREDIS_CLUSTER_SESSION:abc}_LOCK_WAITING");
        assert_eq!(
            keys.staging("t0"),
            b"{PHPREDIS_CLUSTER_SESSION:abc}_LOCK_WRITE_t0"
        );
        // A prefix with a hash tag of its own keeps phpredis's names: the tag is the slot.
        let keys = SessionKeys::with_layout(KeyLayout::Cluster, b"{app}:", b"abc");
        assert_eq!(keys.lock, b"{app}:abc_LOCK");
    }

    #[test]
    fn every_key_of_a_session_hashes_like_its_data_key() {
        use redis::cluster_routing::Slot;
        for prefix in [
            &b"PHPREDIS_CLUSTER_SESSION:"[..],
            b"",
            b"a:",
            b"{app}:",
            b"x{y}z{",
        ] {
            assert_eq!(cluster_prefix_problem(prefix), None, "{prefix:?}");
            for id in [&b"abc123"[..], b"0", b"AZaz09,-", &[b'q'; 256]] {
                let keys = SessionKeys::with_layout(KeyLayout::Cluster, prefix, id);
                let slot = Slot::for_key(&keys.data);
                for key in [
                    &keys.lock,
                    &keys.wake,
                    &keys.waiting,
                    &keys.queue,
                    &keys.queue_info,
                    &keys.handoff("abc"),
                    &keys.staging("abc"),
                ] {
                    assert_eq!(hash_tag(key), hash_tag(&keys.data), "{key:?}");
                    assert_eq!(Slot::for_key(key), slot, "{key:?}");
                }
            }
        }
    }

    #[test]
    fn hash_tags_follow_redis() {
        assert_eq!(hash_tag(b"abc"), b"abc");
        assert_eq!(hash_tag(b"{abc}_LOCK"), b"abc");
        assert_eq!(hash_tag(b"x{}y"), b"x{}y");
        assert_eq!(hash_tag(b"x{a}{b}"), b"a");
        assert_eq!(hash_tag(b"x{ab"), b"x{ab");
        assert_eq!(hash_tag(b"}{a}"), b"a");
    }

    #[test]
    fn prefixes_that_cannot_share_a_slot_are_named() {
        for prefix in [&b"a{"[..], b"a}", b"a{}b", b"}x", b"{"] {
            let problem = cluster_prefix_problem(prefix).expect("refused");
            assert!(problem.contains("hash tag"), "{problem}");
        }
    }
}
