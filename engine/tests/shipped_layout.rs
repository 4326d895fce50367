//! The runtime and the packs are found inside an installed bundle, with nothing else on the
//! machine: the `counterpart` binary is placed where the plugin's binary sits in a VST3 bundle
//! (`Contents/x86_64-linux/`) with the runtime and packs in `Contents/Resources`, as
//! `cargo xtask bundle` ships them, and `counterpart doctor` must find them there.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn an_installed_bundle_finds_its_own_runtime_and_packs() {
    if common::basic_pitch().is_none() {
        return;
    }
    let root = std::env::temp_dir().join(format!("cp-installed-{}", std::process::id()));
    let binary_dir = root.join("Counterpart.vst3/Contents/x86_64-linux");
    let resources = root.join("Counterpart.vst3/Contents/Resources");
    std::fs::create_dir_all(&binary_dir).unwrap();
    std::fs::create_dir_all(&resources).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_counterpart"), binary_dir.join("counterpart")).unwrap();
    std::fs::copy(workspace_target().join("onnxruntime/libonnxruntime.so"), resources.join("libonnxruntime.so"))
        .unwrap();
    copy_dir(&workspace_target().join("models/basic-pitch"), &resources.join("models/basic-pitch"));

    let output = Command::new(binary_dir.join("counterpart"))
        .arg("doctor")
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("COUNTERPART_MODELS")
        .env("HOME", &root)
        .env("XDG_DATA_HOME", root.join("data"))
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let resources = resources.canonicalize().unwrap();
    assert!(
        text.contains(&format!("runtime: ONNX Runtime 1.31.1 at {}/libonnxruntime.so", resources.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "pack: basic-pitch 0.4.0 (Transcriber, Apache-2.0) at {}/models/basic-pitch",
            resources.display()
        )),
        "{text}"
    );

    // Take the runtime away: the tool still runs and says what is missing and how to fix it.
    std::fs::remove_file(resources.join("libonnxruntime.so")).unwrap();
    let output = Command::new(binary_dir.join("counterpart"))
        .arg("doctor")
        .env_remove("ORT_DYLIB_PATH")
        .env("HOME", &root)
        .env("XDG_DATA_HOME", root.join("data"))
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(text.contains("cargo xtask fetch-runtime") || text.contains("ORT_DYLIB_PATH"), "{text}");
    std::fs::remove_dir_all(&root).ok();
}
