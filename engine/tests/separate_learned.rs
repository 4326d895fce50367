//! The learned drums / bass separator trained here (`models/separator-learned`, made by
//! `scripts/separation/learned/`): the engine's bring-your-own runner gives what onnxruntime and
//! the Python pipeline give on a fixture clip (calls overlapping by the manifest's `context`), and
//! on a mix of the held-out set (rendered by `make_fixtures.py` exactly as
//! `scripts/separation/evaluate.py` renders it) its drums, through `separate_role`, beat HPSS +
//! onsets and its bass beats score-informed separation from the transcribed lowest line. Needs the
//! runtime; skipped without it unless CI=true.

mod common;

use std::path::PathBuf;

use counterpart_engine::packs::{Pack, PackRegistry};
use counterpart_engine::plan::Role;
use counterpart_engine::runtime::SessionSettings;
use counterpart_engine::separate::byo::ByoSeparator;
use counterpart_engine::separate::decode::load_stereo;
use counterpart_engine::separate::edit::{STOPPED, separate_role, separate_role_watched};
use counterpart_engine::separate::hpss::{self, HpssSettings};
use counterpart_engine::separate::score_informed;
use counterpart_engine::stem::StereoAudio;

/// Largest sample difference from the Python pipeline's excerpts (measured 2.0e-8).
const MAX_SAMPLE_ERROR: f32 = 1e-4;
/// Relative RMS difference per stem and channel (measured 2.2e-7).
const MAX_RMS_ERROR: f64 = 1e-3;
/// The learned drums must beat HPSS + onsets by this much on the held-out mix (dB, plain SDR);
/// measured 2.94 dB against 2.12 dB (+0.82 dB); bss_eval on the full 20 s stereo mix gives 2.04
/// against -1.54 dB (scripts/separation/RESULTS.md).
const DRUMS_MARGIN_DB: f64 = 0.4;

/// The learned bass must beat score-informed separation by this much on the held-out mix (dB, plain
/// SDR); measured 6.66 dB against 5.51 dB (+1.15 dB). On the simpler test band of separate_edit.rs
/// (a picked bass in roots and fifths) score-informed wins, 5.93 against 5.63 dB.
const BASS_MARGIN_DB: f64 = 0.5;

fn pack_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/separator-learned")
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/separator-learned")
}

#[derive(serde::Deserialize)]
struct Excerpt {
    start: usize,
    left: Vec<f32>,
    right: Vec<f32>,
}

#[derive(serde::Deserialize)]
struct StemRef {
    rms: [f64; 2],
    excerpts: Vec<Excerpt>,
}

