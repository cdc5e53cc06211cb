//! The lock protocol's Redis half (`rustredis::protocol`) against a real Redis: one script at a
//! time, as two requests would run them.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::*;
use rustredis::protocol::{
    Acquired, Attempt, Cas, HeldBy, LockToken, Owned, SessionStore, Waiter, Which,
};

#[test]
fn lock_is_exclusive_and_only_the_owner_releases_it() {
    let (_, k, mut conn) = fixture("lockid1");
    let store = SessionStore::new(k.clone());
    let (mine, theirs) = (LockToken::random(), LockToken::random());
    assert_ne!(mine, theirs);
    let secret = mine.as_str().split('|').next().unwrap();
    assert_eq!(secret.len(), 32, "128-bit secret, hex");
    assert_eq!(
        store
            .acquire(&mut conn, &mine, TTL, Which::Any, Waiter::New, 0)
            .unwrap(),
        Attempt::Done(Acquired::Locked(None))
    );
    match store
        .acquire(&mut conn, &theirs, TTL, Which::Any, Waiter::New, 0)
        .unwrap()
    {
        Attempt::Held(HeldBy {
            expires_in: Some(expires_in),
            holder,
            joined: true,
        }) => {
            assert!(expires_in <= TTL && expires_in > TTL / 2);
            let details = holder.details.expect("our lock names its holder");
            assert_eq!(details.pid, std::process::id());
        }
        other => panic!("second acquire should see the lock held, got {other:?}"),
    }
    assert!(
        store.release(&mut conn, &theirs).unwrap() == Owned::Lost,
        "a non-owner must not release"
    );
    assert_eq!(store.release(&mut conn, &mine).unwrap(), Owned::Yes);
    assert!(matches!(
        store
            .acquire(&mut conn, &theirs, TTL, Which::Any, Waiter::New, 0)
            .unwrap(),
        Attempt::Done(Acquired::Locked(_))
    ));
}

#[test]
fn acquire_reads_data_in_the_same_round_trip_and_only_if_exists_locks_nothing() {
    let (_, k, mut conn) = fixture("lockid2");
    let store = SessionStore::new(k.clone());
    let token = LockToken::random();
    assert_eq!(
        store
            .acquire(&mut conn, &token, TTL, Which::Existing, Waiter::New, 0)
            .unwrap(),
        Attempt::Done(Acquired::Missing)
    );
    let lock_exists: bool = redis::cmd("EXISTS").arg(&k.lock).query(&mut conn).unwrap();
    assert!(
        !lock_exists,
        "an unknown id must not be locked by validate_sid"
    );
    let data = b"a|i:1;\0\xff binary".to_vec();
    store.write_unlocked(&mut conn, &data, TTL).unwrap();
    assert_eq!(
        store
            .acquire(&mut conn, &token, TTL, Which::Existing, Waiter::New, 0)
            .unwrap(),
        Attempt::Done(Acquired::Locked(Some(data)))
    );
}

#[test]
fn write_after_the_lock_was_lost_changes_nothing() {
    let (_, k, mut conn) = fixture("lostlock");
    let store = SessionStore::new(k.clone());
    let slow = LockToken::random();
    store
        .acquire(
            &mut conn,
            &slow,
            Duration::from_millis(100),
            Which::Any,
            Waiter::New,
            0,
        )
        .unwrap();
    thread::sleep(Duration::from_millis(150));
    let fast = LockToken::random();
    assert!(matches!(
        store
            .acquire(&mut conn, &fast, TTL, Which::Any, Waiter::New, 0)
            .unwrap(),
        Attempt::Done(Acquired::Locked(_))
    ));
    // While the request that took the lock over holds it, the reply says another lock is there.
    assert_eq!(
        store.write(&mut conn, &slow, b"stale", TTL).unwrap(),
        Owned::Lost
    );
    assert_eq!(
        store.write(&mut conn, &fast, b"newer", TTL).unwrap(),
        Owned::Yes
    );
    // Released since: no lock at all.
    assert_eq!(
        store.write(&mut conn, &slow, b"stale", TTL).unwrap(),
        Owned::Vanished
    );
    assert_eq!(store.touch(&mut conn, &slow, TTL).unwrap(), Owned::Vanished);
    assert_eq!(
        store.read(&mut conn).unwrap().as_deref(),
        Some(&b"newer"[..])
    );
}

