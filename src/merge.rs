//! Three-way merge of encoded PHP sessions over their top-level keys.
//!
//! In optimistic mode a request takes no lock, so by the time it writes, a parallel request may
//! have written the session too. We then hold three encodings: BASE (what this request read),
//! MINE (what it wants to write) and THEIRS (what the store holds now). Changes to different
//! top-level keys are combined; a key changed by both sides is a conflict (even to the same
//! value: see [`resolve`]). When a session cannot be split into entries (see [`SplitError`]) the
//! whole session is treated as a single value instead. Either way no update is dropped without the caller being told.

use std::collections::HashMap;

use crate::codec::{self, Entry, SessionSerializer, SplitError, SplitSession};

/// The key reported in [`MergeOutcome::Conflict`] and [`MergeResult::overridden_keys`] when
/// the sessions could only be compared as a whole ([`MergeMode::WholeSession`]).
pub const WHOLE_SESSION: &str = "*whole session*";

/// What to do with a key that both sides changed differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictPolicy {
    /// Write nothing; the caller keeps their session and warns about the conflicting keys.
    KeepTheirs,
    /// Our value replaces theirs (their change to that key is lost, and reported in
    /// [`MergeResult::overridden_keys`]).
    MineWins,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// Bytes to write (may equal theirs when there is nothing of ours to apply).
    Merged(Vec<u8>),
    /// Keys changed differently by both sides, under [`ConflictPolicy::KeepTheirs`]: the caller
    /// keeps theirs and warns. Keys are in display form (see [`codec::display_key`]), or
    /// [`WHOLE_SESSION`] when the sessions could not be split.
    Conflict { keys: Vec<String> },
}

/// How the result was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMode {
    /// At most one side changed the session: that side's bytes are used as they are, without
    /// parsing anything.
    OneSided,
    /// Both sides changed the session and it was merged key by key.
    PerKey,
    /// Both sides changed the session, but one of the three could not be split for this
    /// reason, so it was compared as one value.
    WholeSession(SplitError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeResult {
    pub outcome: MergeOutcome,
    pub mode: MergeMode,
    /// Keys where both sides changed differently and [`ConflictPolicy::MineWins`] discarded
    /// their change, in display form; empty otherwise. Worth logging: it is lost data.
    pub overridden_keys: Vec<String>,
}

/// Merges our changes (`base` → `mine`) into `theirs`. See the module documentation.
///
/// Per top-level key, with `b`, `m`, `t` its value (or absence) in each session:
/// `m == b` → `t`; else `t == b` → `m`; else `m == t` → `m`; else a conflict.
/// The merged session lists surviving keys in their order, followed by keys only we have, in
/// our order.
pub fn three_way_merge(
    ser: &SessionSerializer,
    base: &[u8],
    mine: &[u8],
    theirs: &[u8],
    policy: ConflictPolicy,
) -> MergeResult {
    // Using one side's bytes unchanged keeps its exact key order and skips parsing.
    if theirs == base {
        return one_sided(mine);
    }
    if mine == base {
        return one_sided(theirs);
    }
    let split_all = || -> Result<_, SplitError> {
        Ok((
            codec::split(ser, base)?,
            codec::split(ser, mine)?,
            codec::split(ser, theirs)?,
        ))
    };
    match split_all() {
        Ok((base, mine, theirs)) => merge_per_key(ser, &base, &mine, &theirs, policy),
        // Both sides changed the opaque whole differently: that is one big conflict.
        Err(reason) => conflict(
            policy,
            MergeMode::WholeSession(reason),
            vec![WHOLE_SESSION.to_owned()],
            || mine.to_vec(),
        ),
    }
}

fn one_sided(bytes: &[u8]) -> MergeResult {
    MergeResult {
        outcome: MergeOutcome::Merged(bytes.to_vec()),
        mode: MergeMode::OneSided,
        overridden_keys: Vec::new(),
    }
}

/// Applies `policy` to conflicting `keys`; `mine_wins` builds the bytes to write under
/// [`ConflictPolicy::MineWins`].
fn conflict(
    policy: ConflictPolicy,
    mode: MergeMode,
    keys: Vec<String>,
    mine_wins: impl FnOnce() -> Vec<u8>,
) -> MergeResult {
    match policy {
        ConflictPolicy::KeepTheirs => MergeResult {
            outcome: MergeOutcome::Conflict { keys },
            mode,
            overridden_keys: Vec::new(),
        },
        ConflictPolicy::MineWins => MergeResult {
            outcome: MergeOutcome::Merged(mine_wins()),
            mode,
            overridden_keys: keys,
        },
    }
}

/// The decision for one key.
enum Resolution<'a> {
    /// The key's merged value; `None` means it is deleted.
    Take(Option<&'a [u8]>),
    Conflict,
}

/// Both sides changing a key is a conflict even when they arrive at the same value: a merge
/// cannot tell "both set n to 1" from "both incremented n from 0", and the second is a lost
/// update. Only under MineWins, where the caller accepts overwriting, is an equal value taken
/// without a report (nothing of theirs is lost by writing what they wrote).
fn resolve<'a>(
    base: Option<&'a [u8]>,
    mine: Option<&'a [u8]>,
    theirs: Option<&'a [u8]>,
    policy: ConflictPolicy,
) -> Resolution<'a> {
    if mine == base {
        Resolution::Take(theirs)
    } else if theirs == base || (mine == theirs && policy == ConflictPolicy::MineWins) {
        Resolution::Take(mine)
    } else {
        Resolution::Conflict
    }
}

