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

/// A note as the transcriber reports it.
fn heard(start: f64, end: f64, pitch: u8) -> transcribe::Note {
    transcribe::Note { start, end, pitch, amplitude: 0.6, pitch_bends: None, start_frame: 0, end_frame: 0 }
}

/// Four bars of I-IV-V-I in C at 120 BPM (2 s per bar), a chord struck on every beat.
fn four_bars() -> Vec<transcribe::Note> {
    let roots = [48, 53, 55, 48];
    (0..16)
        .flat_map(|beat| {
            let (t, root) = (beat as f64 * 0.5, roots[beat / 4]);
            [root, root + 16, root + 19].map(|p| heard(t, t + 0.5, p))
        })
        .collect()
}

#[test]
fn infinite_and_undefined_note_times_are_left_out_with_a_warning() {
    let opts = AnalyzeOptions { tempo: Some(120.0), meter: Meter::default() };
    let mut notes = four_bars();
    notes.extend([heard(1.0, f64::INFINITY, 62), heard(f64::NEG_INFINITY, 1.0, 62), heard(f64::NAN, 2.0, 64)]);
    let a = analysis::analyze(&notes, 8.0, &opts);
    assert_eq!(a.notes.len(), 48, "the broken notes are left out");
    assert_eq!(a.bars.len(), 4);
    assert!(a.warnings.iter().any(|w| w.starts_with("3 note(s)") && w.contains("infinite")), "{:?}", a.warnings);
    // Absurd durations are cut, never an overflow or an endless grid.
    for duration in [f64::INFINITY, 1e300, -1.0] {
        let a = analysis::analyze(&four_bars(), duration, &opts);
        assert_eq!(a.bars.len(), 4, "duration {duration}");
    }
    assert!(analysis::analyze(&four_bars(), 8.0, &opts).warnings.is_empty());
}

#[test]
fn the_release_tail_adds_no_bar() {
    let opts = AnalyzeOptions { tempo: Some(120.0), meter: Meter::default() };
    // The audio runs 1.5 s past the last chord (its release): still four bars.
    assert_eq!(analysis::analyze(&four_bars(), 9.5, &opts).bars.len(), 4);
    // A last chord held through most of a fifth bar makes it a bar of the song...
    let mut held = four_bars();
    held.extend([48, 64, 67].map(|p| heard(7.5, 9.6, p)));
    assert_eq!(analysis::analyze(&held, 11.0, &opts).bars.len(), 5);
    // ... and so does a note of half a beat or more starting in it; a silent bar inside the song
    // stays. Short blips the transcriber hears in a release do not make a bar.
    let mut blips = four_bars();
    blips.extend([heard(8.5, 8.7, 40), heard(8.5, 8.7, 50)]);
    assert_eq!(analysis::analyze(&blips, 10.0, &opts).bars.len(), 4);
    // A held note the transcriber splits in its release (the same pitch starting where it ended)
    // is no new note either.
    let mut split = four_bars();
    split.extend([heard(7.5, 8.3, 67), heard(8.3, 8.9, 67)]);
    assert_eq!(analysis::analyze(&split, 10.0, &opts).bars.len(), 4);
    let mut late = four_bars();
    late.retain(|n| !(4.0..6.0).contains(&n.start));
    late.push(heard(8.2, 8.5, 72));
    let a = analysis::analyze(&late, 11.0, &opts);
    assert_eq!((a.bars.len(), a.downbeats.len()), (5, 5));
    assert_eq!(a.chords[2], "N");
}

#[test]
fn the_key_says_how_clear_it_is() {
    let opts = AnalyzeOptions { tempo: Some(120.0), meter: Meter::default() };
    let tonal = analysis::analyze(&four_bars(), 8.0, &opts);
    assert_eq!(tonal.key.name, "C major");
    assert!(tonal.key.is_clear(), "{:?}", tonal.key);
    // All twelve pitch classes held together: no key fits, and the analysis says so.
    let cluster: Vec<transcribe::Note> = (60..72).map(|p| heard(0.0, 8.0, p)).collect();
    let a = analysis::analyze(&cluster, 8.0, &opts);
    println!("tonal {:?}; cluster {:?}", tonal.key, a.key);
    assert!(!a.key.is_clear() && a.key.confidence < 0.1, "{:?}", a.key);
    assert!(a.warnings.iter().any(|w| w.contains("key is unclear")), "{:?}", a.warnings);
}
