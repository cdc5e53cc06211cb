//! The PHP boundary: the module entry, the INI table, the `ps_module` callbacks, the
//! `RustRedis\SessionHandler` class (`class.rs`) and the look at the engine's call stack
//! (`frames.rs`). This module is the only one allowed `unsafe`; every unsafe operation has its own
//! block with a SAFETY line.
//!
//! Every callback runs its body under `catch_unwind`, so a Rust panic becomes a PHP warning and a
//! FAILURE return instead of unwinding into C. Warnings are raised last, after the handler, its
//! pooled connections and its guards are released, because a user error handler may longjmp.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::OnceLock;
use std::time::Duration;

use ext_php_rs::boxed::ZBox;
use ext_php_rs::builders::{ModuleBuilder, ModuleStartup};
use ext_php_rs::error::php_error;
use ext_php_rs::ffi as zend;
use ext_php_rs::flags::ErrorType;
use ext_php_rs::types::ZendStr;
use ext_php_rs::zend::{ModuleAllocations, ModuleEntry, StaticModuleEntry};

use crate::codec::SessionSerializer;
use crate::config::{Settings, SETTINGS};
use crate::session::{SessionHandler, SessionResult};
use crate::sys;

// zend_result's values; PHP 8.6 no longer names them ZEND_RESULT_CODE_*.
const SUCCESS: sys::zend_result = 0;
const FAILURE: sys::zend_result = -1;

mod class;
mod frames;
mod functions;

use frames::caller;

extern "C" {
    // Exported by the php and php-fpm binaries but not part of ext-php-rs's bindings.
    fn zend_ini_string_ex(
        name: *const c_char,
        name_length: usize,
        orig: c_int,
        exists: *mut bool,
    ) -> *mut c_char;
    pub(crate) fn zval_get_long_func(op: *mut zend::zval, is_strict: bool) -> zend::zend_long;
    fn display_ini_entries(module: *mut zend::zend_module_entry);
    fn php_log_err_with_severity(message: *const c_char, syslog_type: c_int);
    fn zend_unregister_ini_entries(module_number: c_int);
}

// ---------------------------------------------------------------------------------------------
// Calling into Rust safely
// ---------------------------------------------------------------------------------------------

fn warn(message: &str) {
    // A NUL (say, in a conflicting session key's name) would make the C string, and so the
    // whole warning, disappear.
    php_error(
        &ErrorType::Warning,
        &format!("rustredis: {message}").replace('\0', "\\0"),
    );
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

thread_local! {
    /// Where this thread's last panic happened, as the panic hook saw it.
    static PANIC_LOCATION: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The process's panic hook (installed in MINIT, replacing Rust's default one): it only notes
/// where the panic happened. Rust's default hook prints "thread … panicked at …" to stderr, which
/// is php-fpm's log; every panic on a PHP thread is caught by [`guarded`] instead and reported as
/// one warning that carries the message and this location.
fn quiet_panic_hook(info: &std::panic::PanicHookInfo<'_>) {
    let location = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()));
    // try_with: a panic while the thread's locals are being destroyed must not panic again.
    let _ = PANIC_LOCATION.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = location;
        }
    });
}

/// Installs [`quiet_panic_hook`] once per process; it chains to no other hook.
fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| std::panic::set_hook(Box::new(quiet_panic_hook)));
}

/// The location the panic hook noted for this thread's last panic, taken out.
fn take_panic_location() -> Option<String> {
    PANIC_LOCATION
        .try_with(|slot| slot.try_borrow_mut().ok().and_then(|mut slot| slot.take()))
        .ok()
        .flatten()
}

/// Runs `body`, turning a panic into the text of a warning about `callback`.
fn catch_panic<T>(callback: &str, body: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(body)).map_err(|payload| {
        let location = take_panic_location()
            .map(|at| format!(" (at {at})"))
            .unwrap_or_default();
        format!(
            "internal error in {callback}, the call failed: {}{location}",
            panic_message(&*payload)
        )
    })
}