fn values_by_key<'a>(session: &SplitSession<'a>) -> HashMap<&'a [u8], &'a [u8]> {
    session
        .entries
        .iter()
        .map(|entry| (entry.key, entry.value))
        .collect()
}

/// Framework layouts that keep many attributes under one top-level key, merged one level deeper
/// (each is a PHP array): Symfony's attribute bag and flash bag.
const NESTED_KEYS: &[&str] = &["_sf2_attributes", "_symfony_flashes"];

/// Framework keys that every request rewrites with its own timestamp: when both sides changed
/// one, the newer writer's value (the larger integer under `.1`) is kept, not a conflict.
/// Symfony's metadata bag: `u` is the last-used time, `c` the creation time, `l` the lifetime.
const NEWEST_WINS_KEYS: &[(&str, &str)] = &[("_sf2_meta", "u")];

/// A merged value: borrowed from one side, or built by a nested merge.
enum Merged<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

/// The decision for one key changed by both sides, where a framework layout allows one.
enum Layered {
    /// Merged (or decided) without a conflict; the names of keys whose change MineWins discarded.
    Value(Vec<u8>, Vec<String>),
    /// Conflicting nested keys, in display form (`outer[inner]`).
    Conflict(Vec<String>),
}

/// An integer entry of a serialized PHP array, e.g. `u` in `a:3:{s:1:"u";i:1700000000;…}`.
fn array_int(array: &[u8], name: &str) -> Option<i64> {
    let entries = codec::split(&SessionSerializer::PhpSerialize, array).ok()?;
    let entry = entries
        .entries
        .iter()
        .find(|entry| codec::display_key(&SessionSerializer::PhpSerialize, entry.key) == name)?;
    std::str::from_utf8(entry.value.strip_prefix(b"i:")?.strip_suffix(b";")?)
        .ok()?
        .parse()
        .ok()
}

/// Both sides changed `name`: merge one level down or keep the newest, where the layout says so.
fn merge_layered(
    name: &str,
    base: Option<&[u8]>,
    mine: &[u8],
    theirs: &[u8],
    policy: ConflictPolicy,
) -> Option<Layered> {
    if let Some((_, field)) = NEWEST_WINS_KEYS.iter().find(|(key, _)| *key == name) {
        let newest = match (array_int(mine, field), array_int(theirs, field)) {
            (Some(m), Some(t)) if m > t => mine,
            (Some(_), Some(_)) => theirs,
            _ => return None,
        };
        return Some(Layered::Value(newest.to_vec(), Vec::new()));
    }
    if !NESTED_KEYS.contains(&name) {
        return None;
    }
    let ser = SessionSerializer::PhpSerialize;
    let empty: &[u8] = b"a:0:{}";
    let nested_base = codec::split(&ser, base.unwrap_or(empty)).ok()?;
    let nested_mine = codec::split(&ser, mine).ok()?;
    let nested_theirs = codec::split(&ser, theirs).ok()?;
    let result = merge_per_key(&ser, &nested_base, &nested_mine, &nested_theirs, policy);
    let qualify = |keys: Vec<String>| -> Vec<String> {
        keys.into_iter()
            .map(|key| format!("{name}[{key}]"))
            .collect()
    };
    Some(match result.outcome {
        MergeOutcome::Merged(bytes) => Layered::Value(bytes, qualify(result.overridden_keys)),
        MergeOutcome::Conflict { keys } => Layered::Conflict(qualify(keys)),
    })
}

