//! The editor's job path with every real model: the example song is played into the sidechain
//! through the audio thread's capture ring, a prompt becomes takes on the host's bars (placed,
//! selected, deleted, varied, exported and saved with the project), running and queued jobs are
//! cancelled, hundreds of jobs queue without blocking while the audio side keeps being served,
//! and every refusal says what to do.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use counterpart_engine::Engine;
use counterpart_engine::cache::AudioCache;
use counterpart_engine::job::{CaptureSource, Event, GenerateStem, ImportStem, JobId};
use counterpart_engine::link::AudioSide;
use counterpart_engine::midi::{encode_midi, read_midi};
use counterpart_engine::playback::Player;
use counterpart_engine::resample::resample;
use counterpart_engine::separate::decode::load_stereo;
use counterpart_engine::status::JobOutcome;
use counterpart_engine::stem::{Note, StemOutput, StemRecord, StereoAudio};
use counterpart_engine::timeline::TimeSignature;
use counterpart_engine::wav::read_wav;

const RATE: f64 = 48_000.0;
/// The example song's tempo; the host plays at it.
const TEMPO: f64 = 100.0;
/// One 4/4 bar at 100 BPM, in samples at 48 kHz.
const BAR: i64 = 115_200;
/// The example song's chords, one per bar (scripts/make_example_context.py), as pitch classes.
const PROGRESSION: [[u8; 3]; 8] =
    [[0, 4, 7], [9, 0, 4], [5, 9, 0], [7, 11, 2], [0, 4, 7], [9, 0, 4], [5, 9, 0], [7, 11, 2]];
/// How long one job may take in a debug build on a busy 2-core machine.
const PATIENCE: Duration = Duration::from_secs(300);

fn ready() -> bool {
    common::basic_pitch().is_some() && common::embedder().is_some()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cp-jobs-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The example song at 48 kHz.
fn example() -> StereoAudio {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/context.wav");
    resample(&load_stereo(&path).expect("the example song"), RATE as u32).unwrap()
}

/// Plays `song` into the sidechain from song sample `from` while the host's transport runs at
/// [`TEMPO`] from the song start: bar 1 is silence when `from` is one bar in.
fn play_into_sidechain(engine: &Engine, audio: &mut AudioSide, song: &StereoAudio, from: i64) {
    common::play_into(engine, audio, song, from as usize, TEMPO, common::Input::Sidechain);
}

/// Events until `done` says stop (returning its value); panics on a failure of job `id`.
fn wait_until<T>(engine: &Engine, what: &str, mut done: impl FnMut(&Event) -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = engine.events().recv_timeout(left).unwrap_or_else(|_| panic!("no answer while waiting for {what}"));
        if let Some(value) = done(&event) {
            return value;
        }
    }
}

/// Every event of job `id` up to its end: `Ok` with the events, or `Err` with the failure.
fn run_job(engine: &Engine, id: JobId) -> Result<Vec<Event>, String> {
    let mut seen = Vec::new();
    wait_until(engine, &format!("job {id}"), |event| match event {
        Event::Failed { id: got, message } if *got == id => Some(Err(message.clone())),
        Event::StemReady { id: got, .. } | Event::Exported { id: got, .. } | Event::Planned { id: got, .. }
            if *got == id =>
        {
            seen.push(event.clone());
            Some(Ok(std::mem::take(&mut seen)))
        }
        Event::Cancelled { id: got } if *got == id => Some(Err("cancelled".into())),
        Event::Progress { id: got, .. } | Event::TakeReady { id: got, .. } | Event::Notice { id: got, .. }
            if *got == id =>
        {
            seen.push(event.clone());
            None
        }
        _ => None,
    })
}

/// Orders the test after every job sent so far (the worker answers in order).
fn barrier(engine: &Engine) {
    engine.captured_song().expect("the worker answers");
}

fn generate(prompt: &str, bars: Option<[u32; 2]>, takes: usize, seed: u64, slot: Option<usize>) -> GenerateStem {
    GenerateStem { id: 0, prompt: prompt.into(), source: CaptureSource::Sidechain, bars, takes, seed, slot }
}

fn stem(engine: &Engine, slot: usize) -> StemRecord {
    engine.store().snapshot().stem(slot).cloned().unwrap_or_else(|| panic!("a stem in slot {}", slot + 1))
}

