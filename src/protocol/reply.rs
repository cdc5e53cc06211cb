//! What each script and command may answer, and nothing else. Every function here takes the raw
//! reply and accepts exactly the shapes its script or command can produce (the `{code, …}`
//! tables of `scripts.rs`, as Redis converts Lua values: a number is an integer, `false` is a
//! nil bulk string, a string a bulk string). Anything else — a status where data is expected, an
//! integer or an array in the data slot, a RESP3 double, a short or long table, a stray reply of
//! another command — is a protocol error ([`is_protocol_error`]): the connection is retired and
//! the call fails, so nothing is ever granted or stored on the strength of a malformed reply.
//!
//! These are pure functions of a [`Value`], so they are tested and fuzzed without a server.
//! Server error replies (`-ERR …`) never reach them: redis-rs turns a top-level one into an error
//! first; one nested in a table is malformed here like any other wrong type.

use std::time::Duration;

use redis::{ErrorKind, RedisError, RedisResult, Value};

use super::holder::Holder;
use super::{Acquired, Attempt, Cas, Handoff, HeldBy, LockWaiter, Owned};

/// The scripts' reply codes (`PRELUDE` in `scripts.rs`).
pub(super) const OK: i64 = 1;
pub(super) const HELD: i64 = 2;
pub(super) const LOST: i64 = 3;
pub(super) const MISSING: i64 = 4;
pub(super) const CHANGED: i64 = 5;
pub(super) const TAKEN: i64 = 6;
pub(super) const BUSY: i64 = 7;

/// The description of every error made here: [`is_protocol_error`] recognizes it.
const MALFORMED: &str = "malformed reply";

/// Whether `err` says a reply had a shape its command cannot produce (or could not be parsed at
/// all): the connection it came from can no longer be trusted to be in step with the server.
pub fn is_protocol_error(err: &RedisError) -> bool {
    matches!(
        err.kind(),
        ErrorKind::Parse | ErrorKind::UnexpectedReturnType
    )
}

/// A reply's shape, never its content (which may be session data): `[int 1, bulk(12 bytes)]`.
pub fn shape(value: &Value) -> String {
    shape_within(value, 4)
}

/// [`shape`], `depth` levels of nesting deep.
fn shape_within(value: &Value, depth: usize) -> String {
    let items = |values: &[Value]| {
        const SHOWN: usize = 8;
        if depth == 0 {
            return format!("{} items", values.len());
        }
        let mut parts: Vec<String> = values
            .iter()
            .take(SHOWN)
            .map(|v| shape_within(v, depth - 1))
            .collect();
        if values.len() > SHOWN {
            parts.push(format!("… {} more", values.len() - SHOWN));
        }
        parts.join(", ")
    };
    match value {
        Value::Nil => "nil".to_string(),
        Value::Int(n) => format!("int {n}"),
        Value::BulkString(bytes) => format!("bulk({} bytes)", bytes.len()),
        Value::Array(values) => format!("[{}]", items(values)),
        Value::SimpleString(text) => format!("status({} bytes)", text.len()),
        Value::Okay => "status OK".to_string(),
        Value::Map(pairs) => format!("map({} pairs)", pairs.len()),
        Value::Attribute { data, .. } => {
            format!(
                "attribute on {}",
                shape_within(data, depth.saturating_sub(1))
            )
        }
        Value::Set(values) => format!("set{{{}}}", items(values)),
        Value::Double(_) => "double".to_string(),
        Value::Boolean(_) => "boolean".to_string(),
        Value::VerbatimString { text, .. } => format!("verbatim({} bytes)", text.len()),
        Value::BigNumber(_) => "big number".to_string(),
        Value::Push { .. } => "push".to_string(),
        Value::ServerError(_) => "error reply".to_string(),
        _ => "unknown type".to_string(),
    }
}

