//! `rustredis_stats()` and `rustredis_session_info()`, and the counters in phpinfo().

use std::ffi::CString;

use ext_php_rs::boxed::ZBox;
use ext_php_rs::ffi as zend;
use ext_php_rs::prelude::*;
use ext_php_rs::types::ZendHashTable;

use super::guarded;
use crate::session::info;
use crate::stats::{Stat, STATS};

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn number(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `rustredis_stats(bool $reset = false): array`: this process's counters since it started (or
/// since the last reset, which zeroes them as they are read).
#[php_function]
#[php(defaults(reset = false))]
pub fn rustredis_stats(reset: bool) -> ZBox<ZendHashTable> {
    guarded("rustredis_stats", ZendHashTable::new(), || {
        let mut table = ZendHashTable::new();
        for (name, stat) in STATS.snapshot(reset) {
            let _ = match stat {
                Stat::Number(n) => table.insert(name, number(n)),
                Stat::Group(items) => {
                    let mut group = ZendHashTable::new();
                    for (key, n) in items {
                        let _ = group.insert(key.as_str(), number(n));
                    }
                    table.insert(name, group)
                }
            };
        }
        (table, Vec::new())
    })
}

/// `rustredis_session_info(): array`: what the current request's sessions did so far.
#[php_function]
pub fn rustredis_session_info() -> ZBox<ZendHashTable> {
    guarded("rustredis_session_info", ZendHashTable::new(), || {
        let current = info::current();
        let mut table = ZendHashTable::new();
        let mode = if current.mode.is_empty() {
            "none"
        } else {
            current.mode
        };
        let _ = table.insert("mode", mode);
        let _ = table.insert("holds_lock", current.locks_held > 0);
        let _ = table.insert("waited_ms", ms(current.waited));
        let _ = table.insert("attempts", i64::from(current.held_attempts));
        let _ = table.insert("round_trips", number(current.round_trips));
        let _ = table.insert("waited_for", current.waited_for.as_str());
        (table, Vec::new())
    })
}

/// Adds the functions to the module.
pub(super) fn register(builder: ModuleBuilder) -> ModuleBuilder {
    builder
        .function(wrap_function!(rustredis_stats))
        .function(wrap_function!(rustredis_session_info))
}

/// The counters as phpinfo() rows.
pub(super) fn print_stats_rows() {
    let row = |name: &str, value: &str| {
        let (name, value) = (
            CString::new(name).unwrap_or_default(),
            CString::new(value).unwrap_or_default(),
        );
        // SAFETY: two NUL-terminated strings that outlive the call, inside phpinfo()'s table.
        unsafe { zend::php_info_print_table_row(2, name.as_ptr(), value.as_ptr()) };
    };
    for (name, stat) in STATS.snapshot(false) {
        let value = match stat {
            Stat::Number(n) => n.to_string(),
            Stat::Group(items) => items
                .iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        row(&format!("stats: {name}"), &value);
    }
}
