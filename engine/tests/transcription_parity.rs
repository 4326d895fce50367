//! Rust port vs the Python reference on the committed fixtures: posteriorgrams within float
//! tolerance, notes identical (frames, pitch, amplitude, pitch bends); windows run side by side on
//! single-threaded sessions bit-identical to one session; the pack's graph through the registry
//! bit-identical to the reference; the default folded graph within 1e-4 with the same notes.

mod common;

use counterpart_engine::audio_io;
use counterpart_engine::packs::PackRegistry;
use counterpart_engine::runtime::SessionSettings;
use counterpart_engine::transcribe::{self, Graph, RegistrySessions, TranscribeOptions, Transcription, sessions};

/// Largest allowed |rust - python| in any posteriorgram cell.
const PG_TOLERANCE: f32 = 1e-4;

#[test]
fn posteriorgrams_and_notes_match_reference() {
    let Some(mut session) = common::basic_pitch_session() else {
        return;
    };
    let mut worst = 0.0f32;
    for clip in common::CLIPS {
        let (samples, info) = audio_io::load_mono(&common::fixtures().join(format!("{clip}.wav"))).unwrap();
        assert_eq!(info.sample_rate, 22050);
        let t = transcribe::transcribe_samples(&mut session, &samples, &TranscribeOptions::default()).unwrap();
        let reference = common::reference(clip);
        let (onset, note, contour) = common::reference_pg(clip, reference.frames);
        let pg = &t.posteriorgram;
        assert_eq!(pg.frames, reference.frames, "{clip}: frame count");
        for (what, a, b) in
            [("onset", &pg.onset, &onset), ("note", &pg.note, &note), ("contour", &pg.contour, &contour)]
        {
            let diff = a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
            println!("{clip}: {what} max abs diff {diff:e}");
            worst = worst.max(diff);
            assert!(diff <= PG_TOLERANCE, "{clip}: {what} differs by {diff}");
        }
        assert_eq!(t.notes.len(), reference.notes.len(), "{clip}: note count");
        for (i, (r, p)) in t.notes.iter().zip(&reference.notes).enumerate() {
            assert_eq!(r.pitch, p.pitch, "{clip} note {i}: pitch");
            assert_eq!(r.start, p.start, "{clip} note {i}: start");
            assert_eq!(r.end, p.end, "{clip} note {i}: end");
            assert_eq!(r.amplitude, p.amplitude as f32, "{clip} note {i}: amplitude");
            assert_eq!(r.pitch_bends, p.pitch_bends, "{clip} note {i}: pitch bends");
        }
        println!("{clip}: {} notes identical to the reference", t.notes.len());
    }
    println!("parity: worst posteriorgram max abs diff {worst:e}");
}

#[test]
fn batching_does_not_change_notes() {
    let Some(mut session) = common::basic_pitch_session() else {
        return;
    };
    let clip = common::fixtures().join("bass_flute.wav");
    let (samples, _) = audio_io::load_mono(&clip).unwrap();
    // Four copies make a 10 s signal: 6 windows, so batches of 4 include a partial batch.
    let long: Vec<f32> = samples.iter().cycle().take(samples.len() * 4).copied().collect();
    let one = transcribe::transcribe_samples(&mut session, &long, &TranscribeOptions::default()).unwrap();
    let four =
        transcribe::transcribe_samples(&mut session, &long, &TranscribeOptions { batch: 4, ..Default::default() })
            .unwrap();
    let diff =
        one.posteriorgram.note.iter().zip(&four.posteriorgram.note).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    println!("batch 1 vs 4: note max abs diff {diff:e}");
    assert!(diff <= PG_TOLERANCE);
    assert_eq!(one.posteriorgram.frames, four.posteriorgram.frames);
    let key = |t: &transcribe::Transcription| {
        t.notes.iter().map(|n| (n.start_frame, n.end_frame, n.pitch)).collect::<Vec<_>>()
    };
    assert_eq!(key(&one), key(&four));
}

#[test]
fn file_path_matches_in_memory_path() {
    let Some(mut session) = common::basic_pitch_session() else {
        return;
    };
    let path = common::fixtures().join("piano_melody.wav");
    let (samples, _) = audio_io::load_mono(&path).unwrap();
    let a = transcribe::transcribe_samples(&mut session, &samples, &TranscribeOptions::default()).unwrap();
    let b = transcribe::transcribe_file(&mut session, &path, &TranscribeOptions::default()).unwrap();
    assert_eq!(a.notes, b.notes);
    assert_eq!(a.posteriorgram, b.posteriorgram);
}

