//! Rust port vs the Python reference on the committed fixtures: posteriorgrams within float
//! tolerance, notes identical (frames, pitch, amplitude, pitch bends).

mod common;

use counterpart_engine::audio_io;
use counterpart_engine::transcribe::{self, TranscribeOptions};

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