/// Share of the notes' time whose pitch class is in the chord of the host bar they start in;
/// the song enters at host bar 2, so host bar `b` plays the song's bar `b - 1`.
fn fit_on_host_bars(notes: &[Note]) -> f64 {
    let (mut inside, mut total) = (0.0, 0.0);
    for n in notes {
        let host_bar = (n.start / 4.0).floor() as usize; // 0-based
        let Some(chord) = host_bar.checked_sub(1).and_then(|b| PROGRESSION.get(b)) else { continue };
        total += n.length;
        if chord.contains(&(n.key % 12)) {
            inside += n.length;
        }
    }
    inside / total.max(1e-9)
}

#[test]
fn a_prompt_becomes_takes_on_the_hosts_bars_that_can_be_varied_selected_exported_and_saved() {
    if !ready() {
        return;
    }
    let dir = temp_dir("takes");
    let cache = AudioCache::new(dir.join("cache"));
    let (engine, mut audio) = Engine::start(cache.clone());
    engine.activate(RATE);
    // The song enters one bar into the host's timeline: a first detected downbeat would count
    // its bars from there, but the takes must land on the host's bars.
    play_into_sidechain(&engine, &mut audio, &example(), BAR);
    barrier(&engine);
    assert_eq!(audio.transport.capture_overruns(), 0, "the worker kept up with the capture");

    // The waveform overview follows the capture: silent in bar 1, loud after, main input silent.
    let status = engine.status();
    let peaks = &status.context_peaks;
    let per_bar = BAR as usize / peaks.frames_per_peak;
    assert!(peaks.seconds() > 20.0, "{} s summarised", peaks.seconds());
    assert!(peaks.max[..per_bar - 1].iter().all(|v| *v == 0.0), "bar 1 is silent");
    assert!(peaks.max[per_bar + 1..per_bar * 2].iter().any(|v| *v > 0.05), "bar 2 sounds");
    assert!(status.main_peaks.max.iter().all(|v| *v == 0.0), "the main input carried silence");

    let id = engine.generate(generate("add a bass line under bars 3-6", None, 2, 7, None));
    let events = run_job(&engine, id).expect("the takes are written");
    let stages: Vec<&str> =
        events.iter().filter_map(|e| if let Event::Progress { stage, .. } = e { Some(*stage) } else { None }).collect();
    for stage in ["transcribing", "analysing", "writing", "rendering"] {
        assert!(stages.contains(&stage), "{stage} reported: {stages:?}");
    }
    let ready: Vec<(usize, usize)> = events
        .iter()
        .filter_map(|e| if let Event::TakeReady { slot, take, .. } = e { Some((*slot, *take)) } else { None })
        .collect();
    assert_eq!(ready, vec![(0, 0), (0, 1)], "one TakeReady per take, in the first free slot");
    assert!(engine.status().queue.is_empty(), "the finished job left the queue");

    let bass = stem(&engine, 0);
    assert_eq!(bass.name, "bass");
    assert_eq!((bass.takes.len(), bass.active_take), (2, 0), "the first new take plays");
    assert_eq!(bass.notes, bass.takes[0].notes);
    assert_ne!(bass.takes[0].notes, bass.takes[1].notes, "seeds 7 and 8 differ");
    assert_eq!(bass.output, StemOutput::Both);
    assert!((bass.tempo - TEMPO).abs() < 1e-9);
    for take in &bass.takes {
        assert!(!take.notes.is_empty());
        // Host bars 3-6 are beats 8..24 of the song.
        assert!(take.notes.iter().all(|n| (8.0..24.0).contains(&n.start)), "on the host's bars 3-6: {:?}", take.notes);
        assert!(take.notes.iter().all(|n| (28..=64).contains(&n.key)), "bass register: {:?}", take.notes);
        let fit = fit_on_host_bars(&take.notes);
        println!("take {} fits the host bars' chords {fit:.2}", take.label);
        // Random in-key notes fit about 0.4; the same line one bar off fits far worse.
        assert!(fit > 0.65, "{} fits {fit:.2}", take.label);
        // Its audio starts at the bar of its first note, on the host's clock, and sounds there.
        assert_eq!(take.start_beats, 8.0);
        assert!((take.start_seconds - 8.0 * 0.6).abs() < 1e-6);
        let sound = cache.load(take.audio.as_ref().expect("rendered")).unwrap();
        assert_eq!(sound.sample_rate, 48_000, "rendered at the plugin's rate");
        let first = ((take.notes[0].start - 8.0) * 0.6 * RATE) as usize;
        assert!(sound.left[..first].iter().all(|v| v.abs() < 1e-4), "silent before its first note");
        assert!(sound.left[first..first + 24_000].iter().any(|v| v.abs() > 1e-3), "sounds at its first note");
    }

    // "Regenerate bars 5-6" on this stem, selected by a drag from right to left on the ruler: a
    // third take keeps take 1 outside bars 5-6 and plays, and the job says how it read the drag.
    let id = engine.generate(generate("add a bass line", Some([6, 5]), 1, 99, Some(0)));
    let events = run_job(&engine, id).expect("a new take");
    assert!(events.contains(&Event::TakeReady { id, slot: 0, take: 2 }), "{events:?}");
    assert!(
        events.iter().any(|e| matches!(e, Event::Notice { message, .. } if message.contains("read as bars 5-6"))),
        "the reversed selection is reported: {events:?}"
    );
    let bass = stem(&engine, 0);
    assert_eq!((bass.takes.len(), bass.active_take), (3, 2));
    let outside =
        |notes: &[Note]| notes.iter().filter(|n| !(16.0..24.0).contains(&n.start)).copied().collect::<Vec<_>>();
    assert_eq!(outside(&bass.takes[2].notes), outside(&bass.takes[0].notes), "bars 3-4 kept");
    assert!(bass.takes[2].notes.iter().any(|n| (16.0..24.0).contains(&n.start)), "bars 5-6 rewritten");
    assert_eq!(bass.takes[2].seed, 99);

    // A/B: select take 1 again, delete take 2.
    engine.select_take(0, 0);
    barrier(&engine);
    let bass = stem(&engine, 0);
    assert_eq!((bass.active_take, &bass.notes, &bass.audio), (0, &bass.takes[0].notes, &bass.takes[0].audio));
    engine.delete_take(0, 1);
    barrier(&engine);
    let bass = stem(&engine, 0);
    assert_eq!((bass.takes.len(), bass.active_take), (2, 0));
    assert_eq!(bass.takes[1].seed, 99, "the later take moved up");
    // Keep the playing take (the second, seed 99) and forget the other, in one command.
    engine.select_take(0, 1);
    engine.keep_playing_take(0);
    barrier(&engine);
    let bass = stem(&engine, 0);
    assert_eq!((bass.takes.len(), bass.active_take, bass.takes[0].seed), (1, 0, 99), "only the playing take is left");
    assert_eq!((&bass.notes, &bass.audio), (&bass.takes[0].notes, &bass.takes[0].audio));
    // The audio side gets the playing take.
    let mut player = Player::default();
    audio.apply_swaps(&mut player);
    assert_eq!(player.outputs(0), (true, true));

    // Export the playing take: WAV from the song start and MIDI on the song's beats.
    let out = dir.join("export");
    let id = engine.export(0, &out);
    let files = match run_job(&engine, id).expect("exported").pop() {
        Some(Event::Exported { files, .. }) => files,
        other => panic!("{other:?}"),
    };
    assert_eq!(files, vec![out.join("bass.wav"), out.join("bass.mid")]);
    let wav = read_wav(&files[0]).unwrap();
    let take_audio = cache.load(bass.audio.as_ref().unwrap()).unwrap();
    let lead = (bass.start_seconds * RATE).round() as usize;
    assert_eq!(wav.frames(), lead + take_audio.frames());
    assert_eq!(&wav.left[lead..], &take_audio.left[..]);
    assert!(wav.left[..lead].iter().all(|v| *v == 0.0));
    let (midi, tempo) = read_midi(&files[1]).unwrap();
    assert!((tempo.unwrap() - TEMPO).abs() < 0.01);
    assert_eq!(midi.len(), bass.notes.len());
    for (got, want) in midi.iter().zip(&bass.notes) {
        assert_eq!(got.key, want.key);
        assert!((got.start - want.start).abs() < 0.01, "{got:?} vs {want:?}");
    }
    // A folder that cannot exist: refused in words, nothing else changes.
    let blocker = dir.join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    let id = engine.export(0, blocker.join("sub"));
    let message = run_job(&engine, id).unwrap_err();
    assert!(message.contains("cannot write") && message.contains("choose a folder"), "{message}");

    // The project, takes included, comes back in a new instance from the saved state.
    let saved = engine.store().to_json();
    let before = engine.store().snapshot();
    drop(engine);
    let (engine, mut audio) = Engine::start(cache.clone());
    engine.activate(RATE);
    engine.store().restore_json(&saved);
    assert_eq!(engine.store().snapshot().stems, before.stems);
    assert!(engine.status().lost.is_empty(), "{:?}", engine.status().lost);
    let mut player = Player::default();
    audio.apply_swaps(&mut player);
    assert_eq!(player.outputs(0), (true, true), "the restored stem plays");
    drop(engine);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn hundreds_of_jobs_queue_without_blocking_and_cancel_while_audio_is_served() {
    if !ready() {
        return;
    }
    let dir = temp_dir("queue");
    let (engine, mut audio) = Engine::start(AudioCache::new(dir.join("cache")));
    engine.activate(RATE);
    play_into_sidechain(&engine, &mut audio, &example(), 0);
    barrier(&engine);

    // A long job, then 300 more from one thread: each call returns at once.
    let long = engine.generate(generate("add a bass line", None, 8, 1, None));
    let started = Instant::now();
    let queued: Vec<JobId> =
        (0..300).map(|n| engine.generate(generate("add a melody", Some([1, 2]), 1, n, None))).collect();
    let submit = started.elapsed();
    println!("300 jobs submitted in {submit:?}");
    // A blocking submission would wait for the running job (seconds); sending is microseconds.
    assert!(submit < Duration::from_secs(10), "submitting took {submit:?}");

    // The queue lists them all behind the running one.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = engine.status();
        if status.queue.len() == 301 && status.queue[0].stage != "queued" {
            assert_eq!(status.queue[0].id, long);
            assert!(
                status.queue[1..].iter().all(|j| j.stage == "queued" && j.title.starts_with("write: add a melody"))
            );
            break;
        }
        assert!(Instant::now() < deadline, "queue never showed 301 jobs: {}", status.queue.len());
        std::thread::sleep(Duration::from_millis(20));
    }

    // While the model runs, the worker keeps draining capture (more than the ring holds) and
    // delivers a stem placed meanwhile.
    let before = audio.transport.capture_overruns();
    let more = StereoAudio { sample_rate: 48_000, left: vec![0.1; 600_000], right: vec![0.1; 600_000] };
    play_into_sidechain_at(&engine, &mut audio, &more, 30 * BAR);
    assert_eq!(audio.transport.capture_overruns(), before, "no captured block was dropped");
    let midi = dir.join("line.mid");
    std::fs::write(&midi, encode_midi(&[Note { start: 0.0, length: 1.0, key: 60, velocity: 90 }], TEMPO, 0, None))
        .unwrap();
    let import =
        engine.import(ImportStem { id: 0, path: midi, slot: Some(15), start_beats: 0.0, output: StemOutput::Midi });
    run_job(&engine, import).expect("placed while the model runs");
    let mut player = Player::default();
    audio.apply_swaps(&mut player);
    assert_eq!(player.outputs(15), (false, true), "the swap reached the audio side");
    // On a fast machine the long job may already have ended (its events went by above).
    let status = engine.status();
    let mut long_ended = status.recent.iter().find(|j| j.id == long).map(|j| j.outcome.clone());
    match &long_ended {
        None => assert_eq!(status.queue.first().map(|j| j.id), Some(long), "the long job is still running"),
        Some(outcome) => println!("the long job ended before the cancellations: {outcome:?}"),
    }

    // Cancel everything: queued jobs go at once, the running one at its next check (unless it
    // finishes first: then its takes and stem are placed, and it is kept).
    for &id in queued.iter().rev() {
        engine.cancel(id);
    }
    engine.cancel(long);
    let mut cancelled = std::collections::HashSet::new();
    wait_until(&engine, "300 cancellations and the long job's end", |event| {
        match event {
            Event::Cancelled { id } if *id == long => long_ended = Some(JobOutcome::Cancelled),
            Event::Cancelled { id } => {
                cancelled.insert(*id);
            }
            Event::StemReady { id, .. } if *id == long => long_ended = Some(JobOutcome::Done),
            Event::Failed { id, message } if *id == long => long_ended = Some(JobOutcome::Failed(message.clone())),
            Event::TakeReady { id, .. } if *id == long => {}
            Event::TakeReady { .. } | Event::StemReady { .. } => panic!("a cancelled job placed something: {event:?}"),
            _ => {}
        }
        (cancelled.len() == 300 && long_ended.is_some()).then_some(())
    });
    assert!(queued.iter().all(|id| cancelled.contains(id)), "every queued job was cancelled");
    let long_done = match long_ended {
        Some(JobOutcome::Cancelled) => false,
        Some(JobOutcome::Done) => true,
        other => panic!("the long job ended neither cancelled nor done: {other:?}"),
    };
    barrier(&engine);
    assert!(engine.status().queue.is_empty(), "{:?}", engine.status().queue);
    let project = engine.store().snapshot();
    let bass = |s: &&StemRecord| s.takes.iter().any(|t| t.prompt == "add a bass line");
    if long_done {
        let kept = project.stems.iter().filter(bass).count();
        assert_eq!(kept, 1, "the long job finished first: its stem is kept");
    }
    let others = project.stems.iter().filter(|s| !bass(s)).map(|s| s.slot).collect::<Vec<_>>();
    assert_eq!(others, vec![15], "nothing half-made was kept");
    drop(engine);
    std::fs::remove_dir_all(&dir).ok();
}

