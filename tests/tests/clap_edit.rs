//! An edit of the main input ("remove the vocals" over bars 2-3) in the built CLAP bundle, loaded
//! through the plugin's state the way a DAW reopens a project: outside bars 2-3 the main input
//! passes bit-exactly, inside them the edit plays on its exact samples instead, the edges are
//! crossfaded without a click, the kept part of the edit is silent, and the "Edit A/B" parameter
//! brings the original back (ramped) and the edit again, at two rates and several block sizes. A
//! replacement ("replace the bass with something busier") plays the rest and the new part, and
//! "Edit A/B" gives back exactly the original: the new part falls silent with the rest's ramp,
//! and its notes stop. Last, end to end: the host plays a song with vocals into the main input,
//! "remove the vocals" is typed into the real editor, and the plugin's own threads separate it,
//! after which the host hears the song without its vocals, and the original again through "Edit
//! A/B" (needs an X server, see `support/x11.rs`); a failed job fails the test at once with the
//! plugin's own words (its saved activity). The test bundle is built with `assert_process_allocs`:
//! an allocation on the audio thread aborts.

#[path = "support/x11.rs"]
mod x11;

use std::path::Path;
use std::time::{Duration, Instant};

use counterpart_engine::playback::{EDGE_RAMP_SECONDS, SWITCH_RAMP_SECONDS};
use counterpart_engine::project::ProjectState;
use counterpart_engine::resample::resample;
use counterpart_engine::separate::decode::load_stereo;
use counterpart_engine::stem::Note;
use counterpart_engine::stem::{EditPart, StemOutput, StemRecord, StereoAudio, TakeRecord};
use counterpart_host_tests::daw::{Daw, Playhead, Rendered, noise_clip, project_of, shared_cache};

const RATES: [f64; 2] = [44_100.0, 48_000.0];
/// Bars 2-3 at 120 BPM: from 2 s, for 4 s.
const EDIT_START_SECONDS: f64 = 2.0;
const EDIT_SECONDS: f64 = 4.0;

/// The song on the main input: a smooth tone, so any jump in the output is a click.
fn song(channel: usize, i: usize, rate: f64) -> f32 {
    0.5 * (std::f64::consts::TAU * 220.0 * i as f64 / rate + channel as f64).sin() as f32
}

/// "The song without its vocals" at 48 kHz: another tone, quieter.
fn remainder() -> StereoAudio {
    let frames = (EDIT_SECONDS * 48_000.0) as usize;
    let tone = |phase: f64| -> Vec<f32> {
        (0..frames).map(|i| 0.3 * (std::f64::consts::TAU * 330.0 * i as f64 / 48_000.0 + phase).sin() as f32).collect()
    };
    StereoAudio { sample_rate: 48_000, left: tone(0.0), right: tone(1.0) }
}

/// A stem whose one take is part of an edit of the main input over bars 2-3.
fn edit_stem(slot: usize, name: &str, audio: &StereoAudio, edit: EditPart) -> StemRecord {
    let take = TakeRecord {
        label: "take 1".into(),
        prompt: "remove the vocals".into(),
        audio: Some(shared_cache().store(audio).expect("cache")),
        start_beats: 4.0,
        start_seconds: EDIT_START_SECONDS,
        edit,
        ..TakeRecord::default()
    };
    let mut record = StemRecord {
        slot,
        name: name.into(),
        tempo: 120.0,
        output: StemOutput::Audio,
        takes: vec![take],
        ..StemRecord::default()
    };
    record.activate_take(0);
    record
}

/// A player with the edit loaded from its saved state, playing from `from_seconds`.
fn playing(rate: f64, block: usize, from_seconds: f64) -> Daw {
    let vocals = noise_clip(9, 48_000, (EDIT_SECONDS * 48_000.0) as usize);
    let stems = [
        edit_stem(0, "vocals (from main)", &vocals, EditPart::Kept),
        edit_stem(1, "main without vocals", &remainder(), EditPart::ReplacesMain),
    ];
    playing_stems(rate, block, from_seconds, &stems)
}

/// A player with `stems` loaded from its saved state, playing from `from_seconds`.
fn playing_stems(rate: f64, block: usize, from_seconds: f64, stems: &[StemRecord]) -> Daw {
    let mut daw = Daw::new(rate, block);
    daw.load_project(&project_of(stems));
    daw.playhead.seek(from_seconds * 2.0);
    daw.playhead.playing = true;
    daw
}

