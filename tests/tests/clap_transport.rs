//! The built CLAP bundle in a headless host: pass-through, audio and MIDI stems on the exact
//! sample through play, loops, tempo changes, stops and seeks, at two rates and four block sizes.

use counterpart_engine::resample::resample;
use counterpart_engine::stem::{Note, StemOutput, StemRecord, StereoAudio};
use counterpart_host_tests::daw::{Daw, NoteOut, noise, project_of, stored_audio_stem};

const RATES: [f64; 2] = [44_100.0, 48_000.0];
const BLOCKS: [usize; 4] = [1, 64, 480, 4096];

/// An audio stem in `slot` starting at `start_beats` (120 BPM), and its audio.
fn audio_stem(slot: usize, start_beats: f64, seconds: f64, seed: u64) -> (StemRecord, StereoAudio) {
    stored_audio_stem(slot, start_beats, (seconds * 48_000.0) as usize, seed)
}

fn midi_stem(slot: usize, notes: Vec<Note>) -> StemRecord {
    StemRecord {
        slot,
        name: format!("midi {slot}"),
        start_beats: notes.first().map_or(0.0, |n| n.start),
        start_seconds: 0.0,
        tempo: 120.0,
        audio: None,
        notes,
        output: StemOutput::Midi,
        ..StemRecord::default()
    }
}

fn song(channel: usize, i: usize) -> f32 {
    noise(100 + channel as u64, i)
}

/// The stem's sample at song sample `pos`, or 0 outside it.
fn stem_at(audio: &StereoAudio, start: i64, pos: i64, channel: usize) -> f32 {
    let i = pos - start;
    let data = if channel == 0 { &audio.left } else { &audio.right };
    if i >= 0 && (i as usize) < data.len() { data[i as usize] } else { 0.0 }
}

#[test]
fn describes_its_ports_parameters_and_latency() {
    let mut daw = Daw::new(48_000.0, 512);
    let inputs = daw.host.input_ports();
    let outputs = daw.host.output_ports();
    assert_eq!(inputs.iter().map(|p| p.channel_count).collect::<Vec<_>>(), vec![2, 2], "main + sidechain");
    assert!(inputs[0].is_main && !inputs[1].is_main);
    assert_eq!(outputs.iter().map(|p| p.channel_count).collect::<Vec<_>>(), vec![2, 2, 2, 2, 2], "main + 4 groups");
    assert_eq!(daw.host.note_ports(false).len(), 1, "one MIDI note output");
    assert_eq!(daw.host.latency().unwrap(), Some(0));
    let names: Vec<String> = daw.host.params().into_iter().map(|p| p.name).collect();
    for n in 1..=16 {
        for what in ["Gain", "Mute", "Solo", "Route"] {
            assert!(names.contains(&format!("Stem {n} {what}")), "missing Stem {n} {what}");
        }
    }
    assert!(names.contains(&"Bypass".to_string()));
    assert_eq!(daw.param_text("Stem 3 Gain"), "0.0 dB");
}

#[test]
fn passes_the_song_through_bit_exact() {
    for rate in RATES {
        for block in BLOCKS {
            let mut daw = Daw::new(rate, block);
            daw.playhead.playing = true;
            daw.playhead.seek(8.0);
            let frames = if block == 1 { 2_000 } else { 20_000 };
            let out = daw.render(frames, song);
            for c in 0..2 {
                assert!(out.main[c].iter().enumerate().all(|(i, v)| *v == song(c, i)), "rate {rate} block {block}");
            }
            assert!(out.groups.iter().flatten().flatten().all(|v| *v == 0.0), "group outputs silent");
            assert!(out.notes.is_empty());
        }
    }
}

