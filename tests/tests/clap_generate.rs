//! The editor workflow end to end, through the built CLAP bundle the way a producer uses it: the
//! host plays the example song into the sidechain for eight bars, the test types a prompt into
//! the real editor (embedded in an X11 window, keys sent with the XTEST extension) and presses
//! Enter, the plugin writes the stem on its own threads, and when the host plays again the stem
//! sounds in the plugin's output on the asked-for bars and its notes leave on the MIDI output on
//! their beats. The test bundle is built with `assert_process_allocs`, so an allocation on the
//! audio thread at any point aborts the test.
//!
//! Needs an X server: run under `xvfb-run -a -s "-screen 0 1024x768x24" cargo test ...`. Without
//! `DISPLAY` the test says why and passes, unless `CI=true`, where it fails.

use std::path::Path;
use std::time::{Duration, Instant};

use counterpart_engine::project::ProjectState;
use counterpart_engine::resample::resample;
use counterpart_engine::separate::decode::load_stereo;
use counterpart_engine::stem::{StemRecord, StereoAudio};
use counterpart_host_tests::daw::{Daw, Playhead, Rendered, decode_state, shared_cache};

#[path = "support/x11.rs"]
mod x11;
use x11::Display;

const RATE: f64 = 48_000.0;
const BLOCK: usize = 512;
/// The example song's tempo; the host plays at it.
const TEMPO: f64 = 100.0;
/// Samples per beat at [`TEMPO`].
const BEAT: f64 = RATE * 60.0 / TEMPO;
/// What the producer types.
const PROMPT: &str = "add a bass line under bars 3-6";
/// How long the plugin may take to write the stem (a debug bundle on a busy 2-core machine).
const PATIENCE: Duration = Duration::from_secs(300);

/// The example song at 48 kHz.
fn example() -> StereoAudio {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/context.wav");
    resample(&load_stereo(&path).expect("the example song"), RATE as u32).expect("resampled")
}

/// The project as the plugin's saved state holds it.
fn saved_project(daw: &mut Daw) -> ProjectState {
    let state = decode_state(&daw.host.save_state().expect("saves"));
    let text = state["fields"]["project"].as_str().expect("the project field").to_string();
    serde_json::from_str(&text).expect("the project parses")
}

/// Renders `frames` with the song on the sidechain from song sample `from`, a block at a time,
/// pumping the host's main thread and giving the plugin's worker time, as a real host would.
fn play(daw: &mut Daw, song: &StereoAudio, from: usize, frames: usize) -> Rendered {
    let mut out = Rendered::default();
    let mut done = 0;
    while done < frames {
        let n = BLOCK.min(frames - done);
        let at = from + done;
        let block = daw.render(n, |channel, i| match channel {
            2 | 3 => song.left.get(at + i).copied().unwrap_or(0.0),
            _ => 0.0,
        });
        out.main[0].extend(&block.main[0]);
        out.main[1].extend(&block.main[1]);
        out.notes
            .extend(block.notes.iter().map(|n| counterpart_host_tests::daw::NoteOut { sample: n.sample + done, ..*n }));
        daw.host.pump_main_thread().expect("pumps the main thread");
        // About ten times real time, so the capture ring never fills.
        std::thread::sleep(Duration::from_millis(1));
        done += n;
    }
    out
}

