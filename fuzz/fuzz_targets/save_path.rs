//! session.save_path (SavePath::parse) and the rustredis.* settings (Settings::from_lookup) on
//! arbitrary text.
//!
//! Checks beyond "does not panic": a parsed path has a port, a database and timeouts within
//! their ranges and no empty password; a refused one says why; every setting ends up within
//! its documented range whatever the INI text, and every warning names its setting.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rustredis::config::{Endpoint, SavePath, Settings, AUTO_MAX_HOLD_CAP, SETTINGS};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match SavePath::parse(&text) {
        Ok(path) => {
            let _ = path.target.endpoint.to_string();
            if let Endpoint::Tcp { port, host, .. } = &path.target.endpoint {
                assert!(*port > 0 && !host.is_empty());
            }
            assert!(path.target.database >= 0);
            for timeout in [path.target.connect_timeout, path.target.read_timeout]
                .into_iter()
                .flatten()
            {
                assert!(timeout >= Duration::from_millis(1), "{timeout:?}");
                assert!(timeout <= Duration::from_secs(86_400 * 365), "{timeout:?}");
            }
            assert_ne!(path.target.password.as_deref(), Some(""));
        }
        Err(err) => {
            let message = err.to_string();
            assert!(message.starts_with("invalid session.save_path: ") && message.len() > 27);
        }
    }

    // The lines of the input are the settings' values, in SETTINGS order, then
    // max_execution_time (which the lock_max_hold default follows).
    let lines: Vec<&str> = text.split('\n').collect();
    let (settings, warnings) = Settings::from_lookup(|name| {
        let index = SETTINGS
            .iter()
            .position(|s| s.name == name)
            .or((name == "max_execution_time").then_some(SETTINGS.len()))?;
        lines.get(index).map(|line| line.to_string())
    });
    let ms = Duration::from_millis;
    assert!((ms(100)..=ms(86_400_000)).contains(&settings.lock_ttl));
    assert!(settings.lock_wait <= ms(86_400_000));
    assert!((ms(1)..=ms(600_000)).contains(&settings.connect_timeout));
    assert!((ms(1)..=ms(600_000)).contains(&settings.read_timeout));
    assert!((1..=512 * 1024 * 1024).contains(&settings.max_data_bytes));
    assert!(settings.max_waiters <= 100_000);
    assert!(!settings.lock_max_hold.is_zero());
    assert!(settings.lock_max_hold <= AUTO_MAX_HOLD_CAP.max(ms(86_400_000)));
    assert!(settings.slow_lock.is_none_or(|d| !d.is_zero()));
    for warning in &warnings {
        assert!(warning.starts_with("rustredis."), "{warning}");
    }
});
