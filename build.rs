//! Generates the `ps_module` struct and the two ext/session entry points we call from PHP's own
//! `ext/session/php_session.h`, so the save-handler ABI comes from the installed headers rather
//! than from a hand-written copy that could silently drift between PHP versions.

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

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PHP_CONFIG");
    let includes = php_config("--includes");
    let bindings = bindgen::Builder::default()
        .header_contents(
            "session_wrapper.h",
            "#include \"php.h\"\n#include \"ext/session/php_session.h\"\n",
        )
        .clang_args(includes.split_whitespace())
        .allowlist_type("ps_module_struct")
        .allowlist_function("php_session_register_module")
        .allowlist_function("php_session_create_id")
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
