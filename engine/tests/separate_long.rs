//! Long inputs: `counterpart edit` reads, separates and writes in segments with context either
//! side. Segmenting a clip a few segments long must give what whole-file processing gives (within a
//! measured tolerance), and a 20-minute file must come out whole with its remainder summing back,
//! peak memory no larger than for a 1-minute file, and `replace` refused in words. Needs the
//! SoundFont, the runtime and the packs; skipped without them unless CI=true.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use counterpart_engine::packs::PackRegistry;
use counterpart_engine::plan::Role;
use counterpart_engine::render::Renderer;
use counterpart_engine::runtime::SessionSettings;
use counterpart_engine::separate::decode::StereoStream;
use counterpart_engine::separate::edit::separate_part;
use counterpart_engine::separate::segments::{self, SegmentPlan};
use counterpart_engine::stem::{Note, StereoAudio};
use counterpart_engine::wav;

const RATE: u32 = 44_100;

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tmp/separate_long").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn renderer() -> Option<Renderer> {
    match Renderer::open_default() {
        Ok(r) => Some(r),
        Err(e) if common::strict() => panic!("CI=true and no SoundFont: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            None
        }
    }
}

/// `bars` bars at 120 BPM of a picked bass (roots and fifths), piano triads and a rock groove,
/// rendered through the General MIDI SoundFont.
fn song(renderer: &Renderer, bars: usize) -> StereoAudio {
    let note = |start: f64, length: f64, key: u8, velocity: u8| Note { start, length, key, velocity };
    let roots = [36u8, 33, 29, 31];
    let triads = [[60u8, 64, 67], [57, 60, 64], [57, 60, 65], [59, 62, 67]];
    let (mut bass, mut piano, mut drums) = (Vec::new(), Vec::new(), Vec::new());
    for bar in 0..bars {
        let b = bar as f64 * 4.0;
        let (root, triad) = (roots[bar % 4], triads[bar % 4]);
        bass.extend([root, root, root + 7, root].iter().enumerate().map(|(i, &k)| note(b + i as f64, 0.9, k, 100)));
        piano.extend([0.0, 2.0].iter().flat_map(|&h| triad.map(|k| note(b + h, 1.9, k, 70))));
        drums.extend((0..8).map(|e| note(b + e as f64 * 0.5, 0.25, 42, 70)));
        drums.extend([note(b, 0.5, 36, 110), note(b + 1.0, 0.5, 38, 100), note(b + 2.0, 0.5, 36, 110)]);
        drums.push(note(b + 3.0, 0.5, 38, 100));
    }
    let frames = (bars as f64 * 2.0 * RATE as f64) as usize;
    let mut mix = StereoAudio { sample_rate: RATE, left: vec![0.0; frames], right: vec![0.0; frames] };
    for (notes, program) in [(&bass, Some(34)), (&piano, Some(0)), (&drums, None)] {
        let stem = renderer.render(notes, program, 0.0, 120.0, RATE, 0.0).expect("renders");
        for i in 0..frames.min(stem.frames()) {
            mix.left[i] += stem.left[i];
            mix.right[i] += stem.right[i];
        }
    }
    mix
}

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
    let Some(renderer) = renderer() else { return };
    if common::basic_pitch().is_none() {
        return;
    }
    let dir = scratch("seams");
    // At 11 025 Hz (a quarter of the cells of 44.1 kHz, the same 5.9 s unit) so the debug build
    // stays quick.
    let mix = counterpart_engine::resample::resample(&song(&renderer, 9), 11_025).unwrap();
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

/// Runs `counterpart edit`; (success, stderr).
fn edit(input: &Path, instruction: &str, out: &Path) -> (bool, String) {
    edit_in_segments(input, instruction, out, 60.0)
}

/// Runs `counterpart edit` with segments of about `segment_s` seconds; (success, stderr).
fn edit_in_segments(input: &Path, instruction: &str, out: &Path, segment_s: f64) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_counterpart"))
        .args(["edit", "--input"])
        .arg(input)
        .args(["--instruction", instruction, "--segment-seconds", &segment_s.to_string(), "--out"])
        .arg(out)
        .output()
        .unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
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