/// Runs one callback body. `body` returns the value for PHP and the warnings to show; a panic
/// gives `failure` and a warning naming the callback.
fn guarded<T>(callback: &str, failure: T, body: impl FnOnce() -> (T, Vec<String>)) -> T {
    let (value, warnings) = match catch_panic(callback, body) {
        Ok(result) => result,
        Err(message) => (failure, vec![message]),
    };
    for message in warnings {
        warn(&message);
    }
    value
}

/// The handler `open` stored in PHP's mod_data, if any.
///
/// # Safety
/// `mod_data` is the pointer ext/session passes to every callback: null, or pointing to null or to
/// a `SessionHandler` made by `ps_open`.
unsafe fn handler<'a>(mod_data: *mut *mut c_void) -> Option<&'a mut SessionHandler> {
    if mod_data.is_null() {
        return None;
    }
    // SAFETY: non-null, so it points to ext/session's `PS(mod_data)` slot, which holds null or
    // the Box ps_open leaked; nothing else aliases it while a callback runs.
    unsafe { (*mod_data).cast::<SessionHandler>().as_mut() }
}

/// The handler's pending warnings, as shown to PHP; its pending log lines go to PHP's error log.
fn warning_texts(handler: &mut SessionHandler) -> Vec<String> {
    for line in handler.take_log_lines() {
        log_line(&line);
    }
    handler
        .take_warnings()
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// One line in PHP's error log (error_log, or the SAPI's log: php-fpm's, stderr for the CLI).
fn log_line(line: &str) {
    const LOG_NOTICE: c_int = 5;
    let line = CString::new(line.replace('\0', "\\0")).unwrap_or_default();
    // SAFETY: a NUL-terminated string that outlives the call, on a PHP thread.
    unsafe { php_log_err_with_severity(line.as_ptr(), LOG_NOTICE) };
}

/// What this request runs, as its locks record it: `POST /checkout/pay` (a web SAPI: the path,
/// without the query string, which may carry secrets) or the script (the CLI).
fn request_description() -> String {
    let globals = ext_php_rs::zend::SapiGlobals::get();
    let info = globals.request_info();
    match (info.request_method(), info.request_uri()) {
        (Some(method), Some(uri)) => {
            let path = uri.split('?').next().unwrap_or_default();
            format!("{method} {path}")
        }
        _ => match info.path_translated() {
            Some(script) if !script.is_empty() => format!("php {script}"),
            _ => "php".to_string(),
        },
    }
}

/// Runs `op` on the open handler (None: no open handler) and turns its result into PHP's, with
/// the handler's warnings.
fn with_handler<T: Copy>(
    callback: &str,
    handler: Option<&mut SessionHandler>,
    failure: T,
    op: impl FnOnce(&mut SessionHandler) -> SessionResult<T>,
) -> T {
    guarded(callback, failure, || {
        let Some(handler) = handler else {
            return (
                failure,
                vec![format!("{callback} called without an open session")],
            );
        };
        let result = op(handler);
        let mut warnings = warning_texts(handler);
        match result {
            Ok(value) => (value, warnings),
            Err(err) => {
                warnings.push(err.to_string());
                (failure, warnings)
            }
        }
    })
}

/// # Safety
/// `s` is null or a valid `zend_string` for the duration of the borrow.
unsafe fn zend_bytes<'a>(s: *mut sys::zend_string) -> &'a [u8] {
    // SAFETY: as documented for this function.
    match unsafe { s.cast::<ZendStr>().as_ref() } {
        Some(s) => s.as_bytes(),
        None => &[],
    }
}

fn new_zend_string(bytes: &[u8]) -> *mut sys::zend_string {
    ZendStr::new(bytes, false).into_raw().cast()
}

fn ttl_from(maxlifetime: zend::zend_long) -> Duration {
    Duration::from_secs(u64::try_from(maxlifetime).unwrap_or(0).max(1))
}

fn ini_string(name: &str) -> Option<String> {
    let mut exists = false;
    // SAFETY: the name is passed with its length (no NUL needed); the engine returns a pointer to
    // the current value's NUL-terminated string or null.
    unsafe {
        let value = zend_ini_string_ex(name.as_ptr().cast(), name.len(), 0, &mut exists);
        (exists && !value.is_null()).then(|| CStr::from_ptr(value).to_string_lossy().into_owned())
    }
}

fn current_settings() -> (Settings, Vec<String>) {
    Settings::from_lookup(ini_string)
}

fn session_ttl() -> Duration {
    let seconds = ini_string("session.gc_maxlifetime")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(1440);
    ttl_from(seconds)
}

fn current_serializer() -> SessionSerializer {
    SessionSerializer::from_ini(
        ini_string("session.serialize_handler")
            .as_deref()
            .unwrap_or("php"),
    )
}

// ---------------------------------------------------------------------------------------------
// The ps_module callbacks
// ---------------------------------------------------------------------------------------------

/// open's body, shared by the two signatures PHP has had.
///
/// # Safety
/// `mod_data` is ext/session's pointer (see [`handler`]).
unsafe fn open(mod_data: *mut *mut c_void, save_path: &[u8]) -> sys::zend_result {
    guarded("open", FAILURE, || {
        let (settings, warnings) = current_settings();
        // SAFETY: mod_data is ext/session's pointer, as documented above.
        if let Some(existing) = unsafe { handler(mod_data) } {
            // open again without a close (session_reset, php-src #23800): keep what we hold.
            existing.reopen(settings);
            existing.set_request(&request_description());
            return (SUCCESS, warnings);
        }
        let save_path = String::from_utf8_lossy(save_path);
        match SessionHandler::open(&save_path, settings, current_serializer()) {
            Ok(_) if mod_data.is_null() => (
                FAILURE,
                vec!["open called without a place for its state".into()],
            ),
            Ok(mut opened) => {
                opened.set_request(&request_description());
                // ext/session skips write, close and gc when mod_data stays null.
                // SAFETY: mod_data is non-null and points to ext/session's slot, which holds null
                // (handler() found nothing in it).
                unsafe { *mod_data = Box::into_raw(Box::new(opened)).cast() };
                (SUCCESS, warnings)
            }
            Err(err) => (
                FAILURE,
                warnings.into_iter().chain([err.to_string()]).collect(),
            ),
        }
    })
}

/// PHP 8.2 – 8.5: `open(void **mod_data, const char *save_path, const char *session_name)`.
#[cfg(not(php_open_zend_string))]
unsafe extern "C" fn ps_open(
    mod_data: *mut *mut c_void,
    save_path: *const c_char,
    _session_name: *const c_char,
) -> sys::zend_result {
    let path = if save_path.is_null() {
        &[][..]
    } else {
        // SAFETY: ext/session passes a NUL-terminated save_path valid for the call.
        unsafe { CStr::from_ptr(save_path) }.to_bytes()
    };
    // SAFETY: mod_data comes from ext/session.
    unsafe { open(mod_data, path) }
}

/// PHP 8.6 (php-src 71096cd): `open(void **mod_data, zend_string *save_path, zend_string *name)`.
#[cfg(php_open_zend_string)]
unsafe extern "C" fn ps_open(
    mod_data: *mut *mut c_void,
    save_path: *mut sys::zend_string,
    _session_name: *mut sys::zend_string,
) -> sys::zend_result {
    // SAFETY: ext/session passes a live zend_string (or null) and its mod_data.
    unsafe { open(mod_data, zend_bytes(save_path)) }
}

unsafe extern "C" fn ps_close(mod_data: *mut *mut c_void) -> sys::zend_result {
    guarded("close", FAILURE, || {
        // SAFETY: mod_data comes from ext/session (see [`handler`]).
        if unsafe { handler(mod_data) }.is_none() {
            // Closed already: request shutdown and FrankenPHP's worker reset call close again.
            return (SUCCESS, Vec::new());
        }
        // SAFETY: the slot holds the Box ps_open leaked; taking it out and nulling the slot
        // makes a second close a no-op.
        let mut owned = unsafe {
            let owned = Box::from_raw((*mod_data).cast::<SessionHandler>());
            *mod_data = ptr::null_mut();
            owned
        };
        let result = owned.close();
        let mut warnings = warning_texts(&mut owned);
        drop(owned);
        match result {
            Ok(()) => (SUCCESS, warnings),
            Err(err) => {
                warnings.push(err.to_string());
                (FAILURE, warnings)
            }
        }
    })
}

unsafe extern "C" fn ps_read(
    mod_data: *mut *mut c_void,
    key: *mut sys::zend_string,
    val: *mut *mut sys::zend_string,
    _maxlifetime: zend::zend_long,
) -> sys::zend_result {
    // SAFETY: ext/session passes a live key for the call.
    let id = unsafe { zend_bytes(key) };
    let caller = caller();
    // SAFETY: mod_data comes from ext/session.
    let handler = unsafe { handler(mod_data) };
    with_handler("read", handler, FAILURE, |h| {
        let data = h.read(id, caller)?;
        // SAFETY: val is ext/session's out-parameter; it takes ownership of the new string.
        unsafe { *val = new_zend_string(&data) };
        Ok(SUCCESS)
    })
}

unsafe extern "C" fn ps_write(
    mod_data: *mut *mut c_void,
    key: *mut sys::zend_string,
    val: *mut sys::zend_string,
    maxlifetime: zend::zend_long,
) -> sys::zend_result {
    // SAFETY: ext/session passes live strings for the call.
    let (id, data) = unsafe { (zend_bytes(key), zend_bytes(val)) };
    // SAFETY: mod_data comes from ext/session.
    let handler = unsafe { handler(mod_data) };
    with_handler("write", handler, FAILURE, |h| {
        h.write(id, data, ttl_from(maxlifetime)).map(|()| SUCCESS)
    })
}

unsafe extern "C" fn ps_destroy(
    mod_data: *mut *mut c_void,
    key: *mut sys::zend_string,
) -> sys::zend_result {
    // SAFETY: ext/session passes a live key for the call.
    let id = unsafe { zend_bytes(key) };
    // SAFETY: mod_data comes from ext/session.
    let handler = unsafe { handler(mod_data) };
    with_handler("destroy", handler, FAILURE, |h| {
        h.destroy(id).map(|()| SUCCESS)
    })
}

unsafe extern "C" fn ps_gc(
    _mod_data: *mut *mut c_void,
    _maxlifetime: zend::zend_long,
    nrdels: *mut zend::zend_long,
) -> zend::zend_long {
    // Redis expires sessions by TTL; there is never anything to collect.
    if !nrdels.is_null() {
        // SAFETY: a non-null out-parameter of ext/session.
        unsafe { *nrdels = 0 };
    }
    0
}

/// A fresh id the way PHP makes them (session.sid_length, sid_bits_per_character).
///
/// # Safety
/// `mod_data` is ext/session's pointer; php_session_create_id does not dereference it.
unsafe fn php_generated_id(mod_data: *mut *mut c_void) -> Option<Vec<u8>> {
    // SAFETY: php_session_create_id returns null or a new zend_string we now own.
    unsafe {
        let raw = sys::php_session_create_id(mod_data);
        (!raw.is_null()).then(|| {
            let owned = ZBox::<ZendStr>::from_raw(raw.cast::<ZendStr>());
            owned.as_bytes().to_vec()
        })
    }
}

/// Never returns NULL: PHP 8.2's `SessionHandler::create_sid` returns our result without a check,
/// and session_start() turns NULL into an uncaught Error. When there is no open handler (a
/// wrapper whose open() never called parent::open(), php-src #23297) or anything fails, the id is
/// made as PHP's files handler makes it; read then reports what went wrong.
unsafe extern "C" fn ps_create_sid(mod_data: *mut *mut c_void) -> *mut sys::zend_string {
    let intent = caller().intent;
    // SAFETY: php_session_create_id does not dereference mod_data.
    let mut generate = || unsafe { php_generated_id(mod_data) };
    // SAFETY: mod_data comes from ext/session.
    let created = match unsafe { handler(mod_data) } {
        Some(handler) => with_handler("create_sid", Some(handler), ptr::null_mut(), |h| {
            let id = h.create_id(&mut generate, intent, session_ttl())?;
            Ok(new_zend_string(&id))
        }),
        None => ptr::null_mut(),
    };
    if !created.is_null() {
        return created;
    }
    new_zend_string(&generate().unwrap_or_default())
}

unsafe extern "C" fn ps_validate_sid(
    mod_data: *mut *mut c_void,
    key: *mut sys::zend_string,
) -> sys::zend_result {
    // SAFETY: ext/session passes a live key for the call.
    let id = unsafe { zend_bytes(key) };
    let intent = caller().intent;
    // SAFETY: mod_data comes from ext/session.
    let Some(handler) = (unsafe { handler(mod_data) }) else {
        // No open handler (php-src #23297): the id is unknown here, so PHP makes a new one.
        return FAILURE;
    };
    with_handler("validate_sid", Some(handler), FAILURE, |h| {
        Ok(if h.validate_id(id, intent)? {
            SUCCESS
        } else {
            FAILURE
        })
    })
}

unsafe extern "C" fn ps_update_timestamp(
    mod_data: *mut *mut c_void,
    key: *mut sys::zend_string,
    val: *mut sys::zend_string,
    maxlifetime: zend::zend_long,
) -> sys::zend_result {
    // SAFETY: ext/session passes live strings for the call.
    let (id, data) = unsafe { (zend_bytes(key), zend_bytes(val)) };
    // SAFETY: mod_data comes from ext/session.
    let handler = unsafe { handler(mod_data) };
    with_handler("update_timestamp", handler, FAILURE, |h| {
        h.update_timestamp(id, data, ttl_from(maxlifetime))
            .map(|()| SUCCESS)
    })
}

/// The one idiom for what the engine keeps pointers to (the session module, the module's
/// dependencies, the INI table): built once, never mutated afterwards, only read by the engine
/// and by us.
struct FfiStatic<T>(T);
// SAFETY: immutable after construction (see above): sharing it between threads only shares reads
// of static strings, function pointers and leaked tables.
unsafe impl<T> Sync for FfiStatic<T> {}
// SAFETY: as above; nothing in it is tied to the thread that built it.
unsafe impl<T> Send for FfiStatic<T> {}

/// ext/session keeps a pointer to this struct for the life of the process.
static SESSION_MODULE: FfiStatic<sys::ps_module_struct> = FfiStatic(sys::ps_module_struct {
    s_name: c"rustredis".as_ptr(),
    s_open: Some(ps_open),
    s_close: Some(ps_close),
    s_read: Some(ps_read),
    s_write: Some(ps_write),
    s_destroy: Some(ps_destroy),
    s_gc: Some(ps_gc),
    s_create_sid: Some(ps_create_sid),
    s_validate_sid: Some(ps_validate_sid),
    s_update_timestamp: Some(ps_update_timestamp),
});

// ---------------------------------------------------------------------------------------------
// The module: MINIT, MSHUTDOWN, MINFO
// ---------------------------------------------------------------------------------------------

/// The INI table, built once from `config::SETTINGS` so names and defaults live in one place.
fn ini_table() -> &'static [zend::zend_ini_entry_def] {
    static TABLE: OnceLock<FfiStatic<&'static [zend::zend_ini_entry_def]>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let leak = |s: &str| -> &'static CStr {
                Box::leak(
                    CString::new(s)
                        .expect("no NUL in setting")
                        .into_boxed_c_str(),
                )
            };
            let mut defs: Vec<zend::zend_ini_entry_def> = SETTINGS
                .iter()
                .map(|s| {
                    ext_php_rs::zend::IniEntryDef::new(
                        leak(s.name),
                        leak(s.default),
                        ext_php_rs::flags::IniEntryPermission::All,
                    )
                })
                .collect();
            defs.push(ext_php_rs::zend::IniEntryDef::end());
            FfiStatic(Box::leak(defs.into_boxed_slice()))
        })
        .0
}

