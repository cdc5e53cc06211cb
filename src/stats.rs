//! Per-process counters (`rustredis_stats()`, phpinfo): what this process's sessions did since it
//! started or since the last reset. Plain atomics, so every thread of a ZTS process counts into
//! them and a forked child starts from its parent's figures.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::RedisCause;

/// One counter.
pub struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn incr(&self) {
        self.add(1);
    }

    fn max(&self, n: u64) {
        self.0.fetch_max(n, Ordering::Relaxed);
    }

    fn read(&self, reset: bool) -> u64 {
        if reset {
            self.0.swap(0, Ordering::Relaxed)
        } else {
            self.0.load(Ordering::Relaxed)
        }
    }
}

/// Upper bounds (ms) of the lock-wait histogram's buckets; the last bucket is everything above.
pub const WAIT_BUCKETS_MS: [u64; 5] = [10, 100, 1_000, 10_000, 60_000];

/// Every counter. Names are those `rustredis_stats()` returns.
pub struct Stats {
    pub sessions_opened: Counter,
    pub locks_taken: Counter,
    pub lock_waits: Counter,
    pub lock_wait_ms_total: Counter,
    lock_wait_ms_max: Counter,
    lock_wait_histogram: [Counter; WAIT_BUCKETS_MS.len() + 1],
    pub lock_timeouts: Counter,
    pub locks_lost: Counter,
    pub waiters_turned_away: Counter,
    pub lease_renewals: Counter,
    pub lease_renewal_errors: Counter,
    pub lease_max_hold_reached: Counter,
    pub locks_released_late: Counter,
    pub read_and_close_reads: Counter,
    pub optimistic_merges: Counter,
    pub conflicts_keys: Counter,
    pub conflicts_whole_session: Counter,
    pub conflicts_too_many_writers: Counter,
    pub overridden_keys: Counter,
    pub redis_errors_timeout: Counter,
    pub redis_errors_connection: Counter,
    pub redis_errors_protocol: Counter,
    pub redis_errors_server: Counter,
    pub connections_opened: Counter,
    pub reconnects: Counter,
    pub bytes_read: Counter,
    pub bytes_written: Counter,
}

impl Stats {
    const fn new() -> Stats {
        Stats {
            sessions_opened: Counter::new(),
            locks_taken: Counter::new(),
            lock_waits: Counter::new(),
            lock_wait_ms_total: Counter::new(),
            lock_wait_ms_max: Counter::new(),
            lock_wait_histogram: [const { Counter::new() }; WAIT_BUCKETS_MS.len() + 1],
            lock_timeouts: Counter::new(),
            locks_lost: Counter::new(),
            waiters_turned_away: Counter::new(),
            lease_renewals: Counter::new(),
            lease_renewal_errors: Counter::new(),
            lease_max_hold_reached: Counter::new(),
            locks_released_late: Counter::new(),
            read_and_close_reads: Counter::new(),
            optimistic_merges: Counter::new(),
            conflicts_keys: Counter::new(),
            conflicts_whole_session: Counter::new(),
            conflicts_too_many_writers: Counter::new(),
            overridden_keys: Counter::new(),
            redis_errors_timeout: Counter::new(),
            redis_errors_connection: Counter::new(),
            redis_errors_protocol: Counter::new(),
            redis_errors_server: Counter::new(),
            connections_opened: Counter::new(),
            reconnects: Counter::new(),
            bytes_read: Counter::new(),
            bytes_written: Counter::new(),
        }
    }
}

pub static STATS: Stats = Stats::new();

