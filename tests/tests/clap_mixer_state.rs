//! The built CLAP bundle's mixer and memory: gain, mute, solo, routing and bypass; the project
//! saved and restored bit-exactly; damaged state loads what it can; sample-rate changes.

use counterpart_engine::resample::resample;
use counterpart_engine::stem::{AudioRef, Note, StemOutput, StemRecord, StereoAudio};
use counterpart_host_tests::daw::{Daw, NoteOut, decode_state, encode_state, noise, project_of, stored_audio_stem};

fn song(channel: usize, i: usize) -> f32 {
    noise(500 + channel as u64, i)
}

fn sidechain_song(channel: usize, i: usize) -> f32 {
    // Main input on channels 0-1, a different signal on the sidechain (2-3).
    if channel < 2 { song(channel, i) } else { noise(900 + channel as u64, i) }
}

/// An audio stem that also sends one note at its start.
fn audio_stem(slot: usize, start_beats: f64, frames: usize, seed: u64) -> (StemRecord, StereoAudio) {
    let (record, audio) = stored_audio_stem(slot, start_beats, frames, seed);
    let note = Note { start: start_beats, length: 1.0, key: 30 + slot as u8, velocity: 100 };
    (StemRecord { notes: vec![note], output: StemOutput::Both, ..record }, audio)
}

/// The main output minus the input: what the stems added.
fn added(out: &[f32], channel: usize) -> Vec<f32> {
    out.iter().enumerate().map(|(i, v)| v - song(channel, i)).collect()
}

fn playing(rate: f64, block: usize, stems: &[StemRecord]) -> Daw {
    let mut daw = Daw::new(rate, block);
    daw.load_project(&project_of(stems));
    daw.playhead.playing = true;
    daw
}

#[test]
fn mute_solo_gain_route_and_bypass_shape_what_is_heard() {
    let (a, audio_a) = audio_stem(0, 0.0, 24_000, 1);
    let (b, audio_b) = audio_stem(5, 0.0, 24_000, 2);
    let stems = [a, b];
    let both = |i: usize| audio_a.left[i] + audio_b.left[i];

    // Both stems, unity gain.
    let mut daw = playing(48_000.0, 480, &stems);
    let out = daw.render(24_000, sidechain_song);
    let sum = added(&out.main[0], 0);
    assert!(sum.iter().enumerate().all(|(i, v)| (v - both(i)).abs() < 1e-6), "both stems mixed");
    assert_eq!(out.notes.iter().filter(|n| n.on).map(|n| n.channel).collect::<Vec<_>>(), vec![0, 5]);

    // Mute slot 1: only slot 6 remains, and its MIDI alone is sent.
    let mut daw = playing(48_000.0, 480, &stems);
    daw.set_param("Stem 1 Mute", 1.0);
    daw.render(1, sidechain_song); // lets the gain ramp settle before the song starts
    daw.playhead.seek(0.0);
    let out = daw.render(24_000, sidechain_song);
    assert!(added(&out.main[0], 0).iter().enumerate().all(|(i, v)| (v - audio_b.left[i]).abs() < 1e-6));
    assert_eq!(out.notes.iter().filter(|n| n.on).map(|n| n.channel).collect::<Vec<_>>(), vec![5]);

    // Solo slot 1 overrides the others.
    let mut daw = playing(48_000.0, 480, &stems);
    daw.set_param("Stem 1 Solo", 1.0);
    daw.render(1, sidechain_song);
    daw.playhead.seek(0.0);
    let out = daw.render(24_000, sidechain_song);
    assert!(added(&out.main[0], 0).iter().enumerate().all(|(i, v)| (v - audio_a.left[i]).abs() < 1e-6));

    // Gain: the level follows the displayed dB value.
    let mut daw = playing(48_000.0, 480, &stems[..1]);
    daw.set_param("Stem 1 Gain", 0.5);
    let db: f32 = daw.param_text("Stem 1 Gain").trim_end_matches(" dB").parse().expect("gain shows dB");
    assert!(db < -1.0, "half-way is well below unity ({db} dB)");
    daw.render(1, sidechain_song);
    daw.playhead.seek(0.0);
    let out = daw.render(24_000, sidechain_song);
    let ratio =
        added(&out.main[0], 0)[1000..].iter().zip(&audio_a.left[1000..]).map(|(o, s)| o / s).sum::<f32>() / 23_000.0;
    let expected = 10f32.powf(db / 20.0);
    assert!((ratio - expected).abs() < expected * 0.02, "gain {ratio} vs {expected} ({db} dB)");

    // Route slot 6 to its group output (slots 5-8 = group 2): gone from main, there instead.
    let mut daw = playing(48_000.0, 480, &stems);
    daw.set_param("Stem 6 Route", 1.0);
    daw.render(1, sidechain_song);
    daw.playhead.seek(0.0);
    let out = daw.render(24_000, sidechain_song);
    assert!(added(&out.main[0], 0).iter().enumerate().all(|(i, v)| (v - audio_a.left[i]).abs() < 1e-6));
    assert!(out.groups[1][0].iter().zip(&audio_b.left).all(|(o, s)| (o - s).abs() < 1e-6));
    assert!(out.groups[0][0].iter().chain(&out.groups[2][0]).all(|v| *v == 0.0));

    // Bypass: the song passes untouched, no notes.
    let mut daw = playing(48_000.0, 480, &stems);
    daw.set_param("Bypass", 1.0);
    daw.render(1, sidechain_song);
    daw.playhead.seek(0.0);
    let out = daw.render(24_000, sidechain_song);
    assert!(out.main[0].iter().enumerate().all(|(i, v)| *v == song(0, i)));
    assert!(out.notes.is_empty());
}