unsafe extern "C" fn minit(module_type: c_int, module_number: c_int) -> zend::zend_result {
    install_panic_hook();
    guarded("startup", FAILURE, || {
        if let Some(startup) = STARTUP.lock().as_ref() {
            if let Err(err) = startup.startup(module_type, module_number) {
                return (FAILURE, vec![format!("could not register classes: {err}")]);
            }
        }
        if let Err(err) = class::implement_interfaces() {
            return (FAILURE, vec![err]);
        }
        ext_php_rs::zend::IniEntryDef::register(ini_table(), module_number);
        prepare_for_threads_and_fork();
        // Validate php.ini now so a typo is reported at startup, not only on the first request.
        let (_, warnings) = current_settings();
        // SAFETY: MINIT, after ext/session's (we depend on it); the module is a static.
        if unsafe { sys::php_session_register_module(&SESSION_MODULE.0) } != SUCCESS {
            return (
                FAILURE,
                vec!["could not register the rustredis session module".to_string()],
            );
        }
        (SUCCESS, warnings)
    })
}

unsafe extern "C" fn mshutdown(_type: c_int, module_number: c_int) -> zend::zend_result {
    // The renewal thread runs this library's code: it must end before PHP unloads it.
    guarded("shutdown", (), || (crate::lease::shutdown(), Vec::new()));
    // SAFETY: MSHUTDOWN of the module that registered these entries in MINIT.
    unsafe { zend_unregister_ini_entries(module_number) };
    SUCCESS
}

