//! Reply decoding: redis-rs's RESP parser on arbitrary bytes (several replies in a row, as a
//! connection reads them), and every decoder of `protocol::reply` on whatever it parses.
//!
//! Checks beyond "does not panic": each decoder accepts only its own shapes (GET's data is
//! exactly the bulk string, SET's answer is +OK, a script's answer is a table of the right
//! size), and everything it refuses is a protocol error that retires the connection.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use redis::{RedisResult, Value};
use rustredis::protocol::{reply, Handoff, LockWaiter};

fn refused_as_protocol_error<T>(result: &RedisResult<T>) -> bool {
    match result {
        Ok(_) => false,
        Err(err) => {
            assert!(reply::is_protocol_error(err), "{err}");
            true
        }
    }
}

fn table_len(value: &Value) -> Option<usize> {
    match value {
        Value::Array(items) => Some(items.len()),
        _ => None,
    }
}

fn check(value: Value) {
    let _ = reply::shape(&value);
    let len = table_len(&value);

    for waiter in [
        LockWaiter::New,
        LockWaiter::Queued {
            blocked_on: b"k".to_vec(),
        },
        LockWaiter::Leaving {
            blocked_on: b"k".to_vec(),
        },
    ] {
        let acquired = reply::acquire(&waiter, value.clone());
        if !refused_as_protocol_error(&acquired) {
            assert!(matches!(len, Some(1..=4)), "{value:?}");
        }
    }
    for what in ["the write script", "the renew script"] {
        let owned = reply::owned(what, value.clone());
        if !refused_as_protocol_error(&owned) {
            assert!(matches!(len, Some(1 | 2)), "{value:?}");
        }
    }
    for result in [
        reply::stop_waiting(value.clone()).map(|_| ()),
        reply::reserve(value.clone()).map(|_| ()),
    ] {
        if !refused_as_protocol_error(&result) {
            assert_eq!(len, Some(1));
        }
    }
    let destroyed = reply::destroy_unowned(value.clone());
    if !refused_as_protocol_error(&destroyed) {
        assert!(matches!(len, Some(1 | 3)));
    }
    let cas = reply::compare_and_set(value.clone());
    if !refused_as_protocol_error(&cas) {
        assert!(matches!(len, Some(1..=3)));
    }
    match reply::get(value.clone()) {
        Ok(Some(data)) => assert_eq!(value, Value::BulkString(data)),
        Ok(None) => assert_eq!(value, Value::Nil),
        Err(err) => assert!(reply::is_protocol_error(&err)),
    }
    let popped = reply::blpop(b"k", value.clone());
    if !refused_as_protocol_error(&popped) {
        assert!(value == Value::Nil || len == Some(2));
    }
    // A handoff grants the lock only with this request's secret, and its data is the rest.
    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    match reply::handoff(b"k", SECRET, value.clone()) {
        Ok(Handoff::Handed(data)) => {
            let mut payload = format!("{SECRET}{}", if data.is_some() { '+' } else { '-' })
                .into_bytes();
            payload.extend_from_slice(data.as_deref().unwrap_or_default());
            assert_eq!(
                value,
                Value::Array(vec![
                    Value::BulkString(b"k".to_vec()),
                    Value::BulkString(payload)
                ])
            );
        }
        Ok(Handoff::Woken) => assert_eq!(len, Some(2)),
        Ok(Handoff::TimedOut) => assert_eq!(value, Value::Nil),
        Err(err) => assert!(reply::is_protocol_error(&err)),
    }
    if !refused_as_protocol_error(&reply::set(value.clone())) {
        assert_eq!(value, Value::Okay);
    }
    for result in [reply::del(value.clone()), reply::expire(value.clone())] {
        if !refused_as_protocol_error(&result) {
            assert!(matches!(value, Value::Int(0 | 1)));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parser = redis::Parser::new();
    let mut reader = Cursor::new(data);
    for _ in 0..8 {
        match parser.parse_value(&mut reader) {
            // What `query` does before converting: a server error reply becomes an error.
            Ok(value) => {
                if let Ok(value) = value.extract_error() {
                    check(value);
                }
            }
            Err(_) => break,
        }
    }
});
