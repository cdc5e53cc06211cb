//! What the current request's sessions did (`rustredis_session_info()`). One record per thread:
//! a PHP process or thread runs one request at a time, and the boundary resets it when a request
//! starts.

use std::cell::RefCell;
use std::time::Duration;

/// The current request, as `rustredis_session_info()` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// How the last session was read: "locked", "read_and_close", "optimistic", "unlocked",
    /// "readonly" (after a lock timeout); "" before any read.
    pub mode: &'static str,
    /// Locks this request holds right now.
    pub locks_held: u32,
    /// Time spent waiting for locks held by other requests.
    pub waited: Duration,
    /// Attempts that found a lock held by another request.
    pub held_attempts: u32,
    /// Commands sent to Redis (each one round trip).
    pub round_trips: u64,
    /// The holder the last wait found, as shown in warnings ("" when none).
    pub waited_for: String,
}

thread_local! {
    static CURRENT: RefCell<RequestInfo> = RefCell::new(RequestInfo::default());
}

pub fn current() -> RequestInfo {
    CURRENT.with(|info| info.borrow().clone())
}

/// A request starts: forget the previous one's figures (held locks are counted by their guards,
/// which outlive no request).
pub fn reset() {
    CURRENT.with(|info| {
        let locks_held = info.borrow().locks_held;
        *info.borrow_mut() = RequestInfo {
            locks_held,
            ..RequestInfo::default()
        };
    });
}

pub(super) fn update(change: impl FnOnce(&mut RequestInfo)) {
    CURRENT.with(|info| change(&mut info.borrow_mut()));
}
