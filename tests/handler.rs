//! The session handler (`rustredis::session`) against a real Redis: whole request cycles as
//! PHP drives them, several handlers standing for parallel requests.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::*;
use rustredis::config::{LockMode, LockTimeoutAction, SavePath, Settings};
use rustredis::merge::ConflictPolicy;
use rustredis::session::{ReadIntent, SessionError, SessionHandler, Warning};

#[test]
fn handler_round_trip_costs_read_and_write_and_keeps_binary_data() {
    let path = save_path();
    let mut h = SessionHandler::open(&path, settings(LockMode::Locked), php()).unwrap();
    let mut generated = Some(b"roundtrip1".to_vec());
    let id = h
        .create_id(&mut || generated.take(), ReadIntent::ReadWrite, TTL)
        .unwrap();
    assert_eq!(h.read(&id, ReadIntent::ReadWrite).unwrap().to_vec(), b"");
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i % 256) as u8).collect();
    h.write(&id, &big, TTL).unwrap();
    h.close().unwrap();
    let mut h = SessionHandler::open(&path, settings(LockMode::Locked), php()).unwrap();
    assert!(h.validate_id(&id, ReadIntent::ReadWrite).unwrap());
    assert_eq!(h.read(&id, ReadIntent::ReadWrite).unwrap().to_vec(), big);
    h.close().unwrap();
    let mut conn = connection(&path);
    let lock_exists: bool = redis::cmd("EXISTS")
        .arg(&keys(&path, "roundtrip1").lock)
        .query(&mut conn)
        .unwrap();
    assert!(
        !lock_exists,
        "close must release the lock taken by validate_sid"
    );
}

