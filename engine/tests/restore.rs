//! Restoring a stored project through the engine: what loads plays, what is lost is reported
//! in the status the editor reads, and importing files places stems.

use std::time::Duration;

use counterpart_engine::Engine;
use counterpart_engine::cache::AudioCache;
use counterpart_engine::job::{Event, ImportStem};
use counterpart_engine::midi::encode_midi;
use counterpart_engine::stem::{AudioRef, Note, StemOutput, StemRecord, StereoAudio};
use counterpart_engine::wav::write_wav;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cp-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn lost_parts_are_reported_in_the_status() {
    let dir = temp_dir("restore");
    let cache = AudioCache::new(&dir);
    let audio = StereoAudio { sample_rate: 48_000, left: vec![0.25; 100], right: vec![-0.25; 100] };
    let kept = StemRecord {
        slot: 0,
        name: "kept".into(),
        start_beats: 0.0,
        start_seconds: 0.0,
        tempo: 120.0,
        audio: Some(cache.store(&audio).unwrap()),
        notes: vec![],
        output: StemOutput::Audio,
        ..StemRecord::default()
    };
    let gone = StemRecord {
        slot: 4,
        name: "gone".into(),
        audio: Some(AudioRef { hash: "cd".repeat(32), sample_rate: 48_000, frames: 5 }),
        ..kept.clone()
    };
    let (engine, _audio) = Engine::start(cache);
    let json = serde_json::json!({"version": 1, "stems": [kept, gone, {"slot": "x"}]});
    engine.store().restore_json(&json);
    let status = engine.status();
    assert_eq!(status.stems.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["kept"]);
    assert_eq!(status.lost.len(), 2, "{:?}", status.lost);
    assert!(status.lost.iter().any(|l| l.contains("\"gone\"") && l.contains("missing")), "{:?}", status.lost);
    assert!(status.lost.iter().any(|l| l.contains("stem 3")), "{:?}", status.lost);
    // What is saved next is what was restored: the lost stem is not written back as if present.
    assert_eq!(engine.store().snapshot().stems.len(), 1);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn importing_wav_and_midi_files_places_stems_and_bad_files_fail_in_words() {
    let dir = temp_dir("import");
    let (engine, _audio) = Engine::start(AudioCache::new(dir.join("cache")));
    let wav = dir.join("bass.wav");
    write_wav(&wav, &StereoAudio { sample_rate: 44_100, left: vec![0.5; 441], right: vec![0.5; 441] }).unwrap();
    let mid = dir.join("keys.mid");
    let notes = [Note { start: 0.0, length: 1.0, key: 60, velocity: 100 }];
    std::fs::write(&mid, encode_midi(&notes, 120.0, 0, None)).unwrap();
    let bad = dir.join("broken.wav");
    std::fs::write(&bad, b"RIFF\x10\x00\x00\x00WAVEjunk").unwrap();

    let job = |path: &std::path::Path, slot| ImportStem {
        id: 0,
        path: path.into(),
        slot,
        start_beats: 8.0,
        output: StemOutput::Both,
    };
    let ids = [
        engine.import(job(&wav, None)),
        engine.import(job(&mid, Some(7))),
        engine.import(job(&bad, None)),
        engine.import(job(&wav, Some(16))),
    ];
    let mut ready = Vec::new();
    let mut failed = Vec::new();
    while ready.len() + failed.len() < 4 {
        match engine.events().recv_timeout(Duration::from_secs(60)).expect("the worker reports") {
            Event::StemReady { id, slot } => ready.push((id, slot)),
            Event::Failed { id, message } => failed.push((id, message)),
            _ => {}
        }
    }
    assert_eq!(ready, vec![(ids[0], 0), (ids[1], 7)]);
    assert_eq!(failed[0].0, ids[2]);
    assert!(failed[0].1.contains("broken.wav"), "{}", failed[0].1);
    assert!(failed[1].1.contains("no slot 17"), "{}", failed[1].1);
    let project = engine.store().snapshot();
    let keys = project.stem(7).unwrap();
    assert_eq!(keys.notes[0].start, 8.0, "notes are placed at the stem's start");
    assert_eq!(keys.output, StemOutput::Both);
    assert_eq!(project.stem(0).unwrap().audio.as_ref().unwrap().sample_rate, 44_100);
    std::fs::remove_dir_all(&dir).ok();
}