#[test]
fn reserve_never_hands_out_an_existing_id() {
    let (_, k, mut conn) = fixture("reserved");
    let store = SessionStore::new(k.clone());
    let token = LockToken::random();
    assert!(store.reserve(&mut conn, TTL, Some(&token), TTL).unwrap());
    assert!(!store.reserve(&mut conn, TTL, None, TTL).unwrap());
    assert_eq!(store.read(&mut conn).unwrap().as_deref(), Some(&b""[..]));
    let ttl: i64 = redis::cmd("TTL").arg(&k.data).query(&mut conn).unwrap();
    assert!(
        ttl > 0 && ttl <= 60,
        "reserved sessions expire like any other, got {ttl}"
    );
    assert!(
        store.release(&mut conn, &token).unwrap() == Owned::Yes,
        "reserve took the lock for us"
    );
}

#[test]
fn compare_and_set_detects_writers_and_respects_locks() {
    let (_, k, mut conn) = fixture("cas");
    let store = SessionStore::new(k.clone());
    assert_eq!(
        store
            .compare_and_set(&mut conn, b"", b"v1", TTL, Waiter::New)
            .unwrap(),
        Attempt::Done(Cas::Written)
    );
    assert_eq!(
        store
            .compare_and_set(&mut conn, b"", b"v2", TTL, Waiter::New)
            .unwrap(),
        Attempt::Done(Cas::Changed(b"v1".to_vec()))
    );
    let token = LockToken::random();
    store
        .acquire(&mut conn, &token, TTL, Which::Any, Waiter::New, 0)
        .unwrap();
    assert!(matches!(
        store
            .compare_and_set(&mut conn, b"v1", b"v2", TTL, Waiter::New)
            .unwrap(),
        Attempt::Held(HeldBy {
            expires_in: Some(_),
            ..
        })
    ));
    store.release(&mut conn, &token).unwrap();
    assert_eq!(
        store
            .compare_and_set(&mut conn, b"v1", b"v2", TTL, Waiter::New)
            .unwrap(),
        Attempt::Done(Cas::Written)
    );
}

#[test]
fn a_release_wakes_a_blocked_waiter() {
    let path = save_path();
    let k = keys(&path, "handoff1");
    let store = SessionStore::new(k.clone());
    let mut holder_conn = connection(&path);
    let holder = LockToken::random();
    store
        .acquire(&mut holder_conn, &holder, TTL, Which::Any, Waiter::New, 0)
        .unwrap();
    let exists = |conn: &mut rustredis::pool::PooledConnection, key: &[u8]| -> bool {
        redis::cmd("EXISTS").arg(key).query(conn).unwrap()
    };
    assert!(!exists(&mut holder_conn, &k.waiting), "nobody waits yet");
    let waiter = {
        let path = path.clone();
        thread::spawn(move || {
            let k = keys(&path, "handoff1");
            let store = SessionStore::new(k.clone());
            let mut conn = connection(&path);
            let token = LockToken::random();
            let held = store
                .acquire(&mut conn, &token, TTL, Which::Any, Waiter::New, 0)
                .unwrap();
            assert!(matches!(held, Attempt::Held(_)));
            // Much longer than the release takes to come (and under the pool's 3 s read timeout):
            // without the release's signal this returns false.
            store
                .wait_for_release(&mut conn, Duration::from_secs(2))
                .unwrap()
        })
    };
    // The waiter's failed attempt counted it as waiting; then it blocks.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !exists(&mut holder_conn, &k.waiting) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert!(
        exists(&mut holder_conn, &k.waiting),
        "a waiter must announce itself"
    );
    thread::sleep(Duration::from_millis(50));
    assert_eq!(
        store
            .write(&mut holder_conn, &holder, b"from holder", TTL)
            .unwrap(),
        Owned::Yes
    );
    assert!(
        waiter.join().unwrap(),
        "the blocked waiter must receive the release signal"
    );
}

