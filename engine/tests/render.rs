//! Notes rendered through the real General MIDI SoundFont come out where and what they should:
//! silent before the first note, and heard back by the real transcriber as the same notes.

mod common;

use counterpart_engine::stem::Note;
use counterpart_engine::transcribe::{self, TranscribeOptions};

#[test]
fn rendered_notes_sound_on_time_and_transcribe_back() {
    let Some(renderer) = common::renderer() else { return };
    let Some(mut session) = common::basic_pitch_session() else { return };
    // Piano at 120 BPM: C4 on beat 1, E4 on beat 2, G4 on beat 3, each half a beat.
    let notes: Vec<Note> = [(1.0, 60), (2.0, 64), (3.0, 67)]
        .iter()
        .map(|&(start, key)| Note { start, length: 0.5, key, velocity: 100 })
        .collect();
    let audio = renderer.render(&notes, Some(0), 0.0, 120.0, 22_050, 0.5).expect("renders");
    assert_eq!(audio.frames(), (3.5f64 * 0.5 * 22_050.0).round() as usize + 11_025, "last note-off plus the tail");
    let onset = (0.5 * 22_050.0) as usize;
    let before = audio.left[..onset - 10].iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    let after = audio.left[onset..onset + 2_205].iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    assert_eq!(before, 0.0, "nothing sounds before the first note");
    assert!(after > 0.01, "the first note sounds ({after})");

    let mono: Vec<f32> = audio.left.iter().zip(&audio.right).map(|(l, r)| (l + r) / 2.0).collect();
    let heard = transcribe::transcribe_samples(&mut session, &mono, &TranscribeOptions::default()).unwrap();
    let mut got: Vec<(f64, u8)> = heard.notes.iter().map(|n| (n.start, n.pitch)).collect();
    got.sort_by(|a, b| a.0.total_cmp(&b.0));
    let truth = [(0.5, 60), (1.0, 64), (1.5, 67)];
    let (p, r, f) = common::prf(&got, &truth, 0.05);
    println!("render -> transcribe: P {p:.2} R {r:.2} F1 {f:.2}: {got:?}");
    assert_eq!(r, 1.0, "every rendered note is heard at its time and pitch: {got:?}");
}

#[test]
fn drums_use_the_percussion_channel() {
    let Some(renderer) = common::renderer() else { return };
    // Kick (36) and snare (38) on channel 10 sound; as a piano program they would be low notes.
    let hits = [Note { start: 0.0, length: 0.25, key: 38, velocity: 110 }];
    let drums = renderer.render(&hits, None, 0.0, 120.0, 44_100, 0.2).unwrap();
    let piano = renderer.render(&hits, Some(0), 0.0, 120.0, 44_100, 0.2).unwrap();
    let energy = |a: &[f32]| a.iter().map(|v| v * v).sum::<f32>();
    assert!(energy(&drums.left) > 0.0 && energy(&piano.left) > 0.0);
    assert_ne!(drums.left, piano.left, "a different instrument plays");
}
