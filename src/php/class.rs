//! `RustRedis\SessionHandler`: the same handler as a PHP object, for frameworks that drive a
//! `SessionHandlerInterface` themselves instead of calling session_start() (Laravel), or that
//! want a handler service (Symfony's `framework.session.handler_id`).
//!
//! Each object owns one [`SessionHandler`], opened on first use with the options it was built
//! with (any `rustredis.*` setting by its short name, `save_path`, `serializer`, `ttl`); options
//! it was not given come from php.ini. `read` locks, `write` saves and releases, `destroy`
//! deletes and releases, and whatever lock is still held is released by `close`, by the next
//! `read` (a long-running worker such as Octane reuses the object for its next request) and when
//! the object is freed (at the end of the request at the latest).

use std::time::Duration;

use ext_php_rs::binary::Binary;
use ext_php_rs::class::RegisteredClass;
use ext_php_rs::ffi as zend;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendHashTable, ZendStr, Zval};
use ext_php_rs::zend::ClassEntry;

use super::{
    caller, current_serializer, guarded, ini_string, php_generated_id, request_description,
    session_ttl, warn, warning_texts,
};
use crate::codec::SessionSerializer;
use crate::config::Settings;
use crate::protocol::sha1_hex;
use crate::session::{Caller, SessionError, SessionHandler};
use crate::sys;

fn interface(entry: *mut sys::zend_class_entry) -> &'static ClassEntry {
    // SAFETY: ext/session sets these in its MINIT, which runs before ours (we declare the
    // dependency), and never frees them; the class registration that calls this runs in MINIT.
    unsafe { &*entry.cast::<ClassEntry>() }
}

fn session_handler_interface() -> &'static ClassEntry {
    // SAFETY: reading a pointer-sized extern static that ext/session initialised.
    interface(unsafe { sys::php_session_iface_entry })
}

fn session_id_interface() -> &'static ClassEntry {
    // SAFETY: as above.
    interface(unsafe { sys::php_session_id_iface_entry })
}

fn session_update_timestamp_interface() -> &'static ClassEntry {
    // SAFETY: as above.
    interface(unsafe { sys::php_session_update_timestamp_iface_entry })
}

/// A fresh id made as PHP makes them.
fn generated_id() -> Option<Vec<u8>> {
    // SAFETY: php_session_create_id does not read mod_data; null is what PHP passes when no
    // module is open.
    unsafe { php_generated_id(std::ptr::null_mut()) }
}

/// Option names the constructor accepts besides the `rustredis.*` settings.
const OWN_OPTIONS: &[&str] = &["save_path", "serializer", "ttl"];

/// Declares `read(): string|false` (ext-php-rs cannot spell that union; without it PHP deprecates
/// the class against SessionHandlerInterface's tentative type) and then implements ext/session's
/// three interfaces. Runs in MINIT right after ext-php-rs registered the class.
pub(super) fn implement_interfaces() -> Result<(), String> {
    let ce = std::ptr::from_ref(PhpSessionHandler::get_metadata().ce()).cast_mut();
    // SAFETY: MINIT, single-threaded: the class was just registered and nothing has used it
    // yet. Its internal methods' arg_info point past their return-type entry (arg_info[-1]),
    // in tables ext-php-rs keeps alive for the life of the process.
    unsafe {
        let read =
            zend::zend_hash_str_find_ptr_lc(&raw const (*ce).function_table, c"read".as_ptr(), 4)
                .cast::<zend::zend_function>();
        if read.is_null() {
            return Err("RustRedis\\SessionHandler has no read method".into());
        }
        let returns = (*read).internal_function.arg_info.sub(1);
        (*returns).type_.ptr = std::ptr::null_mut();
        (*returns).type_.type_mask = (1 << zend::IS_STRING) | (1 << zend::IS_FALSE);
        for iface in [
            session_handler_interface(),
            session_id_interface(),
            session_update_timestamp_interface(),
        ] {
            zend::zend_do_implement_interface(ce, std::ptr::from_ref(iface).cast_mut());
        }
    }
    Ok(())
}

#[php_class]
#[php(name = "RustRedis\\SessionHandler")]
pub struct PhpSessionHandler {
    /// Options given to the constructor, as strings.
    options: Vec<(String, String)>,
    handler: Option<SessionHandler>,
    /// What the last read returned, by id and SHA-1, so an unchanged write only renews the TTL.
    last_read: Option<(Vec<u8>, String)>,
    /// An id whose read failed: writing it would replace data this request never saw.
    failed_read: Option<Vec<u8>>,
}