/// The protocol error for `what` answering `reply`.
fn malformed<T>(what: &str, reply: &Value) -> RedisResult<T> {
    Err(RedisError::from((
        ErrorKind::UnexpectedReturnType,
        MALFORMED,
        format!(
            "{what} answered {} (not a reply Redis gives to rustredis; is session.save_path a Redis \
             server, or is something between rustredis and Redis?)",
            shape(reply)
        ),
    )))
}

/// The items of a script's `{code, …}` table.
fn table<'a>(what: &str, reply: &'a Value) -> RedisResult<&'a [Value]> {
    match reply {
        Value::Array(items) => Ok(items),
        _ => malformed(what, reply),
    }
}

/// The `pttl, holder` of a `{HELD|BUSY, pttl, holder}` reply: PTTL's answer (-1: no TTL, -2:
/// gone meanwhile) and the lock's value (nil only if it is gone).
fn held_by(pttl: &Value, holder: &Value) -> Option<HeldBy> {
    let pttl = match pttl {
        Value::Int(pttl) if *pttl >= -2 => *pttl,
        _ => return None,
    };
    let holder = match holder {
        Value::BulkString(value) => Holder::parse(value),
        Value::Nil => Holder::parse(b""),
        _ => return None,
    };
    Some(HeldBy {
        expires_in: u64::try_from(pttl).ok().map(Duration::from_millis),
        holder,
        joined: true,
        behind: None,
    })
}

/// ACQUIRE as `waiter` runs it: `{OK, data|false}` | `{MISSING}`, and for a request that stays
/// queued `{HELD, pttl, holder, ahead}` (whom it queues behind: a waiter's token or the lock's
/// value), for one leaving the queue `{HELD, pttl, holder}`, for a newcomer turned away
/// `{BUSY, pttl, holder}`.
pub fn acquire(waiter: &LockWaiter, reply: Value) -> RedisResult<Attempt<Acquired>> {
    const WHAT: &str = "the acquire script";
    let leaving = matches!(waiter, LockWaiter::Leaving { .. });
    let decoded = match table(WHAT, &reply)? {
        [Value::Int(OK), Value::Nil] => Some(Attempt::Done(Acquired::Locked(None))),
        [Value::Int(OK), Value::BulkString(_)] => {
            return Ok(Attempt::Done(Acquired::Locked(Some(last_bulk(reply)))))
        }
        [Value::Int(HELD), pttl, holder, Value::BulkString(ahead)] if !leaving => {
            held_by(pttl, holder).map(|held| {
                Attempt::Held(HeldBy {
                    behind: Some(ahead.clone()),
                    ..held
                })
            })
        }
        [Value::Int(HELD), pttl, holder] if leaving => held_by(pttl, holder).map(|held| {
            Attempt::Held(HeldBy {
                joined: false,
                ..held
            })
        }),
        [Value::Int(BUSY), pttl, holder] if *waiter == LockWaiter::New => {
            held_by(pttl, holder).map(|held| Attempt::Done(Acquired::TooManyWaiters(held)))
        }
        [Value::Int(MISSING)] => Some(Attempt::Done(Acquired::Missing)),
        _ => None,
    };
    decoded.map_or_else(|| malformed(WHAT, &reply), Ok)
}