/// [`play_into_sidechain`] for audio that starts at `from` with nothing before it, waiting for
/// `engine`'s worker to drain the capture every [`common::BLOCKS_PER_BARRIER`] blocks as
/// [`common::play_into`] does.
fn play_into_sidechain_at(engine: &Engine, audio: &mut AudioSide, song: &StereoAudio, from: i64) {
    let mut scratch = Box::default();
    let block = 512usize;
    for (n, start) in (0..song.frames()).step_by(block).enumerate() {
        let len = block.min(song.frames() - start);
        let (mut l, mut r) = (song.left[start..start + len].to_vec(), song.right[start..start + len].to_vec());
        let (mut ml, mut mr) = (vec![0.0f32; len], vec![0.0f32; len]);
        let main: [&mut [f32]; 2] = [&mut ml, &mut mr];
        let side: [&mut [f32]; 2] = [&mut l, &mut r];
        let pos = from + start as i64;
        let beats = pos as f64 / RATE * TEMPO / 60.0;
        audio.capture(&mut scratch, &main, Some(&side), 0, pos, len, beats, TEMPO, TimeSignature::default());
        // About ten times real time: a worker that keeps draining never lets the ring fill.
        std::thread::sleep(Duration::from_millis(1));
        if n % common::BLOCKS_PER_BARRIER == common::BLOCKS_PER_BARRIER - 1 {
            barrier(engine);
        }
    }
}