#[test]
fn an_audio_stem_sounds_on_its_exact_sample_from_bar_3() {
    let (record, audio) = audio_stem(0, 10.0, 1.0, 7);
    for rate in RATES {
        let at_rate = resample(&audio, rate as u32).unwrap();
        let start = (5.0 * rate).round() as i64; // beat 10 at 120 BPM
        for block in BLOCKS {
            let mut daw = Daw::new(rate, block);
            daw.load_project(&project_of(std::slice::from_ref(&record)));
            daw.playhead.playing = true;
            daw.playhead.seek(8.0); // bar 3
            let from = daw.playhead.sample;
            let frames = (1.5 * rate) as usize; // one second before the stem, half a second of it
            let out = daw.render(frames, song);
            for c in 0..2 {
                for (i, v) in out.main[c].iter().enumerate() {
                    let expected = song(c, i) + stem_at(&at_rate, start, from + i as i64, c);
                    assert_eq!(*v, expected, "rate {rate} block {block} channel {c} sample {i}");
                }
            }
        }
    }
}

#[test]
fn a_loop_over_bars_5_to_8_wraps_on_the_exact_sample() {
    let (record, audio) = audio_stem(1, 12.0, 12.0, 11);
    let notes = vec![
        Note { start: 17.0, length: 1.0, key: 60, velocity: 100 },
        Note { start: 31.5, length: 2.0, key: 62, velocity: 100 },
    ];
    for rate in RATES {
        let at_rate = resample(&audio, rate as u32).unwrap();
        let start = (6.0 * rate).round() as i64;
        let spb = rate / 2.0;
        for block in [64, 480, 4096] {
            let mut daw = Daw::new(rate, block);
            daw.load_project(&project_of(&[record.clone(), midi_stem(2, notes.clone())]));
            daw.playhead.playing = true;
            daw.playhead.loop_beats = Some((16.0, 32.0)); // bars 5-8
            daw.playhead.seek(30.0);
            let frames = (10.0 * rate) as usize; // 1 s to the loop end, then 9 s of the loop
            let out = daw.render(frames, song);
            let loop_start = (8.0 * rate).round() as i64;
            let loop_len = (8.0 * rate).round() as i64;
            let song_pos = |i: usize| {
                let p = (15.0 * rate).round() as i64 + i as i64;
                if p < loop_start + loop_len { p } else { loop_start + (p - loop_start) % loop_len }
            };
            for c in 0..2 {
                for (i, v) in out.main[c].iter().enumerate() {
                    let expected = song(c, i) + stem_at(&at_rate, start, song_pos(i), c);
                    assert_eq!(*v, expected, "rate {rate} block {block} channel {c} sample {i}");
                }
            }
            // The held note (31.5..33.5) is cut at the wrap; note 60 plays once per pass.
            let wrap = (2.0 * spb).round() as usize;
            let expected = [
                NoteOut { sample: (1.5 * spb).round() as usize, channel: 2, key: 62, on: true },
                NoteOut { sample: wrap, channel: 2, key: 62, on: false },
                NoteOut { sample: wrap + spb as usize, channel: 2, key: 60, on: true },
                NoteOut { sample: wrap + 2 * spb as usize, channel: 2, key: 60, on: false },
            ];
            assert_eq!(&out.notes[..4], &expected[..], "rate {rate} block {block}");
            let ons = out.notes.iter().filter(|n| n.on && n.key == 60).count();
            assert_eq!(ons, 2, "9 s of an 8 s loop play note 60 twice");
        }
    }
}

#[test]
fn midi_stems_send_notes_on_their_slot_channel_at_the_exact_sample() {
    let notes = vec![
        Note { start: 1.0, length: 0.5, key: 36, velocity: 100 },
        Note { start: 1.5, length: 0.25, key: 43, velocity: 64 },
        Note { start: 3.0, length: 1.0, key: 36, velocity: 127 },
    ];
    for rate in RATES {
        let spb = rate / 2.0;
        for block in BLOCKS {
            let mut daw = Daw::new(rate, block);
            daw.load_project(&project_of(&[midi_stem(5, notes.clone())]));
            daw.playhead.playing = true;
            let out = daw.render((4.5 * spb) as usize, song);
            let at = |beat: f64| (beat * spb).round() as usize;
            let expected = vec![
                NoteOut { sample: at(1.0), channel: 5, key: 36, on: true },
                NoteOut { sample: at(1.5), channel: 5, key: 36, on: false },
                NoteOut { sample: at(1.5), channel: 5, key: 43, on: true },
                NoteOut { sample: at(1.75), channel: 5, key: 43, on: false },
                NoteOut { sample: at(3.0), channel: 5, key: 36, on: true },
                NoteOut { sample: at(4.0), channel: 5, key: 36, on: false },
            ];
            assert_eq!(out.notes, expected, "rate {rate} block {block}");
            // A MIDI-only stem adds no audio.
            assert!(out.main[0].iter().enumerate().all(|(i, v)| *v == song(0, i)));
        }
    }
}