/// BLPOP on a handoff list `key` by the waiter whose token's secret is `secret`: nil (timed
/// out) or `[key, element]`, the element one a release or a leaving waiter posts there:
/// `<secret>+<data>` or `<secret>-` (the lock handed over, with the session or none; a
/// secret that is not ours only wakes: the lock tells its owner), or `~` (the waiter ahead
/// left the queue).
pub fn handoff(key: &[u8], secret: &str, reply: Value) -> RedisResult<Handoff> {
    const WHAT: &str = "BLPOP on the handoff list";
    const SECRET_LEN: usize = 32;
    let mut items = match reply {
        Value::Nil => return Ok(Handoff::TimedOut),
        Value::Array(items) => items,
        reply => return malformed(WHAT, &reply),
    };
    if !matches!(items.as_slice(),
        [Value::BulkString(popped_from), Value::BulkString(_)] if popped_from == key)
    {
        return malformed(WHAT, &Value::Array(items));
    }
    let Some(Value::BulkString(mut payload)) = items.pop() else {
        unreachable!("matched as ending with a bulk string")
    };
    if payload == b"~" {
        return Ok(Handoff::Woken);
    }
    let well_formed = payload.len() > SECRET_LEN
        && payload[..SECRET_LEN]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        && (payload[SECRET_LEN] == b'+'
            || (payload[SECRET_LEN] == b'-' && payload.len() == SECRET_LEN + 1));
    if !well_formed {
        // Its shape without its content (it may hold session data).
        return malformed(
            WHAT,
            &Value::Array(vec![
                Value::BulkString(key.to_vec()),
                Value::BulkString(payload),
            ]),
        );
    }
    if &payload[..SECRET_LEN] != secret.as_bytes() {
        return Ok(Handoff::Woken);
    }
    Ok(Handoff::Handed(match payload[SECRET_LEN] {
        b'+' => {
            // Taken out in place, not copied into a new buffer: it may be megabytes.
            payload.drain(..=SECRET_LEN);
            Some(payload)
        }
        _ => None,
    }))
}

/// The pipelined acquire's `SET lock NX PX`, `GET data`, `PTTL lock`, `GET lock`: `Ok(data)` when
/// the SET took the lock (PTTL and the lock's value are then ours), `Err(held)` when another
/// request holds it (not counted among its waiters: no script ran).
pub fn acquire_pipelined(mut replies: Vec<Value>) -> RedisResult<Result<Option<Vec<u8>>, HeldBy>> {
    const WHAT: &str = "the pipelined acquire";
    let decoded = match replies.as_slice() {
        [Value::Okay, Value::Nil | Value::BulkString(_), Value::Int(_), Value::BulkString(_)] => {
            replies.truncate(2);
            return Ok(Ok(get(replies.pop().expect("two replies left"))?));
        }
        [Value::Nil, Value::Nil | Value::BulkString(_), pttl, holder] => held_by(pttl, holder),
        _ => None,
    };
    match decoded {
        Some(held) => Ok(Err(HeldBy {
            joined: false,
            ..held
        })),
        None => malformed(WHAT, &Value::Array(replies)),
    }
}

/// The bulk string that ends a table already matched as ending with one (taken out, not copied:
/// it may be a session of megabytes).
fn last_bulk(reply: Value) -> Vec<u8> {
    match reply {
        Value::Array(mut items) => match items.pop() {
            Some(Value::BulkString(bytes)) => bytes,
            _ => unreachable!("matched as ending with a bulk string"),
        },
        _ => unreachable!("matched as a table"),
    }
}

/// RENEW, WRITE, TOUCH, RELEASE, DESTROY_OWNED: `{OK}` | `{LOST, lock_exists}`.
pub fn owned(what: &str, reply: Value) -> RedisResult<Owned> {
    match table(what, &reply)? {
        [Value::Int(OK)] => Ok(Owned::Yes),
        [Value::Int(LOST), Value::Int(1)] => Ok(Owned::Lost),
        [Value::Int(LOST), Value::Int(0)] => Ok(Owned::Vanished),
        _ => malformed(what, &reply),
    }
}

/// STOP_WAITING: `{OK}`.
pub fn stop_waiting(reply: Value) -> RedisResult<()> {
    const WHAT: &str = "the stop-waiting script";
    match table(WHAT, &reply)? {
        [Value::Int(OK)] => Ok(()),
        _ => malformed(WHAT, &reply),
    }
}

/// DESTROY_UNOWNED: `{OK}` | `{HELD, pttl, holder}`.
pub fn destroy_unowned(reply: Value) -> RedisResult<Attempt<()>> {
    const WHAT: &str = "the destroy script";
    let decoded = match table(WHAT, &reply)? {
        [Value::Int(OK)] => Some(Attempt::Done(())),
        [Value::Int(HELD), pttl, holder] => held_by(pttl, holder).map(Attempt::Held),
        _ => None,
    };
    decoded.map_or_else(|| malformed(WHAT, &reply), Ok)
}

