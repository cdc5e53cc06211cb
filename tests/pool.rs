//! The connection pools (`rustredis::pool`) against a real Redis: what one process keeps stays
//! bounded. The idle connections are the whole process's, so these tests take turns.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::*;
use rustredis::config::{LockMode, SavePath, Settings};
use rustredis::error::RedisCause;
use rustredis::pool::{self, MAX_IDLE, MAX_POOLS, MAX_REUSED_REPLY_BYTES};
use rustredis::session::{ReadIntent, SessionHandler};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// This process's open sockets, as /proc/self/fd links to `socket:[inode]`.
fn open_sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

/// A pool for `path` with a connect timeout of its own, so that no other test's idle connection
/// is this target's.
fn pool_of_its_own(path: &str, connect_timeout_ms: u64, max_data_bytes: usize) -> pool::Pool {
    let target = SavePath::parse(path).unwrap().target;
    pool::pool_for(
        &target,
        Duration::from_millis(connect_timeout_ms),
        Duration::from_secs(3),
        max_data_bytes,
    )
}

#[test]
fn distinct_timeouts_keep_pools_and_sockets_bounded() {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let path = save_path();
    let before = open_sockets();
    // Held open throughout, while the pool of its target is dropped for the newer ones.
    let mut held = SessionHandler::open(
        &format!("{path}&timeout=0.5"),
        settings(LockMode::Locked),
        php(),
    )
    .unwrap();
    held.read(b"held", ReadIntent::ReadWrite).unwrap();

    for n in 0..2_000 {
        // Each save_path its own target: timeout=1.000 to timeout=2.999.
        let timeout = format!("{}.{:03}", 1 + n / 1_000, n % 1_000);
        let mut h = SessionHandler::open(
            &format!("{path}&timeout={timeout}"),
            settings(LockMode::Locked),
            php(),
        )
        .unwrap();
        assert_eq!(
            h.read(b"many", ReadIntent::ReadWrite).unwrap().to_vec(),
            b""
        );
        h.close().unwrap();
        let stats = pool::stats();
        assert!(
            stats.pools <= MAX_POOLS && stats.idle_connections <= MAX_IDLE,
            "{stats:?} after {} targets",
            n + 1
        );
    }
    let sockets = open_sockets();
    // Plus one: the lease thread's own connection, renewing `held`'s lock (on a slow machine the
    // loop outlasts a renewal period).
    assert!(
        sockets <= before + MAX_IDLE + 1,
        "{sockets} sockets open after 2,000 targets, {before} before"
    );

    // The handler whose pool was dropped still works.
    held.write(b"held", b"h|i:1;", TTL).unwrap();
    held.close().unwrap();
    assert_eq!(stored_session(&path, "held"), b"h|i:1;");
}

#[test]
fn a_connection_that_carried_a_big_reply_is_closed_after_use() {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let path = save_path();
    let pool = pool_of_its_own(&path, 1_234, Settings::default().max_data_bytes);
    let key = keys(&path, "big").data;
    let big = vec![b'x'; MAX_REUSED_REPLY_BYTES + 1];

    // Sending a big command leaves nothing behind: the connection is kept.
    let mut conn = pool.get().unwrap();
    redis::cmd("SET")
        .arg(&key)
        .arg(&big)
        .exec(&mut *conn)
        .unwrap();
    drop(conn);
    let mut conn = pool.get().unwrap();
    assert!(conn.reused());

    // Reading it back grew the connection's read buffer: it is closed, not kept.
    let read: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut *conn).unwrap();
    assert_eq!(read.len(), big.len());
    drop(conn);
    let mut conn = pool.get().unwrap();
    assert!(
        !conn.reused(),
        "a connection that read a big reply was kept"
    );

    // A reply at the limit is fine.
    redis::cmd("SETRANGE")
        .arg(&key)
        .arg(0)
        .arg(&big[..10])
        .exec(&mut *conn)
        .unwrap();
    let read: Vec<u8> = redis::cmd("GETRANGE")
        .arg(&key)
        .arg(0)
        .arg(MAX_REUSED_REPLY_BYTES - 1)
        .query(&mut *conn)
        .unwrap();
    assert_eq!(read.len(), MAX_REUSED_REPLY_BYTES);
    drop(conn);
    assert!(pool.get().unwrap().reused());
}

#[test]
fn a_reply_over_the_byte_budget_is_refused_and_its_connection_closed() {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let path = save_path();
    let max_data_bytes = 1000;
    let budget = rustredis::connection::max_reply_bytes(max_data_bytes);
    let pool = pool_of_its_own(&path, 1_235, max_data_bytes);
    let key = keys(&path, "over").data;
    let mut conn = pool.get().unwrap();
    // Within the budget, the protocol around the data included.
    let fits = vec![b'x'; budget - 100];
    redis::cmd("SET")
        .arg(&key)
        .arg(&fits)
        .exec(&mut *conn)
        .unwrap();
    let read: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut *conn).unwrap();
    assert_eq!(read.len(), fits.len());

    redis::cmd("SET")
        .arg(&key)
        .arg(vec![b'x'; budget])
        .exec(&mut *conn)
        .unwrap();
    let err = redis::cmd("GET")
        .arg(&key)
        .query::<Vec<u8>>(&mut *conn)
        .unwrap_err();
    let cause = conn.cause(err);
    assert!(
        matches!(cause, RedisCause::ReplyTooLarge { limit } if limit == budget),
        "{cause}"
    );
    drop(conn);
    assert!(!pool.get().unwrap().reused(), "the connection was kept");
}