#[test]
fn refusals_say_what_to_do() {
    if !ready() {
        return;
    }
    let dir = temp_dir("refusals");
    let (engine, mut audio) = Engine::start(AudioCache::new(dir.join("cache")));
    engine.activate(RATE);

    let id = engine.generate(generate("add a bass line", None, 1, 1, None));
    let message = run_job(&engine, id).unwrap_err();
    assert!(message.contains("nothing has been captured") && message.contains("press play"), "{message}");
    let id = engine.generate(generate("  ", None, 1, 1, None));
    assert!(run_job(&engine, id).unwrap_err().contains("empty"));
    let id = engine.export(3, dir.join("out"));
    assert!(run_job(&engine, id).unwrap_err().contains("slot 4 is empty"));

    // The planner answers a preview with what it understood.
    let id = engine.plan("a walking bassline under bars 2-3, busier");
    match run_job(&engine, id).expect("planned").pop() {
        Some(Event::Planned { job, .. }) => {
            assert_eq!(job.bars, Some([2, 3]));
            assert_eq!(job.density, 1);
            assert!(job.summary().contains("bass"), "{}", job.summary());
        }
        other => panic!("{other:?}"),
    }

    // A silent context.
    let silence = StereoAudio { sample_rate: 48_000, left: vec![0.0; 96_000], right: vec![0.0; 96_000] };
    play_into_sidechain(&engine, &mut audio, &silence, 0);
    let id = engine.generate(generate("add a bass line", None, 1, 1, None));
    let message = run_job(&engine, id).unwrap_err();
    assert!(message.contains("silent") && message.contains("route"), "{message}");

    // Every slot taken: refused before any model runs.
    let midi = dir.join("one.mid");
    std::fs::write(&midi, encode_midi(&[Note { start: 0.0, length: 1.0, key: 60, velocity: 90 }], 120.0, 0, None))
        .unwrap();
    for slot in 0..16 {
        let id = engine.import(ImportStem {
            id: 0,
            path: midi.clone(),
            slot: Some(slot),
            start_beats: 0.0,
            output: StemOutput::Midi,
        });
        run_job(&engine, id).expect("imported");
    }
    let id = engine.generate(generate("add a bass line", None, 1, 1, None));
    let message = run_job(&engine, id).unwrap_err();
    assert!(message.contains("all 16 stem slots are full") && message.contains("clear one"), "{message}");
    assert!(engine.status().queue.is_empty());
    drop(engine);
    std::fs::remove_dir_all(&dir).ok();
}