#[test]
fn renew_extends_only_our_own_lock() {
    let (_, k, mut conn) = fixture("lease1");
    let store = SessionStore::new(k.clone());
    let lease = Duration::from_millis(500);
    let (mine, theirs) = (LockToken::random(), LockToken::random());
    store
        .acquire(&mut conn, &mine, lease, Which::Any, Waiter::New, 0)
        .unwrap();
    let pttl = |conn: &mut rustredis::pool::PooledConnection| -> i64 {
        redis::cmd("PTTL").arg(&k.lock).query(conn).unwrap()
    };
    assert_eq!(
        store.renew(&mut conn, &mine, TTL).unwrap(),
        Owned::Yes,
        "the holder renews its lock"
    );
    assert!(pttl(&mut conn) > 500, "renewed to the longer lease");
    // Another request's lock (taken over after ours expired), with no TTL at all.
    redis::cmd("SET")
        .arg(&k.lock)
        .arg(theirs.as_str())
        .query::<()>(&mut conn)
        .unwrap();
    assert_eq!(store.renew(&mut conn, &mine, TTL).unwrap(), Owned::Lost);
    assert_eq!(pttl(&mut conn), -1, "their lock was not touched");
    let value: Vec<u8> = redis::cmd("GET").arg(&k.lock).query(&mut conn).unwrap();
    assert_eq!(value, theirs.as_str().as_bytes());
    // And no lock at all: nothing is created.
    redis::cmd("DEL")
        .arg(&k.lock)
        .query::<()>(&mut conn)
        .unwrap();
    assert_eq!(store.renew(&mut conn, &mine, TTL).unwrap(), Owned::Vanished);
    assert_eq!(pttl(&mut conn), -2);
}

#[test]
fn max_waiters_turns_newcomers_away_but_not_those_already_waiting() {
    let (_, k, mut conn) = fixture("maxwaiters");
    let store = SessionStore::new(k.clone());
    let holder = LockToken::random();
    store
        .acquire(&mut conn, &holder, TTL, Which::Any, Waiter::New, 2)
        .unwrap();
    let attempt = |conn: &mut rustredis::pool::PooledConnection, waiter| {
        store
            .acquire(conn, &LockToken::random(), TTL, Which::Any, waiter, 2)
            .unwrap()
    };
    // Two newcomers join the waiters; the third is turned away, and names the holder.
    assert!(matches!(attempt(&mut conn, Waiter::New), Attempt::Held(_)));
    assert!(matches!(attempt(&mut conn, Waiter::New), Attempt::Held(_)));
    match attempt(&mut conn, Waiter::New) {
        Attempt::Done(Acquired::TooManyWaiters(held)) => {
            assert_eq!(held.holder.details.unwrap().pid, std::process::id())
        }
        other => panic!("expected the third newcomer turned away, got {other:?}"),
    }
    let waiting: i64 = redis::cmd("GET").arg(&k.waiting).query(&mut conn).unwrap();
    assert_eq!(
        waiting, 2,
        "a turned-away request does not count as waiting"
    );
    // A request already waiting keeps trying.
    assert!(matches!(
        attempt(&mut conn, Waiter::Waiting),
        Attempt::Held(_)
    ));
    // Without a cap, everyone waits.
    assert!(matches!(
        store
            .acquire(
                &mut conn,
                &LockToken::random(),
                TTL,
                Which::Any,
                Waiter::New,
                0
            )
            .unwrap(),
        Attempt::Held(_)
    ));
}

