//! Long inputs: `counterpart edit` reads, separates and writes in segments with context either
//! side. Segmenting a clip a few segments long must give what whole-file processing gives (within a
//! measured tolerance), and a 20-minute file must come out whole with its remainder summing back,
//! peak memory no larger at the end than after 6 minutes, and `replace` refused in words. Needs the
//! SoundFont, the runtime and the packs; skipped without them unless CI=true.

mod common;

use std::path::Path;

use common::separation::{band_mix, edit, energy, scratch};
use counterpart_engine::packs::PackRegistry;
use counterpart_engine::plan::Role;
use counterpart_engine::runtime::SessionSettings;
use counterpart_engine::separate::decode::StereoStream;
use counterpart_engine::separate::edit::separate_part;
use counterpart_engine::separate::segments::{self, SegmentPlan};
use counterpart_engine::stem::StereoAudio;
use counterpart_engine::wav;

/// `role` separated from the file at `path` segment by segment, as `counterpart edit` does, with
/// segments of about `segment_s` seconds; also the number of segments.
fn segmented(registry: &mut PackRegistry, role: Role, path: &Path, segment_s: f64) -> (StereoAudio, usize) {
    let mut stream = StereoStream::open(path).unwrap();
    let rate = stream.sample_rate();
    let plan = SegmentPlan::for_role(role, rate, segment_s);
    let mut out = StereoAudio { sample_rate: rate, ..StereoAudio::default() };
    let mut count = 0;
    segments::for_each_segment(&mut stream, plan, |segment| {
        assert_eq!(segment.first + segment.keep.start, out.frames(), "segments follow each other");
        if count > 0 {
            assert_eq!(segment.keep.start, plan.context, "every segment after the first has its left context");
        }
        let part = separate_part(registry, role, segment.audio, segment.keep.clone())?;
        out.left.extend_from_slice(&part.stem.left[segment.keep.clone()]);
        out.right.extend_from_slice(&part.stem.right[segment.keep.clone()]);
        count += 1;
        Ok(())
    })
    .unwrap();
    (out, count)
}

/// Energy of `a - b` relative to the energy of `a`, dB (both channels).
fn difference_db(a: &StereoAudio, b: &StereoAudio) -> f64 {
    let e = |x: &mut dyn Iterator<Item = f32>| x.map(|v| v as f64 * v as f64).sum::<f64>();
    let signal = e(&mut a.left.iter().chain(&a.right).copied());
    let diff = e(&mut a.left.iter().zip(&b.left).chain(a.right.iter().zip(&b.right)).map(|(x, y)| x - y));
    10.0 * (diff.max(1e-30) / signal.max(1e-30)).log10()
}

#[test]
fn segments_give_what_the_whole_file_gives() {
    let Some(renderer) = common::renderer() else { return };
    if common::basic_pitch().is_none() {
        return;
    }
    let dir = scratch("separate_long", "seams");
    // At 11 025 Hz (a quarter of the cells of 44.1 kHz, the same 5.9 s unit) so the debug build
    // stays quick.
    let mix = counterpart_engine::resample::resample(&band_mix(&renderer, 9), 11_025).unwrap();
    let path = dir.join("song.wav");
    wav::write_wav(&path, &mix).unwrap();
    let mut registry = PackRegistry::discover_default(SessionSettings::default());
    // Segments of one unit (5.9 s): 18 s is three segments and two seams. Drums come out
    // bit-identical (blocks fall where they fall in the whole file); the bass differs by -24 to
    // -29 dB (measured): basic-pitch's 2 s windows fall elsewhere in a segment, so a few note
    // edges move by a frame.
    for (role, tolerance_db) in [(Role::Drums, -60.0), (Role::Bass, -18.0)] {
        let whole = separate_part(&mut registry, role, &mix, 0..mix.frames()).unwrap().stem;
        let (pieces, count) = segmented(&mut registry, role, &path, 1.0);
        assert_eq!(pieces.frames(), mix.frames(), "{role:?}");
        assert!(count >= 3, "{role:?}: {count} segments");
        let db = difference_db(&whole, &pieces);
        let worst = whole.left.iter().zip(&pieces.left).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        eprintln!("{role:?}: {count} segments, segmented minus whole {db:.1} dB (worst sample {worst:.2e})");
        assert!(db < tolerance_db, "{role:?}: segmented differs from whole-file by {db:.1} dB");
    }
}

/// Runs `counterpart edit` with segments of about `segment_s` seconds; (success, stderr).
fn edit_in_segments(input: &Path, instruction: &str, out: &Path, segment_s: f64) -> (bool, String) {
    edit(input, instruction, out, &["--segment-seconds", &segment_s.to_string()])
}

