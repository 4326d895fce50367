//! The engine without a usable ONNX Runtime, end to end: the status the editor reads says what is
//! wrong and how to fix it, and a transcription job fails with that message; nothing panics.
//!
//! Each case runs in a child process (a loaded runtime cannot be unloaded, and the search must not
//! find the workspace's): this test binary copied out of `target/` into an empty folder, with its
//! home and data folders there too, and `ORT_DYLIB_PATH` unset (runtime not installed), pointing at
//! a damaged library, or at ONNX Runtime 1.20.1 (too old; `target/onnxruntime-old`, see
//! `.ci/setup`).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use counterpart_engine::Engine;
use counterpart_engine::cache::AudioCache;
use counterpart_engine::job::{CaptureSource, Event};
use counterpart_engine::timeline::TimeSignature;

/// Names the case a child process runs.
const CASE: &str = "COUNTERPART_RUNTIME_CASE";
/// How long the worker may take to report.
const PATIENCE: Duration = Duration::from_secs(60);

/// The child: starts the engine, captures two seconds of a tone on the sidechain, and checks the
/// status line and the transcription job's failure; prints them for the parent.
fn child(expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let (engine, mut audio) = Engine::start(AudioCache::new(dir.path()));
    engine.activate(48_000.0);
    let mut scratch = Box::default();
    let block = 480;
    for n in 0..200 {
        let pos = (n * block) as i64;
        let tone: Vec<f32> = (0..block).map(|i| (0.05 * (pos as f32 + i as f32)).sin() * 0.5).collect();
        let (mut l, mut r, mut ml, mut mr) = (tone.clone(), tone, vec![0.0; block], vec![0.0; block]);
        let main: [&mut [f32]; 2] = [&mut ml, &mut mr];
        let side: [&mut [f32]; 2] = [&mut l, &mut r];
        audio.transport.publish(120.0, 48_000.0, pos, true, (4, 4));
        let beats = pos as f64 / 24_000.0;
        audio.capture(&mut scratch, &main, Some(&side), 0, pos, block, beats, 120.0, TimeSignature::default());
        if n % 50 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let id = engine.transcribe_capture(CaptureSource::Sidechain, None);
    let message = loop {
        match engine.events().recv_timeout(PATIENCE).expect("the worker reports") {
            Event::StemReady { id: got, .. } if got == id => panic!("transcribed without a runtime"),
            Event::Failed { id: got, message } if got == id => break message,
            _ => {}
        }
    };
    let started = Instant::now();
    let status = loop {
        let status = engine.status();
        if !status.runtime.is_empty() || started.elapsed() > PATIENCE {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    println!("status runtime: {}\njob failed: {message}", status.runtime);
    let problem = status.runtime.strip_prefix("No model runtime: ").unwrap_or_else(|| panic!("{}", status.runtime));
    assert_eq!(message, problem, "the job fails with the status line's message");
    for part in expected {
        assert!(problem.contains(part), "wanted `{part}` in: {problem}");
    }
}

/// Runs this test binary's `test` as a child outside `target/` with `ORT_DYLIB_PATH` as given.
fn run_child(test: &str, case: &str, ort: Option<&Path>) {
    let home = tempfile::tempdir().unwrap();
    let exe = home.path().join("counterpart-test");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    let mut command = std::process::Command::new(&exe);
    command.args(["--exact", test, "--nocapture", "--test-threads", "1"]).env(CASE, case);
    command.env("HOME", home.path()).env("XDG_DATA_HOME", home.path()).env("XDG_CONFIG_HOME", home.path());
    command.env_remove("COUNTERPART_MODELS").env_remove("ORT_DYLIB_PATH");
    if let Some(ort) = ort {
        command.env("ORT_DYLIB_PATH", ort);
    }
    let out = command.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("{case}:\n{text}");
    assert!(out.status.success(), "{case}: the child failed:\n{text}");
    assert!(text.contains("job failed: ") && text.contains("1 passed"), "{case}: the child ran nothing:\n{text}");
    assert!(!text.contains("panicked"), "{case}:\n{text}");
}

#[test]
fn no_runtime_installed() {
    match std::env::var(CASE).as_deref() {
        Ok("missing") => child(&["not found", "searched:", "cargo xtask fetch-runtime", "ORT_DYLIB_PATH"]),
        Ok(_) => {}
        Err(_) => run_child("no_runtime_installed", "missing", None),
    }
}

#[test]
fn damaged_runtime() {
    match std::env::var(CASE).as_deref() {
        Ok("damaged") => child(&["unusable", "cargo xtask fetch-runtime"]),
        Ok(_) => {}
        Err(_) => {
            let dir = tempfile::tempdir().unwrap();
            let lib = dir.path().join(counterpart_engine::runtime::LIB_NAME);
            std::fs::write(&lib, vec![0u8; 8192]).unwrap();
            run_child("damaged_runtime", "damaged", Some(&lib));
        }
    }
}

#[test]
fn runtime_too_old() {
    match std::env::var(CASE).as_deref() {
        Ok("old") => child(&["version 1.20.1", "needs 1.31 or newer", "cargo xtask fetch-runtime"]),
        Ok(_) => {}
        Err(_) => {
            let Some(old) = common::old_runtime() else { return };
            run_child("runtime_too_old", "old", Some(&old));
        }
    }
}