#[test]
fn the_pipelined_acquire_takes_a_free_lock_and_falls_back_when_held() {
    let (_, k, mut conn) = fixture("pipelined1");
    let store = SessionStore::new(k.clone());
    store.write_unlocked(&mut conn, b"n|i:1;", TTL).unwrap();
    let mine = LockToken::random();
    assert_eq!(
        store
            .acquire_pipelined(&mut conn, &mine, TTL, Which::Any)
            .unwrap(),
        Attempt::Done(Acquired::Locked(Some(b"n|i:1;".to_vec())))
    );
    // Held: names the holder, and does not count the caller as waiting.
    match store
        .acquire_pipelined(&mut conn, &LockToken::random(), TTL, Which::Any)
        .unwrap()
    {
        Attempt::Held(held) => {
            assert!(!held.joined);
            assert_eq!(held.holder.details.unwrap().pid, std::process::id());
            assert!(held.expires_in.is_some());
        }
        other => panic!("expected the lock held, got {other:?}"),
    }
    let waiting: Option<i64> = redis::cmd("GET").arg(&k.waiting).query(&mut conn).unwrap();
    assert_eq!(waiting, None);
    // The scripted attempt that follows joins the waiters.
    assert!(matches!(
        store
            .acquire(
                &mut conn,
                &LockToken::random(),
                TTL,
                Which::Any,
                Waiter::New,
                0
            )
            .unwrap(),
        Attempt::Held(HeldBy { joined: true, .. })
    ));
    assert_eq!(store.release(&mut conn, &mine).unwrap(), Owned::Yes);
    // An unknown id with Which::Existing: nothing stays locked.
    let (_, k2, mut conn2) = fixture("pipelined-missing");
    let store2 = SessionStore::new(k2.clone());
    assert_eq!(
        store2
            .acquire_pipelined(&mut conn2, &LockToken::random(), TTL, Which::Existing)
            .unwrap(),
        Attempt::Done(Acquired::Missing)
    );
    let locked: bool = redis::cmd("EXISTS")
        .arg(&k2.lock)
        .query(&mut conn2)
        .unwrap();
    assert!(!locked);
}

#[test]
fn a_large_write_is_staged_and_renamed_only_under_our_lock() {
    let (_, k, mut conn) = fixture("staged1");
    let store = SessionStore::new(k.clone());
    let big: Vec<u8> = (0..rustredis::protocol::STAGED_WRITE_BYTES * 4)
        .map(|i| (i % 251) as u8)
        .collect();
    let mine = LockToken::random();
    store
        .acquire(&mut conn, &mine, TTL, Which::Any, Waiter::New, 0)
        .unwrap();
    // Redis forgot every script (a restart, SCRIPT FLUSH): the pipeline loads it and stages again.
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query::<()>(&mut conn)
        .unwrap();
    assert_eq!(
        store.write(&mut conn, &mine, &big, TTL).unwrap(),
        Owned::Yes
    );
    let stored: Vec<u8> = redis::cmd("GET").arg(&k.data).query(&mut conn).unwrap();
    assert_eq!(stored, big);
    let ttl: i64 = redis::cmd("TTL").arg(&k.data).query(&mut conn).unwrap();
    assert!(ttl > 0, "the data keeps its TTL");
    let lock: bool = redis::cmd("EXISTS").arg(&k.lock).query(&mut conn).unwrap();
    assert!(!lock, "released");
    // A writer whose lock is gone (no lock left at all) changes nothing and leaves no staging
    // key behind.
    let late = LockToken::random();
    let mut other = big.clone();
    other[0] ^= 1;
    assert_eq!(
        store.write(&mut conn, &late, &other, TTL).unwrap(),
        Owned::Vanished
    );
    let stored: Vec<u8> = redis::cmd("GET").arg(&k.data).query(&mut conn).unwrap();
    assert_eq!(stored, big);
    let staging: bool = redis::cmd("EXISTS")
        .arg(k.staging(late.secret()))
        .query(&mut conn)
        .unwrap();
    assert!(!staging);
}
