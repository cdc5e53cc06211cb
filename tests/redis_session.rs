//! The lock protocol and the session handler against a real Redis.
//!
//! Needs `RUSTREDIS_TEST_REDIS` (a save_path such as `tcp://127.0.0.1:6379`); `scripts/test.sh`
//! starts a private Redis and sets it. Without it these tests fail: they never skip.

use std::thread;
use std::time::{Duration, Instant};

use rustredis::codec::SessionSerializer;
use rustredis::config::{LockMode, LockTimeoutAction, SavePath, Settings};
use rustredis::keys::SessionKeys;
use rustredis::merge::ConflictPolicy;
use rustredis::session::{ReadIntent, SessionError, SessionHandler};
use rustredis::store::{AcquireOutcome, CasOutcome, LockToken, SessionStore};

const TTL: Duration = Duration::from_secs(60);

fn redis_base() -> String {
    std::env::var("RUSTREDIS_TEST_REDIS").expect(
        "RUSTREDIS_TEST_REDIS must name a running Redis (run scripts/test.sh, which starts one)",
    )
}

/// A save_path with a prefix of its own, so tests running in parallel never share keys.
fn save_path() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).unwrap();
    let tag: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let base = redis_base();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}prefix=rtest_{tag}:")
}

fn connection(path: &str) -> rustredis::pool::PooledConnection {
    let parsed = SavePath::parse(path).unwrap();
    rustredis::pool::pool_for(
        &parsed.target,
        Duration::from_secs(1),
        Duration::from_secs(3),
    )
    .get()
    .unwrap()
}

fn keys(path: &str, id: &str) -> SessionKeys {
    SessionKeys::new(&SavePath::parse(path).unwrap().prefix, id.as_bytes())
}

/// A fresh prefix, the keys of session `id` under it, and a connection to the test Redis.
fn fixture(id: &str) -> (String, SessionKeys, rustredis::pool::PooledConnection) {
    let path = save_path();
    let k = keys(&path, id);
    let conn = connection(&path);
    (path, k, conn)
}

/// What Redis holds for session `id`.
fn stored_session(path: &str, id: &str) -> Vec<u8> {
    redis::cmd("GET")
        .arg(&keys(path, id).data)
        .query(&mut connection(path))
        .unwrap()
}

/// Writes `data` as session `id` through a whole handler cycle.
fn seed(path: &str, id: &[u8], mode: LockMode, data: &[u8]) {
    let mut h = SessionHandler::open(path, settings(mode), php()).unwrap();
    h.read(id, ReadIntent::ReadWrite).unwrap();
    h.write(id, data, TTL).unwrap();
    h.close().unwrap();
}

fn settings(mode: LockMode) -> Settings {
    Settings {
        lock_mode: mode,
        ..Settings::default()
    }
}

fn php() -> SessionSerializer {
    SessionSerializer::from_ini("php")
}

#[test]
fn lock_is_exclusive_and_only_the_owner_releases_it() {
    let (_, k, mut conn) = fixture("lockid1");
    let store = SessionStore { keys: &k };
    let (mine, theirs) = (LockToken::random(), LockToken::random());
    assert_ne!(mine, theirs);
    assert_eq!(mine.as_str().len(), 32, "128-bit token, hex");
    assert_eq!(
        store
            .acquire_and_read(&mut conn, &mine, TTL, false, false)
            .unwrap(),
        AcquireOutcome::Acquired(None)
    );
    match store
        .acquire_and_read(&mut conn, &theirs, TTL, false, false)
        .unwrap()
    {
        AcquireOutcome::Held(Some(expires_in)) => {
            assert!(expires_in <= TTL && expires_in > TTL / 2)
        }
        other => panic!("second acquire should see the lock held, got {other:?}"),
    }
    assert!(
        !store.release(&mut conn, &theirs).unwrap(),
        "a non-owner must not release"
    );
    assert!(store.release(&mut conn, &mine).unwrap());
    assert!(matches!(
        store
            .acquire_and_read(&mut conn, &theirs, TTL, false, false)
            .unwrap(),
        AcquireOutcome::Acquired(_)
    ));
}

#[test]
fn acquire_reads_data_in_the_same_round_trip_and_only_if_exists_locks_nothing() {
    let (_, k, mut conn) = fixture("lockid2");
    let store = SessionStore { keys: &k };
    let token = LockToken::random();
    assert_eq!(
        store
            .acquire_and_read(&mut conn, &token, TTL, true, false)
            .unwrap(),
        AcquireOutcome::Missing
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
            .acquire_and_read(&mut conn, &token, TTL, true, false)
            .unwrap(),
        AcquireOutcome::Acquired(Some(data))
    );
}

#[test]
fn write_after_the_lock_was_lost_changes_nothing() {
    let (_, k, mut conn) = fixture("lostlock");
    let store = SessionStore { keys: &k };
    let slow = LockToken::random();
    store
        .acquire_and_read(&mut conn, &slow, Duration::from_millis(100), false, false)
        .unwrap();
    thread::sleep(Duration::from_millis(150));
    let fast = LockToken::random();
    assert!(matches!(
        store
            .acquire_and_read(&mut conn, &fast, TTL, false, false)
            .unwrap(),
        AcquireOutcome::Acquired(_)
    ));
    assert!(store
        .write_and_release(&mut conn, &fast, b"newer", TTL)
        .unwrap());
    assert!(!store
        .write_and_release(&mut conn, &slow, b"stale", TTL)
        .unwrap());
    assert!(!store.touch_and_release(&mut conn, &slow, TTL).unwrap());
    assert_eq!(
        store.read(&mut conn).unwrap().as_deref(),
        Some(&b"newer"[..])
    );
}

