//! The editor's instruction preview with the real prompt model: a preview asked before the job
//! thread has loaded its models is answered once they are, and a preview asked while a long job
//! holds the job thread is answered at once, never waits in the queue, and is not a job.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use counterpart_engine::Engine;
use counterpart_engine::cache::AudioCache;
use counterpart_engine::job::{CaptureSource, Event, GenerateStem, JobId};
use counterpart_engine::plan::PlannedJob;
use counterpart_engine::resample::resample;
use counterpart_engine::separate::decode::load_stereo;

const RATE: f64 = 48_000.0;
/// How long a job may take in a debug build on a busy 2-core machine.
const PATIENCE: Duration = Duration::from_secs(300);

/// Waits for the preview `id`, collecting every other event on the way.
fn preview(engine: &Engine, id: JobId, others: &mut Vec<Event>) -> Box<PlannedJob> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match engine.events().recv_timeout(left).expect("the preview is answered") {
            Event::Planned { id: got, job } if got == id => return job,
            Event::Failed { id: got, message } if got == id => panic!("the preview failed: {message}"),
            other => others.push(other),
        }
    }
}

#[test]
fn previews_are_answered_while_a_long_job_runs_and_never_queue() {
    if common::basic_pitch().is_none() || common::embedder().is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("cp-preview-{}", std::process::id()));
    let (engine, mut audio) = Engine::start(AudioCache::new(dir.join("cache")));
    engine.activate(RATE);

    // Asked at once: the job thread is still finding and checking the packs.
    let mut others = Vec::new();
    let early = engine.plan("a walking bassline under bars 2-3, busier");
    let job = preview(&engine, early, &mut others);
    assert_eq!((job.bars, job.density), (Some([2, 3]), 1));
    assert!(job.summary().contains("bass"), "{}", job.summary());

    // A job that keeps the job thread busy for a long while: eight takes over the whole song.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/context.wav");
    let song = resample(&load_stereo(&path).expect("the example song"), RATE as u32).unwrap();
    common::play_into(&engine, &mut audio, &song, 0, 100.0, common::Input::Sidechain);
    let long = engine.generate(GenerateStem {
        id: 0,
        prompt: "add a string pad".into(),
        source: CaptureSource::Sidechain,
        bars: None,
        takes: 8,
        seed: 3,
        slot: None,
    });
    let deadline = Instant::now() + PATIENCE;
    while !engine.status().queue.iter().any(|j| j.id == long && j.fraction > 0.0) {
        assert!(Instant::now() < deadline, "the long job never started");
        std::thread::sleep(Duration::from_millis(20));
    }

    let asking = Instant::now();
    let asked = engine.plan("give me a sparser counter-melody, higher, in the last 4 bars");
    let job = preview(&engine, asked, &mut others);
    println!("previewed in {:.0} ms while the long job ran", asking.elapsed().as_secs_f64() * 1000.0);
    assert!(job.summary().contains("counter-melody"), "{}", job.summary());
    assert_eq!((job.density, job.register), (-1, 1));
    // 4/4 at 100 BPM: a bar is 115 200 samples at 48 kHz; the song's last chord rings into bar 9.
    let captured_bars = song.frames().div_ceil(115_200) as u32;
    assert_eq!(job.bars, Some([captured_bars - 3, captured_bars]), "the last 4 of the captured bars");
    let ended = |e: &Event| matches!(e, Event::StemReady { id, .. } | Event::Failed { id, .. } | Event::Cancelled { id } if *id == long);
    assert!(!others.iter().any(ended), "the preview waited for the long job: {others:?}");
    let status = engine.status();
    assert_eq!(status.queue.iter().map(|j| j.id).collect::<Vec<_>>(), vec![long], "a preview is not a job");
    assert!(status.recent.iter().any(|j| j.id == asked && j.title.starts_with("plan: give me")), "{:?}", status.recent);

    engine.cancel(long);
    let deadline = Instant::now() + PATIENCE;
    while !others.iter().any(ended) {
        let left = deadline.saturating_duration_since(Instant::now());
        others.push(engine.events().recv_timeout(left).expect("the long job ends"));
    }
    std::fs::remove_dir_all(&dir).ok();
}
