//! The session codec (split/join) and the three-way merge on arbitrary sessions.
//!
//! Checks beyond "does not panic": split and join give back the bytes split read; a one-sided
//! merge returns that side unchanged; a per-key merge writes a session that splits again (no
//! duplicate keys, nothing malformed); only keep_theirs reports conflicts, and they name keys.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustredis::codec::{self, SessionSerializer};
use rustredis::merge::{three_way_merge, ConflictPolicy, MergeMode, MergeOutcome};

/// The three sessions are separated by this (rare in sessions, so seeds stay readable).
const SEPARATOR: &[u8] = b"\x1e\x1e\x1e";

/// Input: a flags byte (bit 0: php_serialize, bit 1: mine_wins), then base, mine and theirs,
/// separated by [`SEPARATOR`].
struct Input<'a> {
    php_serialize: bool,
    mine_wins: bool,
    base: &'a [u8],
    mine: &'a [u8],
    theirs: &'a [u8],
}

fn input(data: &[u8]) -> Option<Input<'_>> {
    let (&flags, rest) = data.split_first()?;
    let mut sessions = Vec::with_capacity(3);
    let mut rest = rest;
    for _ in 0..2 {
        let at = rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR)?;
        sessions.push(&rest[..at]);
        rest = &rest[at + SEPARATOR.len()..];
    }
    sessions.push(rest);
    Some(Input {
        php_serialize: flags & 1 != 0,
        mine_wins: flags & 2 != 0,
        base: sessions[0],
        mine: sessions[1],
        theirs: sessions[2],
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = input(data) else {
        return;
    };
    let ser = if input.php_serialize {
        SessionSerializer::PhpSerialize
    } else {
        SessionSerializer::Php
    };
    for data in [input.base, input.mine, input.theirs] {
        if let Ok(split) = codec::split(&ser, data) {
            let joined = codec::join(&ser, &split.entries);
            let expected: &[u8] = if data.is_empty() && input.php_serialize {
                b"a:0:{}"
            } else {
                data
            };
            assert_eq!(joined, expected, "join(split(data)) == data");
            for entry in &split.entries {
                let _ = codec::display_key(&ser, entry.key);
            }
        }
    }
    let policy = if input.mine_wins {
        ConflictPolicy::MineWins
    } else {
        ConflictPolicy::KeepTheirs
    };
    let result = three_way_merge(&ser, input.base, input.mine, input.theirs, policy);
    if input.theirs == input.base {
        assert_eq!(result.outcome, MergeOutcome::Merged(input.mine.to_vec()));
    } else if input.mine == input.base {
        assert_eq!(result.outcome, MergeOutcome::Merged(input.theirs.to_vec()));
    }
    match (&result.outcome, result.mode) {
        (MergeOutcome::Merged(bytes), MergeMode::PerKey) => {
            assert!(
                codec::split(&ser, bytes).is_ok(),
                "a per-key merge must write a session that splits again"
            );
        }
        (MergeOutcome::Merged(bytes), MergeMode::OneSided) => {
            assert!(bytes == input.mine || bytes == input.theirs);
        }
        (MergeOutcome::Merged(bytes), MergeMode::WholeSession(_)) => {
            assert_eq!(policy, ConflictPolicy::MineWins);
            assert_eq!(bytes, input.mine);
        }
        (MergeOutcome::Conflict { keys }, _) => {
            assert_eq!(policy, ConflictPolicy::KeepTheirs);
            assert!(!keys.is_empty());
        }
    }
    if policy == ConflictPolicy::KeepTheirs {
        assert!(result.overridden_keys.is_empty());
    }
});