/// The fixtures looped to `seconds`: long enough for several rounds of windows.
fn looped_fixtures(seconds: usize) -> Vec<f32> {
    let mut all = Vec::new();
    for clip in common::CLIPS {
        all.extend(audio_io::load_mono(&common::fixtures().join(format!("{clip}.wav"))).unwrap().0);
    }
    all.iter().cycle().take(seconds * 22050).copied().collect()
}

#[test]
fn sessions_side_by_side_are_bit_identical_to_one_session() {
    let Some(pack) = common::basic_pitch() else {
        return;
    };
    let mut one = common::basic_pitch_session().unwrap();
    // 60 s: 37 windows, so every layout runs a full round of windows and a partial one.
    let long = looped_fixtures(60);
    let reference = transcribe::transcribe_samples(&mut one, &long, &TranscribeOptions::default()).unwrap();
    for (n, batch) in [(2, 1), (3, 1), (2, 2)] {
        let mut side_by_side = sessions::cpu_sessions(&pack, n).unwrap();
        assert_eq!(side_by_side.len(), n);
        let opts = TranscribeOptions { batch, ..Default::default() };
        let t = transcribe::transcribe_samples_on(&mut side_by_side, &long, &opts).unwrap();
        assert_eq!(t.posteriorgram.frames, reference.posteriorgram.frames, "{n} sessions, batch {batch}");
        if batch == 1 {
            assert!(t.posteriorgram == reference.posteriorgram, "{n} sessions: posteriorgram not bit-identical");
        }
        assert_eq!(t.notes, reference.notes, "{n} sessions, batch {batch}: notes");
        println!("{n} sessions, batch {batch}: {} notes identical to one session", t.notes.len());
    }
}

#[test]
fn registry_reference_graph_matches_reference_bit_for_bit() {
    if common::basic_pitch().is_none() {
        return;
    }
    let mut registry = PackRegistry::discover_default(SessionSettings::default());
    let opts = TranscribeOptions { graph: Graph::Reference, ..Default::default() };
    let mut sessions = RegistrySessions::new(&mut registry, &opts).unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(sessions.as_mut_slice().len(), transcribe::sessions::cpu_layout(0, cores).0);
    for clip in common::CLIPS {
        let path = common::fixtures().join(format!("{clip}.wav"));
        let t = transcribe::transcribe_file_on(sessions.as_mut_slice(), &path, &opts).unwrap();
        let reference = common::reference(clip);
        let (onset, note, contour) = common::reference_pg(clip, reference.frames);
        assert!(t.posteriorgram.onset == onset, "{clip}: onsets differ");
        assert!(t.posteriorgram.note == note, "{clip}: notes differ");
        assert!(t.posteriorgram.contour == contour, "{clip}: contours differ");
        let key: Vec<_> =
            t.notes.iter().map(|n| (n.start, n.end, n.pitch, n.amplitude, n.pitch_bends.clone())).collect();
        let want: Vec<_> = reference
            .notes
            .iter()
            .map(|n| (n.start, n.end, n.pitch, n.amplitude as f32, n.pitch_bends.clone()))
            .collect();
        assert_eq!(key, want, "{clip}: notes");
        println!("{clip}: default layout bit-identical to the reference, {} notes", t.notes.len());
    }
    // The one-session layout stays available and is the registry's own session.
    let one = RegistrySessions::new(&mut registry, &TranscribeOptions { sessions: 1, ..Default::default() }).unwrap();
    assert!(matches!(one, RegistrySessions::Shared(_)));
}

/// Largest |a - b| over two posteriorgram planes.
fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max)
}

/// A note as compared: start, end, pitch, amplitude, pitch bends.
type NoteKey = (f64, f64, u8, f32, Option<Vec<i32>>);

/// Notes identical but for the amplitude (a mean of activations), which must be within tolerance.
fn assert_same_notes(what: &str, got: &Transcription, want: &[NoteKey]) {
    assert_eq!(got.notes.len(), want.len(), "{what}: note count");
    for (i, (n, w)) in got.notes.iter().zip(want).enumerate() {
        assert_eq!((n.start, n.end, n.pitch), (w.0, w.1, w.2), "{what} note {i}: timing or pitch");
        assert!((n.amplitude - w.3).abs() <= PG_TOLERANCE, "{what} note {i}: amplitude {} vs {}", n.amplitude, w.3);
        assert_eq!(n.pitch_bends, w.4, "{what} note {i}: pitch bends");
    }
}

