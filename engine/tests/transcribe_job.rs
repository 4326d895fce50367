//! The whole job path with the real model: a melody played into the sidechain is captured
//! through the audio thread's ring, transcribed by the worker with basic-pitch, and placed as a
//! MIDI stem whose notes sit on the song's beats.

mod common;

use std::time::Duration;

use counterpart_engine::Engine;
use counterpart_engine::cache::AudioCache;
use counterpart_engine::job::{CaptureSource, Event};
use counterpart_engine::resample::resample;
use counterpart_engine::stem::StereoAudio;
use counterpart_engine::timeline::TimeSignature;
use counterpart_engine::wav::read_wav;

/// How long one model job may take in a debug build on a busy 2-core machine.
const PATIENCE: Duration = Duration::from_secs(300);

fn wait_for(engine: &Engine, id: u64) -> Result<usize, String> {
    loop {
        match engine.events().recv_timeout(PATIENCE).expect("the worker reports") {
            Event::StemReady { id: got, slot } if got == id => return Ok(slot),
            Event::Failed { id: got, message } if got == id => return Err(message),
            _ => {}
        }
    }
}

#[test]
fn a_captured_melody_becomes_a_midi_stem_on_the_beat() {
    if common::basic_pitch().is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("cp-transcribe-job-{}", std::process::id()));
    let (engine, mut audio) = Engine::start(AudioCache::new(&dir));
    engine.activate(48_000.0);

    // Nothing captured yet: a clear message, no stem.
    let id = engine.transcribe_capture(CaptureSource::Sidechain, None);
    let message = wait_for(&engine, id).unwrap_err();
    assert!(message.contains("press play"), "{message}");

    // The melody (C major scale, 0.25 s apart from 0.1 s) enters on the sidechain while the
    // song plays from bar 2 (beat 4 = 2.0 s at 120 BPM); the main input carries silence.
    let melody = read_wav(&common::fixtures().join("piano_melody.wav")).unwrap();
    let melody: StereoAudio = resample(&melody, 48_000).unwrap();
    let start = 96_000i64;
    let mut scratch = Box::default();
    let block = 480;
    for (n, chunk) in melody.left.chunks(block).enumerate() {
        let pos = start + (n * block) as i64;
        let silence = vec![0.0f32; chunk.len()];
        let (mut l, mut r) = (chunk.to_vec(), chunk.to_vec());
        let (mut ml, mut mr) = (silence.clone(), silence);
        let main: [&mut [f32]; 2] = [&mut ml, &mut mr];
        let side: [&mut [f32]; 2] = [&mut l, &mut r];
        audio.transport.publish(120.0, 48_000.0, pos, true, (4, 4));
        let beats = pos as f64 / 24_000.0;
        audio.capture(&mut scratch, &main, Some(&side), 0, pos, chunk.len(), beats, 120.0, TimeSignature::default());
        // Give the worker time, as a real audio callback would.
        if n % 50 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    // The silent main input is refused in words; the sidechain is transcribed.
    let id = engine.transcribe_capture(CaptureSource::Main, None);
    assert!(wait_for(&engine, id).unwrap_err().contains("silent"));
    let id = engine.transcribe_capture(CaptureSource::Sidechain, Some(3));
    let slot = wait_for(&engine, id).expect("transcribed");
    assert_eq!(slot, 3);

    let stem = engine.store().snapshot().stem(3).cloned().expect("a stem in slot 4");
    let truth = common::truth("piano_melody");
    // Truth onsets in seconds from the clip start -> beats on the song: 4 + 2 * seconds.
    let truth_beats: Vec<(f64, u8)> = truth.iter().map(|t| (4.0 + 2.0 * t.start, t.pitch)).collect();
    let got: Vec<(f64, u8)> = stem.notes.iter().map(|n| (n.start, n.key)).collect();
    // 50 ms = 0.1 beat at 120 BPM.
    let (p, r, f) = common::prf(&got, &truth_beats, 0.1);
    println!("capture -> transcription P {p:.3} R {r:.3} F1 {f:.3} ({} notes, {} true)", got.len(), truth_beats.len());
    assert!(f >= 0.95, "F1 {f:.3}: {got:?}");
    assert!(stem.notes.iter().all(|n| n.start >= 4.0), "no note before the capture started");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_device_the_runtime_lacks_falls_back_to_the_cpu_with_a_notice() {
    if common::basic_pitch().is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("cp-provider-{}", std::process::id()));
    let (engine, _audio) = Engine::start(AudioCache::new(&dir));
    engine.activate(48_000.0);
    engine.send(counterpart_engine::job::Job::SetProvider {
        provider: counterpart_engine::runtime::ExecutionProvider::Cuda,
    });
    // The models reload on the job thread; the status says so when they are back.
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut status = engine.status();
    while !status.provider.starts_with("Models run on the CPU:") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        status = engine.status();
    }
    assert!(status.provider.starts_with("Models run on the CPU:"), "{}", status.provider);
    assert!(status.provider.contains("Cuda"), "{}", status.provider);
    assert_eq!(
        engine.store().snapshot().provider,
        counterpart_engine::runtime::ExecutionProvider::Cuda,
        "the choice is saved"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_cancelled_transcription_stops_inside_the_model_step_and_reports_its_progress() {
    if common::basic_pitch().is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("cp-transcribe-cancel-{}", std::process::id()));
    let (engine, mut audio) = Engine::start(AudioCache::new(&dir));
    engine.activate(48_000.0);
    // A minute of the example song on the sidechain: many seconds of model work in a debug build.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/context.wav");
    let song = resample(&counterpart_engine::separate::decode::load_stereo(&path).unwrap(), 48_000).unwrap();
    let mut long = StereoAudio { sample_rate: 48_000, ..StereoAudio::default() };
    while long.frames() < 60 * 48_000 {
        long.left.extend_from_slice(&song.left);
        long.right.extend_from_slice(&song.right);
    }
    common::play_into(&engine, &mut audio, &long, 0, 100.0, common::Input::Sidechain);

    let id = engine.transcribe_capture(CaptureSource::Sidechain, None);
    let (mut seen, mut cancelled) = (Vec::new(), false);
    loop {
        match engine.events().recv_timeout(PATIENCE).expect("the worker reports") {
            Event::Progress { id: got, stage, fraction } if got == id => {
                seen.push(fraction);
                // Past the step's start (0.1): the model is running; cancel inside it.
                if stage == "transcribing" && fraction > 0.1 && !cancelled {
                    engine.cancel(id);
                    cancelled = true;
                }
            }
            Event::Cancelled { id: got } if got == id => break,
            Event::StemReady { id: got, .. } | Event::Failed { id: got, .. } if got == id => {
                panic!("the job ended without being cancelled: {seen:?}")
            }
            _ => {}
        }
    }
    let last = seen.iter().copied().fold(0.0f32, f32::max);
    println!("progress seen before the cancel took effect: {seen:?}");
    assert!(cancelled, "the model step reports its progress: {seen:?}");
    assert!(last < 0.9, "stopped inside the model step (it ends at 0.9): {seen:?}");
    assert!(engine.store().snapshot().stems.is_empty(), "a cancelled job places nothing");
    std::fs::remove_dir_all(&dir).ok();
}
