//! A 20-minute file through `counterpart analyze` and `counterpart transcribe` in a child process:
//! it comes out whole, and the child's peak memory grows by no more than the posteriorgram the note
//! decoding needs (plus its working copy) per minute over a 1-minute file's. Needs the runtime and
//! the basic-pitch pack; skipped without them unless CI=true.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use counterpart_engine::wav;

/// `minutes` of `clip` repeated, written with hound a sample at a time as 16-bit mono at `rate`.
fn write_repeated(path: &Path, clip: &[f32], rate: u32, minutes: usize) {
    let spec =
        hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..minutes * 60 * rate as usize {
        w.write_sample((clip[i % clip.len()].clamp(-1.0, 1.0) * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// Runs `counterpart <args>` and returns its stderr and its peak resident memory in MiB (the
/// child's `ru_maxrss`, read when it is reaped).
fn run_measured(args: &[&str]) -> (String, f64) {
    use std::io::Read;
    // Reaped by `wait4` below, which `Child::wait` cannot replace: it gives no resource usage.
    #[allow(clippy::zombie_processes)]
    let mut child = Command::new(env!("CARGO_BIN_EXE_counterpart"))
        .args(args)
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("COUNTERPART_MODELS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: waits for our own child, which `Child` has not reaped; the pointers are to locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "counterpart {args:?} failed: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (stderr, usage.ru_maxrss as f64 / 1024.0)
}

/// Memory the decoding may add per minute of input, MiB: the onset and note activations it needs
/// whole (2 × 88 f32 at 86.13 frames/s, 3.5 MiB/min) and its working copy of the note activations
/// (1.7 MiB/min), plus the notes, the melodia pass's heap and the allocator's slack (measured in
/// the debug build: 7.1 MiB/min). Holding the decoded audio as well would add 5 MiB/min at 22050 Hz
/// mono (and 20 MiB/min at 44.1 kHz stereo); keeping the f64 onset matrices, as before, 7 MiB/min.
const ANALYZE_MIB_PER_MIN: f64 = 9.0;
/// The same for `transcribe`, which also keeps the pitch contour for the bends (264 f32 per frame,
/// 5.2 MiB/min).
const TRANSCRIBE_MIB_PER_MIN: f64 = ANALYZE_MIB_PER_MIN + 5.5;

#[test]
fn twenty_minutes_transcribe_and_analyze_in_bounded_memory() {
    if common::basic_pitch().is_none() {
        return;
    }
    let dir = tempfile::Builder::new().prefix("counterpart-transcribe-long").tempdir().unwrap();
    // The example song (20.2 s) at 22050 Hz, the model's rate, so the debug build resamples nothing.
    let song = wav::read_wav(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/context.wav")).unwrap();
    let clip = counterpart_engine::resample::resample(&song, 22_050).unwrap().left;
    let (short, long) = (dir.path().join("1min.wav"), dir.path().join("20min.wav"));
    write_repeated(&short, &clip, 22_050, 1);
    write_repeated(&long, &clip, 22_050, 20);

    let json = dir.path().join("analysis.json");
    let analyze = |input: &Path| {
        let (err, peak) = run_measured(&["analyze", input.to_str().unwrap(), "--json", json.to_str().unwrap()]);
        let a: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        (a, peak, err)
    };
    let (a1, peak1, _) = analyze(&short);
    let (a20, peak20, err) = analyze(&long);
    let per_min = (peak20 - peak1) / 19.0;
    eprintln!("analyze: peak {peak1:.0} MiB for 1 minute, {peak20:.0} MiB for 20 ({per_min:.1} MiB/min); {err}");
    // All of it was transcribed: 20 times the notes of the first minute, to the end.
    assert_eq!(a20["duration"].as_f64(), Some(1200.0));
    let (n1, n20) = (a1["notes"].as_array().unwrap().len() as f64, a20["notes"].as_array().unwrap().len() as f64);
    assert!((n20 / n1 - 20.0).abs() < 0.5, "{n1} notes in 1 minute, {n20} in 20");
    let last = a20["notes"].as_array().unwrap().iter().map(|n| n["start"].as_f64().unwrap()).fold(0.0, f64::max);
    assert!(last > 1190.0, "last note at {last} s");
    assert!(
        peak20 < peak1 + 19.0 * ANALYZE_MIB_PER_MIN,
        "analyze: {peak20:.0} MiB for 20 minutes against {peak1:.0} MiB for 1 ({per_min:.1} MiB/min)"
    );

    let mid = dir.path().join("notes.mid");
    let transcribe =
        |input: &Path| run_measured(&["transcribe", input.to_str().unwrap(), "--midi", mid.to_str().unwrap()]);
    let ((_, peak1), (err, peak20)) = (transcribe(&short), transcribe(&long));
    let per_min = (peak20 - peak1) / 19.0;
    eprintln!("transcribe: peak {peak1:.0} MiB for 1 minute, {peak20:.0} MiB for 20 ({per_min:.1} MiB/min); {err}");
    assert!(err.contains("from 1200.0 s of audio"), "{err}");
    assert!(
        peak20 < peak1 + 19.0 * TRANSCRIBE_MIB_PER_MIN,
        "transcribe: {peak20:.0} MiB for 20 minutes against {peak1:.0} MiB for 1 ({per_min:.1} MiB/min)"
    );
}