/// `minutes` of `clip` repeated, written with hound a clip at a time as 16-bit mono at the clip's
/// rate.
fn write_repeated(path: &Path, clip: &[f32], rate: u32, minutes: usize) -> usize {
    let spec =
        hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let frames = minutes * 60 * rate as usize;
    for i in 0..frames {
        w.write_sample((clip[i % clip.len()].clamp(-1.0, 1.0) * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    frames
}

/// Runs `counterpart edit` like [`edit_in_segments`] and reads the child's peak memory (MiB) once its
/// progress passes `minutes` minutes of the input; (success, stderr, that peak).
fn edit_watching_memory(
    input: &Path,
    instruction: &str,
    out: &Path,
    segment_s: f64,
    minutes: u64,
) -> (bool, String, Option<f64>) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_counterpart"))
        .args(["edit", "--input"])
        .arg(input)
        .args(["--instruction", instruction, "--segment-seconds", &segment_s.to_string(), "--out"])
        .arg(out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let (mut stderr, mut early_peak) = (String::new(), None);
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        // Progress lines end in "M:SS of MM:SS".
        let done =
            line.split_once(" of ").and_then(|(head, _)| head.rsplit(' ').next()?.split_once(':')?.0.parse().ok());
        if early_peak.is_none() && done.is_some_and(|m: u64| m >= minutes) {
            let status = std::fs::read_to_string(&status_path).unwrap_or_default();
            let kib =
                status.lines().find_map(|l| l.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?.trim().parse().ok());
            early_peak = kib.map(|k: f64| k / 1024.0);
        }
        stderr += &line;
        stderr.push('\n');
    }
    (child.wait().unwrap().success(), stderr, early_peak)
}

fn report(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
}

#[test]
fn a_20_minute_file_comes_out_whole_in_bounded_memory() {
    let Some(renderer) = common::renderer() else { return };
    if common::embedder().is_none() {
        return;
    }
    let dir = scratch("separate_long", "20min");
    // 2 kHz mono keeps the debug build's run short (the separation's cost is per STFT cell, and
    // the segmenting is the same at any rate); 16 s of the song, repeated.
    let rate = 2_000;
    let clip = counterpart_engine::resample::resample(&band_mix(&renderer, 8), rate).unwrap().left;
    let long = dir.join("20min.wav");
    let frames = write_repeated(&long, &clip, rate, 20);

    let started = std::time::Instant::now();
    let out = dir.join("out-20min");
    let (ok, err, early_peak) = edit_watching_memory(&long, "remove the drums", &out, 120.0, 6);
    let seconds = started.elapsed().as_secs_f64();
    assert!(ok, "20 minutes: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let long_report = report(&out);
    let long_peak = long_report["peak_memory_mib"].as_f64().unwrap();
    let early_peak = early_peak.expect("the edit reported its progress past 6 minutes");
    eprintln!(
        "20 minutes at 2 kHz: {seconds:.1} s, {} segments; peak memory {long_peak:.0} MiB at the end against \
         {early_peak:.0} MiB after 6 minutes",
        long_report["segments"]["count"]
    );
    assert!(long_report["segments"]["count"].as_u64().unwrap() >= 10);
    assert!((long_report["audio"]["seconds"].as_f64().unwrap() - 1200.0).abs() < 1e-6);
    // Memory stops growing once the segments run (release: 286 / 288 / 290 MiB for 5 / 10 / 20
    // minutes; debug up to +23 MiB of allocator churn). Holding the file would add input, stem and
    // remainder for the last 14 minutes at the separator's rate (22.05 kHz for the learned pack:
    // about 220 MiB).
    assert!(
        long_peak < early_peak + 60.0,
        "peak memory {long_peak:.0} MiB at the end vs {early_peak:.0} MiB after 6 minutes"
    );

    // Every frame is there, at the input's rate, and the parts sum back to the input.
    let input = wav::read_wav(&long).unwrap();
    let extracted = wav::read_wav(&out.join("extracted.wav")).unwrap();
    let remainder = wav::read_wav(&out.join("remainder.wav")).unwrap();
    assert_eq!((extracted.sample_rate, extracted.frames(), remainder.frames()), (rate, frames, frames));
    let peak_residual =
        (0..frames).map(|i| (extracted.left[i] + remainder.left[i] - input.left[i]).abs()).fold(0.0f32, f32::max);
    assert!(20.0 * (peak_residual.max(1e-12) as f64).log10() < -60.0, "residual {peak_residual:e}");
    // The drums were taken out all the way through, not only in the first segment: the input
    // repeats one clip, so every tenth gives about the same part (at 2 kHz little of the kit is
    // left for the separator to hear, so the level itself says little).
    let tenth = frames / 10;
    let parts: Vec<(f64, f64)> = (0..10)
        .map(|part| {
            let span = part * tenth..(part + 1) * tenth;
            (energy(&extracted.left[span.clone()]), energy(&input.left[span]))
        })
        .collect();
    let mean = parts.iter().map(|p| p.0).sum::<f64>() / 10.0;
    for (part, &(e, m)) in parts.iter().enumerate() {
        assert!(e > 0.5 * mean && e < 1.5 * mean && e < m, "tenth {part}: drums {e:.2} of {m:.1} (mean {mean:.2})");
    }
    assert!(mean > 1e-3 * parts[0].1, "no drums at all: {mean:.3}");
    drop((input, extracted, remainder));
    let _ = std::fs::remove_dir_all(&out);

    // Replace writes and renders the new part whole: refused in words, before any work, nothing written.
    let refused = dir.join("replace");
    let (ok, err) = edit_in_segments(&long, "replace the bass with something busier", &refused, 60.0);
    assert!(!ok, "replace on 20 minutes succeeded");
    assert!(err.contains("replace works on up to 10 minutes") && err.contains("20.0 minutes"), "{err}");
    assert!(!refused.join("extracted.wav").exists() && !refused.join("remainder.wav.partial").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
