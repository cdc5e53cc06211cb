//! Splits an encoded PHP session into its top-level entries, and joins entries back.
//!
//! Optimistic (lock-free) writes merge sessions key by key, so we need to know where each
//! top-level `$_SESSION` entry starts and ends. We find that by walking the bytes with the
//! grammar of PHP's unserializer (ext/standard/var_unserializer.re) and never build PHP values:
//! every entry stays a borrowed slice of the input, and [`join`] puts untouched entries back
//! byte for byte.
//!
//! Anything we cannot treat as independent entries is refused with a [`SplitError`], and the
//! caller falls back to treating the session as one opaque value.
//!
//! PHP numbers every value of a session, across all its entries, in encoded order, and a
//! back-reference (`r:N;`, `R:N;`) names a value by that number. A merge that drops, adds or
//! reorders entries renumbers what follows, so a reference would silently point elsewhere (PHP
//! then reads a wrong value, or `false` with only a notice). Entries are therefore independent
//! only when no value refers to another by number, and we split a session only when we can see
//! that: every `r:`/`R:` is refused ([`SplitError::References`]), and so is every `Serializable`
//! object (`C:`, [`SplitError::Serializable`]), because its payload is the class's own format,
//! opaque to us, while the `serialize()`/`unserialize()` calls inside `Serializable::serialize()`
//! and `unserialize()` share the session's numbering and may write or resolve references there.
//! (`__serialize()`, `__unserialize()`, `__sleep()` and `__wakeup()` run in a numbering of their
//! own; the members of `O:` objects are parsed like arrays, so their references are seen.)

use std::collections::HashSet;
use std::fmt;

/// Deepest array/object nesting accepted inside one session value. Deeper payloads are refused
/// with [`SplitError::TooDeep`] so that hostile input cannot exhaust the (recursive) parser's stack.
pub const MAX_DEPTH: usize = 512;

/// The smallest possible array or object member, `i:0;N;`. Used to refuse declared element
/// counts that the remaining bytes cannot possibly hold.
const MIN_MEMBER_LEN: usize = 6;

/// Which `session.serialize_handler` produced the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionSerializer {
    /// `php`: `name|value` pairs, concatenated.
    Php,
    /// `php_serialize`: the whole session is one `serialize()`d array.
    PhpSerialize,
    /// Any other handler (igbinary, msgpack, php_binary, ...): opaque to us.
    Other(String),
}

impl SessionSerializer {
    /// Maps the value of the `session.serialize_handler` ini setting.
    pub fn from_ini(name: &str) -> Self {
        match name {
            "php" => SessionSerializer::Php,
            "php_serialize" => SessionSerializer::PhpSerialize,
            other => SessionSerializer::Other(other.to_owned()),
        }
    }
}

/// One top-level session entry, borrowed from the encoded session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entry<'a> {
    /// The key exactly as encoded: for `php` the raw name before `|`; for `php_serialize` the
    /// whole key token, e.g. `s:3:"foo";` or `i:5;`.
    pub key: &'a [u8],
    /// The complete serialized value, e.g. `a:1:{i:0;b:1;}`.
    pub value: &'a [u8],
}

/// The top-level entries of a session, in encoded order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SplitSession<'a> {
    pub entries: Vec<Entry<'a>>,
}

/// Why a session could not be split into independent entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitError {
    /// The serializer is not one whose format we understand.
    UnsupportedSerializer,
    /// The bytes are not a valid encoding (or use a form we do not handle, such as `S:`
    /// strings, or repeat a top-level key). `offset` is where parsing stopped.
    Malformed { offset: usize, reason: &'static str },
    /// The session uses `R:`/`r:` back-references. They number values across the whole
    /// session, so its entries cannot be moved or replaced independently.
    References,
    /// The session holds an object of a class implementing `Serializable` (`C:` encoding).
    /// Its payload is opaque and may hold back-references into the session's numbering (see
    /// the module documentation), so the session is refused like one with [`References`].
    ///
    /// [`References`]: SplitError::References
    Serializable,
    /// Arrays/objects are nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitError::UnsupportedSerializer => f.write_str("unsupported session serializer"),
            SplitError::Malformed { offset, reason } => {
                write!(f, "malformed session data at byte {offset}: {reason}")
            }
            SplitError::References => f.write_str("session data contains references"),
            SplitError::Serializable => f.write_str(
                "session data contains an object of a class implementing Serializable (`C:` \
                 encoding), whose payload may refer to other session values",
            ),
            SplitError::TooDeep => {
                write!(f, "session data is nested deeper than {MAX_DEPTH} levels")
            }
        }
    }
}

