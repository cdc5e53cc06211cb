//! Optional compression of stored sessions (`rustredis.compression`).
//!
//! A compressed session starts with a header that says so, so any mix of compressed and plain
//! sessions reads back whatever the setting is now, and the setting can change without logging
//! anyone out:
//!
//! | bytes | meaning |
//! |---|---|
//! | 0–4 | `\0RRC1` (no PHP serializer starts a session like this: `php` starts with a key name and `|`, `php_serialize` with `a:`, igbinary with `\0\0\0\x02`) |
//! | 5 | the algorithm: `4` lz4, `z` zstd |
//! | 6–9 | the plain length, u32 little-endian |
//! | 10… | the compressed bytes |
//!
//! Anything without the header is plain, as phpredis stores it. With `compression=none` (the
//! default) nothing is ever compressed, so the keys stay phpredis-compatible.

use std::borrow::Cow;
use std::fmt;

const MAGIC: &[u8; 5] = b"\0RRC1";
const HEADER_LEN: usize = MAGIC.len() + 1 + 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Lz4,
    Zstd,
}

impl Algorithm {
    fn tag(self) -> u8 {
        match self {
            Algorithm::Lz4 => b'4',
            Algorithm::Zstd => b'z',
        }
    }
}

/// What `rustredis.compression*` ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// None: store plain (the default).
    pub algorithm: Option<Algorithm>,
    /// Sessions shorter than this are stored plain.
    pub threshold: usize,
    /// zstd's level (1–19); lz4 has none.
    pub level: i32,
}

impl Default for Compression {
    fn default() -> Self {
        Compression {
            algorithm: None,
            threshold: 2048,
            level: 3,
        }
    }
}

/// A stored session whose header does not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptSession(pub String);

impl fmt::Display for CorruptSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the stored session is marked compressed but {}", self.0)
    }
}

impl Compression {
    /// The bytes to store for `plain`: plain when below the threshold, when compression is off,
    /// or when compressing does not make it smaller.
    pub fn encode<'a>(&self, plain: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(algorithm) = self.algorithm else {
            return Cow::Borrowed(plain);
        };
        let Ok(len) = u32::try_from(plain.len()) else {
            return Cow::Borrowed(plain);
        };
        if plain.len() < self.threshold {
            return Cow::Borrowed(plain);
        }
        let packed = match algorithm {
            Algorithm::Lz4 => lz4_flex::block::compress(plain),
            Algorithm::Zstd => match zstd::bulk::compress(plain, self.level) {
                Ok(packed) => packed,
                Err(_) => return Cow::Borrowed(plain),
            },
        };
        if packed.len() + HEADER_LEN >= plain.len() {
            return Cow::Borrowed(plain);
        }
        let mut stored = Vec::with_capacity(HEADER_LEN + packed.len());
        stored.extend_from_slice(MAGIC);
        stored.push(algorithm.tag());
        stored.extend_from_slice(&len.to_le_bytes());
        stored.extend_from_slice(&packed);
        Cow::Owned(stored)
    }
}

/// The plain session for stored bytes, whatever the setting is now. `max_plain` bounds what a
/// header may announce (rustredis.max_data_bytes), so a hostile value cannot make us allocate more.
pub fn decode(stored: &[u8], max_plain: usize) -> Result<Cow<'_, [u8]>, CorruptSession> {
    if !stored.starts_with(MAGIC) {
        return Ok(Cow::Borrowed(stored));
    }
    let bad = |why: &str| Err(CorruptSession(why.to_string()));
    if stored.len() < HEADER_LEN {
        return bad("its header is cut short");
    }
    let algorithm = stored[MAGIC.len()];
    let mut len = [0u8; 4];
    len.copy_from_slice(&stored[MAGIC.len() + 1..HEADER_LEN]);
    let len = u32::from_le_bytes(len) as usize;
    if len > max_plain {
        return Err(CorruptSession(format!(
            "announces {len} bytes, more than rustredis.max_data_bytes={max_plain}"
        )));
    }
    let packed = &stored[HEADER_LEN..];
    let plain = match algorithm {
        b'4' => lz4_flex::block::decompress(packed, len).map_err(|e| e.to_string()),
        b'z' => zstd::bulk::decompress(packed, len).map_err(|e| e.to_string()),
        other => {
            return Err(CorruptSession(format!(
                "names an unknown algorithm (byte {other:#04x})"
            )))
        }
    };
    match plain {
        Ok(plain) if plain.len() == len => Ok(Cow::Owned(plain)),
        Ok(plain) => Err(CorruptSession(format!(
            "decompresses to {} bytes where its header says {len}",
            plain.len()
        ))),
        Err(cause) => Err(CorruptSession(format!("does not decompress ({cause})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cart() -> Vec<u8> {
        let mut s = b"cart|a:200:{".to_vec();
        for i in 0..200 {
            s.extend_from_slice(
                format!("i:{i};a:3:{{s:3:\"sku\";s:8:\"SKU{i:05}\";s:5:\"price\";d:19.99;s:3:\"qty\";i:1;}}")
                    .as_bytes(),
            );
        }
        s.push(b'}');
        s
    }

    #[test]
    fn round_trips_with_each_algorithm_and_reads_plain_sessions() {
        let plain = cart();
        for algorithm in [Algorithm::Lz4, Algorithm::Zstd] {
            let c = Compression {
                algorithm: Some(algorithm),
                ..Compression::default()
            };
            let stored = c.encode(&plain);
            assert!(stored.starts_with(MAGIC) && stored.len() < plain.len() / 3);
            assert_eq!(decode(&stored, 1 << 20).unwrap(), plain);
        }
        // Plain stays plain: below the threshold, or with compression off.
        let small = b"a|i:1;";
        let lz4 = Compression {
            algorithm: Some(Algorithm::Lz4),
            ..Compression::default()
        };
        assert_eq!(lz4.encode(small), &small[..]);
        assert_eq!(Compression::default().encode(&plain), plain);
        assert_eq!(decode(&plain, 1 << 20).unwrap(), plain);
    }

    #[test]
    fn a_corrupt_header_is_an_error_never_a_panic() {
        let plain = cart();
        let stored = Compression {
            algorithm: Some(Algorithm::Zstd),
            ..Compression::default()
        }
        .encode(&plain)
        .into_owned();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (stored[..7].to_vec(), "cut short"),
            (
                [&stored[..5], b"x", &stored[6..]].concat(),
                "unknown algorithm",
            ),
            (
                [&stored[..6], &u32::MAX.to_le_bytes(), &stored[10..]].concat(),
                "more than rustredis.max_data_bytes",
            ),
            (
                [&stored[..6], &100u32.to_le_bytes(), &stored[10..]].concat(),
                "decompress",
            ),
            ([&stored[..12], b"garbage"].concat(), "decompress"),
        ];
        for (bytes, why) in cases {
            let err = decode(&bytes, 1 << 20).unwrap_err();
            assert!(err.to_string().contains(why), "{err} (expected {why})");
        }
    }
}
