//! `analyze` on transcribed fixture clips: chords, key, tempo and features come out right.

mod common;

use counterpart_engine::analysis::{self, AnalyzeOptions, Meter};
use counterpart_engine::audio_io;
use counterpart_engine::transcribe::{self, TranscribeOptions, Transcription};

/// Transcribes a fixture clip with the real model.
fn transcribe_clip(session: &mut ort::session::Session, clip: &str) -> Transcription {
    let (samples, _) = audio_io::load_mono(&common::fixtures().join(format!("{clip}.wav"))).unwrap();
    transcribe::transcribe_samples(session, &samples, &TranscribeOptions::default()).unwrap()
}

#[test]
fn chords_key_and_grid_of_known_clips() {
    let Some(mut session) = common::basic_pitch_session() else {
        return;
    };
    // Eb - Cm - Bb7, one chord every 0.8 s: two beats at 150 BPM.
    let t = transcribe_clip(&mut session, "piano_chords");
    let opts = AnalyzeOptions { tempo: Some(150.0), meter: "2/4".parse().unwrap() };
    let a = analysis::analyze(&t.notes, t.duration, &opts);
    println!("chords {:?}, key {}", a.chords, a.key.name);
    assert_eq!(a.chords, ["Eb", "Cm", "Bb7"]);
    assert_eq!(a.key.name, "Eb major");
    assert!(!a.tempo.estimated);
    assert_eq!(a.downbeats.len(), 3);

    // Eighth notes at 120 BPM: the estimate lands near 120 (or a simple multiple).
    let t = transcribe_clip(&mut session, "piano_melody");
    let a = analysis::analyze(&t.notes, t.duration, &AnalyzeOptions::default());
    println!("melody: {:.1} BPM, key {}, pattern {:?}", a.tempo.bpm, a.key.name, a.features.onset_pattern);
    assert!(a.tempo.estimated);
    assert!((a.tempo.bpm - 120.0).abs() <= 3.0, "tempo {}", a.tempo.bpm);
    assert_eq!(a.key.name, "C major");
    assert_eq!((a.features.pitch_min, a.features.pitch_max), (60, 72));
    // Eighths fill every other step of the 16-step grid.
    let on: Vec<usize> = (0..16).filter(|&s| a.features.onset_pattern[s] > 0.0).collect();
    assert!(on.iter().all(|s| s % 2 == on[0] % 2), "{on:?}");
    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains("\"chords\"") && json.contains("\"onset_pattern\""));
}

#[test]
fn empty_input_analyzes_cleanly() {
    let a = analysis::analyze(&[], 0.0, &AnalyzeOptions::default());
    assert!(a.notes.is_empty());
    assert_eq!(a.key.name, "unknown");
    assert!(a.chords.iter().all(|c| c == "N"));
    let a = analysis::analyze(&[], f64::NAN, &AnalyzeOptions { tempo: Some(-5.0), meter: Meter::default() });
    assert!(a.tempo.bpm.is_finite());
}

#[test]
fn meters_parse() {
    assert_eq!("6/8".parse::<Meter>().unwrap(), Meter { beats: 6, unit: 8 });
    assert!("4".parse::<Meter>().is_err());
    assert!("0/4".parse::<Meter>().is_err());
    assert!("4/5".parse::<Meter>().is_err());
}