#[test]
fn lock_wait_budget_fails_or_degrades_to_read_only() {
    let path = save_path();
    let id = b"budget1".to_vec();
    let mut holder = SessionHandler::open(&path, settings(LockMode::Locked), php()).unwrap();
    holder.read(&id, ReadIntent::ReadWrite).unwrap();
    holder.write(&id, b"a|i:1;", TTL).unwrap();
    let mut holder = SessionHandler::open(&path, settings(LockMode::Locked), php()).unwrap();
    holder.read(&id, ReadIntent::ReadWrite).unwrap();

    let short = Settings {
        lock_wait: Duration::from_millis(200),
        ..settings(LockMode::Locked)
    };
    let mut waiter = SessionHandler::open(&path, short.clone(), php()).unwrap();
    let started = Instant::now();
    match waiter.read(&id, ReadIntent::ReadWrite) {
        Err(SessionError::LockTimeout { waited, holder }) => {
            assert!(waited >= Duration::from_millis(200));
            let holder = holder.and_then(|h| h.details).expect("the holder is named");
            assert_eq!(holder.pid, std::process::id());
        }
        other => panic!("expected a lock timeout, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the budget is wall-clock"
    );
    waiter.close().unwrap();

    let readonly = Settings {
        on_lock_timeout: LockTimeoutAction::ReadOnly,
        ..short
    };
    let mut waiter = SessionHandler::open(&path, readonly, php()).unwrap();
    assert_eq!(
        waiter.read(&id, ReadIntent::ReadWrite).unwrap().to_vec(),
        b"a|i:1;"
    );
    assert!(waiter
        .take_warnings()
        .iter()
        .any(|w| matches!(w, Warning::ContinuingReadOnly { .. })));
    assert!(matches!(
        waiter.write(&id, b"a|i:2;", TTL),
        Err(SessionError::WritesRefused)
    ));
    waiter.close().unwrap();
    holder.close().unwrap();
}

#[test]
fn read_only_intent_neither_locks_nor_waits() {
    let path = save_path();
    let id = b"readonly1".to_vec();
    let mut holder = SessionHandler::open(&path, settings(LockMode::Locked), php()).unwrap();
    holder.read(&id, ReadIntent::ReadWrite).unwrap();
    holder.write(&id, b"a|i:1;", TTL).unwrap();
    let mut holder = SessionHandler::open(&path, settings(LockMode::Locked), php()).unwrap();
    holder.read(&id, ReadIntent::ReadWrite).unwrap();
    let mut reader = SessionHandler::open(
        &path,
        Settings {
            lock_wait: Duration::from_secs(5),
            ..settings(LockMode::Locked)
        },
        php(),
    )
    .unwrap();
    let started = Instant::now();
    assert_eq!(
        reader.read(&id, ReadIntent::ReadAndClose).unwrap().to_vec(),
        b"a|i:1;"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a read-only read must not wait for the 5 s budget"
    );
    // A write after a read judged read-only must not overwrite blindly: it waits for the
    // holder and merges with what the holder wrote.
    let writer = thread::spawn(move || {
        let result = reader.write(&id, b"a|i:1;b|i:2;", TTL);
        reader.close().unwrap();
        result
    });
    thread::sleep(Duration::from_millis(100));
    holder.write(b"readonly1", b"a|i:1;c|i:3;", TTL).unwrap();
    holder.close().unwrap();
    writer.join().unwrap().unwrap();
    let stored = stored_session(&path, "readonly1");
    assert_eq!(stored, b"a|i:1;c|i:3;b|i:2;", "both writes survive");
}

#[test]
fn optimistic_writes_merge_disjoint_keys_and_report_conflicts() {
    let path = save_path();
    let id = b"optimistic1".to_vec();
    seed(&path, &id, LockMode::Optimistic, b"n|i:0;");

    let mut a = SessionHandler::open(&path, settings(LockMode::Optimistic), php()).unwrap();
    let mut b = SessionHandler::open(&path, settings(LockMode::Optimistic), php()).unwrap();
    let mut c = SessionHandler::open(&path, settings(LockMode::Optimistic), php()).unwrap();
    for h in [&mut a, &mut b, &mut c] {
        assert_eq!(
            h.read(&id, ReadIntent::ReadWrite).unwrap().to_vec(),
            b"n|i:0;"
        );
    }
    a.write(&id, b"n|i:0;a|s:1:\"x\";", TTL).unwrap();
    b.write(&id, b"n|i:0;b|s:1:\"y\";", TTL).unwrap();
    let stored = stored_session(&path, "optimistic1");
    assert_eq!(stored, b"n|i:0;a|s:1:\"x\";b|s:1:\"y\";");
    // c and a conflicting edit of the same key: reported, nothing of c's written.
    let mut d = SessionHandler::open(&path, settings(LockMode::Optimistic), php()).unwrap();
    d.read(&id, ReadIntent::ReadWrite).unwrap();
    d.write(&id, b"n|i:1;a|s:1:\"x\";b|s:1:\"y\";", TTL)
        .unwrap();
    match c.write(&id, b"n|i:2;", TTL) {
        Err(SessionError::Conflict { keys }) => assert_eq!(keys, vec!["n".to_string()]),
        other => panic!("expected a conflict on n, got {other:?}"),
    }
    let stored = stored_session(&path, "optimistic1");
    assert_eq!(stored, b"n|i:1;a|s:1:\"x\";b|s:1:\"y\";");
    // With mine_wins the same race writes ours and says whose change it replaced.
    let mut e = SessionHandler::open(
        &path,
        Settings {
            on_conflict: ConflictPolicy::MineWins,
            ..settings(LockMode::Optimistic)
        },
        php(),
    )
    .unwrap();
    e.read(&id, ReadIntent::ReadWrite).unwrap();
    let mut f = SessionHandler::open(&path, settings(LockMode::Optimistic), php()).unwrap();
    f.read(&id, ReadIntent::ReadWrite).unwrap();
    f.write(&id, b"n|i:5;a|s:1:\"x\";b|s:1:\"y\";", TTL)
        .unwrap();
    e.write(&id, b"n|i:9;a|s:1:\"x\";b|s:1:\"y\";", TTL)
        .unwrap();
    assert!(e
        .take_warnings()
        .iter()
        .any(|w| matches!(w, Warning::ReplacedTheirs { keys } if keys == &["n"])));
    let stored = stored_session(&path, "optimistic1");
    assert_eq!(stored, b"n|i:9;a|s:1:\"x\";b|s:1:\"y\";");
}

#[test]
fn hostile_ids_never_reach_redis() {
    let path = save_path();
    let mut h = SessionHandler::open(&path, settings(LockMode::Locked), php()).unwrap();
    for id in [
        &b"../../etc/passwd"[..],
        b"*",
        b"a\nb",
        b"x\0y",
        &[b'a'; 600],
    ] {
        assert!(!h.validate_id(id, ReadIntent::ReadWrite).unwrap());
        assert!(matches!(
            h.read(id, ReadIntent::ReadWrite),
            Err(SessionError::InvalidId)
        ));
    }
    h.close().unwrap();
    let mut conn = connection(&path);
    let prefix = String::from_utf8(SavePath::parse(&path).unwrap().prefix).unwrap();
    let found: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut conn)
        .unwrap();
    assert!(
        found.is_empty(),
        "no key may be created for a hostile id: {found:?}"
    );
}

