//! Note-level accuracy against the known MIDI of the fixture clips (onset within 50 ms, same
//! pitch, one-to-one), with a floor measured on the committed clips, through the sessions the
//! CLI and the worker use by default.

mod common;

use counterpart_engine::audio_io;
use counterpart_engine::packs::PackRegistry;
use counterpart_engine::runtime::SessionSettings;
use counterpart_engine::transcribe::{self, RegistrySessions, TranscribeOptions};

/// Floors measured on the committed clips (see scripts/eval_transcription.py); the port is
/// bit-exact with the reference, so these only move when the fixtures are regenerated.
const FLOORS: [(&str, f64); 3] = [("piano_melody", 0.99), ("piano_chords", 0.80), ("bass_flute", 0.75)];

#[test]
fn note_f1_meets_measured_floor() {
    if common::basic_pitch().is_none() {
        return;
    }
    let mut registry = PackRegistry::discover_default(SessionSettings::default());
    let opts = TranscribeOptions::default();
    let mut sessions = RegistrySessions::new(&mut registry, &opts).unwrap();
    let (mut all_est, mut all_truth) = (Vec::new(), Vec::new());
    for (i, (clip, floor)) in FLOORS.iter().enumerate() {
        let (samples, _) = audio_io::load_mono(&common::fixtures().join(format!("{clip}.wav"))).unwrap();
        let t = transcribe::transcribe_samples_on(sessions.as_mut_slice(), &samples, &opts).unwrap();
        let est: Vec<(f64, u8)> = t.notes.iter().map(|n| (n.start, n.pitch)).collect();
        let truth: Vec<(f64, u8)> = common::truth(clip).iter().map(|n| (n.start, n.pitch)).collect();
        let (p, r, f) = common::prf(&est, &truth, 0.05);
        println!("{clip:14} P {p:.3} R {r:.3} F1 {f:.3} ({} est, {} true)", est.len(), truth.len());
        assert!(f >= *floor, "{clip}: F1 {f:.3} below the floor {floor}");
        // Offset the clips in time so the pooled score matches notes within each clip only.
        all_est.extend(est.iter().map(|&(s, p)| (s + 100.0 * i as f64, p)));
        all_truth.extend(truth.iter().map(|&(s, p)| (s + 100.0 * i as f64, p)));
    }
    let (p, r, f) = common::prf(&all_est, &all_truth, 0.05);
    println!("{:14} P {p:.3} R {r:.3} F1 {f:.3}", "all clips");
    assert!(f >= 0.85, "pooled F1 {f:.3}");
}
