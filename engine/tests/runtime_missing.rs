//! A process where no runtime can be found: errors, never panics. (Own test binary, because a
//! loaded runtime cannot be unloaded.)

use counterpart_engine::runtime::{self, RuntimeError};

#[test]
fn missing_or_broken_runtime_is_an_error_with_a_fix() {
    // SAFETY: this test binary has a single test, so no other thread reads the environment.
    unsafe { std::env::remove_var("ORT_DYLIB_PATH") };
    let empty = tempfile::tempdir().unwrap();
    let err = runtime::init(&[empty.path().to_path_buf()]).unwrap_err();
    assert!(matches!(err, RuntimeError::NotFound { .. }));
    let msg = err.to_string();
    println!("{msg}");
    assert!(msg.contains("not found") && msg.contains("cargo xtask fetch-runtime") && msg.contains("ORT_DYLIB_PATH"));

    let broken = tempfile::tempdir().unwrap();
    std::fs::write(broken.path().join(runtime::LIB_NAME), vec![0u8; 8192]).unwrap();
    let msg = runtime::init(&[empty.path().to_path_buf(), broken.path().to_path_buf()]).unwrap_err().to_string();
    println!("{msg}");
    assert!(msg.contains("unusable") && msg.contains(runtime::LIB_NAME));

    // ORT_DYLIB_PATH wins and is reported when it points at nothing.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", broken.path().join("nope.so")) };
    let msg = runtime::init(&[]).unwrap_err().to_string();
    unsafe { std::env::remove_var("ORT_DYLIB_PATH") };
    assert!(msg.contains("nope.so"), "{msg}");
    assert!(runtime::loaded().is_none());
}
