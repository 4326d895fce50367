//! The real ONNX Runtime library: found by the default search, version checked, and usable.

mod common;

use counterpart_engine::runtime::{self, probe};

#[test]
fn default_search_finds_the_shipped_runtime() {
    if !common::runtime_ready() {
        return;
    }
    let info = runtime::loaded().unwrap();
    println!("ONNX Runtime {} at {}", info.version, info.library.display());
    assert!(info.version.starts_with("1.31."), "{}", info.version);
    // A second init returns the same library.
    assert_eq!(runtime::init(&[]).unwrap(), info);
}

#[test]
fn probe_rejects_libraries_that_are_not_onnx_runtime() {
    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("libonnxruntime.so");
    std::fs::write(&text, vec![b'x'; 4096]).unwrap();
    let msg = probe::probe(&text).unwrap_err().to_string();
    assert!(msg.contains("not an ELF shared library") && msg.contains("cargo xtask fetch-runtime"), "{msg}");

    let tiny = tmp.path().join("tiny.so");
    std::fs::write(&tiny, b"\x7fELF").unwrap();
    let msg = probe::probe(&tiny).unwrap_err().to_string();
    assert!(msg.contains("truncated"), "{msg}");

    // A real shared library without OrtGetApiBase.
    let libm = ["/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib64/libm.so.6"]
        .iter()
        .map(std::path::Path::new)
        .find(|p| p.exists());
    if let Some(libm) = libm {
        let msg = probe::probe(libm).unwrap_err().to_string();
        assert!(msg.contains("does not export OrtGetApiBase"), "{msg}");
    }
}

#[test]
fn probe_rejects_a_truncated_copy_of_the_real_library() {
    if !common::runtime_ready() {
        return;
    }
    let real = std::fs::read(runtime::loaded().unwrap().library).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cut = tmp.path().join("libonnxruntime.so");
    for fraction in [0.01, 0.33, 0.9, 0.9999] {
        std::fs::write(&cut, &real[..(real.len() as f64 * fraction) as usize]).unwrap();
        let msg = probe::probe(&cut).unwrap_err().to_string();
        println!("{fraction}: {msg}");
        assert!(msg.contains("truncated or damaged") && msg.contains("fetch-runtime"), "{msg}");
    }
}

/// ONNX Runtime 1.20.1 (from its wheel, fetched by `.ci/setup`, or `COUNTERPART_OLD_ORT`) is
/// refused by version; skipped without it unless CI=true.
#[test]
fn probe_reports_too_old_versions() {
    let Some(old) = common::old_runtime() else { return };
    let msg = probe::probe(&old).unwrap_err().to_string();
    println!("{msg}");
    assert!(msg.contains("needs 1.31 or newer"), "{msg}");
}