impl std::error::Error for SplitError {}

/// Splits `data`, encoded by `ser`, into its top-level entries.
///
/// The empty string is a session without entries for both supported serializers. Never panics,
/// whatever the input.
pub fn split<'a>(ser: &SessionSerializer, data: &'a [u8]) -> Result<SplitSession<'a>, SplitError> {
    let entries = match ser {
        SessionSerializer::Php => split_php(data)?,
        SessionSerializer::PhpSerialize => split_php_serialize(data)?,
        SessionSerializer::Other(_) => return Err(SplitError::UnsupportedSerializer),
    };
    Ok(SplitSession { entries })
}

/// Encodes `entries` as `ser` would. For entries that came from [`split`] unmodified this
/// gives back the original bytes, except that `php_serialize` writes an empty session as
/// `a:0:{}` (as PHP does) even if it was read from the empty string.
///
/// `Other` serializers never produce entries (split refuses them); should one be passed anyway,
/// the entries are written in the `php` layout rather than dropped.
pub fn join(ser: &SessionSerializer, entries: &[Entry<'_>]) -> Vec<u8> {
    let payload_len: usize = entries
        .iter()
        .map(|entry| entry.key.len() + entry.value.len() + 1)
        .sum();
    match ser {
        SessionSerializer::PhpSerialize => {
            let mut out = Vec::with_capacity(payload_len + 24);
            out.extend_from_slice(b"a:");
            out.extend_from_slice(entries.len().to_string().as_bytes());
            out.extend_from_slice(b":{");
            for entry in entries {
                out.extend_from_slice(entry.key);
                out.extend_from_slice(entry.value);
            }
            out.push(b'}');
            out
        }
        SessionSerializer::Php | SessionSerializer::Other(_) => {
            let mut out = Vec::with_capacity(payload_len);
            for entry in entries {
                out.extend_from_slice(entry.key);
                out.push(b'|');
                out.extend_from_slice(entry.value);
            }
            out
        }
    }
}

/// A human-readable form of an encoded entry key, for log messages: the session variable
/// name (lossy UTF-8), i.e. `foo` for `php`'s `foo` and for `php_serialize`'s `s:3:"foo";`,
/// and `5` for `i:5;`.
pub fn display_key(ser: &SessionSerializer, key: &[u8]) -> String {
    let name = match ser {
        SessionSerializer::PhpSerialize => decoded_key_token(key).unwrap_or(key),
        SessionSerializer::Php | SessionSerializer::Other(_) => key,
    };
    String::from_utf8_lossy(name).into_owned()
}

/// The integer digits or string bytes inside an array key token such as `i:5;` or
/// `s:3:"foo";`, or `None` if `token` is not one.
fn decoded_key_token(token: &[u8]) -> Option<&[u8]> {
    match token {
        [b'i', b':', digits @ .., b';'] => Some(digits),
        [b's', b':', rest @ ..] => {
            let open_quote = rest.iter().position(|&byte| byte == b'"')?;
            rest.get(open_quote + 1..)?.strip_suffix(b"\";")
        }
        _ => None,
    }
}

/// Entries found so far; refuses a key seen before, because a merge addresses entries by key
/// and PHP would silently let the last duplicate win.
#[derive(Default)]
struct EntryList<'a> {
    entries: Vec<Entry<'a>>,
    seen_keys: HashSet<&'a [u8]>,
}

impl<'a> EntryList<'a> {
    fn push(&mut self, key_offset: usize, entry: Entry<'a>) -> Result<(), SplitError> {
        if !self.seen_keys.insert(entry.key) {
            return Err(SplitError::Malformed {
                offset: key_offset,
                reason: "duplicate top-level key",
            });
        }
        self.entries.push(entry);
        Ok(())
    }
}

/// `php` serializer: `name|value` repeated, where names never contain `|`
/// (ext/session's `php` decoder looks for the first `|`).
fn split_php(data: &[u8]) -> Result<Vec<Entry<'_>>, SplitError> {
    let mut parser = Parser::new(data);
    let mut entries = EntryList::default();
    while !parser.at_end() {
        let name_start = parser.pos;
        let name_len = data[name_start..]
            .iter()
            .position(|&byte| byte == b'|')
            .ok_or(SplitError::Malformed {
                offset: name_start,
                reason: "session variable name without `|`",
            })?;
        let value_start = name_start + name_len + 1;
        parser.pos = value_start;
        parser.value(0)?;
        let entry = Entry {
            key: &data[name_start..value_start - 1],
            value: &data[value_start..parser.pos],
        };
        entries.push(name_start, entry)?;
    }
    Ok(entries.entries)
}