/// RESERVE: `{OK}` | `{TAKEN}`; true when the id was free.
pub fn reserve(reply: Value) -> RedisResult<bool> {
    const WHAT: &str = "the reserve script";
    match table(WHAT, &reply)? {
        [Value::Int(OK)] => Ok(true),
        [Value::Int(TAKEN)] => Ok(false),
        _ => malformed(WHAT, &reply),
    }
}

/// COMPARE_AND_SET: `{OK}` | `{CHANGED, current}` | `{HELD, pttl, holder}`.
pub fn compare_and_set(reply: Value) -> RedisResult<Attempt<Cas>> {
    const WHAT: &str = "the compare-and-set script";
    let decoded = match table(WHAT, &reply)? {
        [Value::Int(OK)] => Some(Attempt::Done(Cas::Written)),
        [Value::Int(CHANGED), Value::BulkString(_)] => {
            return Ok(Attempt::Done(Cas::Changed(last_bulk(reply))))
        }
        [Value::Int(HELD), pttl, holder] => held_by(pttl, holder).map(Attempt::Held),
        _ => None,
    };
    decoded.map_or_else(|| malformed(WHAT, &reply), Ok)
}

/// GET: a bulk string, or nil for no such key. (redis-rs's own `Option<Vec<u8>>` conversion
/// would also take an array of small integers as bytes, and a nil array as no data.)
pub fn get(reply: Value) -> RedisResult<Option<Vec<u8>>> {
    match reply {
        Value::BulkString(data) => Ok(Some(data)),
        Value::Nil => Ok(None),
        reply => malformed("GET", &reply),
    }
}

/// BLPOP on the wake-up list `key`: nil (timed out) or `[key, element]`; whether a signal came.
pub fn blpop(key: &[u8], reply: Value) -> RedisResult<bool> {
    match &reply {
        Value::Nil => Ok(false),
        Value::Array(items) => match items.as_slice() {
            [Value::BulkString(popped_from), Value::BulkString(_)] if popped_from == key => {
                Ok(true)
            }
            _ => malformed("BLPOP", &reply),
        },
        _ => malformed("BLPOP", &reply),
    }
}

/// SET: `+OK` (the plain SET rustredis sends has no NX/XX/GET, so never nil).
pub fn set(reply: Value) -> RedisResult<()> {
    match reply {
        Value::Okay => Ok(()),
        reply => malformed("SET", &reply),
    }
}

/// DEL of one key: 0 or 1.
pub fn del(reply: Value) -> RedisResult<()> {
    match reply {
        Value::Int(0 | 1) => Ok(()),
        reply => malformed("DEL", &reply),
    }
}

/// EXPIRE: 0 (no such key) or 1.
pub fn expire(reply: Value) -> RedisResult<()> {
    match reply {
        Value::Int(0 | 1) => Ok(()),
        reply => malformed("EXPIRE", &reply),
    }
}