#[test]
fn unreachable_redis_fails_within_the_connect_timeout() {
    let quick = Settings {
        connect_timeout: Duration::from_millis(300),
        ..settings(LockMode::Locked)
    };
    let mut h = SessionHandler::open("tcp://127.0.0.1:1", quick, php()).unwrap();
    let started = Instant::now();
    match h.read(b"abc", ReadIntent::ReadWrite) {
        Err(SessionError::Redis { endpoint, .. }) => assert_eq!(endpoint, "tcp://127.0.0.1:1"),
        other => panic!("expected a Redis error, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_crowd_of_optimistic_writers_all_land() {
    // Everyone reads, then everyone writes in the same instant: each compare-and-set round has one
    // winner, so the unluckiest writer loses many rounds in a row and must keep merging.
    let path = save_path();
    let id = b"crowd1".to_vec();
    seed(&path, &id, LockMode::Optimistic, b"base|i:0;");
    let writers = 30;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(writers));
    let handles: Vec<_> = (0..writers)
        .map(|i| {
            let (path, id, barrier) = (path.clone(), id.clone(), barrier.clone());
            thread::spawn(move || {
                let mut h =
                    SessionHandler::open(&path, settings(LockMode::Optimistic), php()).unwrap();
                let mut data = h.read(&id, ReadIntent::ReadWrite).unwrap().to_vec();
                data.extend_from_slice(format!("k{i}|i:{i};").as_bytes());
                barrier.wait();
                let result = h.write(&id, &data, TTL);
                h.close().unwrap();
                result
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap().unwrap();
    }
    let stored = stored_session(&path, "crowd1");
    let stored = String::from_utf8(stored).unwrap();
    for i in 0..writers {
        assert!(
            stored.contains(&format!("k{i}|i:{i};")),
            "k{i} missing from {stored}"
        );
    }
}

#[test]
fn a_write_of_an_unread_id_takes_its_lock_in_every_mode() {
    // A wrapper read one id (or answered PHP's read from its own cache) and PHP writes another.
    for mode in [LockMode::Locked, LockMode::Optimistic, LockMode::Unlocked] {
        let path = save_path();
        let mut h = SessionHandler::open(&path, settings(mode), php()).unwrap();
        h.read(b"readid", ReadIntent::ReadWrite).unwrap();
        h.write(b"writtenid", b"a|i:1;", TTL).unwrap();
        assert_eq!(stored_session(&path, "writtenid"), b"a|i:1;", "{mode:?}");
        let lock: Option<Vec<u8>> = redis::cmd("GET")
            .arg(&keys(&path, "writtenid").lock)
            .query(&mut connection(&path))
            .unwrap();
        assert_eq!(lock, None, "{mode:?}: the write released what it took");
        h.close().unwrap();
    }

    // While another request holds that id, the write waits for it like a read would: with a
    // short budget it gives up and leaves the holder's data alone.
    let path = save_path();
    let mut holder = SessionHandler::open(&path, settings(LockMode::Locked), php()).unwrap();
    holder.read(b"heldid", ReadIntent::ReadWrite).unwrap();
    let short = Settings {
        lock_wait: Duration::from_millis(200),
        ..settings(LockMode::Locked)
    };
    let mut writer = SessionHandler::open(&path, short, php()).unwrap();
    writer.read(b"otherid", ReadIntent::ReadWrite).unwrap();
    assert!(matches!(
        writer.write(b"heldid", b"w|i:1;", TTL),
        Err(SessionError::LockTimeout { .. })
    ));
    holder.write(b"heldid", b"h|i:1;", TTL).unwrap();
    assert_eq!(stored_session(&path, "heldid"), b"h|i:1;");
    writer.close().unwrap();
    holder.close().unwrap();

    // Optimistic: the write is based on the empty session the application saw, so a parallel
    // writer's keys are merged, not overwritten.
    let path = save_path();
    seed(&path, b"mergeid", LockMode::Optimistic, b"theirs|i:1;");
    let mut h = SessionHandler::open(&path, settings(LockMode::Optimistic), php()).unwrap();
    h.write(b"mergeid", b"mine|i:2;", TTL).unwrap();
    assert_eq!(stored_session(&path, "mergeid"), b"theirs|i:1;mine|i:2;");
    h.close().unwrap();
}

/// A lease much shorter than the request: the renewal thread keeps the lock, the waiter gets in
/// only after the holder's write, and sees it.
#[test]
fn a_renewed_lease_outlives_many_lease_periods() {
    let path = save_path();
    let id = b"lease-long1".to_vec();
    let leased = Settings {
        lock_ttl: Duration::from_millis(200),
        lock_wait: Duration::from_secs(20),
        ..settings(LockMode::Locked)
    };
    let mut holder = SessionHandler::open(&path, leased.clone(), php()).unwrap();
    assert_eq!(
        holder.read(&id, ReadIntent::ReadWrite).unwrap().to_vec(),
        b""
    );
    let waiter = {
        let (path, id, leased) = (path.clone(), id.clone(), leased.clone());
        thread::spawn(move || {
            let mut waiter = SessionHandler::open(&path, leased, php()).unwrap();
            let data = waiter.read(&id, ReadIntent::ReadWrite).unwrap().to_vec();
            waiter.write(&id, b"b|i:2;", TTL).unwrap();
            waiter.close().unwrap();
            data
        })
    };
    // Ten lease periods: without renewals the waiter would get in after one.
    thread::sleep(Duration::from_millis(2_000));
    assert!(!waiter.is_finished(), "the waiter must still wait");
    holder.write(&id, b"a|i:1;", TTL).unwrap();
    assert!(holder.take_warnings().is_empty());
    holder.close().unwrap();
    assert_eq!(
        waiter.join().unwrap(),
        b"a|i:1;",
        "the waiter sees the holder's write"
    );
    assert_eq!(stored_session(&path, "lease-long1"), b"b|i:2;");
}

/// rustredis.lock_max_hold_ms ends the renewals: the lock expires, the next request gets in, and
/// the late write is refused and says why.
#[test]
fn max_hold_stops_the_renewals() {
    let path = save_path();
    let id = b"lease-maxhold1".to_vec();
    let capped = Settings {
        lock_ttl: Duration::from_millis(200),
        lock_max_hold: Duration::from_millis(400),
        lock_wait: Duration::from_secs(20),
        ..settings(LockMode::Locked)
    };
    let mut holder = SessionHandler::open(&path, capped.clone(), php()).unwrap();
    holder.read(&id, ReadIntent::ReadWrite).unwrap();
    let mut next = SessionHandler::open(&path, capped, php()).unwrap();
    next.read(&id, ReadIntent::ReadWrite).unwrap();
    next.write(&id, b"next|i:1;", TTL).unwrap();
    next.close().unwrap();
    match holder.write(&id, b"late|i:1;", TTL) {
        Err(err @ SessionError::LockLost(_)) => {
            assert!(
                err.to_string()
                    .contains("rustredis.lock_max_hold_ms (400 ms)"),
                "{err}"
            )
        }
        other => panic!("expected the lock lost to max hold, got {other:?}"),
    }
    holder.close().unwrap();
    assert_eq!(stored_session(&path, "lease-maxhold1"), b"next|i:1;");
}
