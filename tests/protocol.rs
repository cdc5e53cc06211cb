//! The lock protocol's Redis half (`rustredis::protocol`) against a real Redis: one script at a
//! time, as two requests would run them.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::*;
use rustredis::keys::SessionKeys;
use rustredis::protocol::{
    Acquired, Attempt, Cas, Handoff, HeldBy, LockToken, LockWaiter, Owned, SessionStore, Waiter,
    Which,
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
            .acquire(&mut conn, &mine, TTL, Which::Any, &LockWaiter::New, 0)
            .unwrap(),
        Attempt::Done(Acquired::Locked(None))
    );
    match store
        .acquire(&mut conn, &theirs, TTL, Which::Any, &LockWaiter::New, 0)
        .unwrap()
    {
        Attempt::Held(HeldBy {
            expires_in: Some(expires_in),
            holder,
            joined: true,
            ..
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
            .acquire(&mut conn, &theirs, TTL, Which::Any, &LockWaiter::New, 0)
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
            .acquire(&mut conn, &token, TTL, Which::Existing, &LockWaiter::New, 0)
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
            .acquire(&mut conn, &token, TTL, Which::Existing, &LockWaiter::New, 0)
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
            &LockWaiter::New,
            0,
        )
        .unwrap();
    thread::sleep(Duration::from_millis(150));
    let fast = LockToken::random();
    assert!(matches!(
        store
            .acquire(&mut conn, &fast, TTL, Which::Any, &LockWaiter::New, 0)
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
        .acquire(&mut conn, &token, TTL, Which::Any, &LockWaiter::New, 0)
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

/// A request queued for the lock: its token, and the handoff list it blocks on.
struct Queued {
    token: LockToken,
    blocked_on: Vec<u8>,
}

/// Queues a new request with `lease` for the lock `holder` holds (or whoever queued last);
/// returns it and whom it queues behind.
fn queue(
    store: &SessionStore,
    conn: &mut rustredis::pool::PooledConnection,
    lease: Duration,
) -> (Queued, Vec<u8>) {
    let token = LockToken::random();
    match store
        .acquire(conn, &token, lease, Which::Any, &LockWaiter::New, 0)
        .unwrap()
    {
        Attempt::Held(HeldBy {
            joined: true,
            behind: Some(behind),
            ..
        }) => {
            let blocked_on = store.handoff_key(&token, Some(&behind));
            (Queued { token, blocked_on }, behind)
        }
        other => panic!("expected to be queued behind the holder, got {other:?}"),
    }
}

fn lock_value(conn: &mut rustredis::pool::PooledConnection, k: &SessionKeys) -> Option<Vec<u8>> {
    redis::cmd("GET").arg(&k.lock).query(conn).unwrap()
}

fn queued_tokens(conn: &mut rustredis::pool::PooledConnection, k: &SessionKeys) -> Vec<String> {
    redis::cmd("ZRANGE")
        .arg(&k.queue)
        .arg(0)
        .arg(-1)
        .query(conn)
        .unwrap()
}

/// Session `id` (with `data`, if any) and the token of a request holding its lock.
fn held_session(
    id: &str,
    data: Option<&[u8]>,
) -> (
    SessionKeys,
    rustredis::pool::PooledConnection,
    SessionStore,
    LockToken,
) {
    let (_, k, mut conn) = fixture(id);
    let store = SessionStore::new(k.clone());
    if let Some(data) = data {
        store.write_unlocked(&mut conn, data, TTL).unwrap();
    }
    let holder = LockToken::random();
    store
        .acquire(&mut conn, &holder, TTL, Which::Any, &LockWaiter::New, 0)
        .unwrap();
    (k, conn, store, holder)
}

#[test]
fn a_release_hands_the_lock_to_the_oldest_waiter_with_its_data() {
    let (k, mut conn, store, holder) = held_session("handoff1", None);
    let (first, behind) = queue(&store, &mut conn, Duration::from_secs(7));
    assert_eq!(
        behind,
        holder.as_str().as_bytes(),
        "the first queues behind the holder"
    );
    let (second, behind) = queue(&store, &mut conn, Duration::from_secs(9));
    assert_eq!(
        behind,
        first.token.as_str().as_bytes(),
        "the second behind the first"
    );
    assert_eq!(
        queued_tokens(&mut conn, &k),
        [first.token.as_str(), second.token.as_str()]
    );

    assert_eq!(
        store.write(&mut conn, &holder, b"n|i:1;", TTL).unwrap(),
        Owned::Yes
    );
    // The release made the oldest waiter the holder, with the lease it asked for...
    assert_eq!(
        lock_value(&mut conn, &k).as_deref(),
        Some(first.token.as_str().as_bytes())
    );
    let pttl: i64 = redis::cmd("PTTL").arg(&k.lock).query(&mut conn).unwrap();
    assert!(
        pttl > 3_000 && pttl <= 7_000,
        "the waiter's lease, got {pttl} ms"
    );
    assert_eq!(queued_tokens(&mut conn, &k), [second.token.as_str()]);
    // ... and its wait brings the data: nothing more to ask Redis.
    assert_eq!(
        store
            .wait_for_handoff(&mut conn, &first.token, &first.blocked_on, TTL / 60)
            .unwrap(),
        Handoff::Handed(Some(b"n|i:1;".to_vec()))
    );
    // A session deleted by the holder is handed over as none.
    assert_eq!(
        store.destroy_owned(&mut conn, &first.token).unwrap(),
        Owned::Yes
    );
    assert_eq!(
        store
            .wait_for_handoff(&mut conn, &second.token, &second.blocked_on, TTL / 60)
            .unwrap(),
        Handoff::Handed(None)
    );
    let pttl: i64 = redis::cmd("PTTL").arg(&k.lock).query(&mut conn).unwrap();
    assert!(
        pttl > 7_000 && pttl <= 9_000,
        "the second's lease, got {pttl} ms"
    );
    // With nobody queued, a release frees the lock and leaves no queue behind.
    assert_eq!(store.release(&mut conn, &second.token).unwrap(), Owned::Yes);
    let left: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg([&k.lock[..], b"*"].concat())
        .query(&mut conn)
        .unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_blocked_waiter_is_woken_with_the_lock() {
    let path = save_path();
    let k = keys(&path, "handoff2");
    let store = SessionStore::new(k.clone());
    let mut holder_conn = connection(&path);
    let holder = LockToken::random();
    store
        .acquire(
            &mut holder_conn,
            &holder,
            TTL,
            Which::Any,
            &LockWaiter::New,
            0,
        )
        .unwrap();
    let waiter = {
        let path = path.clone();
        thread::spawn(move || {
            let store = SessionStore::new(keys(&path, "handoff2"));
            let mut conn = connection(&path);
            let (queued, _) = queue(&store, &mut conn, TTL);
            // Much longer than the release takes to come (and under the pool's 3 s read timeout):
            // without the handoff this times out.
            let handoff = store
                .wait_for_handoff(
                    &mut conn,
                    &queued.token,
                    &queued.blocked_on,
                    Duration::from_secs(2),
                )
                .unwrap();
            (queued.token, handoff)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while queued_tokens(&mut holder_conn, &k).is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    // Queued; now (most likely) blocked.
    thread::sleep(Duration::from_millis(50));
    assert_eq!(
        store
            .write(&mut holder_conn, &holder, b"from holder", TTL)
            .unwrap(),
        Owned::Yes
    );
    let (token, handoff) = waiter.join().unwrap();
    assert_eq!(handoff, Handoff::Handed(Some(b"from holder".to_vec())));
    assert_eq!(
        lock_value(&mut holder_conn, &k).as_deref(),
        Some(token.as_str().as_bytes())
    );
}

#[test]
fn a_waiter_that_gave_up_just_before_the_release_is_skipped() {
    let (k, mut conn, store, holder) = held_session("gaveup1", None);
    let (quitter, _) = queue(&store, &mut conn, TTL);
    let (patient, _) = queue(&store, &mut conn, TTL);
    // Out of budget: the lock is still the holder's, so it leaves the queue...
    match store
        .acquire(
            &mut conn,
            &quitter.token,
            TTL,
            Which::Any,
            &LockWaiter::Leaving {
                blocked_on: quitter.blocked_on.clone(),
            },
            0,
        )
        .unwrap()
    {
        Attempt::Held(held) => {
            assert!(!held.joined);
            assert_eq!(held.behind, None);
        }
        other => panic!("expected to give up, got {other:?}"),
    }
    assert_eq!(queued_tokens(&mut conn, &k), [patient.token.as_str()]);
    // ... and wakes the one queued behind it, which now queues behind the holder.
    assert_eq!(
        store
            .wait_for_handoff(&mut conn, &patient.token, &patient.blocked_on, TTL / 60)
            .unwrap(),
        Handoff::Woken
    );
    let blocked_on = match store
        .acquire(
            &mut conn,
            &patient.token,
            TTL,
            Which::Any,
            &LockWaiter::Queued {
                blocked_on: patient.blocked_on.clone(),
            },
            0,
        )
        .unwrap()
    {
        Attempt::Held(held) => {
            assert_eq!(held.behind.as_deref(), Some(holder.as_str().as_bytes()));
            store.handoff_key(&patient.token, held.behind.as_deref())
        }
        other => panic!("expected to stay queued, got {other:?}"),
    };
    // The release passes over the one that left.
    assert_eq!(
        store.write(&mut conn, &holder, b"n|i:2;", TTL).unwrap(),
        Owned::Yes
    );
    assert_eq!(
        store
            .wait_for_handoff(&mut conn, &patient.token, &blocked_on, TTL / 60)
            .unwrap(),
        Handoff::Handed(Some(b"n|i:2;".to_vec()))
    );
    assert_eq!(
        lock_value(&mut conn, &k).as_deref(),
        Some(patient.token.as_str().as_bytes())
    );
}

#[test]
fn a_waiter_handed_the_lock_as_it_gives_up_takes_it() {
    let (k, mut conn, store, holder) = held_session("gaveup2", Some(b"n|i:3;"));
    let (late, _) = queue(&store, &mut conn, TTL);
    // Its last wait timed out just before the release came.
    assert_eq!(store.release(&mut conn, &holder).unwrap(), Owned::Yes);
    let leaving = LockWaiter::Leaving {
        blocked_on: late.blocked_on.clone(),
    };
    assert_eq!(
        store
            .acquire(&mut conn, &late.token, TTL, Which::Any, &leaving, 0)
            .unwrap(),
        Attempt::Done(Acquired::Locked(Some(b"n|i:3;".to_vec()))),
        "the lock it was handed is its own: it takes it instead of stranding it"
    );
    let handoff_left: bool = redis::cmd("EXISTS")
        .arg(&late.blocked_on)
        .query(&mut conn)
        .unwrap();
    assert!(!handoff_left, "the handoff it did not wait for is dropped");
    assert_eq!(store.release(&mut conn, &late.token).unwrap(), Owned::Yes);
    assert_eq!(lock_value(&mut conn, &k), None);
}

#[test]
fn a_dead_waiter_is_skipped() {
    let (k, mut conn, store, holder) = held_session("deadwaiter", Some(b"n|i:4;"));
    // A waiter whose liveness runs out soon and that never comes back (its process died).
    let short_lived = store.clone().with_waiter_alive(Duration::from_millis(50));
    let (dead, _) = queue(&short_lived, &mut conn, TTL);
    let (alive, _) = queue(&store, &mut conn, TTL);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(store.release(&mut conn, &holder).unwrap(), Owned::Yes);
    assert_eq!(
        lock_value(&mut conn, &k).as_deref(),
        Some(alive.token.as_str().as_bytes()),
        "handed to the live waiter, not to the dead one ahead of it"
    );
    assert_eq!(queued_tokens(&mut conn, &k), Vec::<String>::new());
    // It blocked behind the dead one, whose list gets nothing: its next attempt finds the lock
    // its own.
    let queued = LockWaiter::Queued {
        blocked_on: alive.blocked_on.clone(),
    };
    assert_eq!(
        store
            .acquire(&mut conn, &alive.token, TTL, Which::Any, &queued, 0)
            .unwrap(),
        Attempt::Done(Acquired::Locked(Some(b"n|i:4;".to_vec())))
    );
    // The holder's handoff list, on which the dead one blocked, was handed nothing for it: what
    // it holds is the live waiter's (`<secret>+<data>`, the secret being the token's first 32
    // bytes), left for its lease.
    let handed: Vec<Vec<u8>> = redis::cmd("LRANGE")
        .arg(&dead.blocked_on)
        .arg(0)
        .arg(-1)
        .query(&mut conn)
        .unwrap();
    let secret = |token: &LockToken| token.as_str().as_bytes()[..32].to_vec();
    assert_eq!(
        handed,
        vec![[secret(&alive.token), b"+n|i:4;".to_vec()].concat()]
    );
}

#[test]
fn a_waiter_for_an_existing_session_handed_a_destroyed_one_gives_the_lock_back() {
    let (k, mut conn, store, holder) = held_session("handoff-missing", Some(b"n|i:5;"));
    let validating = LockToken::random();
    let blocked_on = match store
        .acquire(
            &mut conn,
            &validating,
            TTL,
            Which::Existing,
            &LockWaiter::New,
            0,
        )
        .unwrap()
    {
        Attempt::Held(held) => store.handoff_key(&validating, held.behind.as_deref()),
        other => panic!("expected to be queued, got {other:?}"),
    };
    assert_eq!(store.destroy_owned(&mut conn, &holder).unwrap(), Owned::Yes);
    assert_eq!(
        store
            .acquire(
                &mut conn,
                &validating,
                TTL,
                Which::Existing,
                &LockWaiter::Queued { blocked_on },
                0
            )
            .unwrap(),
        Attempt::Done(Acquired::Missing)
    );
    assert_eq!(lock_value(&mut conn, &k), None, "given back");
}

#[test]
fn renew_extends_only_our_own_lock() {
    let (_, k, mut conn) = fixture("lease1");
    let store = SessionStore::new(k.clone());
    let lease = Duration::from_millis(500);
    let (mine, theirs) = (LockToken::random(), LockToken::random());
    store
        .acquire(&mut conn, &mine, lease, Which::Any, &LockWaiter::New, 0)
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
        .acquire(&mut conn, &holder, TTL, Which::Any, &LockWaiter::New, 2)
        .unwrap();
    let attempt =
        |conn: &mut rustredis::pool::PooledConnection, token: &LockToken, waiter: &LockWaiter| {
            store
                .acquire(conn, token, TTL, Which::Any, waiter, 2)
                .unwrap()
        };
    // Two newcomers join the waiters; the third is turned away, and names the holder.
    let (first, second) = (LockToken::random(), LockToken::random());
    assert!(matches!(
        attempt(&mut conn, &first, &LockWaiter::New),
        Attempt::Held(_)
    ));
    assert!(matches!(
        attempt(&mut conn, &second, &LockWaiter::New),
        Attempt::Held(_)
    ));
    match attempt(&mut conn, &LockToken::random(), &LockWaiter::New) {
        Attempt::Done(Acquired::TooManyWaiters(held)) => {
            assert_eq!(held.holder.details.unwrap().pid, std::process::id())
        }
        other => panic!("expected the third newcomer turned away, got {other:?}"),
    }
    let waiting: i64 = redis::cmd("ZCARD").arg(&k.queue).query(&mut conn).unwrap();
    assert_eq!(
        waiting, 2,
        "a turned-away request does not count as waiting"
    );
    // A request already waiting keeps trying, and so does a retry of its first attempt.
    let queued = LockWaiter::Queued {
        blocked_on: store.handoff_key(&first, Some(holder.as_str().as_bytes())),
    };
    assert!(matches!(
        attempt(&mut conn, &first, &queued),
        Attempt::Held(_)
    ));
    assert!(matches!(
        attempt(&mut conn, &second, &LockWaiter::New),
        Attempt::Held(_)
    ));
    // Requests waiting for the lock to be free without taking it count too.
    assert_eq!(store.release(&mut conn, &holder).unwrap(), Owned::Yes);
    assert_eq!(
        lock_value(&mut conn, &k).as_deref(),
        Some(first.as_str().as_bytes()),
        "handed to the first waiter"
    );
    assert!(matches!(
        store
            .compare_and_set(&mut conn, b"", b"x", TTL, Waiter::New)
            .unwrap(),
        Attempt::Held(_)
    ));
    assert!(matches!(
        attempt(&mut conn, &LockToken::random(), &LockWaiter::New),
        Attempt::Done(Acquired::TooManyWaiters(_))
    ));
    // Without a cap, everyone waits.
    assert!(matches!(
        store
            .acquire(
                &mut conn,
                &LockToken::random(),
                TTL,
                Which::Any,
                &LockWaiter::New,
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
                &LockWaiter::New,
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
        .acquire(&mut conn, &mine, TTL, Which::Any, &LockWaiter::New, 0)
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
