//! Capture through the real hand-off: an audio-thread simulation writes blocks of varying size
//! through loops, seeks and stops; the worker's timeline must hold the song exactly once.

use counterpart_engine::Engine;
use counterpart_engine::cache::AudioCache;
use counterpart_engine::capture::Region;
use counterpart_engine::timeline::TimeSignature;

/// The "song": a value that tells every sample and channel apart.
fn song(channel: usize, pos: i64) -> f32 {
    (pos as f32) * 1e-3 + channel as f32 * 1000.0
}

#[test]
fn loops_seeks_stops_and_odd_blocks_capture_every_sample_once() {
    let dir = std::env::temp_dir().join(format!("cp-capture-{}", std::process::id()));
    let (engine, mut audio) = Engine::start(AudioCache::new(&dir));
    engine.activate(48_000.0);
    let mut scratch = Box::default();
    let sig = TimeSignature::default();
    let mut feed = |audio: &mut counterpart_engine::link::AudioSide, pos: i64, len: usize| {
        let mut main: Vec<Vec<f32>> = (0..2).map(|c| (0..len as i64).map(|i| song(c, pos + i)).collect()).collect();
        let mut side: Vec<Vec<f32>> = (2..4).map(|c| (0..len as i64).map(|i| song(c, pos + i)).collect()).collect();
        let main_refs: Vec<&mut [f32]> = main.iter_mut().map(|v| &mut v[..]).collect();
        let side_refs: Vec<&mut [f32]> = side.iter_mut().map(|v| &mut v[..]).collect();
        audio.transport.publish(120.0, 48_000.0, pos, true, (4, 4));
        audio.capture(&mut scratch, &main_refs, Some(&side_refs), 0, pos, len, pos as f64 / 24_000.0, 120.0, sig);
    };
    // Play 0..10_000 in blocks of 1, 7 and 480; loop 5_000..10_000 twice with 4096-blocks;
    // seek to 50_000 and play 3_000 more in 8192-blocks (cut short at the end).
    let mut pos = 0;
    for (i, len) in [1usize, 7, 480].iter().cycle().enumerate() {
        if pos >= 10_000 || i > 100_000 {
            break;
        }
        let n = (*len).min((10_000 - pos) as usize);
        feed(&mut audio, pos, n);
        pos += n as i64;
    }
    for _ in 0..2 {
        let mut p = 5_000;
        while p < 10_000 {
            let n = 4096.min((10_000 - p) as usize);
            feed(&mut audio, p, n);
            p += n as i64;
        }
    }
    feed(&mut audio, 50_000, 3_000);

    let captured = engine.captured_song().expect("the worker answers");
    assert_eq!(captured.regions, vec![Region { start: 0, end: 10_000 }, Region { start: 50_000, end: 53_000 }]);
    assert_eq!(captured.start, 0);
    for (channel, data) in captured.channels.iter().enumerate() {
        assert_eq!(data.len(), 53_000);
        for (i, v) in data.iter().enumerate() {
            let pos = i as i64;
            let expected = if (10_000..50_000).contains(&pos) { 0.0 } else { song(channel, pos) };
            assert_eq!(*v, expected, "channel {channel} sample {pos}");
        }
    }
    assert_eq!(engine.transport().capture_overruns(), 0);
    std::fs::remove_dir_all(&dir).ok();
}
