//! Shared helpers for the engine's integration tests: the real runtime, packs and SoundFont.
#![allow(dead_code)]

pub mod separation;

use std::path::PathBuf;

use counterpart_engine::packs::{Pack, PackRegistry, TaskKind};
use counterpart_engine::render::Renderer;
use counterpart_engine::runtime::{self, SessionSettings};

/// Whether missing shipped parts must fail the test (CI) instead of skipping it.
pub fn strict() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Loads the real ONNX Runtime; `false` (with a printed reason) when it is absent outside CI.
pub fn runtime_ready() -> bool {
    match runtime::init_default() {
        Ok(_) => true,
        Err(e) if strict() => panic!("CI=true and the ONNX Runtime is not usable: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: ONNX Runtime not available ({e}); run `cargo xtask setup`");
            false
        }
    }
}

/// The General MIDI SoundFont's renderer; `None` with a printed reason when there is none outside CI.
pub fn renderer() -> Option<Renderer> {
    match Renderer::open_default() {
        Ok(r) => Some(r),
        Err(e) if strict() => panic!("CI=true and no SoundFont: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            None
        }
    }
}

/// An ONNX Runtime library older than the engine accepts: `COUNTERPART_OLD_ORT`, else the 1.20.1
/// that `.ci/setup` puts in `target/onnxruntime-old/`; `None` with a printed reason outside CI.
pub fn old_runtime() -> Option<PathBuf> {
    let fetched = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/onnxruntime-old").join(runtime::LIB_NAME);
    let path = std::env::var_os("COUNTERPART_OLD_ORT").map(PathBuf::from).unwrap_or(fetched);
    if path.is_file() {
        return Some(path);
    }
    let why = format!("no older ONNX Runtime at {} (run .ci/setup or set COUNTERPART_OLD_ORT)", path.display());
    if strict() {
        panic!("CI=true and {why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}

/// The installed basic-pitch pack (runtime loaded); `None` with a printed reason outside CI.
pub fn basic_pitch() -> Option<Pack> {
    if !runtime_ready() {
        return None;
    }
    let reg = PackRegistry::discover_default(SessionSettings::default());
    match reg.find(TaskKind::Transcriber) {
        Ok(p) => Some(p.clone()),
        Err(e) if strict() => panic!("CI=true and the basic-pitch pack is missing: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: basic-pitch pack not available ({e}); run `cargo xtask setup`");
            None
        }
    }
}

/// The basic-pitch session, built straight from the pack.
pub fn basic_pitch_session() -> Option<ort::session::Session> {
    let pack = basic_pitch()?;
    Some(pack.load_model("nmp", &SessionSettings::default()).expect("real pack loads").session)
}

/// Folder of the transcription fixtures.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcription")
}

/// Names of the fixture clips.
pub const CLIPS: [&str; 3] = ["piano_melody", "piano_chords", "bass_flute"];

/// A note from a JSON fixture.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RefNote {
    /// Start in seconds.
    pub start: f64,
    /// End in seconds.
    pub end: f64,
    /// MIDI pitch.
    pub pitch: u8,
    /// Reference amplitude (absent in truth files).
    #[serde(default)]
    pub amplitude: f64,
    /// Reference pitch bends.
    #[serde(default)]
    pub pitch_bends: Option<Vec<i32>>,
}

/// `<clip>.ref.json`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Reference {
    /// Frames in the reference posteriorgram.
    pub frames: usize,
    /// Reference notes in the reference's order.
    pub notes: Vec<RefNote>,
}