#[test]
fn folded_graph_is_within_tolerance_with_identical_notes() {
    let Some(pack) = common::basic_pitch() else {
        return;
    };
    let (mut folded, graph) = sessions::cpu_sessions_with(&pack, 0, Graph::Folded).unwrap();
    assert_eq!(graph, Graph::Folded, "the rewrite must apply to the shipped basic-pitch graph");
    let opts = TranscribeOptions::default();
    assert_eq!(opts.graph, Graph::Folded, "the folded graph is the default");
    let mut worst = 0.0f32;
    for clip in common::CLIPS {
        let path = common::fixtures().join(format!("{clip}.wav"));
        let t = transcribe::transcribe_file_on(&mut folded, &path, &opts).unwrap();
        let reference = common::reference(clip);
        let (onset, note, contour) = common::reference_pg(clip, reference.frames);
        assert_eq!(t.posteriorgram.frames, reference.frames, "{clip}: frame count");
        let pg = &t.posteriorgram;
        let diff = max_diff(&pg.onset, &onset).max(max_diff(&pg.note, &note)).max(max_diff(&pg.contour, &contour));
        println!("{clip}: folded graph max abs diff to the reference {diff:e}");
        assert!(diff <= PG_TOLERANCE, "{clip}: folded graph differs by {diff}");
        worst = worst.max(diff);
        let want: Vec<_> = reference
            .notes
            .iter()
            .map(|n| (n.start, n.end, n.pitch, n.amplitude as f32, n.pitch_bends.clone()))
            .collect();
        assert_same_notes(clip, &t, &want);
    }
    // 60 s of the fixtures looped: 37 windows, against the pack's graph on one session.
    let long = looped_fixtures(60);
    let mut one = common::basic_pitch_session().unwrap();
    let exact = transcribe::transcribe_samples(&mut one, &long, &TranscribeOptions::default()).unwrap();
    let t = transcribe::transcribe_samples_on(&mut folded, &long, &opts).unwrap();
    let (a, b) = (&t.posteriorgram, &exact.posteriorgram);
    let diff = max_diff(&a.onset, &b.onset).max(max_diff(&a.note, &b.note)).max(max_diff(&a.contour, &b.contour));
    println!("60 s clip: folded graph max abs diff {diff:e}, {} notes", t.notes.len());
    assert!(diff <= PG_TOLERANCE, "60 s clip: folded graph differs by {diff}");
    assert!(diff > 0.0, "the folded graph is a different computation; identical bits mean it did not run");
    let want: Vec<_> =
        exact.notes.iter().map(|n| (n.start, n.end, n.pitch, n.amplitude, n.pitch_bends.clone())).collect();
    assert_same_notes("60 s clip", &t, &want);
    println!("parity of the folded graph: worst fixture diff {worst:e}; notes identical");

    // Other packs' graphs are not rewritten: the transcriber falls back to the graph as it is.
    let registry = PackRegistry::discover_default(SessionSettings::default());
    for other in registry.packs().iter().filter(|p| p.name() != pack.name()) {
        for model in &other.manifest.models {
            let bytes = std::fs::read(other.dir.join(&model.file)).unwrap();
            let refused = transcribe::folded_graph::fold(&bytes).unwrap_err();
            println!("{} {}: not folded ({refused})", other.name(), model.file);
        }
    }
}

#[test]
fn registry_builds_side_by_side_sessions_once() {
    if common::basic_pitch().is_none() {
        return;
    }
    let mut registry = PackRegistry::discover_default(SessionSettings::default());
    let opts = TranscribeOptions::default();
    let first = RegistrySessions::new(&mut registry, &opts).unwrap().as_mut_slice().as_ptr();
    let again = RegistrySessions::new(&mut registry, &opts).unwrap().as_mut_slice().as_ptr();
    assert_eq!(first, again, "the second transcription must reuse the registry's sessions");
    let exact = TranscribeOptions { graph: Graph::Reference, ..Default::default() };
    let other = RegistrySessions::new(&mut registry, &exact).unwrap().as_mut_slice().as_ptr();
    assert_ne!(first, other, "the reference graph has sessions of its own");
}