#[test]
fn reserve_never_hands_out_an_existing_id() {
    let (_, k, mut conn) = fixture("reserved");
    let store = SessionStore { keys: &k };
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
        store.release(&mut conn, &token).unwrap(),
        "reserve took the lock for us"
    );
}

#[test]
fn compare_and_set_detects_writers_and_respects_locks() {
    let (_, k, mut conn) = fixture("cas");
    let store = SessionStore { keys: &k };
    assert_eq!(
        store
            .compare_and_set(&mut conn, b"", b"v1", TTL, false)
            .unwrap(),
        CasOutcome::Written
    );
    assert_eq!(
        store
            .compare_and_set(&mut conn, b"", b"v2", TTL, false)
            .unwrap(),
        CasOutcome::Changed(b"v1".to_vec())
    );
    let token = LockToken::random();
    store
        .acquire_and_read(&mut conn, &token, TTL, false, false)
        .unwrap();
    assert!(matches!(
        store
            .compare_and_set(&mut conn, b"v1", b"v2", TTL, false)
            .unwrap(),
        CasOutcome::Locked(Some(_))
    ));
    store.release(&mut conn, &token).unwrap();
    assert_eq!(
        store
            .compare_and_set(&mut conn, b"v1", b"v2", TTL, false)
            .unwrap(),
        CasOutcome::Written
    );
}

#[test]
fn handler_round_trip_costs_read_and_write_and_keeps_binary_data() {
    let path = save_path();
    let mut h = SessionHandler::open(&path, settings(LockMode::Locked), php()).unwrap();
    let mut generated = Some(b"roundtrip1".to_vec());
    let id = h
        .create_id(&mut || generated.take(), ReadIntent::ReadWrite, TTL)
        .unwrap();
    assert_eq!(h.read(&id, ReadIntent::ReadWrite).unwrap(), b"");
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i % 256) as u8).collect();
    h.write(&id, &big, TTL).unwrap();
    h.close().unwrap();
    let mut h = SessionHandler::open(&path, settings(LockMode::Locked), php()).unwrap();
    assert!(h.validate_id(&id, ReadIntent::ReadWrite).unwrap());
    assert_eq!(h.read(&id, ReadIntent::ReadWrite).unwrap(), big);
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
fn a_release_wakes_a_blocked_waiter() {
    let path = save_path();
    let k = keys(&path, "handoff1");
    let store = SessionStore { keys: &k };
    let mut holder_conn = connection(&path);
    let holder = LockToken::random();
    store
        .acquire_and_read(&mut holder_conn, &holder, TTL, false, false)
        .unwrap();
    let exists = |conn: &mut rustredis::pool::PooledConnection, key: &[u8]| -> bool {
        redis::cmd("EXISTS").arg(key).query(conn).unwrap()
    };
    assert!(!exists(&mut holder_conn, &k.waiting), "nobody waits yet");
    let waiter = {
        let path = path.clone();
        thread::spawn(move || {
            let k = keys(&path, "handoff1");
            let store = SessionStore { keys: &k };
            let mut conn = connection(&path);
            let token = LockToken::random();
            let held = store
                .acquire_and_read(&mut conn, &token, TTL, false, false)
                .unwrap();
            assert!(matches!(held, AcquireOutcome::Held(_)));
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
    assert!(store
        .write_and_release(&mut holder_conn, &holder, b"from holder", TTL)
        .unwrap());
    assert!(
        waiter.join().unwrap(),
        "the blocked waiter must receive the release signal"
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
        Err(SessionError::LockTimeout { waited }) => assert!(waited >= Duration::from_millis(200)),
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
    assert_eq!(waiter.read(&id, ReadIntent::ReadWrite).unwrap(), b"a|i:1;");
    assert!(waiter
        .take_warnings()
        .iter()
        .any(|w| w.contains("read-only")));
    assert_eq!(
        waiter.write(&id, b"a|i:2;", TTL),
        Err(SessionError::ReadOnly)
    );
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
    assert_eq!(reader.read(&id, ReadIntent::ReadOnly).unwrap(), b"a|i:1;");
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
        assert_eq!(h.read(&id, ReadIntent::ReadWrite).unwrap(), b"n|i:0;");
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
    assert!(e.take_warnings().iter().any(|w| w.contains("'n'")));
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
        assert_eq!(
            h.read(id, ReadIntent::ReadWrite),
            Err(SessionError::InvalidId)
        );
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
                let mut data = h.read(&id, ReadIntent::ReadWrite).unwrap();
                data.extend_from_slice(format!("k{i}|i:{i};").as_bytes());
                barrier.wait();
                let result = h.write(&id, &data, TTL);
                h.close().unwrap();
                result
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), Ok(()));
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