impl PhpSessionHandler {
    fn option(&self, name: &str) -> Option<String> {
        self.options
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }

    fn settings(&self) -> (Settings, Vec<String>) {
        Settings::from_lookup(|name| {
            name.strip_prefix("rustredis.")
                .and_then(|short| self.option(short))
                .or_else(|| ini_string(name))
        })
    }

    fn ttl(&self) -> Duration {
        match self
            .option("ttl")
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            Some(seconds) => Duration::from_secs(seconds.max(1)),
            None => session_ttl(),
        }
    }

    /// The open handler, opened on first use; `path` is open()'s save path, used when the
    /// constructor was given none. Settings (and their warnings) are read when it opens and again
    /// at each `read`, where a request cycle starts (a long-running worker keeps the object).
    fn handler(
        &mut self,
        path: Option<&str>,
        warnings: &mut Vec<String>,
    ) -> Result<&mut SessionHandler, String> {
        if self.handler.is_none() {
            let (settings, setting_warnings) = self.settings();
            warnings.extend(setting_warnings);
            let save_path = self
                .option("save_path")
                .or_else(|| path.map(str::to_owned))
                .or_else(|| ini_string("session.save_path"))
                .unwrap_or_default();
            let serializer = match self.option("serializer") {
                Some(name) => SessionSerializer::from_ini(&name),
                None => current_serializer(),
            };
            let mut opened = SessionHandler::open(&save_path, settings, serializer)
                .map_err(|e| format!("RustRedis\\SessionHandler: {e}"))?;
            opened.set_request(&request_description());
            self.handler = Some(opened);
        }
        Ok(self.handler.as_mut().expect("opened above"))
    }

    /// The handler with the settings read anew (the start of a request cycle).
    fn refreshed_handler(
        &mut self,
        warnings: &mut Vec<String>,
    ) -> Result<&mut SessionHandler, String> {
        if self.handler.is_some() {
            let (settings, setting_warnings) = self.settings();
            warnings.extend(setting_warnings);
            if let Some(handler) = &mut self.handler {
                handler.reopen(settings);
                handler.set_request(&request_description());
            }
        }
        self.handler(None, warnings)
    }

    /// Runs `op` on the handler: its warnings and error become PHP warnings, a panic a warning
    /// and `failure`.
    fn run<T>(
        &mut self,
        method: &str,
        failure: T,
        op: impl FnOnce(&mut Self, &mut Vec<String>) -> Result<T, String>,
    ) -> T
    where
        T: Clone,
    {
        let fallback = failure.clone();
        guarded(method, fallback, || {
            let mut warnings = Vec::new();
            let result = op(self, &mut warnings);
            if let Some(handler) = &mut self.handler {
                warnings.extend(warning_texts(handler));
            }
            match result {
                Ok(value) => (value, warnings),
                Err(message) => {
                    warnings.push(message);
                    (failure, warnings)
                }
            }
        })
    }

    fn wrapper_caller() -> Caller {
        // Frameworks validate ids by reading them: an id PHP would never generate reads as an
        // empty session (see SessionHandler::read); read_and_close still counts when a
        // session_start() is on the stack (Symfony's handler service).
        Caller {
            through_wrapper: true,
            ..caller()
        }
    }
}

#[php_impl]
impl PhpSessionHandler {
    /// `new RustRedis\SessionHandler(['save_path' => 'tcp://…', 'locking' => 'on', 'ttl' => 7200])`.
    pub fn __construct(options: Option<&ZendHashTable>) -> Self {
        let mut own = Vec::new();
        if let Some(options) = options {
            for (key, value) in options {
                let name = key.to_string();
                let known = OWN_OPTIONS.contains(&name.as_str())
                    || crate::config::SETTINGS
                        .iter()
                        .any(|s| s.name.strip_prefix("rustredis.") == Some(name.as_str()));
                match value.coerce_to_string() {
                    Some(value) if known => own.push((name, value)),
                    _ if !known => warn(&format!(
                        "RustRedis\\SessionHandler: unknown option '{name}' ignored (known: {}, and every \
                         rustredis.* setting without its prefix)",
                        OWN_OPTIONS.join(", ")
                    )),
                    _ => warn(&format!(
                        "RustRedis\\SessionHandler: option '{name}' must be a string or a number; ignored"
                    )),
                }
            }
        }
        PhpSessionHandler {
            options: own,
            handler: None,
            last_read: None,
            failed_read: None,
        }
    }

    pub fn open(&mut self, path: String, _name: String) -> bool {
        self.run("open", false, |this, warnings| {
            this.handler(Some(&path), warnings)?;
            Ok(true)
        })
    }

