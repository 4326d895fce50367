//! Separation speed: seconds per minute of stereo 44.1 kHz audio for each method, the ratio to the
//! target (a song separated in under a tenth of its duration: 6 s per minute), and the ratio to a
//! reference run in the same process (an all-pass mask through the same STFT pipeline, i.e. the
//! cost of the transforms alone). The input is a 3-minute song rendered here through the General
//! MIDI SoundFont (bass, piano, drums).
//!
//! `cargo bench -p counterpart-engine --bench separate` (needs `cargo xtask setup`; the Spleeter and
//! score-informed rows are skipped without the runtime and packs).

use std::time::Instant;

use counterpart_engine::packs::{PackRegistry, TaskKind};
use counterpart_engine::render::Renderer;
use counterpart_engine::runtime::{self, SessionSettings};
use counterpart_engine::separate::hpss::{self, HpssSettings};
use counterpart_engine::separate::masking::{self, Layout};
use counterpart_engine::separate::{score_informed, separate_vocals};
use counterpart_engine::stem::{Note, StereoAudio};

const RATE: u32 = 44_100;
const SECONDS: f64 = 180.0;
/// Target: separation time over audio time.
const TARGET_RATIO: f64 = 0.1;

/// A 3-minute song at 120 BPM: bass, piano triads and a rock groove.
fn song(renderer: &Renderer) -> StereoAudio {
    let bars = (SECONDS / 2.0) as usize;
    let roots = [36u8, 33, 29, 31];
    let triads = [[60u8, 64, 67], [57, 60, 64], [57, 60, 65], [59, 62, 67]];
    let note = |start: f64, length: f64, key: u8, velocity: u8| Note { start, length, key, velocity };
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
    let frames = (SECONDS * RATE as f64) as usize;
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

fn row(name: &str, seconds: f64, audio_seconds: f64, reference: f64) {
    let per_minute = seconds / audio_seconds * 60.0;
    let ratio = seconds / audio_seconds / TARGET_RATIO;
    let verdict = if ratio <= 1.0 { "meets" } else { "misses" };
    let against = seconds / reference;
    println!(
        "{name:<36} {seconds:>7.2} s {per_minute:>8.2} s/min {ratio:>8.2}x of target ({verdict}) {against:>7.1}x reference"
    );
}

fn main() {
    let renderer = Renderer::open_default().expect("the SoundFont (cargo xtask setup)");
    let audio = song(&renderer);
    let audio_seconds = audio.seconds();
    println!("separation of {audio_seconds:.0} s of stereo {RATE} Hz audio; target: under {TARGET_RATIO} x duration");
    println!("{:<36} {:>9} {:>13} {:>20} {:>18}", "method", "time", "per minute", "time / target", "time / reference");

    let t = Instant::now();
    masking::extract(&audio, &Layout::for_rate(RATE, 8), |_, m| {
        m.fill(1.0);
        Ok(())
    })
    .expect("round trip");
    let reference = t.elapsed().as_secs_f64();
    row("reference: STFT round trip, no mask", reference, audio_seconds, reference);

    let t = Instant::now();
    let drums = hpss::separate_drums(&audio, &HpssSettings::default()).expect("separates");
    row("drums: HPSS + onsets", t.elapsed().as_secs_f64(), audio_seconds, reference);
    assert_eq!(drums.frames(), audio.frames());

    if runtime::init_default().is_err() {
        println!("(ONNX Runtime missing: the model rows are skipped)");
        return;
    }
    let mut registry = PackRegistry::discover_default(SessionSettings::default());
    if let Ok(pack) = registry.find(TaskKind::Transcriber).map(|p| p.name().to_string()) {
        let session = &mut registry.session(&pack, "nmp").expect("loads").session;
        let t = Instant::now();
        let notes = score_informed::transcribe_mix(session, &audio).expect("transcribes");
        let transcribe = t.elapsed().as_secs_f64();
        let (line, others) = score_informed::lowest_line(&notes);
        let t = Instant::now();
        score_informed::separate_line(&audio, &line, &others).expect("separates");
        let masks = t.elapsed().as_secs_f64();
        row("bass: transcription (basic-pitch)", transcribe, audio_seconds, reference);
        row("bass: score-informed masks", masks, audio_seconds, reference);
        row("bass: total", transcribe + masks, audio_seconds, reference);
    }
    if registry.find(TaskKind::Separator).is_ok() {
        let t = Instant::now();
        separate_vocals(&mut registry, &audio).expect("separates");
        row("vocals: Spleeter 2stems", t.elapsed().as_secs_f64(), audio_seconds, reference);
    }
}