fn merge_per_key(
    ser: &SessionSerializer,
    base: &SplitSession<'_>,
    mine: &SplitSession<'_>,
    theirs: &SplitSession<'_>,
    policy: ConflictPolicy,
) -> MergeResult {
    let base_values = values_by_key(base);
    let mine_values = values_by_key(mine);
    let theirs_values = values_by_key(theirs);

    // Keys only in base were deleted by both sides (or were never ours to keep): nothing to do.
    let their_keys = theirs.entries.iter().map(|entry| entry.key);
    let keys_only_mine = mine
        .entries
        .iter()
        .map(|entry| entry.key)
        .filter(|key| !theirs_values.contains_key(key));

    let mut merged: Vec<(&[u8], Merged<'_>)> =
        Vec::with_capacity(theirs.entries.len() + mine.entries.len());
    let mut conflicting_keys = Vec::new();
    let mut overridden_keys = Vec::new();
    for key in their_keys.chain(keys_only_mine) {
        let base_value = base_values.get(key).copied();
        let mine_value = mine_values.get(key).copied();
        let theirs_value = theirs_values.get(key).copied();
        let chosen = match resolve(base_value, mine_value, theirs_value, policy) {
            Resolution::Take(value) => value.map(Merged::Borrowed),
            Resolution::Conflict => {
                let name = codec::display_key(ser, key);
                let layered = match (mine_value, theirs_value) {
                    (Some(m), Some(t)) => merge_layered(&name, base_value, m, t, policy),
                    _ => None,
                };
                match layered {
                    Some(Layered::Value(bytes, overridden)) => {
                        overridden_keys.extend(overridden);
                        Some(Merged::Owned(bytes))
                    }
                    Some(Layered::Conflict(nested)) => {
                        conflicting_keys.extend(nested);
                        mine_value.map(Merged::Borrowed)
                    }
                    None => {
                        conflicting_keys.push(name);
                        // Only written out under MineWins.
                        mine_value.map(Merged::Borrowed)
                    }
                }
            }
        };
        if let Some(value) = chosen {
            merged.push((key, value));
        }
    }
    let entries: Vec<Entry<'_>> = merged
        .iter()
        .map(|(key, value)| Entry {
            key,
            value: match value {
                Merged::Borrowed(bytes) => bytes,
                Merged::Owned(bytes) => bytes,
            },
        })
        .collect();

    if conflicting_keys.is_empty() {
        return MergeResult {
            outcome: MergeOutcome::Merged(codec::join(ser, &entries)),
            mode: MergeMode::PerKey,
            overridden_keys,
        };
    }
    let mut result = conflict(policy, MergeMode::PerKey, conflicting_keys, || {
        codec::join(ser, &entries)
    });
    result.overridden_keys.extend(overridden_keys);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::php_model;
    use proptest::prelude::*;

    const PHP: SessionSerializer = SessionSerializer::Php;
    const PHP_SERIALIZE: SessionSerializer = SessionSerializer::PhpSerialize;

    fn merge(
        ser: &SessionSerializer,
        base: &[u8],
        mine: &[u8],
        theirs: &[u8],
        policy: ConflictPolicy,
    ) -> MergeResult {
        three_way_merge(ser, base, mine, theirs, policy)
    }

    fn merged(result: MergeResult) -> Vec<u8> {
        match result.outcome {
            MergeOutcome::Merged(bytes) => bytes,
            MergeOutcome::Conflict { keys } => panic!("unexpected conflict on {keys:?}"),
        }
    }

    #[test]
    fn one_sided_changes_use_that_side_verbatim() {
        let base = b"a|i:1;";
        let changed = b"b|i:2;a|i:1;";
        let result = merge(&PHP, base, changed, base, ConflictPolicy::KeepTheirs);
        assert_eq!(result.mode, MergeMode::OneSided);
        assert_eq!(merged(result), changed);
        let result = merge(&PHP, base, base, changed, ConflictPolicy::KeepTheirs);
        assert_eq!(merged(result), changed);
        // Both sides made the same change: still both changed `b` (see `resolve`).
        let result = merge(&PHP, base, changed, changed, ConflictPolicy::KeepTheirs);
        assert_eq!(
            result.outcome,
            MergeOutcome::Conflict {
                keys: vec!["b".into()]
            }
        );
        let result = merge(&PHP, base, changed, changed, ConflictPolicy::MineWins);
        assert!(result.overridden_keys.is_empty());
        assert_eq!(merged(result), changed);
    }

    #[test]
    fn disjoint_keys_from_both_sides_are_kept() {
        let base = b"a|i:1;b|i:2;";
        let mine = b"a|i:10;b|i:2;m|s:1:\"m\";";
        let theirs = b"a|i:1;b|i:20;t|s:1:\"t\";";
        let result = merge(&PHP, base, mine, theirs, ConflictPolicy::KeepTheirs);
        assert_eq!(result.mode, MergeMode::PerKey);
        assert!(result.overridden_keys.is_empty());
        assert_eq!(
            merged(result),
            b"a|i:10;b|i:20;t|s:1:\"t\";m|s:1:\"m\";".to_vec()
        );
    }

    #[test]
    fn disjoint_keys_php_serialize() {
        let base = b"a:2:{s:1:\"a\";i:1;i:7;b:0;}";
        let mine = b"a:3:{s:1:\"a\";i:2;i:7;b:0;s:1:\"m\";N;}";
        let theirs = b"a:1:{s:1:\"a\";i:1;}";
        let result = merge(
            &PHP_SERIALIZE,
            base,
            mine,
            theirs,
            ConflictPolicy::KeepTheirs,
        );
        assert_eq!(merged(result), b"a:2:{s:1:\"a\";i:2;s:1:\"m\";N;}".to_vec());
    }

    fn symfony(attributes: &str, updated: u32) -> Vec<u8> {
        format!(
            "_sf2_attributes|{attributes}_symfony_flashes|a:0:{{}}_sf2_meta|a:3:{{s:1:\"u\";i:{updated};s:1:\"c\";i:50;s:1:\"l\";i:0;}}"
        )
        .into_bytes()
    }

    #[test]
    fn symfony_attributes_merge_one_level_down_and_meta_takes_the_newest() {
        let base = symfony("a:1:{s:1:\"n\";i:0;}", 100);
        let mine = symfony("a:2:{s:1:\"n\";i:0;s:1:\"a\";i:1;}", 105);
        let theirs = symfony("a:2:{s:1:\"n\";i:0;s:1:\"b\";i:2;}", 103);
        let result = merge(&PHP, &base, &mine, &theirs, ConflictPolicy::KeepTheirs);
        assert!(result.overridden_keys.is_empty());
        assert_eq!(
            String::from_utf8(merged(result)).unwrap(),
            String::from_utf8(symfony(
                "a:3:{s:1:\"n\";i:0;s:1:\"b\";i:2;s:1:\"a\";i:1;}",
                105
            ))
            .unwrap()
        );
        // The newer writer's metadata whichever side it is on.
        let result = merge(&PHP, &base, &theirs, &mine, ConflictPolicy::KeepTheirs);
        assert!(String::from_utf8(merged(result))
            .unwrap()
            .contains("i:105;"));

        // One attribute changed by both: a conflict named with its bag.
        let mine = symfony("a:1:{s:1:\"n\";i:1;}", 105);
        let theirs = symfony("a:1:{s:1:\"n\";i:2;}", 103);
        let result = merge(&PHP, &base, &mine, &theirs, ConflictPolicy::KeepTheirs);
        assert_eq!(
            result.outcome,
            MergeOutcome::Conflict {
                keys: vec!["_sf2_attributes[n]".into()]
            }
        );
        let result = merge(&PHP, &base, &mine, &theirs, ConflictPolicy::MineWins);
        assert_eq!(
            result.overridden_keys,
            vec!["_sf2_attributes[n]".to_owned()]
        );
        assert_eq!(merged(result), symfony("a:1:{s:1:\"n\";i:1;}", 105));

        // The same layout under php_serialize, and an ordinary array key is not merged inside.
        let base = b"a:2:{s:15:\"_sf2_attributes\";a:0:{}s:4:\"cart\";a:0:{}}";
        let mine =
            b"a:2:{s:15:\"_sf2_attributes\";a:1:{s:1:\"x\";i:1;}s:4:\"cart\";a:1:{i:0;i:1;}}";
        let theirs =
            b"a:2:{s:15:\"_sf2_attributes\";a:1:{s:1:\"y\";i:2;}s:4:\"cart\";a:1:{i:1;i:1;}}";
        let result = merge(
            &PHP_SERIALIZE,
            base,
            mine,
            theirs,
            ConflictPolicy::KeepTheirs,
        );
        assert_eq!(
            result.outcome,
            MergeOutcome::Conflict {
                keys: vec!["cart".into()]
            }
        );
    }

    #[test]
    fn key_changed_by_both_is_a_conflict() {
        let base = b"a|i:1;b|i:1;c|i:1;";
        let mine = b"a|i:2;b|i:2;c|i:1;";
        let theirs = b"a|i:3;b|i:2;c|i:3;";
        let result = merge(&PHP, base, mine, theirs, ConflictPolicy::KeepTheirs);
        assert_eq!(result.mode, MergeMode::PerKey);
        assert_eq!(
            result.outcome,
            MergeOutcome::Conflict {
                keys: vec!["a".into(), "b".into()]
            }
        );

        let result = merge(&PHP, base, mine, theirs, ConflictPolicy::MineWins);
        assert_eq!(result.overridden_keys, vec!["a".to_owned()]);
        assert_eq!(merged(result), b"a|i:2;b|i:2;c|i:3;".to_vec());
    }

    #[test]
    fn conflicts_name_php_serialize_keys() {
        let base = b"a:2:{s:3:\"foo\";i:1;i:5;i:1;}";
        let mine = b"a:2:{s:3:\"foo\";i:2;i:5;i:2;}";
        let theirs = b"a:2:{s:3:\"foo\";i:3;i:5;i:3;}";
        let result = merge(
            &PHP_SERIALIZE,
            base,
            mine,
            theirs,
            ConflictPolicy::KeepTheirs,
        );
        assert_eq!(
            result.outcome,
            MergeOutcome::Conflict {
                keys: vec!["foo".into(), "5".into()]
            }
        );
    }

    #[test]
    fn deletions() {
        let base = b"a|i:1;b|i:1;c|i:1;";
        // We delete `a`, they delete `b`.
        let result = merge(
            &PHP,
            base,
            b"b|i:1;c|i:1;",
            b"a|i:1;c|i:1;",
            ConflictPolicy::KeepTheirs,
        );
        assert_eq!(merged(result), b"c|i:1;".to_vec());

        // We delete `a`, they change it: conflict.
        let result = merge(
            &PHP,
            base,
            b"b|i:1;c|i:1;",
            b"a|i:2;b|i:1;c|i:1;d|N;",
            ConflictPolicy::KeepTheirs,
        );
        assert_eq!(
            result.outcome,
            MergeOutcome::Conflict {
                keys: vec!["a".into()]
            }
        );

        // We change `a`, they delete it: conflict, and MineWins brings it back (at the end).
        let (mine, theirs) = (b"a|i:2;b|i:1;c|i:1;", b"b|i:1;c|i:1;d|N;");
        let result = merge(&PHP, base, mine, theirs, ConflictPolicy::KeepTheirs);
        assert_eq!(
            result.outcome,
            MergeOutcome::Conflict {
                keys: vec!["a".into()]
            }
        );
        let result = merge(&PHP, base, mine, theirs, ConflictPolicy::MineWins);
        assert_eq!(merged(result), b"b|i:1;c|i:1;d|N;a|i:2;".to_vec());

        // Both delete everything.
        let result = merge(
            &PHP_SERIALIZE,
            b"a:1:{i:0;N;}",
            b"a:0:{}",
            b"",
            ConflictPolicy::KeepTheirs,
        );
        assert_eq!(merged(result), b"a:0:{}".to_vec());
    }

    #[test]
    fn identical_changes_conflict_unless_mine_wins() {
        // Two parallel `$_SESSION['a']++` from 1 both write 2: accepting the second would lose
        // an increment silently.
        let base = b"a|i:1;b|i:1;";
        let mine = b"a|i:2;b|i:1;x|N;";
        let theirs = b"a|i:2;b|i:3;x|N;";
        let result = merge(&PHP, base, mine, theirs, ConflictPolicy::KeepTheirs);
        assert_eq!(
            result.outcome,
            MergeOutcome::Conflict {
                keys: vec!["a".into(), "x".into()]
            }
        );
        let result = merge(&PHP, base, mine, theirs, ConflictPolicy::MineWins);
        assert!(
            result.overridden_keys.is_empty(),
            "writing what they wrote loses nothing"
        );
        assert_eq!(merged(result), b"a|i:2;b|i:3;x|N;".to_vec());
    }

    /// Both sides changed a session that cannot be split for `reason`: a conflict on the whole
    /// session, and under MineWins our bytes as they are.
    fn assert_whole_session_conflict(
        ser: &SessionSerializer,
        (base, mine, theirs): (&[u8], &[u8], &[u8]),
        reason: SplitError,
    ) {
        let result = merge(ser, base, mine, theirs, ConflictPolicy::KeepTheirs);
        assert_eq!(result.mode, MergeMode::WholeSession(reason));
        assert_eq!(
            result.outcome,
            MergeOutcome::Conflict {
                keys: vec![WHOLE_SESSION.into()]
            }
        );
        let result = merge(ser, base, mine, theirs, ConflictPolicy::MineWins);
        assert_eq!(result.mode, MergeMode::WholeSession(reason));
        assert_eq!(result.overridden_keys, vec![WHOLE_SESSION.to_owned()]);
        assert_eq!(merged(result), mine.to_vec());
    }

    #[test]
    fn references_fall_back_to_whole_session() {
        let base = b"a|a:1:{i:0;i:1;}b|R:1;";
        let mine = b"a|a:1:{i:0;i:2;}b|R:1;";
        let theirs = b"a|a:1:{i:0;i:1;}b|R:1;c|N;";
        assert_whole_session_conflict(&PHP, (base, mine, theirs), SplitError::References);

        // Only one side changed: no conflict even though nothing can be split.
        let result = merge(&PHP, base, mine, base, ConflictPolicy::KeepTheirs);
        assert_eq!(merged(result), mine.to_vec());
        let result = merge(&PHP, base, base, theirs, ConflictPolicy::KeepTheirs);
        assert_eq!(merged(result), theirs.to_vec());
    }

    #[test]
    fn serializable_objects_fall_back_to_whole_session() {
        // PHP 8.2's bytes for a Box implementing Serializable (its serialize() returns
        // serialize($this->items)) that holds the object in `shared`: `r:1;` is value 1.
        let base = b"shared|O:8:\"stdClass\":0:{}box|C:3:\"Box\":14:{a:1:{i:0;r:1;}}x|i:1;";
        // We store a new object in `n` and a new Box of both objects: `box` moves behind `n`,
        // and its payload names `n` as value 3.
        let mine = b"shared|O:8:\"stdClass\":0:{}x|i:1;n|O:8:\"stdClass\":1:{s:1:\"p\";i:1;}\
                     box|C:3:\"Box\":22:{a:2:{i:0;r:1;i:1;r:3;}}";
        // They change `x` only.
        let theirs = b"shared|O:8:\"stdClass\":0:{}box|C:3:\"Box\":14:{a:1:{i:0;r:1;}}x|i:2;";
        // Key by key, the merge would write our `box` before `x` and `n`, where `r:3;` is inside
        // the Box itself: PHP reads the Box's items as false, with only a notice. Instead:
        assert_whole_session_conflict(&PHP, (base, mine, theirs), SplitError::Serializable);

        // A Serializable object nested in a key that is merged one level down (Symfony's bag)
        // makes the whole session unsplittable too.
        let base = symfony("a:1:{s:1:\"o\";C:3:\"Box\":6:{a:0:{}}}", 100);
        let mine = symfony("a:2:{s:1:\"o\";C:3:\"Box\":6:{a:0:{}}s:1:\"a\";i:1;}", 105);
        let theirs = symfony("a:2:{s:1:\"o\";C:3:\"Box\":6:{a:0:{}}s:1:\"b\";i:1;}", 103);
        assert_whole_session_conflict(&PHP, (&base, &mine, &theirs), SplitError::Serializable);
    }

    #[test]
    fn unsupported_and_malformed_fall_back_to_whole_session() {
        let other = SessionSerializer::Other("igbinary".into());
        let result = merge(&other, b"x", b"y", b"z", ConflictPolicy::KeepTheirs);
        assert_eq!(
            result.mode,
            MergeMode::WholeSession(SplitError::UnsupportedSerializer)
        );
        assert!(matches!(result.outcome, MergeOutcome::Conflict { .. }));
        let result = merge(&other, b"x", b"y", b"x", ConflictPolicy::KeepTheirs);
        assert_eq!(merged(result), b"y".to_vec());

        let result = merge(
            &PHP,
            b"a|i:1;",
            b"a|i:2;",
            b"garbage",
            ConflictPolicy::KeepTheirs,
        );
        assert!(matches!(
            result.mode,
            MergeMode::WholeSession(SplitError::Malformed { .. })
        ));
        assert!(matches!(result.outcome, MergeOutcome::Conflict { .. }));
    }

    /// A change one side makes to one key.
    #[derive(Debug, Clone)]
    enum Edit {
        Set(Vec<u8>),
        Delete,
    }

    type Session = Vec<(Vec<u8>, Vec<u8>)>;
    /// One side's edits, in the order its request made them.
    type Edits = Vec<(Vec<u8>, Edit)>;

    /// Applies edits the way PHP code would: assigning an existing key keeps its position,
    /// a new key goes last, `unset` removes it.
    fn apply(session: &Session, edits: &[(Vec<u8>, Edit)]) -> Session {
        let mut session = session.clone();
        for (key, edit) in edits {
            let position = session.iter().position(|(existing, _)| existing == key);
            match (edit, position) {
                (Edit::Set(value), Some(index)) => session[index].1 = value.clone(),
                (Edit::Set(value), None) => session.push((key.clone(), value.clone())),
                (Edit::Delete, Some(index)) => {
                    session.remove(index);
                }
                (Edit::Delete, None) => {}
            }
        }
        session
    }

    fn encode(ser: &SessionSerializer, session: &Session) -> Vec<u8> {
        let entries: Vec<Entry<'_>> = session
            .iter()
            .map(|(key, value)| Entry { key, value })
            .collect();
        codec::join(ser, &entries)
    }

    /// Encoded session keys (as [`Entry::key`]) for `ser`.
    fn entry_key(ser: &SessionSerializer) -> BoxedStrategy<Vec<u8>> {
        match ser {
            SessionSerializer::PhpSerialize => php_model::key()
                .prop_map(|key| php_model::serialize_key(&key))
                .boxed(),
            _ => php_model::php_name().boxed(),
        }
    }

    fn session(ser: &SessionSerializer) -> impl Strategy<Value = Session> {
        let entry = (entry_key(ser), serialized_value());
        prop::collection::vec(entry, 0..6).prop_map(php_model::dedup_by_key)
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            3 => php_model::value().prop_map(|v| Edit::Set(php_model::serialize(&v))),
            1 => Just(Edit::Delete),
        ]
    }

    /// Hands each edit to mine (`true`) or theirs, dropping any edit of a key the other side
    /// (or an earlier edit) already claimed, so that the two sides never touch the same key.
    fn disjoint(edits: Vec<(Vec<u8>, Edit, bool)>) -> (Edits, Edits) {
        let mut claimed: Vec<Vec<u8>> = Vec::new();
        let (mut mine, mut theirs) = (Vec::new(), Vec::new());
        for (key, edit, is_mine) in edits {
            if claimed.contains(&key) {
                continue;
            }
            claimed.push(key.clone());
            if is_mine {
                mine.push((key, edit));
            } else {
                theirs.push((key, edit));
            }
        }
        (mine, theirs)
    }

    /// A base session plus disjoint edits to its keys and to new keys.
    fn disjoint_scenario(ser: SessionSerializer) -> impl Strategy<Value = (Session, Edits, Edits)> {
        let base_key_edits =
            prop::collection::vec((any::<prop::sample::Index>(), edit(), any::<bool>()), 0..5);
        let new_key_edits = prop::collection::vec((entry_key(&ser), edit(), any::<bool>()), 0..4);
        (session(&ser), base_key_edits, new_key_edits).prop_map(
            |(base, base_key_edits, new_key_edits)| {
                let base_key_edits = base_key_edits.into_iter().filter(|_| !base.is_empty()).map(
                    |(index, edit, is_mine)| {
                        (base[index.index(base.len())].0.clone(), edit, is_mine)
                    },
                );
                let (mine, theirs) = disjoint(base_key_edits.chain(new_key_edits).collect());
                (base, mine, theirs)
            },
        )
    }

    fn check_disjoint_merge(
        ser: &SessionSerializer,
        base: Session,
        mine_edits: Edits,
        theirs_edits: Edits,
    ) -> Result<(), TestCaseError> {
        let mine = apply(&base, &mine_edits);
        let theirs = apply(&base, &theirs_edits);
        let expected = apply(&theirs, &mine_edits);
        let (base, mine, theirs) = (encode(ser, &base), encode(ser, &mine), encode(ser, &theirs));
        for policy in [ConflictPolicy::KeepTheirs, ConflictPolicy::MineWins] {
            let result = three_way_merge(ser, &base, &mine, &theirs, policy);
            if mine != base && theirs != base && mine != theirs {
                prop_assert_eq!(result.mode, MergeMode::PerKey);
            }
            prop_assert!(result.overridden_keys.is_empty());
            prop_assert_eq!(result.outcome, MergeOutcome::Merged(encode(ser, &expected)));
        }
        Ok(())
    }

    fn check_conflict(
        ser: &SessionSerializer,
        base: Session,
        index: prop::sample::Index,
        mine_value: Vec<u8>,
        theirs_value: Vec<u8>,
    ) -> Result<(), TestCaseError> {
        let (key, base_value) = base[index.index(base.len())].clone();
        prop_assume!(mine_value != base_value && theirs_value != base_value);
        prop_assume!(mine_value != theirs_value);
        let mine = apply(&base, &[(key.clone(), Edit::Set(mine_value))]);
        let theirs = apply(&base, &[(key.clone(), Edit::Set(theirs_value))]);
        let (base, mine, theirs) = (encode(ser, &base), encode(ser, &mine), encode(ser, &theirs));

        let result = three_way_merge(ser, &base, &mine, &theirs, ConflictPolicy::KeepTheirs);
        let keys = vec![codec::display_key(ser, &key)];
        prop_assert_eq!(
            result.outcome,
            MergeOutcome::Conflict { keys: keys.clone() }
        );

        let result = three_way_merge(ser, &base, &mine, &theirs, ConflictPolicy::MineWins);
        prop_assert_eq!(result.overridden_keys, keys);
        prop_assert_eq!(result.outcome, MergeOutcome::Merged(mine));
        Ok(())
    }

    /// A base session and each side's edits (of its keys or of new ones, the two sides' edits
    /// may overlap), where at least one of the three sessions holds a `Serializable` object:
    /// one is put into the base, or set by one side's last edit. Edit values may hold more.
    fn serializable_scenario(
        ser: SessionSerializer,
    ) -> impl Strategy<Value = (Session, Edits, Edits)> {
        let any_edit = prop_oneof![
            3 => php_model::value_or_serializable()
                .prop_map(|value| Edit::Set(php_model::serialize(&value))),
            1 => Just(Edit::Delete),
        ];
        let side = prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                entry_key(&ser),
                any::<bool>(),
                any_edit,
            ),
            0..4,
        );
        let object = (
            entry_key(&ser),
            php_model::holding_serializable().prop_map(|value| php_model::serialize(&value)),
            any::<prop::sample::Index>(),
            0..3usize,
        );
        (session(&ser), side.clone(), side, object).prop_map(
            |(mut base, mine, theirs, (key, value, index, holder))| {
                if holder == 0 {
                    base.retain(|(existing, _)| *existing != key);
                    base.insert(index.index(base.len() + 1), (key.clone(), value.clone()));
                }
                let edits = |side: Vec<(prop::sample::Index, Vec<u8>, bool, Edit)>| -> Edits {
                    side.into_iter()
                        .map(|(index, new_key, existing, edit)| match existing {
                            true if !base.is_empty() => {
                                (base[index.index(base.len())].0.clone(), edit)
                            }
                            _ => (new_key, edit),
                        })
                        .collect()
                };
                let (mut mine, mut theirs) = (edits(mine), edits(theirs));
                match holder {
                    1 => mine.push((key, Edit::Set(value))),
                    2 => theirs.push((key, Edit::Set(value))),
                    _ => {}
                }
                (base, mine, theirs)
            },
        )
    }

    /// A merge of sessions holding a `Serializable` object never goes key by key: what it writes
    /// is always one side's session, byte for byte as PHP encoded it, so PHP decodes exactly what
    /// one request wrote (never a splice in which a payload's back-references would name other
    /// values), and a change by both sides is reported on the whole session.
    fn check_serializable_merge(
        ser: &SessionSerializer,
        base: Session,
        mine_edits: Edits,
        theirs_edits: Edits,
    ) -> Result<(), TestCaseError> {
        let (mine, theirs) = (apply(&base, &mine_edits), apply(&base, &theirs_edits));
        let (base, mine, theirs) = (encode(ser, &base), encode(ser, &mine), encode(ser, &theirs));
        let whole = vec![WHOLE_SESSION.to_owned()];
        for policy in [ConflictPolicy::KeepTheirs, ConflictPolicy::MineWins] {
            let result = three_way_merge(ser, &base, &mine, &theirs, policy);
            prop_assert_ne!(result.mode, MergeMode::PerKey);
            if theirs == base || mine == base {
                let changed = if theirs == base { &mine } else { &theirs };
                prop_assert_eq!(result.mode, MergeMode::OneSided);
                prop_assert!(result.overridden_keys.is_empty());
                prop_assert_eq!(result.outcome, MergeOutcome::Merged(changed.clone()));
                continue;
            }
            prop_assert_eq!(
                result.mode,
                MergeMode::WholeSession(SplitError::Serializable)
            );
            match policy {
                ConflictPolicy::KeepTheirs => {
                    prop_assert!(result.overridden_keys.is_empty());
                    prop_assert_eq!(
                        result.outcome,
                        MergeOutcome::Conflict {
                            keys: whole.clone()
                        }
                    );
                }
                ConflictPolicy::MineWins => {
                    prop_assert_eq!(&result.overridden_keys, &whole);
                    prop_assert_eq!(result.outcome, MergeOutcome::Merged(mine.clone()));
                }
            }
        }
        Ok(())
    }

    fn non_empty_session(ser: &SessionSerializer) -> impl Strategy<Value = Session> {
        session(ser).prop_filter("needs a key", |session| !session.is_empty())
    }

    fn serialized_value() -> impl Strategy<Value = Vec<u8>> {
        php_model::value().prop_map(|value| php_model::serialize(&value))
    }

    proptest! {
        #[test]
        fn php_disjoint_edits_are_all_kept((base, mine, theirs) in disjoint_scenario(PHP)) {
            check_disjoint_merge(&PHP, base, mine, theirs)?;
        }

        #[test]
        fn php_serialize_disjoint_edits_are_all_kept(
            (base, mine, theirs) in disjoint_scenario(PHP_SERIALIZE)
        ) {
            check_disjoint_merge(&PHP_SERIALIZE, base, mine, theirs)?;
        }

        #[test]
        fn php_conflicting_edits_are_reported(
            base in non_empty_session(&PHP),
            index in any::<prop::sample::Index>(),
            mine_value in serialized_value(),
            theirs_value in serialized_value(),
        ) {
            check_conflict(&PHP, base, index, mine_value, theirs_value)?;
        }

        #[test]
        fn php_serialize_conflicting_edits_are_reported(
            base in non_empty_session(&PHP_SERIALIZE),
            index in any::<prop::sample::Index>(),
            mine_value in serialized_value(),
            theirs_value in serialized_value(),
        ) {
            check_conflict(&PHP_SERIALIZE, base, index, mine_value, theirs_value)?;
        }

        #[test]
        fn php_serializable_objects_never_merge_per_key(
            (base, mine, theirs) in serializable_scenario(PHP)
        ) {
            check_serializable_merge(&PHP, base, mine, theirs)?;
        }

        #[test]
        fn php_serialize_serializable_objects_never_merge_per_key(
            (base, mine, theirs) in serializable_scenario(PHP_SERIALIZE)
        ) {
            check_serializable_merge(&PHP_SERIALIZE, base, mine, theirs)?;
        }

        #[test]
        fn unsplittable_changes_on_both_sides_conflict(
            base in prop::collection::vec(any::<u8>(), 0..32),
            mine in prop::collection::vec(any::<u8>(), 0..32),
            theirs in prop::collection::vec(any::<u8>(), 0..32),
        ) {
            for ser in [&PHP, &PHP_SERIALIZE] {
                let result = three_way_merge(ser, &base, &mine, &theirs, ConflictPolicy::KeepTheirs);
                let both_changed = mine != base && theirs != base && mine != theirs;
                let unsplittable = [&base, &mine, &theirs]
                    .iter()
                    .any(|data| codec::split(ser, data).is_err());
                if both_changed && unsplittable {
                    prop_assert_eq!(result.outcome, MergeOutcome::Conflict { keys: vec![WHOLE_SESSION.to_owned()] });
                }
            }
        }
    }
}