    pub fn close(&mut self) -> bool {
        self.run("close", false, |this, _| {
            this.last_read = None;
            match &mut this.handler {
                Some(handler) => handler.close().map(|()| true).map_err(|e| e.to_string()),
                None => Ok(true),
            }
        })
    }

    /// The session's data, or false (with a warning) when it could not be read.
    pub fn read(&mut self, id: Binary<u8>) -> Zval {
        let id: Vec<u8> = id.into();
        let caller = Self::wrapper_caller();
        let data = self.run("read", None, |this, warnings| {
            this.last_read = None;
            this.failed_read = None;
            let handler = this.refreshed_handler(warnings)?;
            // The session of a previous request cycle of this object (a long-running worker)
            // is released by this read, which replaces it.
            match handler.read(&id, caller) {
                Ok(data) => {
                    this.last_read = Some((id.clone(), sha1_hex(&data)));
                    Ok(Some(data))
                }
                Err(err) => {
                    this.failed_read = Some(id.clone());
                    Err(err.to_string())
                }
            }
        });
        let mut zval = Zval::new();
        match data {
            Some(data) => {
                // One copy, straight into the engine's string (the Arc is shared with the
                // snapshot the write compares against).
                zval.set_zend_string(ZendStr::new(&*data, false));
            }
            None => zval.set_bool(false),
        }
        zval
    }

    pub fn write(&mut self, id: Binary<u8>, data: Binary<u8>) -> bool {
        let (id, data): (Vec<u8>, Vec<u8>) = (id.into(), data.into());
        self.run("write", false, |this, warnings| {
            if this.failed_read.as_deref() == Some(id.as_slice()) {
                return Err(SessionError::ReadFailedBefore.to_string());
            }
            let unchanged = this
                .last_read
                .as_ref()
                .is_some_and(|(read_id, sha)| *read_id == id && *sha == sha1_hex(&data));
            let ttl = this.ttl();
            let handler = this.handler(None, warnings)?;
            let result = if unchanged {
                handler.update_timestamp(&id, &data, ttl)
            } else {
                handler.write(&id, &data, ttl)
            };
            this.last_read = None;
            result.map(|()| true).map_err(|e| e.to_string())
        })
    }

    pub fn destroy(&mut self, id: Binary<u8>) -> bool {
        let id: Vec<u8> = id.into();
        self.run("destroy", false, |this, warnings| {
            this.last_read = None;
            let handler = this.handler(None, warnings)?;
            handler
                .destroy(&id)
                .map(|()| true)
                .map_err(|e| e.to_string())
        })
    }

    /// Redis expires sessions by TTL: nothing to collect.
    pub fn gc(&mut self, _max_lifetime: i64) -> i64 {
        0
    }

    #[php(name = "create_sid")]
    pub fn create_sid(&mut self) -> Binary<u8> {
        let intent = caller().intent;
        let ttl = self.ttl();
        let created = self.run("create_sid", None, |this, warnings| {
            let handler = this.handler(None, warnings)?;
            let id = handler
                .create_id(&mut generated_id, intent, ttl)
                .map_err(|e| e.to_string())?;
            Ok(Some(id))
        });
        Binary::from(created.or_else(generated_id).unwrap_or_default())
    }

    #[php(name = "validateId")]
    pub fn validate_id(&mut self, id: Binary<u8>) -> bool {
        let id: Vec<u8> = id.into();
        let intent = caller().intent;
        self.run("validateId", false, |this, warnings| {
            let handler = this.handler(None, warnings)?;
            handler.validate_id(&id, intent).map_err(|e| e.to_string())
        })
    }

    #[php(name = "updateTimestamp")]
    pub fn update_timestamp(&mut self, id: Binary<u8>, data: Binary<u8>) -> bool {
        let (id, data): (Vec<u8>, Vec<u8>) = (id.into(), data.into());
        let ttl = self.ttl();
        self.run("updateTimestamp", false, |this, warnings| {
            let handler = this.handler(None, warnings)?;
            handler
                .update_timestamp(&id, &data, ttl)
                .map(|()| true)
                .map_err(|e| e.to_string())
        })
    }
}

impl Drop for PhpSessionHandler {
    /// The end of the request (or of the object): give back any lock still held. Nothing may
    /// be raised here (PHP may be shutting down), so failures are dropped; the lock's TTL
    /// bounds them.
    fn drop(&mut self) {
        if let Some(handler) = &mut self.handler {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.close()));
        }
    }
}