/// Reads `<clip>.ref.json`.
pub fn reference(clip: &str) -> Reference {
    let text = std::fs::read_to_string(fixtures().join(format!("{clip}.ref.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Reads `<clip>.truth.json`.
pub fn truth(clip: &str) -> Vec<RefNote> {
    let text = std::fs::read_to_string(fixtures().join(format!("{clip}.truth.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Reads `<clip>.pg.bin` as (onset, note, contour).
pub fn reference_pg(clip: &str, frames: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let bytes = std::fs::read(fixtures().join(format!("{clip}.pg.bin"))).unwrap();
    let all: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    assert_eq!(all.len(), frames * (88 + 88 + 264), "{clip}.pg.bin has the wrong size");
    let (onset, rest) = all.split_at(frames * 88);
    let (note, contour) = rest.split_at(frames * 88);
    (onset.to_vec(), note.to_vec(), contour.to_vec())
}

/// Note-level precision, recall and F1: same pitch, onsets within `tol` seconds, one-to-one
/// (maximum bipartite matching, as mir_eval does).
pub fn prf(est: &[(f64, u8)], truth: &[(f64, u8)], tol: f64) -> (f64, f64, f64) {
    let adj: Vec<Vec<usize>> = truth
        .iter()
        .map(|t| (0..est.len()).filter(|&j| est[j].1 == t.1 && (est[j].0 - t.0).abs() <= tol + 1e-9).collect())
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; est.len()];
    fn augment(i: usize, adj: &[Vec<usize>], seen: &mut [bool], owner: &mut [Option<usize>]) -> bool {
        for &j in &adj[i] {
            if !seen[j] {
                seen[j] = true;
                if owner[j].is_none_or(|k| augment(k, adj, seen, owner)) {
                    owner[j] = Some(i);
                    return true;
                }
            }
        }
        false
    }
    let mut matched = 0;
    for i in 0..truth.len() {
        let mut seen = vec![false; est.len()];
        if augment(i, &adj, &mut seen, &mut owner) {
            matched += 1;
        }
    }
    let p = if est.is_empty() { 0.0 } else { matched as f64 / est.len() as f64 };
    let r = if truth.is_empty() { 0.0 } else { matched as f64 / truth.len() as f64 };
    let f = if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
    (p, r, f)
}

/// The installed "embedder" pack's MiniLM model (runtime loaded); `None` with a printed reason
/// outside CI.
pub fn embedder() -> Option<counterpart_engine::plan::Embedder> {
    if !runtime_ready() {
        return None;
    }
    let reg = PackRegistry::discover_default(SessionSettings::default());
    match counterpart_engine::plan::Embedder::from_registry(&reg, &SessionSettings::default()) {
        Ok(e) => Some(e),
        Err(e) if strict() => panic!("CI=true and the embedder (minilm) pack is missing or broken: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: embedder pack not available ({e}); run `cargo xtask setup`");
            None
        }
    }
}

/// The installed packs a whole arranger job needs (transcriber, embedder, arranger); `None`
/// (printed) when one is missing outside CI.
pub fn arranger_registry() -> Option<PackRegistry> {
    if !runtime_ready() {
        return None;
    }
    let registry = PackRegistry::discover_default(SessionSettings::default());
    for task in [TaskKind::Transcriber, TaskKind::Embedder, TaskKind::Arranger] {
        match registry.find(task) {
            Ok(_) => {}
            Err(e) if strict() => panic!("CI=true and a pack is missing: {e}"),
            Err(e) => {
                eprintln!("SKIPPED: {e}; run `cargo xtask setup`");
                return None;
            }
        }
    }
    Some(registry)
}

/// A heard note, as the transcriber reports it (amplitude 0.6, frames at basic-pitch's rate).
pub fn heard_note(start: f64, end: f64, pitch: u8) -> counterpart_engine::transcribe::Note {
    let frame = |s: f64| (s.max(0.0) * 22_050.0 / 256.0) as usize;
    counterpart_engine::transcribe::Note {
        start,
        end,
        pitch,
        amplitude: 0.6,
        pitch_bends: None,
        start_frame: frame(start),
        end_frame: frame(end),
    }
}

/// The input a test host plays a song into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The main input (what edits change).
    Main,
    /// The sidechain (the context jobs write against).
    Sidechain,
}

/// Plays `song` into `input` from song sample `from` (silence before it) while the host's 4/4
/// transport runs at `tempo` from the song start, through the audio thread's capture in blocks of
/// 512, about ten times real time. Every [`BLOCKS_PER_BARRIER`] blocks it waits until `engine`'s
/// worker has drained the capture, as a real-time host would by being slower than it: on a busy
/// machine a worker that falls behind for a moment never lets the ring overflow.
pub fn play_into(
    engine: &counterpart_engine::Engine,
    audio: &mut counterpart_engine::link::AudioSide,
    song: &counterpart_engine::stem::StereoAudio,
    from: usize,
    tempo: f64,
    input: Input,
) {
    let rate = song.sample_rate as f64;
    let mut scratch = Box::default();
    let block = 512usize;
    let total = from + song.frames();
    for (n, start) in (0..total).step_by(block).enumerate() {
        let len = block.min(total - start);
        let at = |data: &[f32], i: usize| (start + i).checked_sub(from).and_then(|k| data.get(k)).copied();
        let mut left: Vec<f32> = (0..len).map(|i| at(&song.left, i).unwrap_or(0.0)).collect();
        let mut right: Vec<f32> = (0..len).map(|i| at(&song.right, i).unwrap_or(0.0)).collect();
        let (mut zl, mut zr) = (vec![0.0f32; len], vec![0.0f32; len]);
        let (main, side): ([&mut [f32]; 2], [&mut [f32]; 2]) = match input {
            Input::Main => ([&mut left, &mut right], [&mut zl, &mut zr]),
            Input::Sidechain => ([&mut zl, &mut zr], [&mut left, &mut right]),
        };
        let pos = start as i64;
        audio.transport.publish(tempo, rate, pos, true, (4, 4));
        let beats = pos as f64 / rate * tempo / 60.0;
        let signature = counterpart_engine::timeline::TimeSignature::default();
        audio.capture(&mut scratch, &main, Some(&side), 0, pos, len, beats, tempo, signature);
        std::thread::sleep(std::time::Duration::from_millis(1));
        if n % BLOCKS_PER_BARRIER == BLOCKS_PER_BARRIER - 1 {
            engine.captured_song().expect("the worker answers");
        }
    }
}

/// Host blocks [`play_into`] sends between waits for the worker: a quarter of the capture ring.
pub const BLOCKS_PER_BARRIER: usize = counterpart_engine::link::CAPTURE_CAPACITY / 4 / (512 / 256);