unsafe extern "C" fn rinit(_type: c_int, _module_number: c_int) -> zend::zend_result {
    guarded("request startup", (), || {
        (crate::session::info::reset(), Vec::new())
    });
    SUCCESS
}

/// The lease renewal thread (`crate::lease`) blocks every signal, so PHP's handlers (timeouts,
/// php-fpm's) only ever run on PHP's threads; and a forked child gets a lease registry of its own.
fn prepare_for_threads_and_fork() {
    crate::lease::set_thread_setup(block_all_signals);
    extern "C" fn in_child() {
        crate::lease::after_fork_in_child();
    }
    // SAFETY: a function that stays valid while the library is loaded; glibc drops it when it
    // unloads the library (it is registered with the library's DSO handle).
    let registered = unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
    if registered != 0 {
        warn("could not register the fork handlers; do not pcntl_fork() while holding a session lock");
    }
}

fn block_all_signals() {
    // SAFETY: a zeroed sigset_t is a valid argument to sigfillset, which fills it; the mask
    // applies to the calling thread only (the renewal thread, before it does anything else).
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, ptr::null_mut());
    }
}

unsafe extern "C" fn minfo(module: *mut zend::zend_module_entry) {
    guarded("phpinfo", (), || {
        let row = |name: &CStr, value: &str| {
            let value = CString::new(value).unwrap_or_default();
            // SAFETY: two NUL-terminated strings that outlive the call.
            unsafe { zend::php_info_print_table_row(2, name.as_ptr(), value.as_ptr()) };
        };
        // SAFETY: phpinfo() output functions, called from MINFO.
        unsafe { zend::php_info_print_table_start() };
        row(c"rustredis session save handler", "enabled");
        row(c"Version", env!("CARGO_PKG_VERSION"));
        row(c"session.save_handler name", "rustredis");
        row(
            c"Lock modes (rustredis.locking)",
            "on (lock per request), off (last write wins), optimistic (key-by-key merge)",
        );
        functions::print_stats_rows();
        // SAFETY: as above; `module` is the entry PHP passed to MINFO.
        unsafe {
            zend::php_info_print_table_end();
            display_ini_entries(module);
        }
        ((), Vec::new())
    })
}