#[test]
fn saved_state_restores_the_same_output_bit_for_bit() {
    let (a, _) = audio_stem(2, 2.0, 30_000, 31);
    let (b, _) = audio_stem(9, 3.0, 20_000, 32);
    let render = |daw: &mut Daw| {
        daw.playhead.seek(0.0);
        daw.playhead.playing = true;
        daw.render(96_000, sidechain_song)
    };
    let mut first = playing(44_100.0, 333, &[a, b]);
    first.set_param("Stem 3 Gain", 0.7);
    first.set_param("Stem 10 Mute", 1.0);
    first.render(1, sidechain_song);
    let before = render(&mut first);
    let saved = first.host.save_state().expect("saves");
    drop(first);

    let mut second = Daw::new(44_100.0, 333);
    second.host.load_state(&saved).expect("loads");
    second.render(1, sidechain_song);
    let after = render(&mut second);
    assert_eq!(before.main, after.main, "identical audio after save, destroy, recreate, load");
    assert_eq!(before.notes, after.notes);
    assert_eq!(second.param_text("Stem 10 Mute"), "On");
    // A second save writes the same stems (the capture metadata grows as the song plays).
    let stems = |bytes: &[u8]| {
        let project: serde_json::Value =
            serde_json::from_str(decode_state(bytes)["fields"]["project"].as_str().unwrap()).unwrap();
        project["stems"].clone()
    };
    assert_eq!(stems(&second.host.save_state().unwrap()), stems(&saved));
    assert_eq!(stems(&saved).as_array().map(Vec::len), Some(2));
}