#[test]
fn a_tempo_change_keeps_notes_on_their_beats_and_audio_on_its_time() {
    let (record, audio) = audio_stem(0, 8.0, 4.0, 21); // starts at 4.0 s
    let notes = vec![
        Note { start: 6.0, length: 1.0, key: 50, velocity: 90 },
        Note { start: 9.0, length: 1.0, key: 52, velocity: 90 },
    ];
    let rate = 48_000.0;
    for block in [64, 480, 4096] {
        let mut daw = Daw::new(rate, block);
        daw.load_project(&project_of(&[record.clone(), midi_stem(1, notes.clone())]));
        daw.playhead.playing = true;
        // 120 BPM for beats 0-4 (2 s), then 90 BPM: beat 6 is 2 s + 2 beats * (2/3 s).
        let first = daw.render(96_000, song);
        assert!(first.notes.is_empty());
        daw.playhead.set_tempo(90.0);
        let out = daw.render(5 * 48_000, |c, i| song(c, i + 96_000));
        let beat_at = |beat: f64| ((beat - 4.0) * 60.0 / 90.0 * rate).round() as usize;
        let ons: Vec<(usize, i16)> = out.notes.iter().filter(|n| n.on).map(|n| (n.sample, n.key)).collect();
        // Within one block of the beat position: the host reports tempo per block.
        assert_eq!(ons.len(), 2, "block {block}: {:?}", out.notes);
        for ((sample, key), beat) in ons.iter().zip([6.0, 9.0]) {
            assert_eq!(*sample, beat_at(beat), "block {block} key {key}");
        }
        // The audio stem follows seconds: it starts 4.0 s into the song = 2.0 s into this render.
        let start = 4 * 48_000 - 96_000;
        for i in [start - 1, start, start + 1000] {
            let expected = song(0, i + 96_000) + stem_at(&audio, start as i64, i as i64, 0);
            assert_eq!(out.main[0][i], expected, "block {block} sample {i}");
        }
    }
}

#[test]
fn stop_and_seek_release_held_notes_and_silence_the_stems() {
    let long = vec![Note { start: 0.5, length: 20.0, key: 40, velocity: 100 }];
    let (record, _) = audio_stem(0, 0.0, 10.0, 3);
    for block in [1, 64, 480, 4096] {
        let mut daw = Daw::new(48_000.0, block);
        daw.load_project(&project_of(&[record.clone(), midi_stem(4, long.clone())]));
        daw.playhead.playing = true;
        let out = daw.render(48_000, song);
        assert_eq!(out.notes, vec![NoteOut { sample: 12_000, channel: 4, key: 40, on: true }]);
        // Stop: the note ends on the first stopped sample and the stem falls silent.
        daw.playhead.playing = false;
        let stopped = daw.render(4_096, song);
        assert_eq!(stopped.notes, vec![NoteOut { sample: 0, channel: 4, key: 40, on: false }], "block {block}");
        assert!(stopped.main[0].iter().enumerate().all(|(i, v)| *v == song(0, i)));
        // Play from 0 again, then seek forward while the note is held: released at the jump.
        daw.playhead.seek(0.0);
        daw.playhead.playing = true;
        daw.render(24_000, song);
        daw.playhead.seek(10.0);
        let sought = daw.render(block.max(64), song);
        assert_eq!(sought.notes.first(), Some(&NoteOut { sample: 0, channel: 4, key: 40, on: false }), "block {block}");
        assert_eq!(sought.notes.iter().filter(|n| !n.on).count(), 1, "exactly one note-off");
    }
}
