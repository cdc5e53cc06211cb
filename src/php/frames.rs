//! Who is calling the module: read_and_close detection and userland wrappers, read off the
//! engine's call stack.

use ext_php_rs::ffi as zend;
use ext_php_rs::types::ZendStr;

use super::zval_get_long_func;
use crate::session::{Caller, ReadIntent};
use crate::sys;

/// How far up the call stack to look for session_start (a framework's handler stack is a few
/// user frames deep: Symfony's StrictSessionHandler::validateId → read → doRead → SessionHandler::read).
const MAX_FRAME_WALK: usize = 64;

/// # Safety
/// `func` is null or points to a live zend_function.
unsafe fn function_name<'a>(func: *const zend::zend_function) -> Option<&'a [u8]> {
    if func.is_null() {
        return None;
    }
    // SAFETY: `common` is valid for every function type; the name is null or a live zend_string.
    let name = unsafe { (*func).common.function_name.cast::<ZendStr>().as_ref() };
    name.map(ZendStr::as_bytes)
}

/// # Safety
/// `func` is null or points to a live zend_function.
unsafe fn is_internal(func: *const zend::zend_function) -> bool {
    // SAFETY: checked non-null; `type_` is the first field of every zend_function variant.
    !func.is_null() && u32::from(unsafe { (*func).type_ }) == zend::ZEND_INTERNAL_FUNCTION
}

/// Whether `func` is a method of PHP's own `\SessionHandler` (what a userland wrapper calls).
///
/// # Safety
/// `func` is null or points to a live zend_function.
unsafe fn is_session_handler_method(func: *const zend::zend_function) -> bool {
    // SAFETY: checked non-null; scope is null or a live class entry whose name is a zend_string.
    unsafe {
        if !is_internal(func) || (*func).common.scope.is_null() {
            return false;
        }
        let class = (*(*func).common.scope).name.cast::<ZendStr>();
        class.as_ref().map(ZendStr::as_bytes) == Some(b"SessionHandler".as_slice())
    }
}

/// PHP's rule for the `read_and_close` option, applied to the zval session_start() was given.
/// 8.2 - 8.4 read any value through zval_get_long and take non-zero as yes; from 8.5 on only values
/// above zero count (non-numeric strings throw before anything is read, so never reach us).
///
/// # Safety
/// `value` points to a live zval.
unsafe fn read_and_close_requested(value: *mut zend::zval) -> bool {
    // SAFETY: the caller passes a live zval; zval_get_long_func reads it without changing it.
    unsafe {
        match (*value).u1.type_info & 0xff {
            zend::IS_STRING | zend::IS_TRUE | zend::IS_FALSE | zend::IS_LONG => {
                let n = zval_get_long_func(value, false);
                if sys::PHP_VERSION_ID >= 80500 {
                    n > 0
                } else {
                    n != 0
                }
            }
            _ => false,
        }
    }
}

/// The options array session_start() was called with, if `frame` is that call.
///
/// # Safety
/// `frame` points to a live execute_data whose func is an internal session_start.
unsafe fn session_start_intent(frame: *const zend::zend_execute_data) -> ReadIntent {
    // SAFETY: session_start's frame is live while the engine runs inside it (it called us).
    // ZEND_CALL_ARG(frame, 1): arguments follow the frame, rounded up to whole zvals. Named,
    // spread and call_user_func arguments all land in the same slot.
    unsafe {
        if (*frame).This.u2.num_args < 1 {
            return ReadIntent::ReadWrite;
        }
        let frame_slots = std::mem::size_of::<zend::zend_execute_data>()
            .div_ceil(std::mem::size_of::<zend::zval>());
        let options = frame.cast::<zend::zval>().add(frame_slots).cast_mut();
        if (*options).u1.type_info & 0xff != zend::IS_ARRAY {
            return ReadIntent::ReadWrite;
        }
        let key = c"read_and_close";
        let value = zend::zend_hash_str_find((*options).value.arr, key.as_ptr(), key.count_bytes());
        if !value.is_null() && read_and_close_requested(value) {
            ReadIntent::ReadAndClose
        } else {
            ReadIntent::ReadWrite
        }
    }
}

/// ext/session does not tell a handler about `read_and_close` (it is a local of
/// session_start()), nor whether a userland handler stands in between. Walk the engine's call
/// stack from the current frame up to the internal `session_start` (through a wrapper such as
/// Symfony's StrictSessionHandler or any `extends \SessionHandler`, the module is called from
/// `SessionHandler::read`, a few user frames below it) and apply PHP's own rule to its options.
/// A read with no session_start on the stack (a framework calling the handler by itself) or any
/// doubt means ReadWrite, the locked path, which is always safe.
pub(super) fn caller() -> Caller {
    // SAFETY: the executor globals are this thread's (ext-php-rs's accessor works for NTS and
    // ZTS builds and takes no lock); we only read frames that are live while the engine is
    // inside the callback that called us, and check every pointer before following it.
    unsafe {
        let mut frame = (*zend::ext_php_rs_executor_globals()).current_execute_data;
        let through_wrapper = !frame.is_null() && is_session_handler_method((*frame).func);
        let mut intent = ReadIntent::ReadWrite;
        for _ in 0..MAX_FRAME_WALK {
            if frame.is_null() {
                break;
            }
            let func = (*frame).func;
            if is_internal(func) && function_name(func) == Some(b"session_start".as_slice()) {
                intent = session_start_intent(frame);
                break;
            }
            frame = (*frame).prev_execute_data;
        }
        Caller {
            intent,
            through_wrapper,
        }
    }
}