#[test]
fn damaged_state_loads_what_it_can_and_never_crashes() {
    let (good, audio) = audio_stem(0, 0.0, 24_000, 41);
    let missing = StemRecord {
        slot: 1,
        audio: Some(AudioRef { hash: "ab".repeat(32), sample_rate: 48_000, frames: 10 }),
        ..good.clone()
    };
    let midi = StemRecord {
        slot: 2,
        audio: None,
        notes: vec![Note { start: 0.25, length: 0.25, key: 70, velocity: 80 }],
        output: StemOutput::Midi,
        ..good.clone()
    };
    let mut daw = playing(48_000.0, 256, &[good, missing, midi]);
    let out = daw.render(24_000, sidechain_song);
    // The stem whose audio is gone is dropped; the others play.
    assert!(added(&out.main[0], 0).iter().enumerate().all(|(i, v)| (v - audio.left[i]).abs() < 1e-6));
    assert!(out.notes.contains(&NoteOut { sample: 6_000, channel: 2, key: 70, on: true }));

    // Garbage of every kind: refused or ignored, and the plugin keeps passing audio through.
    let valid = daw.host.save_state().unwrap();
    let mut document = decode_state(&valid);
    document["fields"]["project"] = serde_json::Value::String("{\"stems\": [{\"slot\": 99}, 7, null]}".into());
    let wrong_project = encode_state(&document);
    document["fields"]["project"] = serde_json::Value::String("not json at all".into());
    let broken_project = encode_state(&document);
    let garbage: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0xff; 3],
        valid[..valid.len() / 2].to_vec(),
        (1000u64).to_le_bytes().iter().chain(b"{\"x\":1}").copied().collect(),
        encode_state(&serde_json::json!({"params": {"gain_1": "loud"}, "fields": 3})),
        wrong_project,
        broken_project,
    ];
    for bytes in &garbage {
        let _ = daw.host.load_state(bytes);
        daw.playhead.seek(0.0);
        let out = daw.render(4_800, sidechain_song);
        assert!(out.main.iter().flatten().all(|v| v.is_finite()));
    }
    // After the last (unreadable) project the plugin is empty and passes the song through.
    daw.playhead.seek(0.0);
    let out = daw.render(4_800, sidechain_song);
    assert!(out.main[0].iter().enumerate().all(|(i, v)| *v == song(0, i)));
}

#[test]
fn a_new_sample_rate_rebuilds_the_stems_for_it() {
    let (record, audio) = audio_stem(3, 4.0, 48_000, 51); // starts 2.0 s in
    let mut daw = playing(48_000.0, 512, &[record]);
    daw.host.deactivate();
    daw.host.activate(96_000.0, 1, 512).expect("reactivates");
    daw.host.start_processing().expect("processes");
    daw.sample_rate = 96_000.0;
    daw.playhead = counterpart_host_tests::daw::Playhead::new(120.0, 96_000.0);
    daw.render(1, sidechain_song);
    daw.playhead.playing = true;
    daw.playhead.seek(0.0);
    let out = daw.render(96_000 * 3, sidechain_song);
    let at_rate = resample(&audio, 96_000).unwrap();
    let start = 2 * 96_000;
    let stem = added(&out.main[0], 0);
    assert!(stem[..start].iter().all(|v| v.abs() < 1e-6), "silent before 2.0 s");
    assert!(stem[start..start + at_rate.frames()].iter().zip(&at_rate.left).all(|(o, s)| (o - s).abs() < 1e-6));
}

#[test]
fn nan_infinite_and_subnormal_input_leave_the_stems_intact() {
    let (record, audio) = audio_stem(0, 0.0, 24_000, 61);
    let mut daw = playing(48_000.0, 128, &[record]);
    let hostile = |c: usize, i: usize| match (c + i) % 4 {
        0 => f32::NAN,
        1 => f32::INFINITY,
        2 => f32::MIN_POSITIVE / 8.0,
        _ => -0.0,
    };
    let out = daw.render(12_000, hostile);
    for (i, v) in out.main[0].iter().enumerate() {
        match i % 4 {
            0 => assert!(v.is_nan(), "the host's NaN is passed on, not hidden"),
            1 => assert_eq!(*v, f32::INFINITY),
            _ => assert_eq!(*v, audio.left[i], "subnormals are flushed, the stem is exact"),
        }
    }
    // Clean input afterwards: exactly input + stem again, nothing poisoned.
    let out = daw.render(12_000, |c, i| sidechain_song(c, i + 12_000));
    assert!(
        out.main[0].iter().enumerate().all(|(i, v)| (v - song(0, i + 12_000) - audio.left[i + 12_000]).abs() < 1e-6)
    );
}