/// A value in a snapshot: a number, or a list of named numbers (the histogram and the groups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stat {
    Number(u64),
    Group(Vec<(String, u64)>),
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Stats {
    /// A request that found the lock held waited this long before it got in or gave up.
    pub fn record_wait(&self, waited: Duration) {
        let ms = millis(waited);
        self.lock_waits.incr();
        self.lock_wait_ms_total.add(ms);
        self.lock_wait_ms_max.max(ms);
        let bucket = WAIT_BUCKETS_MS
            .iter()
            .position(|bound| ms <= *bound)
            .unwrap_or(WAIT_BUCKETS_MS.len());
        self.lock_wait_histogram[bucket].incr();
    }

    pub fn record_cause(&self, cause: &RedisCause) {
        match cause {
            RedisCause::Timeout { .. } | RedisCause::ConnectTimeout { .. } => {
                self.redis_errors_timeout.incr()
            }
            RedisCause::Tls { .. } | RedisCause::TlsFile { .. } => {
                self.redis_errors_connection.incr()
            }
            RedisCause::Refused { .. } | RedisCause::AuthRequired => {
                self.redis_errors_server.incr()
            }
            RedisCause::ReplyTooLarge { .. }
            | RedisCause::TooManyElements { .. }
            | RedisCause::Malformed(_) => self.redis_errors_protocol.incr(),
            RedisCause::Dropped(_) => self.redis_errors_connection.incr(),
            RedisCause::Failed(err) => self.record_redis_error(err),
        }
    }

    pub fn record_redis_error(&self, err: &redis::RedisError) {
        let counter = if err.is_timeout() {
            &self.redis_errors_timeout
        } else if err.is_io_error() || err.is_connection_dropped() || err.is_connection_refusal() {
            &self.redis_errors_connection
        } else if matches!(
            err.kind(),
            redis::ErrorKind::Parse | redis::ErrorKind::UnexpectedReturnType
        ) {
            &self.redis_errors_protocol
        } else {
            &self.redis_errors_server
        };
        counter.incr();
    }

    /// Every counter by name, in a stable order; `reset` zeroes each as it is read.
    pub fn snapshot(&self, reset: bool) -> Vec<(&'static str, Stat)> {
        let n = |c: &Counter| Stat::Number(c.read(reset));
        let group = |items: &[(&str, &Counter)]| {
            Stat::Group(
                items
                    .iter()
                    .map(|(name, c)| (name.to_string(), c.read(reset)))
                    .collect(),
            )
        };
        let mut histogram: Vec<(String, u64)> = WAIT_BUCKETS_MS
            .iter()
            .zip(&self.lock_wait_histogram)
            .map(|(bound, c)| (format!("le_{bound}"), c.read(reset)))
            .collect();
        histogram.push((
            "inf".to_string(),
            self.lock_wait_histogram[WAIT_BUCKETS_MS.len()].read(reset),
        ));
        vec![
            ("pid", Stat::Number(u64::from(std::process::id()))),
            ("sessions_opened", n(&self.sessions_opened)),
            ("locks_taken", n(&self.locks_taken)),
            ("lock_waits", n(&self.lock_waits)),
            ("lock_wait_ms_total", n(&self.lock_wait_ms_total)),
            ("lock_wait_ms_max", n(&self.lock_wait_ms_max)),
            ("lock_wait_histogram_ms", Stat::Group(histogram)),
            ("lock_timeouts", n(&self.lock_timeouts)),
            ("locks_lost", n(&self.locks_lost)),
            ("waiters_turned_away", n(&self.waiters_turned_away)),
            ("lease_renewals", n(&self.lease_renewals)),
            ("lease_renewal_errors", n(&self.lease_renewal_errors)),
            ("lease_max_hold_reached", n(&self.lease_max_hold_reached)),
            ("locks_released_late", n(&self.locks_released_late)),
            ("read_and_close_reads", n(&self.read_and_close_reads)),
            ("optimistic_merges", n(&self.optimistic_merges)),
            (
                "conflicts",
                group(&[
                    ("keys", &self.conflicts_keys),
                    ("whole_session", &self.conflicts_whole_session),
                    ("too_many_writers", &self.conflicts_too_many_writers),
                    ("overridden_keys", &self.overridden_keys),
                ]),
            ),
            (
                "redis_errors",
                group(&[
                    ("timeout", &self.redis_errors_timeout),
                    ("connection", &self.redis_errors_connection),
                    ("protocol", &self.redis_errors_protocol),
                    ("server", &self.redis_errors_server),
                ]),
            ),
            ("connections_opened", n(&self.connections_opened)),
            ("reconnects", n(&self.reconnects)),
            ("bytes_read", n(&self.bytes_read)),
            ("bytes_written", n(&self.bytes_written)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_land_in_their_bucket_and_reset_zeroes() {
        let stats = Stats::new();
        stats.record_wait(Duration::from_millis(5));
        stats.record_wait(Duration::from_millis(150));
        stats.record_wait(Duration::from_secs(100));
        let snap = stats.snapshot(true);
        let get = |name: &str| snap.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(get("lock_waits"), Stat::Number(3));
        assert_eq!(get("lock_wait_ms_max"), Stat::Number(100_000));
        let Stat::Group(h) = get("lock_wait_histogram_ms") else {
            panic!()
        };
        let counts: Vec<u64> = h.iter().map(|(_, c)| *c).collect();
        assert_eq!(counts, vec![1, 0, 1, 0, 0, 1]);
        assert_eq!(
            stats
                .snapshot(false)
                .into_iter()
                .find(|(n, _)| *n == "lock_waits")
                .unwrap()
                .1,
            Stat::Number(0)
        );
    }
}