/// "The new bass" a replacement wrote over bars 2-3, at 48 kHz: a low tone.
fn new_bass() -> StereoAudio {
    let frames = (EDIT_SECONDS * 48_000.0) as usize;
    let tone: Vec<f32> =
        (0..frames).map(|i| 0.2 * (std::f64::consts::TAU * 110.0 * i as f64 / 48_000.0).sin() as f32).collect();
    StereoAudio { sample_rate: 48_000, left: tone.clone(), right: tone }
}

/// Renders `seconds` with the song on the main input; returns the output and its first song sample.
fn render(daw: &mut Daw, seconds: f64) -> (Rendered, usize) {
    let (rate, from) = (daw.sample_rate, daw.playhead.sample as usize);
    let out = daw.render((seconds * rate) as usize, |channel, i| match channel {
        0 | 1 => song(channel, from + i, rate),
        _ => 0.0,
    });
    (out, from)
}

/// The largest sample-to-sample step in `out`.
fn largest_step(out: &[f32]) -> f32 {
    out.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max)
}

#[test]
fn an_edit_plays_instead_of_the_main_input_on_bars_2_to_3_only() {
    let edited = remainder();
    for rate in RATES {
        let at_rate = resample(&edited, rate as u32).unwrap();
        let start = (EDIT_START_SECONDS * rate).round() as usize;
        let end = start + at_rate.frames();
        let edge = (rate * EDGE_RAMP_SECONDS).round() as usize;
        for block in [64, 480, 4096] {
            // From 1 s (bar 1, beat 2) to 7 s (bar 4): before, through and after the edit.
            let mut daw = playing(rate, block, 1.0);
            let (out, from) = render(&mut daw, 6.0);
            for c in 0..2 {
                for (i, v) in out.main[c].iter().enumerate() {
                    let pos = from + i;
                    if pos < start || pos >= end {
                        assert_eq!(*v, song(c, pos, rate), "rate {rate} block {block}: the input passes at {pos}");
                    } else if pos >= start + edge && pos < end - edge {
                        let want = [&at_rate.left, &at_rate.right][c][pos - start];
                        assert_eq!(*v, want, "rate {rate} block {block}: the edit plays at {pos}");
                    }
                }
                // Both signals move less than 0.035 per sample; a hard switch would jump up to 0.8.
                let step = largest_step(&out.main[c]);
                assert!(step < 0.035, "rate {rate} block {block}: a click of {step} at an edge");
                // The crossfade really mixes the two near the edge.
                let mid = start + edge / 2 - from;
                let (input, edit) = (song(c, start + edge / 2, rate), [&at_rate.left, &at_rate.right][c][edge / 2]);
                assert!(out.main[c][mid] != input && out.main[c][mid] != edit, "rate {rate} block {block}");
            }
            assert!(out.groups.iter().flatten().flatten().all(|v| *v == 0.0), "nothing on the group outputs");
        }
    }

    // Blocks of one sample, across the start of the edit: the same output as blocks of 480.
    let reference = render(&mut playing(48_000.0, 480, 1.99), 0.03).0;
    let single = render(&mut playing(48_000.0, 1, 1.99), 0.03).0;
    assert_eq!(reference.main, single.main, "one-sample blocks place the edit on the same samples");
}

#[test]
fn the_edit_ab_parameter_brings_the_original_back_and_the_edit_again_without_a_click() {
    let edited = remainder();
    let rate = 48_000.0;
    let ramp = (rate * SWITCH_RAMP_SECONDS) as usize;
    for block in [64, 480, 4096] {
        let mut daw = playing(rate, block, 2.5);
        assert_eq!(daw.param_text("Edit A/B"), "Edited");
        let (first, from) = render(&mut daw, 0.5);
        assert_eq!(first.main[0][1000], edited.left[(from + 1000) - 96_000], "block {block}: the edit plays");

        // B: the original. After the ramp (and the block it started in), the input passes bit-exactly.
        daw.set_param("Edit A/B", 1.0);
        assert_eq!(daw.param_text("Edit A/B"), "Original");
        let (original, from) = render(&mut daw, 1.0);
        for c in 0..2 {
            for (i, v) in original.main[c].iter().enumerate().skip(ramp + block) {
                assert_eq!(*v, song(c, from + i, rate), "block {block}: the original passes at {}", from + i);
            }
            let joined: Vec<f32> = [&first.main[c][..], &original.main[c][..]].concat();
            let step = largest_step(&joined);
            assert!(step < 0.035, "block {block}: switching to the original clicks ({step})");
        }

        // A again: the edit comes back, ramped.
        daw.set_param("Edit A/B", 0.0);
        let (again, from) = render(&mut daw, 1.0);
        for c in 0..2 {
            let want = [&edited.left, &edited.right][c];
            for (i, v) in again.main[c].iter().enumerate().skip(ramp + block) {
                assert_eq!(*v, want[from + i - 96_000], "block {block}: the edit plays again at {}", from + i);
            }
            let joined: Vec<f32> = [&original.main[c][..], &again.main[c][..]].concat();
            assert!(largest_step(&joined) < 0.035, "block {block}: switching back clicks");
        }
    }

    // Bypass also brings the original back, bit-exactly.
    let mut daw = playing(rate, 480, 2.5);
    daw.set_param("Bypass", 1.0);
    daw.render(1, |_, _| 0.0);
    let (out, from) = render(&mut daw, 0.5);
    assert!(out.main[0].iter().enumerate().skip(ramp + 480).all(|(i, v)| *v == song(0, from + i, rate)));
}