#[test]
fn a_prompt_typed_into_the_editor_becomes_a_stem_heard_on_its_bars_and_sent_as_midi() {
    let Some(x) = Display::connect_or_skip() else {
        return;
    };
    shared_cache();
    let mut daw = Daw::new(RATE, BLOCK);
    daw.playhead = Playhead::new(TEMPO, RATE);
    let song = example();

    // The host plays eight bars (and the song's tail) from bar 1 with the song on the sidechain,
    // again if the plugin did not hear all of it (a capture ring that overflowed on a busy machine
    // leaves gaps).
    daw.play_until_captured(song.frames(), |daw, frames| {
        let passthrough = play(daw, &song, 0, frames);
        assert!(passthrough.main.iter().flatten().all(|v| *v == 0.0), "no stem yet: the silent main input passes");
    });

    // Open the editor the way a DAW does, type the prompt and press Enter: the same path a
    // producer takes.
    x.open_editor_and_type(&mut daw, |daw, frames| drop(play(daw, &song, 0, frames)), PROMPT);
    let typed = Instant::now();

    // Wait for the plugin to place the stem (its saved state shows it, as a DAW would save it)
    // and for every run of the prompt to end: a Return the test pressed again because the first
    // seemed lost can have run it twice, each run writing a stem of its own in a free slot.
    let job = format!("write: {PROMPT}");
    let (stems, runs) = loop {
        play(&mut daw, &song, 0, BLOCK * 32);
        let stems: Vec<StemRecord> =
            saved_project(&mut daw).stems.into_iter().filter(|s| !s.takes.is_empty()).collect();
        let activity = daw.saved_activity();
        if !stems.is_empty() && !activity.queued().contains(&job.as_str()) {
            let recent = activity.0["recent"].as_array().cloned().unwrap_or_default();
            break (stems, recent.iter().filter(|j| j["title"] == job.as_str()).count());
        }
        assert!(typed.elapsed() < PATIENCE, "no stem was written within {PATIENCE:?} of pressing Enter: {activity}");
    };
    assert_eq!(stems.len(), runs, "each run of the prompt wrote one stem: {stems:?}");
    for stem in &stems {
        eprintln!(
            "the stem \"{}\" arrived in slot {} after {:.1} s with {} take(s): {:?}",
            stem.name,
            stem.slot + 1,
            typed.elapsed().as_secs_f64(),
            stem.takes.len(),
            stem.takes.iter().map(|t| &t.label).collect::<Vec<_>>()
        );
        assert_eq!(stem.takes[stem.active_take].prompt, PROMPT, "the typed prompt wrote it");
        assert_eq!(stem.notes, stem.takes[stem.active_take].notes);
        // Bars 3-6 of the host are beats 8..24.
        assert!(!stem.notes.is_empty());
        assert!(stem.notes.iter().all(|n| (8.0..24.0).contains(&n.start)), "notes on bars 3-6: {:?}", stem.notes);
    }

    daw.host.gui_hide().expect("hides");
    daw.host.gui_destroy();

    // Press play again from bar 1: the stem sounds on its bars (with any second run's, mixed)
    // and its notes go out as MIDI on its slot's channel.
    daw.playhead.seek(0.0);
    daw.playhead.playing = true;
    let frames = (24.0 * BEAT) as usize + BLOCK;
    let out = play(&mut daw, &song, 0, frames);
    let mut mix = vec![0.0f32; frames];
    for stem in &stems {
        let audio = shared_cache().load(stem.audio.as_ref().expect("the take has audio")).expect("in the cache");
        assert_eq!(audio.sample_rate, RATE as u32, "rendered at the plugin's rate");
        let start = (stem.start_seconds * RATE).round() as usize;
        assert_eq!(start, (8.0 * BEAT) as usize, "the audio starts at bar 3");
        for (i, v) in audio.left.iter().enumerate().take(frames.saturating_sub(start)) {
            mix[start + i] += v;
        }
    }
    let start = (8.0 * BEAT) as usize;
    assert!(out.main[0][..start].iter().all(|v| *v == 0.0), "silent before bar 3");
    let (mut worst, mut energy) = (0.0f32, 0.0f32);
    for (got, want) in out.main[0][start..frames].iter().zip(&mix[start..]) {
        worst = worst.max((got - want).abs());
        energy = energy.max(want.abs());
    }
    eprintln!("stem in the output: peak {energy:.3}, largest difference from the take {worst:.2e}");
    assert!(energy > 0.01, "the take is audible");
    assert!(worst < 1e-5, "the output is the take, sample for sample, from bar 3 (difference {worst})");

    for stem in &stems {
        let channel = stem.slot as i16;
        let ons: Vec<(usize, i16)> =
            out.notes.iter().filter(|n| n.on && n.channel == channel).map(|n| (n.sample, n.key)).collect();
        let want: Vec<(usize, i16)> = stem
            .notes
            .iter()
            .filter(|n| n.start * BEAT < frames as f64)
            .map(|n| ((n.start * BEAT).round() as usize, i16::from(n.key)))
            .collect();
        assert_eq!(ons.len(), want.len(), "every note up to bar 6 went out: {ons:?} vs {want:?}");
        for ((got_at, got_key), (want_at, want_key)) in ons.iter().zip(&want) {
            assert_eq!(got_key, want_key);
            assert!(got_at.abs_diff(*want_at) <= 1, "note {want_key} at sample {got_at}, its beat is at {want_at}");
        }
    }
}