/// ZEND_MOD_REQUIRED("session"): load after ext/session, which must exist.
static MODULE_DEPS: FfiStatic<[zend::_zend_module_dep; 2]> = FfiStatic([
    zend::_zend_module_dep {
        name: c"session".as_ptr(),
        rel: ptr::null(),
        version: ptr::null(),
        type_: 1,
    },
    zend::_zend_module_dep {
        name: ptr::null(),
        rel: ptr::null(),
        version: ptr::null(),
        type_: 0,
    },
]);

/// What ext-php-rs registers in MINIT (classes, functions): built with the module entry, run by
/// `minit`.
static STARTUP: parking_lot::Mutex<Option<ModuleStartup>> = parking_lot::const_mutex(None);

/// The symbol PHP looks up when it loads the extension. ext-php-rs builds the entry (matching
/// the PHP build: API number, ZTS, debug); the dependency on ext/session is added to it.
#[no_mangle]
pub extern "C" fn get_module() -> *mut ModuleEntry {
    static ENTRY: StaticModuleEntry = StaticModuleEntry::new();
    ENTRY.get_or_init(|| {
        let builder = ModuleBuilder::new("rustredis", env!("CARGO_PKG_VERSION"))
            .startup_function(minit)
            .shutdown_function(mshutdown)
            .request_startup_function(rinit)
            .info_function(minfo)
            .class::<class::PhpSessionHandler>();
        let builder = functions::register(builder);
        let (mut entry, startup, allocations): (ModuleEntry, ModuleStartup, ModuleAllocations) =
            builder
                .try_into()
                .expect("the module's names and version contain no NUL");
        entry.deps = MODULE_DEPS.0.as_ptr();
        *STARTUP.lock() = Some(startup);
        (entry, allocations)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run by [`the_panic_hook_keeps_panics_off_stderr`] in a process of its own (the hook is
    /// process-wide): panics under the hook, as a callback would.
    #[test]
    #[ignore = "run by the_panic_hook_keeps_panics_off_stderr in a child process"]
    fn panic_under_the_quiet_hook() {
        install_panic_hook();
        install_panic_hook(); // once is enough; a second call changes nothing
        let message =
            catch_panic("read", || -> () { panic!("boom {}", 42) }).expect_err("the body panicked");
        println!("WARNING: {message}");
        let message = catch_panic("write", || -> () { std::panic::panic_any(7_u8) })
            .expect_err("the body panicked");
        println!("WARNING: {message}");
        assert_eq!(catch_panic("close", || 5), Ok(5));
    }

    #[test]
    fn the_panic_hook_keeps_panics_off_stderr() {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "php::tests::panic_under_the_quiet_hook",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        assert!(output.status.success(), "{stdout}\n{stderr}");
        assert!(
            stdout.contains("1 passed"),
            "the child ran the test: {stdout}"
        );
        assert!(!stderr.contains("panicked"), "stderr: {stderr}");
        assert!(!stdout.contains("panicked"), "stdout: {stdout}");
        let file = file!();
        assert!(
            stdout.contains("WARNING: internal error in read, the call failed: boom 42 (at ")
                && stdout.contains(file),
            "the warning names the message and where: {stdout}"
        );
        assert!(
            stdout
                .contains("WARNING: internal error in write, the call failed: unknown panic (at "),
            "{stdout}"
        );
    }

    #[test]
    fn without_the_hook_a_panic_still_becomes_a_warning() {
        // The default hook (this test process never installs ours) prints to stderr; the
        // warning is the same, without a location unless a hook noted one.
        let message = catch_panic("gc", || -> () { panic!("plain") }).unwrap_err();
        assert!(
            message.starts_with("internal error in gc, the call failed: plain"),
            "{message}"
        );
    }
}