/// WAIT: how many replicas acknowledged (0 or more).
pub fn wait(reply: Value) -> RedisResult<i64> {
    match reply {
        Value::Int(acked) if acked >= 0 => Ok(acked),
        reply => malformed("WAIT", &reply),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(data: &[u8]) -> Value {
        Value::BulkString(data.to_vec())
    }
    fn array(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
    fn forged() -> Value {
        Value::SimpleString("x|s:6:\"forged\";".into())
    }
    fn assert_malformed<T: std::fmt::Debug>(result: RedisResult<T>) {
        let err = result.expect_err("a malformed reply must fail");
        assert!(is_protocol_error(&err), "{err}");
        assert!(err.to_string().contains("malformed reply"), "{err}");
    }

    fn waiters() -> [LockWaiter; 3] {
        [
            LockWaiter::New,
            LockWaiter::Queued {
                blocked_on: b"k".to_vec(),
            },
            LockWaiter::Leaving {
                blocked_on: b"k".to_vec(),
            },
        ]
    }

    #[test]
    fn acquire_accepts_its_shapes() {
        for waiter in &waiters() {
            assert_eq!(
                acquire(waiter, array(vec![Value::Int(OK), Value::Nil])).unwrap(),
                Attempt::Done(Acquired::Locked(None))
            );
            assert_eq!(
                acquire(waiter, array(vec![Value::Int(OK), bulk(b"a|i:1;")])).unwrap(),
                Attempt::Done(Acquired::Locked(Some(b"a|i:1;".to_vec())))
            );
            assert_eq!(
                acquire(waiter, array(vec![Value::Int(MISSING)])).unwrap(),
                Attempt::Done(Acquired::Missing)
            );
        }
        let [new, queued, leaving] = waiters();
        for waiter in [&new, &queued] {
            let reply = array(vec![
                Value::Int(HELD),
                Value::Int(1500),
                bulk(b"x"),
                bulk(b"ahead"),
            ]);
            match acquire(waiter, reply).unwrap() {
                Attempt::Held(held) => {
                    assert_eq!(held.expires_in, Some(Duration::from_millis(1500)));
                    assert_eq!(held.behind.as_deref(), Some(&b"ahead"[..]));
                    assert!(held.joined);
                }
                other => panic!("{other:?}"),
            }
        }
        match acquire(
            &leaving,
            array(vec![Value::Int(HELD), Value::Int(1500), bulk(b"x")]),
        )
        .unwrap()
        {
            Attempt::Held(held) => {
                assert_eq!(held.behind, None);
                assert!(!held.joined);
            }
            other => panic!("{other:?}"),
        }
        match acquire(
            &new,
            array(vec![Value::Int(BUSY), Value::Int(-1), Value::Nil]),
        )
        .unwrap()
        {
            Attempt::Done(Acquired::TooManyWaiters(held)) => assert_eq!(held.expires_in, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn acquire_grants_nothing_on_a_malformed_reply() {
        let data_slot = [
            forged(),
            Value::Okay,
            Value::Int(5),
            array(vec![Value::Int(120), Value::Int(124)]),
            array(vec![bulk(b"forged")]),
            Value::Double(1.5),
            Value::Boolean(true),
            Value::VerbatimString {
                format: redis::VerbatimFormat::Text,
                text: "forged".into(),
            },
        ];
        let [new, queued, leaving] = waiters();
        for value in data_slot {
            assert_malformed(acquire(&new, array(vec![Value::Int(OK), value])));
        }
        let cases = [
            array(vec![]),
            array(vec![Value::Int(OK)]),
            array(vec![Value::Int(HELD)]),
            array(vec![Value::Int(HELD), Value::Int(10)]),
            array(vec![
                Value::Int(HELD),
                Value::Double(1.5),
                bulk(b"h"),
                bulk(b"a"),
            ]),
            array(vec![
                Value::Int(HELD),
                Value::Int(-3),
                bulk(b"h"),
                bulk(b"a"),
            ]),
            array(vec![
                Value::Int(HELD),
                Value::Int(10),
                Value::Int(1),
                bulk(b"a"),
            ]),
            array(vec![
                Value::Int(HELD),
                Value::Int(10),
                bulk(b"h"),
                Value::Nil,
            ]),
            array(vec![
                Value::Int(HELD),
                Value::Int(10),
                bulk(b"h"),
                Value::Int(1),
            ]),
            array(vec![
                Value::Int(HELD),
                Value::Int(10),
                bulk(b"h"),
                bulk(b"a"),
                bulk(b"a"),
            ]),
            array(vec![Value::Double(1.0), Value::Nil]),
            array(vec![Value::Double(1.5), bulk(b"x")]),
            array(vec![bulk(b"1"), Value::Nil]),
            array(vec![Value::Int(OK), Value::Nil, Value::Nil]),
            array(vec![Value::Int(MISSING), Value::Nil]),
            array(vec![Value::Int(LOST)]),
            Value::Set(vec![Value::Int(OK), Value::Nil]),
            Value::Attribute {
                data: Box::new(array(vec![Value::Int(OK), Value::Nil])),
                attributes: vec![],
            },
            Value::Okay,
            forged(),
            Value::Nil,
            Value::Int(1),
            bulk(b"x"),
        ];
        for waiter in [&new, &queued, &leaving] {
            for reply in cases.clone() {
                assert_malformed(acquire(waiter, reply));
            }
        }
        // Each shape only where its script can send it: a queued request learns whom it queues
        // behind, a leaving one does not, and only a newcomer is turned away.
        let held3 = || array(vec![Value::Int(HELD), Value::Int(10), bulk(b"h")]);
        let held4 = || {
            array(vec![
                Value::Int(HELD),
                Value::Int(10),
                bulk(b"h"),
                bulk(b"a"),
            ])
        };
        let busy = || array(vec![Value::Int(BUSY), Value::Int(10), bulk(b"h")]);
        assert_malformed(acquire(&new, held3()));
        assert_malformed(acquire(&queued, held3()));
        assert_malformed(acquire(&leaving, held4()));
        assert_malformed(acquire(&queued, busy()));
        assert_malformed(acquire(&leaving, busy()));
    }

    #[test]
    fn a_handoff_is_for_this_request_or_only_wakes_it() {
        let key = b"S:abc_LOCK_HANDOFF_00";
        let secret = "0123456789abcdef0123456789abcdef";
        let other = "fedcba9876543210fedcba9876543210";
        let popped = |payload: &[u8]| array(vec![bulk(key), bulk(payload)]);
        assert_eq!(handoff(key, secret, Value::Nil).unwrap(), Handoff::TimedOut);
        assert_eq!(
            handoff(key, secret, popped(format!("{secret}+a|i:1;").as_bytes())).unwrap(),
            Handoff::Handed(Some(b"a|i:1;".to_vec()))
        );
        assert_eq!(
            handoff(key, secret, popped(format!("{secret}+").as_bytes())).unwrap(),
            Handoff::Handed(Some(Vec::new())),
            "an empty session"
        );
        assert_eq!(
            handoff(key, secret, popped(format!("{secret}-").as_bytes())).unwrap(),
            Handoff::Handed(None),
            "no session"
        );
        assert_eq!(handoff(key, secret, popped(b"~")).unwrap(), Handoff::Woken);
        assert_eq!(
            handoff(key, secret, popped(format!("{other}+x").as_bytes())).unwrap(),
            Handoff::Woken,
            "another request's handoff grants nothing"
        );
        for reply in [
            popped(b""),
            popped(b"~~"),
            popped(b"1"),
            popped(secret.as_bytes()),
            popped(format!("{secret}-x").as_bytes()),
            popped(format!("{secret}*x").as_bytes()),
            popped(format!("{}+x", secret.to_uppercase()).as_bytes()),
            popped(format!("{}+x", &secret[1..]).as_bytes()),
            array(vec![bulk(b"other"), bulk(format!("{secret}+x").as_bytes())]),
            array(vec![bulk(key)]),
            array(vec![bulk(key), Value::Int(1)]),
            array(vec![bulk(key), bulk(b"~"), bulk(b"~")]),
            Value::Okay,
            Value::Int(1),
            bulk(key),
        ] {
            assert_malformed(handoff(key, secret, reply));
        }
    }

    #[test]
    fn owner_checked_scripts_say_whether_the_lock_still_exists() {
        let reply = |items| owned("the write script", array(items));
        assert_eq!(reply(vec![Value::Int(OK)]).unwrap(), Owned::Yes);
        assert_eq!(
            reply(vec![Value::Int(LOST), Value::Int(1)]).unwrap(),
            Owned::Lost
        );
        assert_eq!(
            reply(vec![Value::Int(LOST), Value::Int(0)]).unwrap(),
            Owned::Vanished
        );
        for items in [
            vec![],
            vec![Value::Int(LOST)],
            vec![Value::Int(LOST), Value::Int(2)],
            vec![Value::Int(LOST), Value::Double(1.0)],
            vec![Value::Double(1.0)],
            vec![Value::Int(OK), Value::Nil],
            vec![Value::Int(HELD)],
            vec![Value::Okay],
        ] {
            assert_malformed(reply(items));
        }
        assert_malformed(owned("the write script", Value::Okay));
        assert_malformed(owned("the write script", Value::Int(1)));
    }

    #[test]
    fn get_takes_a_bulk_string_or_nil_only() {
        assert_eq!(get(bulk(b"a|i:1;")).unwrap(), Some(b"a|i:1;".to_vec()));
        assert_eq!(get(Value::Nil).unwrap(), None);
        for reply in [
            forged(),
            Value::Okay,
            Value::Int(5),
            array(vec![Value::Int(120), Value::Int(124)]),
            array(vec![]),
            Value::Double(1.5),
        ] {
            assert_malformed(get(reply));
        }
    }

    #[test]
    fn blpop_takes_nil_or_its_own_key() {
        let key = b"S:abc_LOCK_WAKE";
        assert!(!blpop(key, Value::Nil).unwrap());
        assert!(blpop(key, array(vec![bulk(key), bulk(b"1")])).unwrap());
        for reply in [
            array(vec![bulk(b"other"), bulk(b"1")]),
            array(vec![bulk(key)]),
            array(vec![bulk(key), bulk(b"1"), bulk(b"1")]),
            array(vec![bulk(key), Value::Int(1)]),
            Value::Okay,
            Value::Int(1),
            bulk(key),
        ] {
            assert_malformed(blpop(key, reply));
        }
    }

    #[test]
    fn plain_commands_take_their_one_shape() {
        set(Value::Okay).unwrap();
        for reply in [forged(), Value::Nil, Value::Int(1), bulk(b"OK")] {
            assert_malformed(set(reply));
        }
        del(Value::Int(0)).unwrap();
        expire(Value::Int(1)).unwrap();
        for reply in [
            Value::Int(2),
            Value::Int(-1),
            Value::Okay,
            Value::Double(1.0),
        ] {
            assert_malformed(del(reply.clone()));
            assert_malformed(expire(reply));
        }
    }

    #[test]
    fn the_other_scripts_take_their_shapes() {
        assert!(reserve(array(vec![Value::Int(OK)])).unwrap());
        assert!(!reserve(array(vec![Value::Int(TAKEN)])).unwrap());
        assert_malformed(reserve(array(vec![Value::Int(TAKEN), Value::Nil])));
        assert_malformed(reserve(Value::Okay));
        stop_waiting(array(vec![Value::Int(OK)])).unwrap();
        assert_malformed(stop_waiting(array(vec![])));
        assert_eq!(
            destroy_unowned(array(vec![Value::Int(OK)])).unwrap(),
            Attempt::Done(())
        );
        assert_malformed(destroy_unowned(array(vec![
            Value::Int(HELD),
            Value::Int(1),
        ])));
        assert_eq!(
            compare_and_set(array(vec![Value::Int(CHANGED), bulk(b"now")])).unwrap(),
            Attempt::Done(Cas::Changed(b"now".to_vec()))
        );
        assert_eq!(
            compare_and_set(array(vec![Value::Int(OK)])).unwrap(),
            Attempt::Done(Cas::Written)
        );
        assert_malformed(compare_and_set(array(vec![Value::Int(CHANGED), forged()])));
        assert_malformed(compare_and_set(array(vec![Value::Int(CHANGED)])));
        assert_malformed(compare_and_set(array(vec![
            Value::Int(HELD),
            Value::Int(1),
            Value::Okay,
        ])));
    }

    #[test]
    fn shapes_never_show_content() {
        let text = shape(&array(vec![
            Value::Int(1),
            bulk(b"secret-data"),
            Value::SimpleString("secret".into()),
        ]));
        assert_eq!(text, "[int 1, bulk(11 bytes), status(6 bytes)]");
        let long = shape(&array(vec![Value::Nil; 100]));
        assert!(long.ends_with("… 92 more]"), "{long}");
    }
}