#[derive(serde::Deserialize)]
struct Reference {
    chunk: u32,
    context: u32,
    frames: usize,
    stems: std::collections::BTreeMap<String, StemRef>,
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// The shipped pack copied to a scratch folder with the fixture's chunk, so 2 s cross seams.
fn pack_with_chunk(chunk: u32, context: u32) -> Pack {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tmp/separate_learned/pack");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(pack_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let toml = std::fs::read_to_string(dir.join("model.toml")).unwrap();
    let (chunk_line, context_line) = (
        toml.lines().find(|l| l.starts_with("chunk = ")).unwrap(),
        toml.lines().find(|l| l.starts_with("context = ")).unwrap(),
    );
    let toml = toml.replacen(chunk_line, &format!("chunk = {chunk}"), 1);
    let toml = toml.replacen(context_line, &format!("context = {context}"), 1);
    std::fs::write(dir.join("model.toml"), toml).unwrap();
    Pack::open(&dir).unwrap()
}

#[test]
fn the_engine_gives_what_onnxruntime_gives_across_the_seams() {
    if !common::runtime_ready() {
        return;
    }
    let reference: Reference =
        serde_json::from_slice(&std::fs::read(fixtures().join("reference.json")).unwrap()).unwrap();
    let clip = load_stereo(&fixtures().join("clip.flac")).unwrap();
    assert_eq!((clip.sample_rate, clip.frames()), (22_050, reference.frames));
    let pack = pack_with_chunk(reference.chunk, reference.context);
    let mut separator = ByoSeparator::load(&pack, &SessionSettings::default()).unwrap();
    let stems = separator.separate(&clip).unwrap();
    assert_eq!(stems.len(), reference.stems.len());
    for stem in &stems {
        let want = &reference.stems[&stem.name];
        for (c, channel) in [&stem.audio.left, &stem.audio.right].into_iter().enumerate() {
            let relative = (rms(channel) - want.rms[c]).abs() / want.rms[c].max(1e-9);
            eprintln!("{} channel {c}: RMS {:.5} vs {:.5} ({relative:.1e})", stem.name, rms(channel), want.rms[c]);
            assert!(relative < MAX_RMS_ERROR, "{} channel {c}: RMS off by {relative:.1e}", stem.name);
        }
        for e in &want.excerpts {
            let worst = [(&stem.audio.left, &e.left), (&stem.audio.right, &e.right)]
                .into_iter()
                .flat_map(|(got, want)| want.iter().enumerate().map(move |(i, w)| (got[e.start + i] - w).abs()))
                .fold(0.0f32, f32::max);
            eprintln!("{} at sample {}: worst difference {worst:.1e}", stem.name, e.start);
            assert!(worst < MAX_SAMPLE_ERROR, "{} at {}: {worst:.1e}", stem.name, e.start);
        }
    }
}

/// 10·log10(‖s‖² / ‖s − ŝ‖²) over both channels (no allowed distortion filter).
fn sdr(reference: &StereoAudio, estimate: &StereoAudio) -> f64 {
    let energy = |x: &[f32]| x.iter().map(|&v| v as f64 * v as f64).sum::<f64>();
    let err = |r: &[f32], e: &[f32]| r.iter().zip(e).map(|(a, b)| (a - b) as f64 * (a - b) as f64).sum::<f64>();
    let signal = energy(&reference.left) + energy(&reference.right);
    let error = err(&reference.left, &estimate.left) + err(&reference.right, &estimate.right);
    10.0 * (signal / error.max(1e-20)).log10()
}

/// A registry of the packs committed in the repository (`models/`), the learned separator among them.
fn committed_packs() -> PackRegistry {
    PackRegistry::discover(&[pack_dir().parent().unwrap().to_path_buf()], SessionSettings::default())
}

#[test]
fn learned_drums_beat_hpss_on_a_held_out_mix() {
    if !common::runtime_ready() {
        return;
    }
    let mix = load_stereo(&fixtures().join("heldout_mix.flac")).unwrap();
    let drums = load_stereo(&fixtures().join("heldout_drums.flac")).unwrap();
    assert_eq!(mix.frames(), drums.frames());
    // The committed packs only: `separate_role` takes the drums from the learned pack.
    let mut registry = committed_packs();
    let separated = separate_role(&mut registry, Role::Drums, &mix).expect("separates");
    assert!(separated.method.starts_with("learned mask network"), "method: {}", separated.method);
    assert_eq!(separated.model.as_ref().unwrap()["pack"], "separator-learned");
    let by_hpss = hpss::separate_drums(&mix, &HpssSettings::default()).expect("separates");
    let plain = hpss::separate_drums(&mix, &HpssSettings { onsets: false, ..HpssSettings::default() }).unwrap();
    let (l, h, b) = (sdr(&drums, &separated.stem), sdr(&drums, &by_hpss), sdr(&drums, &mix));
    let p = sdr(&drums, &plain);
    eprintln!("drums SDR: learned {l:.2} dB, HPSS + onsets {h:.2} dB, HPSS alone {p:.2} dB, the mix {b:.2} dB");
    // The onset refinement does not lose SDR on the held-out mix either.
    assert!(h >= p, "onsets made HPSS worse: {h:.2} dB vs {p:.2} dB");
    assert!(l > h + DRUMS_MARGIN_DB, "learned {l:.2} dB vs HPSS {h:.2} dB (margin {DRUMS_MARGIN_DB} dB)");
    assert!(l > b + 6.0, "learned {l:.2} dB vs the mix {b:.2} dB");
}

#[test]
fn learned_bass_beats_score_informed_on_a_held_out_mix() {
    if !common::runtime_ready() {
        return;
    }
    let Some(mut session) = common::basic_pitch_session() else { return };
    let mix = load_stereo(&fixtures().join("heldout_mix.flac")).unwrap();
    let bass = load_stereo(&fixtures().join("heldout_bass.flac")).unwrap();
    assert_eq!(mix.frames(), bass.frames());
    let mut registry = committed_packs();
    let learned = separate_role(&mut registry, Role::Bass, &mix).expect("separates");
    assert!(learned.method.starts_with("learned mask network"), "method: {}", learned.method);
    // Score-informed, as `separate_role` does it without the pack: the transcribed lowest line.
    let heard = score_informed::transcribe_mix(std::slice::from_mut(&mut session), &mix).unwrap();
    let (line, others) = score_informed::lowest_line(&heard);
    let informed = score_informed::separate_line(&mix, &line, &others).unwrap();
    let (l, s, b) = (sdr(&bass, &learned.stem), sdr(&bass, &informed), sdr(&bass, &mix));
    eprintln!("bass SDR: learned {l:.2} dB, score-informed {s:.2} dB, the mix as estimate {b:.2} dB");
    assert!(l > s + BASS_MARGIN_DB, "learned {l:.2} dB vs score-informed {s:.2} dB (margin {BASS_MARGIN_DB} dB)");
    assert!(l > b + 3.0, "learned {l:.2} dB vs the mix {b:.2} dB");
}

#[test]
fn separation_in_segments_reports_each_and_stops_when_asked() {
    if !common::runtime_ready() {
        return;
    }
    // The held-out mix four times over: 32 s, about 6 s per segment unit at 22.05 kHz.
    let clip = load_stereo(&fixtures().join("heldout_mix.flac")).unwrap();
    let mut mix = StereoAudio { sample_rate: clip.sample_rate, ..StereoAudio::default() };
    for _ in 0..4 {
        mix.left.extend_from_slice(&clip.left);
        mix.right.extend_from_slice(&clip.right);
    }
    let mut registry = committed_packs();
    let whole = separate_role(&mut registry, Role::Drums, &mix).expect("separates");

    // In segments of about 5 s: the watch hears each, and the parts join up into what separating
    // it in one piece gives, up to the seams' context.
    let mut heard = Vec::new();
    let segmented = separate_role_watched(&mut registry, Role::Drums, &mix, 5.0, &mut |done| {
        heard.push(done);
        true
    })
    .expect("separates");
    assert!(heard.len() >= 3 && heard.windows(2).all(|w| w[0] < w[1]) && heard.last() == Some(&1.0), "{heard:?}");
    assert_eq!(segmented.stem.frames(), mix.frames());
    let agreement = sdr(&whole.stem, &segmented.stem);
    eprintln!("{} segments; segmented vs whole: {agreement:.1} dB", heard.len());
    assert!(agreement > 30.0, "segments agree with the whole ({agreement:.1} dB)");

    // A watch that says stop after the first segment stops the rest.
    let mut calls = 0;
    let stopped = separate_role_watched(&mut registry, Role::Drums, &mix, 5.0, &mut |_| {
        calls += 1;
        false
    });
    assert_eq!((stopped.err().as_deref(), calls), (Some(STOPPED), 1));
}
