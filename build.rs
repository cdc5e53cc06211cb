//! Generates the `ps_module` struct and the two ext/session entry points we call from PHP's own
//! `ext/session/php_session.h`, so the save-handler ABI comes from the installed headers rather
//! than from a hand-written copy that could silently drift between PHP versions.

// Without feature `php` (the fuzz targets' build) there is nothing to generate.
#![cfg_attr(not(feature = "php"), allow(dead_code, unused_imports))]

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn php_config(arg: &str) -> String {
    let program = env::var("PHP_CONFIG").unwrap_or_else(|_| "php-config".to_string());
    let output = Command::new(&program)
        .arg(arg)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program} {arg}` (install php-dev or set PHP_CONFIG): {e}")
        });
    assert!(output.status.success(), "`{program} {arg}` failed");
    String::from_utf8(output.stdout)
        .expect("php-config prints UTF-8")
        .trim()
        .to_string()
}

/// PHP 8.6 (php-src 71096cd) passes save_path and the session name to open as `zend_string *`;
/// earlier versions pass `const char *`. Read it off the installed header's PS_OPEN_ARGS.
fn emit_open_signature(includes: &str) {
    println!("cargo:rustc-check-cfg=cfg(php_open_zend_string)");
    let header = includes
        .split_whitespace()
        .filter_map(|flag| flag.strip_prefix("-I"))
        .map(|dir| PathBuf::from(dir).join("ext/session/php_session.h"))
        .find(|path| path.is_file())
        .expect("ext/session/php_session.h not found under php-config --includes (is php-dev installed?)");
    println!("cargo:rerun-if-changed={}", header.display());
    let text = std::fs::read_to_string(&header).expect("read php_session.h");
    let open_args = text
        .lines()
        .find(|line| line.trim_start().starts_with("#define PS_OPEN_ARGS"))
        .expect("php_session.h defines PS_OPEN_ARGS");
    if open_args.contains("zend_string") {
        println!("cargo:rustc-cfg=php_open_zend_string");
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "php")]
    php_session_bindings();
}

/// The bindings of the extension (feature `php`, the default).
#[cfg(feature = "php")]
fn php_session_bindings() {
    println!("cargo:rerun-if-env-changed=PHP_CONFIG");
    let includes = php_config("--includes");
    emit_open_signature(&includes);
    let bindings = bindgen::Builder::default()
        .header_contents(
            "session_wrapper.h",
            "#include \"php.h\"\n#include \"ext/session/php_session.h\"\n",
        )
        .clang_args(includes.split_whitespace())
        .allowlist_type("ps_module_struct")
        .allowlist_function("php_session_register_module")
        .allowlist_function("php_session_create_id")
        .allowlist_var("PHP_VERSION_ID")
        // The interfaces RustRedis\\SessionHandler implements; ext-php-rs has its own class entry type.
        .allowlist_var("php_session_(id_|update_timestamp_)?iface_entry")
        .opaque_type("_zend_class_entry")
        // Only pointers to these cross the boundary; keep them opaque so the generated module stays small.
        .opaque_type("_zend_string")
        .layout_tests(true)
        .generate()
        .expect("bindgen could not read ext/session/php_session.h (is php-dev installed?)");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("php_session_bindings.rs"))
        .expect("write php_session_bindings.rs");
}
