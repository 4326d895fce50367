//! Editor frame time with 16 stems of 5 minutes each on screen (48 kHz audio waveforms and
//! 2,400 notes per stem, two takes each), laid out and tessellated on the CPU the way the plugin
//! window does every frame. Prints mean and p99 against the 4 ms budget, and against a
//! reference run of the same editor with no stems measured in the same process. No assertions.
//!
//! `cargo bench -p counterpart-gui --bench frame`

use std::sync::Arc;
use std::time::{Duration, Instant};

use counterpart_engine::Engine;
use counterpart_engine::cache::AudioCache;
use counterpart_engine::project::ProjectState;
use counterpart_engine::stem::{Note, SLOTS, StemOutput, StemRecord, StereoAudio, TakeRecord};
use counterpart_gui::EditorApp;

#[path = "../tests/common/mod.rs"]
mod common;
use common::Controls;

const RATE: u32 = 48_000;
const SECONDS: usize = 300;
const TEMPO: f64 = 120.0;
/// Distinct audio contents (each 5 minutes of 48 kHz stereo) shared by the 16 lanes.
const CONTENTS: usize = 4;
const NOTES_PER_STEM: usize = 2_400;
const BUDGET: Duration = Duration::from_millis(4);
const FRAMES: usize = 300;
/// Tall enough that every lane is on screen.
const SCREEN: (f32, f32) = (1000.0, 1500.0);

/// A cheap deterministic noise source.
fn noise(seed: u64, i: u64) -> f32 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// Five minutes of enveloped noise (a beat-long swell per beat), different per seed.
fn audio(seed: u64) -> StereoAudio {
    let frames = RATE as usize * SECONDS;
    let beat = (RATE as f64 * 60.0 / TEMPO) as usize;
    let left: Vec<f32> =
        (0..frames).map(|i| noise(seed, i as u64) * (1.0 - (i % beat) as f32 / beat as f32) * 0.6).collect();
    let right = left.iter().map(|v| v * 0.8).collect();
    StereoAudio { sample_rate: RATE, left, right }
}

fn notes(seed: u64) -> Vec<Note> {
    let beats = SECONDS as f64 * TEMPO / 60.0;
    let step = beats / NOTES_PER_STEM as f64;
    (0..NOTES_PER_STEM)
        .map(|n| Note {
            start: n as f64 * step,
            length: step * 0.9,
            key: 36 + ((noise(seed, n as u64) + 1.0) * 18.0) as u8,
            velocity: 90,
        })
        .collect()
}

/// Frame times of `frames` frames of `app`, after it has settled.
fn measure(app: &mut EditorApp, frames: usize) -> (Vec<Duration>, usize) {
    let ctx = egui::Context::default();
    app.setup(&ctx);
    let input = |t: f64| egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(SCREEN.0, SCREEN.1))),
        time: Some(t),
        ..Default::default()
    };
    let frame = |t: f64, app: &mut EditorApp| {
        let output = ctx.run_ui(input(t), |ui| app.show(ui));
        ctx.tessellate(output.shapes, output.pixels_per_point)
    };
    // Let the summaries arrive and the layout settle.
    for n in 0..20 {
        frame(n as f64 / 60.0, app);
        app.settle_summaries(Duration::from_secs(120));
    }
    let mut times = Vec::with_capacity(frames);
    let mut vertices = 0;
    for n in 0..frames {
        let start = Instant::now();
        let meshes = frame(1.0 + n as f64 / 60.0, app);
        times.push(start.elapsed());
        vertices = meshes
            .iter()
            .map(|m| match &m.primitive {
                egui::epaint::Primitive::Mesh(mesh) => mesh.vertices.len(),
                _ => 0,
            })
            .sum();
    }
    (times, vertices)
}

fn stats(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len().max(1) as u32;
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    (mean, p99)
}

fn main() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("gui-frame-bench");
    let cache = AudioCache::new(dir.join("cache"));
    let references: Vec<_> =
        (0..CONTENTS as u64).map(|seed| cache.store(&audio(seed)).expect("stores audio")).collect();
    let mut project = ProjectState::default();
    for slot in 0..SLOTS {
        let takes: Vec<TakeRecord> = (0..2u64)
            .map(|t| TakeRecord {
                label: format!("take {} · seed {}", t + 1, slot as u64 * 2 + t),
                prompt: "add a bass line".into(),
                seed: slot as u64 * 2 + t,
                audio: Some(references[(slot + t as usize) % CONTENTS].clone()),
                notes: notes(slot as u64 * 2 + t),
                ..TakeRecord::default()
            })
            .collect();
        project.put(StemRecord {
            slot,
            name: format!("stem {}", slot + 1),
            start_beats: 0.0,
            start_seconds: 0.0,
            tempo: TEMPO,
            audio: takes[0].audio.clone(),
            notes: takes[0].notes.clone(),
            output: StemOutput::Both,
            takes,
            active_take: 0,
        });
    }

    let (engine, _audio) = Engine::start(cache.clone());
    let engine = Arc::new(engine);
    engine.activate(RATE as f64);
    let (empty_engine, _empty_audio) = Engine::start(AudioCache::new(dir.join("empty")));
    let empty_engine = Arc::new(empty_engine);
    empty_engine.activate(RATE as f64);
    engine.store().restore_json(&serde_json_value(&project));
    assert_eq!(engine.status().stems.len(), SLOTS, "the 16 stems are placed");

    let mut full = EditorApp::new(Arc::new(Controls::new()), engine.clone(), cache.clone());
    let mut empty = EditorApp::new(Arc::new(Controls::new()), empty_engine.clone(), AudioCache::new(dir.join("empty")));
    // Interleave the two runs so both see the same machine load.
    let (mut full_times, mut empty_times) = (Vec::new(), Vec::new());
    let mut vertices = 0;
    for _ in 0..3 {
        let (times, v) = measure(&mut empty, FRAMES / 3);
        empty_times.extend(times);
        let (times, v_full) = measure(&mut full, FRAMES / 3);
        full_times.extend(times);
        vertices = v_full.max(v);
    }
    let (mean, p99) = stats(&mut full_times);
    let (ref_mean, ref_p99) = stats(&mut empty_times);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "editor frame, 16 stems x 5 min (audio + {NOTES_PER_STEM} notes each) on a {}x{} screen:",
        SCREEN.0, SCREEN.1
    );
    println!(
        "  mean {:.3} ms, p99 {:.3} ms ({} frames, {vertices} vertices per frame)",
        ms(mean),
        ms(p99),
        full_times.len()
    );
    let budget = ms(BUDGET);
    println!("  ratio to the 4 ms budget: mean {:.3}, p99 {:.3}", ms(mean) / budget, ms(p99) / budget);
    println!("  reference (same editor, no stems): mean {:.3} ms, p99 {:.3} ms", ms(ref_mean), ms(ref_p99));
    println!("  ratio to the reference: mean {:.2}x, p99 {:.2}x", ms(mean) / ms(ref_mean), ms(p99) / ms(ref_p99));
    drop((full, empty));
    std::fs::remove_dir_all(&dir).ok();
}

fn serde_json_value(project: &ProjectState) -> serde_json::Value {
    serde_json::to_value(project).expect("the project serialises")
}
