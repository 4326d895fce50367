//! How much of the real-time budget `process()` uses while mixing 16 stereo stems with MIDI at
//! 48 kHz in 64-sample blocks, measured through the built CLAP bundle (build it with
//! `cargo xtask bundle counterpart --release` first). The reference run in the same process is
//! the plugin with no stems: the pass-through cost of the host and the wrapper.

use std::time::Instant;

use counterpart_engine::project::ProjectState;
use counterpart_engine::stem::{Note, StemOutput, StemRecord};
use counterpart_host_tests::daw::{Daw, noise, noise_clip, shared_cache};

const RATE: f64 = 48_000.0;
const BLOCK: usize = 64;
const SECONDS: f64 = 30.0;

fn stems() -> ProjectState {
    let mut project = ProjectState::default();
    for slot in 0..16 {
        let audio = noise_clip(slot as u64, 48_000, (SECONDS * RATE) as usize + 48_000);
        let notes = (0..(SECONDS * 2.0) as usize * 4)
            .map(|i| Note { start: i as f64 * 0.25, length: 0.2, key: 36 + slot as u8, velocity: 100 })
            .collect();
        project.put(StemRecord {
            slot,
            name: format!("stem {slot}"),
            start_beats: 0.0,
            start_seconds: 0.0,
            tempo: 120.0,
            audio: Some(shared_cache().store(&audio).unwrap()),
            notes,
            output: StemOutput::Both,
            ..StemRecord::default()
        });
    }
    project
}

/// Seconds of wall time to render `SECONDS` of song.
fn run(project: Option<&ProjectState>) -> f64 {
    let mut daw = Daw::new(RATE, BLOCK);
    if let Some(project) = project {
        daw.load_project(project);
    }
    daw.playhead.playing = true;
    let frames = (SECONDS * RATE) as usize;
    let started = Instant::now();
    let out = daw.render(frames, |c, i| noise(c as u64, i));
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(out.main[0].len(), frames);
    elapsed
}

fn main() {
    let project = stems();
    // Warm up the bundle, the cache and the CPU caches.
    run(Some(&project));
    let best = |project: Option<&ProjectState>| (0..3).map(|_| run(project)).fold(f64::INFINITY, f64::min);
    let reference = best(None);
    let loaded = best(Some(&project));
    println!("process() at {RATE} Hz, {BLOCK}-sample blocks, {SECONDS} s of song, best of 3:");
    println!("  pass-through only (reference): {:>8.3} % of real time", reference / SECONDS * 100.0);
    println!("  16 stereo stems + MIDI:        {:>8.3} % of real time", loaded / SECONDS * 100.0);
    println!("  stems cost over the reference: {:>8.3} % of real time", (loaded - reference) / SECONDS * 100.0);
    println!("  ratio loaded / reference:      {:>8.2}x", loaded / reference);
}
