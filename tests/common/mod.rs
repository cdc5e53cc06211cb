//! Helpers shared by the integration tests: a private key prefix per test, connections and
//! handlers against the Redis named by `RUSTREDIS_TEST_REDIS` (scripts/test.sh starts one and sets
//! it). Without it the tests fail: they never skip.
#![allow(dead_code)]

use std::time::Duration;

use rustredis::codec::SessionSerializer;
use rustredis::config::{LockMode, SavePath, Settings};
use rustredis::keys::SessionKeys;
use rustredis::session::{ReadIntent, SessionHandler};

pub const TTL: Duration = Duration::from_secs(60);

pub fn redis_base() -> String {
    std::env::var("RUSTREDIS_TEST_REDIS").expect(
        "RUSTREDIS_TEST_REDIS must name a running Redis (run scripts/test.sh, which starts one)",
    )
}

/// A save_path with a prefix of its own, so tests running in parallel never share keys.
pub fn save_path() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).unwrap();
    let tag: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let base = redis_base();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}prefix=rtest_{tag}:")
}

pub fn connection(path: &str) -> rustredis::pool::PooledConnection {
    let parsed = SavePath::parse(path).unwrap();
    rustredis::pool::pool_for(
        &parsed.target,
        Duration::from_secs(1),
        Duration::from_secs(3),
        Settings::default().max_data_bytes,
    )
    .get()
    .unwrap()
}

pub fn keys(path: &str, id: &str) -> SessionKeys {
    SessionKeys::new(&SavePath::parse(path).unwrap().prefix, id.as_bytes())
}

/// A fresh prefix, the keys of session `id` under it, and a connection to the test Redis.
pub fn fixture(id: &str) -> (String, SessionKeys, rustredis::pool::PooledConnection) {
    let path = save_path();
    let k = keys(&path, id);
    let conn = connection(&path);
    (path, k, conn)
}

/// What Redis holds for session `id`.
pub fn stored_session(path: &str, id: &str) -> Vec<u8> {
    redis::cmd("GET")
        .arg(&keys(path, id).data)
        .query(&mut connection(path))
        .unwrap()
}

/// Writes `data` as session `id` through a whole handler cycle.
pub fn seed(path: &str, id: &[u8], mode: LockMode, data: &[u8]) {
    let mut h = SessionHandler::open(path, settings(mode), php()).unwrap();
    h.read(id, ReadIntent::ReadWrite).unwrap();
    h.write(id, data, TTL).unwrap();
    h.close().unwrap();
}

pub fn settings(mode: LockMode) -> Settings {
    Settings {
        lock_mode: mode,
        ..Settings::default()
    }
}

pub fn php() -> SessionSerializer {
    SessionSerializer::from_ini("php")
}