#[test]
fn in_a_replacement_edit_ab_gives_back_exactly_the_original_and_the_edit_plays_the_rest_with_the_new_part() {
    let (rest, new) = (remainder(), new_bass());
    let rate = 48_000.0;
    let ramp = (rate * SWITCH_RAMP_SECONDS) as usize;
    let start = (EDIT_START_SECONDS * rate) as usize;
    // The rest and the new bass, sample for sample (both made at the plugin's rate).
    let edited =
        |c: usize, pos: usize| [&rest.left, &rest.right][c][pos - start] + [&new.left, &new.right][c][pos - start];
    let note_ons = |out: &Rendered| out.notes.iter().filter(|n| n.on && n.channel == 2).count();
    for block in [64, 480, 4096] {
        let old_bass = noise_clip(11, 48_000, rest.frames());
        let mut new_stem = edit_stem(2, "bass", &new, EditPart::NewPart);
        new_stem.output = StemOutput::Both;
        // One note a beat over bars 2-3 (beats 4-11).
        new_stem.takes[0].notes =
            (4..12).map(|beat| Note { start: beat as f64, length: 0.5, key: 40, velocity: 100 }).collect();
        new_stem.activate_take(0);
        let stems = [
            edit_stem(0, "bass (from main)", &old_bass, EditPart::Kept),
            edit_stem(1, "main without bass", &rest, EditPart::ReplacesMain),
            new_stem,
        ];
        let mut daw = playing_stems(rate, block, 2.5, &stems);

        // The edit: the rest and the new bass instead of the song, and the new bass's notes.
        let (first, from) = render(&mut daw, 0.5);
        for c in 0..2 {
            for (i, v) in first.main[c].iter().enumerate() {
                assert_eq!(*v, edited(c, from + i), "block {block}: the rest and the new bass at {}", from + i);
            }
        }
        assert_eq!(note_ons(&first), 1, "block {block}: the new bass's note on beat 5");

        // The original: exactly the song once the switch has ramped, no new bass, no notes.
        daw.set_param("Edit A/B", 1.0);
        let (original, from) = render(&mut daw, 1.0);
        for c in 0..2 {
            for (i, v) in original.main[c].iter().enumerate().skip(ramp + block) {
                assert_eq!(*v, song(c, from + i, rate), "block {block}: exactly the original at {}", from + i);
            }
            let joined: Vec<f32> = [&first.main[c][..], &original.main[c][..]].concat();
            let step = largest_step(&joined);
            assert!(step < 0.035, "block {block}: switching to the original clicks ({step})");
        }
        assert_eq!(note_ons(&original), 0, "block {block}: the new bass sends no notes with the original");

        // The edit again, ramped back in, with its notes.
        daw.set_param("Edit A/B", 0.0);
        let (again, from) = render(&mut daw, 1.0);
        for c in 0..2 {
            for (i, v) in again.main[c].iter().enumerate().skip(ramp + block) {
                assert_eq!(*v, edited(c, from + i), "block {block}: the edit again at {}", from + i);
            }
            let joined: Vec<f32> = [&original.main[c][..], &again.main[c][..]].concat();
            assert!(largest_step(&joined) < 0.035, "block {block}: switching back clicks");
        }
        assert_eq!(note_ons(&again), 2, "block {block}: the notes on beats 8 and 9");
    }
}