/// `php_serialize` serializer: the session is `serialize($_SESSION)`, one array.
fn split_php_serialize(data: &[u8]) -> Result<Vec<Entry<'_>>, SplitError> {
    let mut entries = EntryList::default();
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let mut parser = Parser::new(data);
    parser.expect(b'a', "php_serialize session is not an array")?;
    parser.expect(b':', "expected `:` after `a`")?;
    let count = parser.member_count()?;
    // join writes the count as PHP does; a count PHP would not write (`a:01:{`) would not come
    // back byte for byte, so a merge could not tell it from a change.
    if data[..parser.pos] != *format!("a:{count}:{{").as_bytes() {
        return Err(SplitError::Malformed {
            offset: 2,
            reason: "element count not in PHP's form (leading zeros)",
        });
    }
    // The session array itself does not count towards the nesting depth: its members are the
    // top-level values, like the values of the `php` serializer.
    parser.members(count, 0, |key_offset, key, value| {
        entries.push(key_offset, Entry { key, value })
    })?;
    if !parser.at_end() {
        return Err(parser.malformed("trailing data after the session array"));
    }
    Ok(entries.entries)
}

/// A cursor over serialized bytes that checks PHP's value grammar without building values.
struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(data: &'a [u8]) -> Self {
        Parser { data, pos: 0 }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn malformed(&self, reason: &'static str) -> SplitError {
        SplitError::Malformed {
            offset: self.pos,
            reason,
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn eat_literal(&mut self, literal: &[u8]) -> bool {
        let found = self.data[self.pos..].starts_with(literal);
        if found {
            self.pos += literal.len();
        }
        found
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), SplitError> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.malformed(reason))
        }
    }

    /// Skips `[0-9]*` and says how many digits there were.
    fn skip_digits(&mut self) -> usize {
        let count = self.data[self.pos..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        self.pos += count;
        count
    }

    /// `[0-9]+` as a length or count; values beyond `usize` are malformed rather than wrapped.
    fn unsigned(&mut self) -> Result<usize, SplitError> {
        let start = self.pos;
        if self.skip_digits() == 0 {
            return Err(self.malformed("expected a number"));
        }
        self.data[start..self.pos]
            .iter()
            .try_fold(0usize, |acc, digit| {
                acc.checked_mul(10)?.checked_add(usize::from(digit - b'0'))
            })
            .ok_or(SplitError::Malformed {
                offset: start,
                reason: "number too large",
            })
    }

    fn skip_sign(&mut self) {
        if !self.eat(b'+') {
            self.eat(b'-');
        }
    }

    /// `[+-]?[0-9]+`. The value itself is never needed (PHP clamps out-of-range ones).
    fn signed_integer(&mut self) -> Result<(), SplitError> {
        self.skip_sign();
        if self.skip_digits() == 0 {
            return Err(self.malformed("expected an integer"));
        }
        Ok(())
    }

    /// The float forms PHP accepts after `d:`: `NAN`, `INF`, `-INF`, or an integer or decimal
    /// with an optional exponent (`1`, `-0.5`, `.5`, `1.`, `1.0E+25`).
    fn float(&mut self) -> Result<(), SplitError> {
        if self.eat_literal(b"NAN") || self.eat_literal(b"INF") || self.eat_literal(b"-INF") {
            return Ok(());
        }
        self.skip_sign();
        let mut digits = self.skip_digits();
        if self.eat(b'.') {
            digits += self.skip_digits();
        }
        if digits == 0 {
            return Err(self.malformed("expected a float"));
        }
        if self.eat(b'e') || self.eat(b'E') {
            self.signed_integer()?;
        }
        Ok(())
    }

    /// The next `len` bytes, whatever they contain.
    fn take(&mut self, len: usize) -> Result<&'a [u8], SplitError> {
        if len > self.remaining() {
            return Err(self.malformed("declared length exceeds the data"));
        }
        let bytes = &self.data[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    /// `<len>:"<len raw bytes>"`, shared by strings, class names and enum cases. The bytes are
    /// found by length alone: they may contain quotes, `;`, `}` or NUL.
    fn quoted(&mut self) -> Result<&'a [u8], SplitError> {
        let len = self.unsigned()?;
        self.expect(b':', "expected `:` after a length")?;
        self.expect(b'"', "expected an opening `\"`")?;
        let bytes = self.take(len)?;
        self.expect(b'"', "expected a closing `\"`")?;
        Ok(bytes)
    }

    fn class_name(&mut self) -> Result<(), SplitError> {
        if self.quoted()?.is_empty() {
            return Err(self.malformed("empty class name"));
        }
        Ok(())
    }

    /// `<n>:{` opening an array or object, with `n` bounded by what the data could hold so a
    /// hostile count is refused up front.
    fn member_count(&mut self) -> Result<usize, SplitError> {
        let count_offset = self.pos;
        let count = self.unsigned()?;
        self.expect(b':', "expected `:` after an element count")?;
        self.expect(b'{', "expected `{`")?;
        if count > self.remaining() / MIN_MEMBER_LEN {
            return Err(SplitError::Malformed {
                offset: count_offset,
                reason: "element count exceeds the data",
            });
        }
        Ok(count)
    }

    /// `count` key/value pairs followed by `}`. `on_member` receives each key's offset, key
    /// token and value bytes; values are parsed at nesting `depth`.
    fn members(
        &mut self,
        count: usize,
        depth: usize,
        mut on_member: impl FnMut(usize, &'a [u8], &'a [u8]) -> Result<(), SplitError>,
    ) -> Result<(), SplitError> {
        for _ in 0..count {
            let key_start = self.pos;
            self.array_key()?;
            let value_start = self.pos;
            self.value(depth)?;
            on_member(
                key_start,
                &self.data[key_start..value_start],
                &self.data[value_start..self.pos],
            )?;
        }
        self.expect(b'}', "expected `}` after the last element")
    }

    /// Array and object keys: `i:<int>;` or `s:<len>:"<bytes>";`.
    fn array_key(&mut self) -> Result<(), SplitError> {
        let key_start = self.pos;
        match self.peek() {
            Some(b'i') => {
                self.pos += 1;
                self.expect(b':', "expected `:` after `i`")?;
                self.signed_integer()?;
            }
            Some(b's') => {
                self.pos += 1;
                self.expect(b':', "expected `:` after `s`")?;
                self.quoted()?;
            }
            _ => {
                return Err(SplitError::Malformed {
                    offset: key_start,
                    reason: "array key is neither an integer nor a string",
                })
            }
        }
        self.expect(b';', "expected `;` after an array key")
    }

    /// One serialized value. `depth` counts the arrays/objects enclosing it.
    fn value(&mut self, depth: usize) -> Result<(), SplitError> {
        let tag_offset = self.pos;
        let Some(tag) = self.peek() else {
            return Err(self.malformed("expected a value, found the end of the data"));
        };
        self.pos += 1;
        if tag != b'N' {
            self.expect(b':', "expected `:` after the type tag")?;
        }
        match tag {
            b'N' => {}
            b'b' => {
                if !(self.eat(b'0') || self.eat(b'1')) {
                    return Err(self.malformed("boolean is neither 0 nor 1"));
                }
            }
            b'i' => self.signed_integer()?,
            b'd' => self.float()?,
            b's' => {
                self.quoted()?;
            }
            b'E' => {
                // `E:<len>:"Class:Case";`
                if !self.quoted()?.contains(&b':') {
                    return Err(self.malformed("enum case without `Class:` prefix"));
                }
            }
            b'a' => {
                let count = self.member_count()?;
                return self.nested_members(count, depth);
            }
            b'O' => {
                // `O:<len>:"<class>":<n>:{<key><value>...}`; keys are property names, or
                // arbitrary array keys for classes with __serialize().
                self.class_name()?;
                self.expect(b':', "expected `:` after the class name")?;
                let count = self.member_count()?;
                return self.nested_members(count, depth);
            }
            b'C' => {
                // `C:<len>:"<class>":<len>:{<payload>}` (Serializable): the payload is opaque,
                // and may refer to any value of the session (see the module documentation).
                self.class_name()?;
                self.expect(b':', "expected `:` after the class name")?;
                let payload_len = self.unsigned()?;
                self.expect(b':', "expected `:` after the payload length")?;
                self.expect(b'{', "expected `{` before the payload")?;
                self.take(payload_len)?;
                self.expect(b'}', "expected `}` after the payload")?;
                return Err(SplitError::Serializable);
            }
            b'R' | b'r' => {
                self.unsigned()?;
                self.expect(b';', "expected `;` after a reference")?;
                return Err(SplitError::References);
            }
            b'S' => {
                return Err(SplitError::Malformed {
                    offset: tag_offset,
                    reason: "escaped `S:` strings are not supported",
                })
            }
            _ => {
                return Err(SplitError::Malformed {
                    offset: tag_offset,
                    reason: "unknown value type",
                })
            }
        }
        self.expect(b';', "expected `;` after a value")
    }

    fn nested_members(&mut self, count: usize, depth: usize) -> Result<(), SplitError> {
        let inner_depth = depth + 1;
        if inner_depth > MAX_DEPTH {
            return Err(SplitError::TooDeep);
        }
        self.members(count, inner_depth, |_, _, _| Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::php_model::*;
    use proptest::prelude::*;

    const PHP: SessionSerializer = SessionSerializer::Php;
    const PHP_SERIALIZE: SessionSerializer = SessionSerializer::PhpSerialize;

    fn pairs<'a>(session: &SplitSession<'a>) -> Vec<(&'a [u8], &'a [u8])> {
        session
            .entries
            .iter()
            .map(|entry| (entry.key, entry.value))
            .collect()
    }

    fn assert_round_trip(ser: &SessionSerializer, data: &[u8]) {
        let session = split(ser, data).unwrap_or_else(|error| {
            panic!("{error} in {:?}", String::from_utf8_lossy(data));
        });
        assert_eq!(join(ser, &session.entries), data);
    }

    fn is_malformed(result: Result<SplitSession<'_>, SplitError>) -> bool {
        matches!(result, Err(SplitError::Malformed { .. }))
    }

    #[test]
    fn serializer_from_ini() {
        assert_eq!(SessionSerializer::from_ini("php"), PHP);
        assert_eq!(SessionSerializer::from_ini("php_serialize"), PHP_SERIALIZE);
        assert_eq!(
            SessionSerializer::from_ini("igbinary"),
            SessionSerializer::Other("igbinary".into())
        );
        assert_eq!(
            split(&SessionSerializer::from_ini("igbinary"), b"a|N;"),
            Err(SplitError::UnsupportedSerializer)
        );
    }

    #[test]
    fn php_entries_with_tricky_strings() {
        let data = b"a|i:1;b|s:3:\"x;y\";c|s:8:\"|\"}R:1;\0\";d|N;";
        let session = split(&PHP, data).unwrap();
        assert_eq!(
            pairs(&session),
            vec![
                (&b"a"[..], &b"i:1;"[..]),
                (b"b", b"s:3:\"x;y\";"),
                (b"c", b"s:8:\"|\"}R:1;\0\";"),
                (b"d", b"N;"),
            ]
        );
        assert_round_trip(&PHP, data);
    }

    #[test]
    fn php_serialize_entries_with_nested_array() {
        let data = b"a:2:{s:1:\"a\";i:1;s:1:\"b\";a:1:{i:0;d:0.5;}}";
        let session = split(&PHP_SERIALIZE, data).unwrap();
        assert_eq!(
            pairs(&session),
            vec![
                (&b"s:1:\"a\";"[..], &b"i:1;"[..]),
                (b"s:1:\"b\";", b"a:1:{i:0;d:0.5;}"),
            ]
        );
        assert_round_trip(&PHP_SERIALIZE, data);
    }

    #[test]
    fn php_serialize_integer_keys() {
        let data = b"a:2:{i:5;b:1;i:-7;s:0:\"\";}";
        let session = split(&PHP_SERIALIZE, data).unwrap();
        assert_eq!(
            pairs(&session),
            vec![(&b"i:5;"[..], &b"b:1;"[..]), (b"i:-7;", b"s:0:\"\";")]
        );
        assert_eq!(display_key(&PHP_SERIALIZE, b"i:5;"), "5");
        assert_eq!(display_key(&PHP_SERIALIZE, b"s:3:\"foo\";"), "foo");
        assert_eq!(display_key(&PHP_SERIALIZE, b"s:3:\"a\"b\";"), "a\"b");
        assert_eq!(display_key(&PHP, b"foo"), "foo");
    }

    #[test]
    fn every_value_kind() {
        let values: &[&[u8]] = &[
            b"N;",
            b"b:0;",
            b"b:1;",
            b"i:-12;",
            b"i:+3;",
            b"d:0.1;",
            b"d:INF;",
            b"d:-INF;",
            b"d:NAN;",
            b"d:1.0E+25;",
            b"d:-1.5e-7;",
            b"d:.5;",
            b"d:1.;",
            b"d:-0;",
            b"s:0:\"\";",
            b"O:8:\"stdClass\":1:{s:1:\"p\";i:1;}",
            b"O:3:\"Foo\":2:{s:6:\"\0Foo\0x\";N;s:4:\"\0*\0y\";a:0:{}}",
            b"O:3:\"Bar\":2:{i:0;i:1;i:1;s:1:\"}\";}",
            b"E:7:\"Foo:Bar\";",
            b"a:1:{s:1:\"k\";E:11:\"Suit:Hearts\";}",
        ];
        for value in values {
            let php = [b"v|".as_slice(), value].concat();
            let session = split(&PHP, &php).unwrap();
            assert_eq!(pairs(&session), vec![(&b"v"[..], *value)]);
            assert_round_trip(&PHP, &php);

            let php_serialize = [b"a:1:{s:1:\"v\";".as_slice(), value, b"}"].concat();
            assert_round_trip(&PHP_SERIALIZE, &php_serialize);
        }
    }

    #[test]
    fn empty_sessions() {
        assert_eq!(split(&PHP, b"").unwrap().entries, vec![]);
        assert_eq!(split(&PHP_SERIALIZE, b"").unwrap().entries, vec![]);
        assert_eq!(split(&PHP_SERIALIZE, b"a:0:{}").unwrap().entries, vec![]);
        assert_eq!(join(&PHP, &[]), b"");
        assert_eq!(join(&PHP_SERIALIZE, &[]), b"a:0:{}");
    }

    #[test]
    fn a_count_php_would_not_write_is_refused() {
        // Found by fuzz/codec_merge: `a:00:{}` split, and joined back as `a:0:{}`.
        for data in [&b"a:00:{}"[..], b"a:01:{s:1:\"a\";i:1;}"] {
            assert_eq!(
                split(&SessionSerializer::PhpSerialize, data),
                Err(SplitError::Malformed {
                    offset: 2,
                    reason: "element count not in PHP's form (leading zeros)"
                })
            );
        }
        let data = b"a:1:{s:1:\"a\";a:01:{i:0;i:0;}}";
        let entries = split(&SessionSerializer::PhpSerialize, data)
            .unwrap()
            .entries;
        assert_eq!(join(&SessionSerializer::PhpSerialize, &entries), data);
    }

    #[test]
    fn join_writes_the_entry_count() {
        let entries = [
            Entry {
                key: b"s:1:\"x\";",
                value: b"N;",
            },
            Entry {
                key: b"i:3;",
                value: b"b:1;",
            },
        ];
        assert_eq!(
            join(&PHP_SERIALIZE, &entries),
            b"a:2:{s:1:\"x\";N;i:3;b:1;}"
        );
    }

    #[test]
    fn references_are_refused() {
        // `$_SESSION['b'] = &$_SESSION['a'];`
        assert_eq!(
            split(&PHP, b"a|a:1:{i:0;i:1;}b|R:1;"),
            Err(SplitError::References)
        );
        // The same object stored twice.
        assert_eq!(
            split(
                &PHP_SERIALIZE,
                b"a:1:{s:1:\"o\";a:2:{i:0;O:8:\"stdClass\":0:{}i:1;r:3;}}"
            ),
            Err(SplitError::References)
        );
        assert_eq!(
            split(&PHP, b"a|O:3:\"Foo\":1:{s:1:\"p\";R:2;}"),
            Err(SplitError::References)
        );
    }

    #[test]
    fn serializable_objects_are_refused() {
        // What PHP 8.2 writes for `$_SESSION = ['a' => 1, 'shared' => $o, 'box' => new Box([$o,
        // $o]), 'z' => 2]` where Box::serialize() returns serialize($this->items): the payload's
        // `r:2;` is the session's value 2, `shared`. Dropping `a` would make it name a property.
        let session = b"a|i:1;shared|O:8:\"stdClass\":1:{s:1:\"v\";i:1;}\
                        box|C:3:\"Box\":22:{a:2:{i:0;r:2;i:1;r:2;}}z|i:2;";
        assert_eq!(split(&PHP, session), Err(SplitError::Serializable));
        for value in [
            &b"C:11:\"ArrayObject\":21:{x:i:0;a:0:{};m:a:0:{}}"[..],
            b"C:3:\"Foo\":0:{}",
            // Whatever the payload holds, also nothing that looks like a reference.
            b"C:3:\"Foo\":4:{r:1;}",
            b"C:3:\"Foo\":2:{}}}",
            // Nested in an array or an object.
            b"a:1:{i:0;C:3:\"Foo\":0:{}}",
            b"O:3:\"Bar\":1:{s:1:\"p\";C:3:\"Foo\":0:{}}",
        ] {
            let php = [b"x|i:1;v|".as_slice(), value].concat();
            assert_eq!(
                split(&PHP, &php),
                Err(SplitError::Serializable),
                "{value:?}"
            );
            let php_serialize = [b"a:2:{i:0;N;s:1:\"v\";".as_slice(), value, b"}"].concat();
            assert_eq!(
                split(&PHP_SERIALIZE, &php_serialize),
                Err(SplitError::Serializable),
                "{value:?}"
            );
        }
        // A malformed `C:` is reported as malformed, not as Serializable.
        assert!(is_malformed(split(&PHP, b"v|C:3:\"Foo\":2:{a}")));
        // The same bytes inside a string are a string.
        assert_round_trip(&PHP, b"v|s:14:\"C:3:\"Foo\":0:{}\";");
    }

    #[test]
    fn reference_text_inside_strings_is_not_a_reference() {
        assert_round_trip(&PHP, b"a|s:4:\"R:1;\";b|s:4:\"r:2;\";");
        assert_round_trip(&PHP_SERIALIZE, b"a:1:{s:4:\"R:1;\";s:4:\"r:1;\";}");
        assert_round_trip(&PHP, b"R:1;|i:1;");
    }

    #[test]
    fn nesting_limit() {
        let nested = |levels: usize| {
            let mut data = b"v|".to_vec();
            data.extend(b"a:1:{i:0;".repeat(levels));
            data.extend(b"N;");
            data.extend(b"}".repeat(levels));
            data
        };
        assert_round_trip(&PHP, &nested(MAX_DEPTH));
        assert_eq!(
            split(&PHP, &nested(MAX_DEPTH + 1)),
            Err(SplitError::TooDeep)
        );
        // Far deeper than any stack could recurse: refused, not overflowed.
        assert_eq!(split(&PHP, &nested(200_000)), Err(SplitError::TooDeep));
    }

    #[test]
    fn hostile_lengths_and_counts() {
        for data in [
            &b"v|s:18446744073709551615:\"x\";"[..],
            b"v|s:99999999999999999999999999:\"x\";",
            b"v|a:18446744073709551615:{}",
            b"v|a:4000000000:{i:0;N;}",
            b"v|C:3:\"Foo\":18446744073709551615:{}",
            b"v|O:99999999999:\"Foo\":0:{}",
            b"a:999999999:{",
        ] {
            for ser in [&PHP, &PHP_SERIALIZE] {
                assert!(is_malformed(split(ser, data)), "{data:?}");
            }
        }
    }

    #[test]
    fn malformed_inputs() {
        for data in [
            &b"v"[..],
            b"v|",
            b"v|i:1",
            b"v|i:;",
            b"v|b:2;",
            b"v|d:;",
            b"v|d:.;",
            b"v|d:1e;",
            b"v|s:3:\"ab\";",
            b"v|s:1:\"ab\";",
            b"v|S:1:\"a\";",
            b"v|a:1:{N;N;}",
            b"v|a:1:{i:0;N;",
            b"v|a:2:{i:0;N;}",
            b"v|a:0:{}}",
            b"v|O:0:\"\":0:{}",
            b"v|E:3:\"Foo\";",
            b"v|C:3:\"Foo\":2:{a}",
            b"v|x:1;",
            b"v|R:;",
            b"a|N;a|N;",
        ] {
            assert!(is_malformed(split(&PHP, data)), "{data:?}");
        }
        for data in [
            &b"N;"[..],
            b"a:1:{s:1:\"a\";N;}x",
            b"a:1:{a:0:{}N;}",
            b"a:2:{i:1;N;i:1;N;}",
            b"a|N;",
        ] {
            assert!(is_malformed(split(&PHP_SERIALIZE, data)), "{data:?}");
        }
    }

    #[test]
    fn php_float_formatting() {
        for (number, expected) in [
            (0.1, "0.1"),
            (0.5, "0.5"),
            (1.0, "1"),
            (-0.0, "-0"),
            (1e25, "1.0E+25"),
            (1.5e-7, "1.5E-7"),
            (0.0001, "0.0001"),
            (0.00001, "1.0E-5"),
            (123.456, "123.456"),
            (1e16, "10000000000000000"),
            (1e17, "1.0E+17"),
            (f64::INFINITY, "INF"),
            (f64::NEG_INFINITY, "-INF"),
            (f64::NAN, "NAN"),
        ] {
            assert_eq!(php_float(number), expected);
        }
    }

    proptest! {
        #[test]
        fn php_session_round_trips(entries in php_entries()) {
            let data = php_session(&entries);
            let session = split(&PHP, &data).unwrap();
            let expected: Vec<(Vec<u8>, Vec<u8>)> = entries
                .iter()
                .map(|(name, value)| (name.clone(), serialize(value)))
                .collect();
            let actual: Vec<(Vec<u8>, Vec<u8>)> = session
                .entries
                .iter()
                .map(|entry| (entry.key.to_vec(), entry.value.to_vec()))
                .collect();
            prop_assert_eq!(actual, expected);
            prop_assert_eq!(join(&PHP, &session.entries), data);
        }

        #[test]
        fn php_serialize_session_round_trips(entries in php_serialize_entries()) {
            let data = php_serialize_session(&entries);
            let session = split(&PHP_SERIALIZE, &data).unwrap();
            let expected: Vec<(Vec<u8>, Vec<u8>)> = entries
                .iter()
                .map(|(key, value)| (serialize_key(key), serialize(value)))
                .collect();
            let actual: Vec<(Vec<u8>, Vec<u8>)> = session
                .entries
                .iter()
                .map(|entry| (entry.key.to_vec(), entry.value.to_vec()))
                .collect();
            prop_assert_eq!(actual, expected);
            prop_assert_eq!(join(&PHP_SERIALIZE, &session.entries), data);
        }

        #[test]
        fn sessions_holding_serializable_objects_are_refused(
            php in prop::collection::vec((php_name(), value_or_serializable()), 0..6),
            php_serialize in prop::collection::vec((key(), value_or_serializable()), 0..6),
        ) {
            let (php, php_serialize) = (dedup_by_key(php), dedup_by_key(php_serialize));
            for (ser, data, serializable) in [
                (
                    &PHP,
                    php_session(&php),
                    php.iter().any(|(_, value)| contains_serializable(value)),
                ),
                (
                    &PHP_SERIALIZE,
                    php_serialize_session(&php_serialize),
                    php_serialize.iter().any(|(_, value)| contains_serializable(value)),
                ),
            ] {
                let result = split(ser, &data);
                if serializable {
                    prop_assert_eq!(result, Err(SplitError::Serializable));
                } else {
                    prop_assert_eq!(join(ser, &result.unwrap().entries), data);
                }
            }
        }

        #[test]
        fn split_never_panics_on_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = split(&PHP, &data);
            let _ = split(&PHP_SERIALIZE, &data);
        }

        #[test]
        fn split_never_panics_on_grammar_soup(
            data in prop::collection::vec(
                prop::sample::select(b"aibdsSOCERrN:;{}\"|0123456789-+.eE".to_vec()),
                0..128,
            )
        ) {
            let _ = split(&PHP, &data);
            let _ = split(&PHP_SERIALIZE, &data);
        }

        #[test]
        fn truncated_php_serialize_sessions_are_malformed(
            entries in php_serialize_entries(),
            cut in any::<prop::sample::Index>(),
        ) {
            // The grammar is self-delimiting, so no strict prefix of a session parses.
            // The empty prefix is excluded: it is the valid empty session.
            let data = php_serialize_session(&entries);
            let prefix = &data[..1 + cut.index(data.len() - 1)];
            prop_assert!(split(&PHP_SERIALIZE, prefix).is_err());
        }

        #[test]
        fn mutated_sessions_never_panic(
            php in php_entries(),
            php_serialize in php_serialize_entries(),
            mutations in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            for (ser, mut data) in [
                (&PHP, php_session(&php)),
                (&PHP_SERIALIZE, php_serialize_session(&php_serialize)),
            ] {
                if data.is_empty() {
                    continue;
                }
                let _ = split(ser, &data[..cut.index(data.len())]);
                for (position, byte) in &mutations {
                    let position = position.index(data.len());
                    data[position] = *byte;
                }
                if let Ok(session) = split(ser, &data) {
                    prop_assert_eq!(join(ser, &session.entries), data);
                }
            }
        }
    }
}