fn report(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
}

#[test]
fn a_20_minute_file_comes_out_whole_in_bounded_memory() {
    let Some(renderer) = renderer() else { return };
    if common::embedder().is_none() {
        return;
    }
    let dir = scratch("20min");
    // 2 kHz mono keeps the debug build's run short (the separation's cost is per STFT cell, and
    // the segmenting is the same at any rate); 16 s of the song, repeated.
    let rate = 2_000;
    let clip = counterpart_engine::resample::resample(&song(&renderer, 8), rate).unwrap().left;
    let short = dir.join("1min.wav");
    let long = dir.join("20min.wav");
    write_repeated(&short, &clip, rate, 1);
    let frames = write_repeated(&long, &clip, rate, 20);

    let (ok, err) = edit(&short, "remove the drums", &dir.join("out-1min"));
    assert!(ok, "1 minute: {err}");
    let started = std::time::Instant::now();
    let out = dir.join("out-20min");
    let (ok, err) = edit_in_segments(&long, "remove the drums", &out, 120.0);
    let seconds = started.elapsed().as_secs_f64();
    assert!(ok, "20 minutes: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let (short_report, long_report) = (report(&dir.join("out-1min")), report(&out));
    let peak = |r: &serde_json::Value| r["peak_memory_mib"].as_f64().unwrap();
    let (short_peak, long_peak) = (peak(&short_report), peak(&long_report));
    eprintln!(
        "20 minutes at 2 kHz: {seconds:.1} s, {} segments; peak memory {long_peak:.0} MiB against {short_peak:.0} MiB \
         for 1 minute",
        long_report["segments"]["count"]
    );
    assert!(long_report["segments"]["count"].as_u64().unwrap() >= 10);
    assert!((long_report["audio"]["seconds"].as_f64().unwrap() - 1200.0).abs() < 1e-6);
    // Whole-file processing held input, stem, remainder and the mask pipeline's output (4 × 18 MiB
    // as stereo f32 here) on top.
    assert!(long_peak < short_peak + 30.0, "peak memory {long_peak:.0} MiB vs {short_peak:.0} MiB");

    // Every frame is there, at the input's rate, and the parts sum back to the input.
    let input = wav::read_wav(&long).unwrap();
    let extracted = wav::read_wav(&out.join("extracted.wav")).unwrap();
    let remainder = wav::read_wav(&out.join("remainder.wav")).unwrap();
    assert_eq!((extracted.sample_rate, extracted.frames(), remainder.frames()), (rate, frames, frames));
    let peak_residual =
        (0..frames).map(|i| (extracted.left[i] + remainder.left[i] - input.left[i]).abs()).fold(0.0f32, f32::max);
    assert!(20.0 * (peak_residual.max(1e-12) as f64).log10() < -60.0, "residual {peak_residual:e}");
    // The drums were taken out all the way through, not only in the first segment.
    let energy = |x: &[f32]| x.iter().map(|&v| v as f64 * v as f64).sum::<f64>();
    let tenth = frames / 10;
    for part in 0..10 {
        let span = part * tenth..(part + 1) * tenth;
        let (e, m) = (energy(&extracted.left[span.clone()]), energy(&input.left[span]));
        assert!(e > 0.01 * m && e < m, "tenth {part}: drums {e:.1} of {m:.1}");
    }
    drop((input, extracted, remainder));
    let _ = std::fs::remove_dir_all(&out);

    // Replace writes and renders the new part whole: refused in words, before any work, nothing written.
    let refused = dir.join("replace");
    let (ok, err) = edit(&long, "replace the bass with something busier", &refused);
    assert!(!ok, "replace on 20 minutes succeeded");
    assert!(err.contains("replace works on up to 10 minutes") && err.contains("20.0 minutes"), "{err}");
    assert!(!refused.join("extracted.wav").exists() && !refused.join("remainder.wav.partial").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