/// Plays `frames` from the playhead with `song` on the main input from song sample `from`, a block
/// at a time, pumping the host's main thread and giving the plugin's worker time, as a host would.
fn play_song(daw: &mut Daw, song: &StereoAudio, from: usize, frames: usize) -> Rendered {
    let mut out = Rendered::default();
    let start = daw.playhead.sample as usize;
    for done in (0..frames).step_by(512) {
        let n = 512.min(frames - done);
        let at = start + done;
        let block = daw.render(n, |channel, i| {
            let k = (at + i).checked_sub(from);
            let data = [&song.left, &song.right];
            k.and_then(|k| data.get(channel).and_then(|c| c.get(k))).copied().unwrap_or(0.0)
        });
        out.main[0].extend(&block.main[0]);
        out.main[1].extend(&block.main[1]);
        daw.host.pump_main_thread().expect("pumps the main thread");
        std::thread::sleep(Duration::from_millis(1));
    }
    out
}

#[test]
fn remove_the_vocals_typed_into_the_editor_is_heard_instead_of_the_song_and_ab_brings_it_back() {
    let Some(x) = x11::Display::connect_or_skip() else {
        return;
    };
    let (rate, bar) = (48_000.0, 96_000usize);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/fixtures/spleeter/input.wav");
    let song = resample(&load_stereo(&path).expect("the fixture"), rate as u32).expect("resampled");
    let mut daw = Daw::new(rate, 512);
    daw.playhead = Playhead::new(120.0, rate);

    // The host plays the song (with vocals) on the main input from bar 2, again if the plugin
    // did not hear all of it (a capture ring that overflowed on a busy machine leaves gaps, and
    // an edit refuses a song that was only partly captured).
    let total = bar + song.frames();
    daw.play_until_captured(total, |daw, frames| drop(play_song(daw, &song, bar, frames)));

    x.open_editor_and_type(&mut daw, |daw, frames| drop(play_song(daw, &song, bar, frames)), "remove the vocals");
    let typed = Instant::now();
    let mut ended_without_edit = 0;
    let rest: StemRecord = loop {
        play_song(&mut daw, &song, bar, 512 * 32);
        let project: ProjectState = daw.saved_project();
        if let Some(stem) = project.stems.iter().find(|s| s.edit_part() == EditPart::ReplacesMain) {
            assert!(project.stems.iter().any(|s| s.edit_part() == EditPart::Kept), "the vocals are kept too");
            break stem.clone();
        }
        // The plugin's own account of the job: a failure ends the test at once, in its words.
        let activity = daw.saved_activity();
        match activity.ended("write: remove the vocals") {
            Some(Err(why)) => panic!("the edit failed: {why} (activity: {activity})"),
            Some(Ok(())) => ended_without_edit += 1,
            None => {}
        }
        assert!(ended_without_edit < 3, "the job ended but placed no edit: {activity}");
        assert!(typed.elapsed() < Duration::from_secs(300), "no edit within 300 s of pressing Enter: {activity}");
    };
    eprintln!("\"{}\" arrived {:.1} s after Enter", rest.name, typed.elapsed().as_secs_f64());
    daw.host.gui_hide().expect("hides");
    daw.host.gui_destroy();

    // Play again from the top: the song without its vocals, on the same samples.
    let remainder = shared_cache().load(rest.audio.as_ref().expect("audio")).expect("in the cache");
    let start = (rest.start_seconds * rate).round() as usize;
    let edge = (rate * EDGE_RAMP_SECONDS).round() as usize;
    daw.playhead.seek(0.0);
    daw.playhead.playing = true;
    let out = play_song(&mut daw, &song, bar, total);
    let (mut changed, mut worst) = (0.0f64, 0.0f32);
    for i in start + edge..(start + remainder.frames() - edge).min(total) {
        worst = worst.max((out.main[0][i] - remainder.left[i - start]).abs());
        if i >= bar {
            changed += f64::from(out.main[0][i] - song.left[i - bar]).powi(2);
        }
    }
    assert_eq!(worst, 0.0, "the output is the song without its vocals, sample for sample");
    assert!(changed > 1.0, "the vocals are gone from what is heard ({changed})");

    // B: the original, bit-exactly once the switch has ramped.
    daw.set_param("Edit A/B", 1.0);
    daw.playhead.seek(0.0);
    let out = play_song(&mut daw, &song, bar, total);
    let skip = (rate * SWITCH_RAMP_SECONDS) as usize + 512;
    for (i, v) in out.main[0].iter().enumerate().skip(skip) {
        let input = if i >= bar { song.left[i - bar] } else { 0.0 };
        assert_eq!(*v, input, "the original plays at {i}");
    }
}
