//! Hostile and unusual input: every case gives a sane result or a clear error, never a panic.

mod common;

use std::f32::consts::TAU;
use std::path::Path;

use counterpart_engine::audio_io;
use counterpart_engine::transcribe::{self, TranscribeOptions, Transcription};

/// `secs` of a 440 Hz tone with two harmonics and a decay, at `sr`.
fn tone(sr: u32, secs: f32, gain: f32) -> Vec<f32> {
    (0..(sr as f32 * secs) as usize)
        .map(|i| {
            let t = i as f32 / sr as f32;
            let env = (-2.0 * (t % 1.0)).exp();
            gain * env * ((TAU * 440.0 * t).sin() + 0.5 * (TAU * 880.0 * t).sin() + 0.25 * (TAU * 1320.0 * t).sin())
                / 1.75
        })
        .collect()
}

/// Writes a 16-bit WAV with `channels` identical channels.
fn write_wav(path: &Path, sr: u32, channels: u16, mono: &[f32]) {
    let spec =
        hound::WavSpec { channels, sample_rate: sr, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in mono {
        for _ in 0..channels {
            w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// Whether the transcription found an A4 (MIDI 69).
fn has_a4(t: &Transcription) -> bool {
    t.notes.iter().any(|n| n.pitch == 69)
}

#[test]
fn signal_edge_cases() {
    let Some(mut session) = common::basic_pitch_session() else {
        return;
    };
    let sr = 22050;
    let mut with_nan = tone(sr, 2.0, 0.5);
    for i in (0..with_nan.len()).step_by(97) {
        with_nan[i] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][i % 3];
    }
    let mut zeroed = with_nan.clone();
    zeroed.iter_mut().filter(|x| !x.is_finite()).for_each(|x| *x = 0.0);
    let cases: Vec<(&str, Vec<f32>, Option<bool>)> = vec![
        ("empty", vec![], Some(false)),
        ("1 sample", vec![0.5], Some(false)),
        ("255 samples (less than one frame)", tone(sr, 0.0116, 0.5), Some(false)),
        ("silence 3 s", vec![0.0; 3 * sr as usize], Some(false)),
        ("DC 0.5", vec![0.5; 3 * sr as usize], None),
        ("full-scale DC", vec![1.0; 3 * sr as usize], None),
        ("clipped tone (x10)", tone(sr, 2.0, 10.0).into_iter().map(|x| x.clamp(-1.0, 1.0)).collect(), None),
        ("tone", tone(sr, 2.0, 0.5), Some(true)),
        ("tone with NaN/inf", with_nan.clone(), Some(true)),
        ("huge values", tone(sr, 1.0, 1e30), None),
        ("denormals", vec![1e-40; sr as usize], Some(false)),
        ("white noise", (0..2 * sr).map(|i| ((i as u64 * 2654435761) % 1000) as f32 / 500.0 - 1.0).collect(), None),
    ];
    for (name, samples, expect_a4) in cases {
        let t = transcribe::transcribe_samples(&mut session, &samples, &TranscribeOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        println!("{name:36} {:3} notes, {} frames", t.notes.len(), t.posteriorgram.frames);
        assert_eq!(t.posteriorgram.frames, (samples.len() as f64 * 86.0 / 22050.0).floor() as usize, "{name}");
        for n in &t.notes {
            assert!(n.start.is_finite() && n.end >= n.start && (21..=108).contains(&n.pitch), "{name}: {n:?}");
        }
        match expect_a4 {
            Some(true) => assert!(has_a4(&t), "{name}: A4 not found"),
            Some(false) => assert!(t.notes.is_empty(), "{name}: expected no notes, got {}", t.notes.len()),
            None => {}
        }
    }
    // Non-finite samples are treated exactly as zeros.
    let a = transcribe::transcribe_samples(&mut session, &with_nan, &TranscribeOptions::default()).unwrap();
    let b = transcribe::transcribe_samples(&mut session, &zeroed, &TranscribeOptions::default()).unwrap();
    assert_eq!(a.notes, b.notes);
}

#[test]
fn sample_rates_and_channel_layouts() {
    let Some(mut session) = common::basic_pitch_session() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for sr in [8000, 11025, 16000, 22050, 44100, 48000, 96000, 192000] {
        for channels in [1u16, 2, 6] {
            let path = tmp.path().join(format!("tone_{sr}_{channels}.wav"));
            write_wav(&path, sr, channels, &tone(sr, 2.0, 0.5));
            let t = transcribe::transcribe_file(&mut session, &path, &TranscribeOptions::default())
                .unwrap_or_else(|e| panic!("{sr} Hz x{channels}: {e}"));
            let expected_frames = (2.0f64 * 22050.0 * 86.0 / 22050.0).floor() as usize;
            println!("{sr:6} Hz x{channels}: {} notes, {} frames", t.notes.len(), t.posteriorgram.frames);
            assert!((t.duration - 2.0).abs() < 1e-3, "{sr}: duration {}", t.duration);
            assert!(t.posteriorgram.frames.abs_diff(expected_frames) <= 1, "{sr}: {} frames", t.posteriorgram.frames);
            assert!(
                has_a4(&t),
                "{sr} Hz x{channels}: A4 not found in {:?}",
                t.notes.iter().map(|n| n.pitch).collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn encoded_formats_decode() {
    let Some(mut session) = common::basic_pitch_session() else {
        return;
    };
    let dir = common::fixtures().join("../formats");
    for file in ["a4.flac", "a4.ogg", "a4.mp3"] {
        let path = dir.join(file);
        let (samples, info) = audio_io::load_mono(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        println!("{file}: {} Hz x{}, {} frames", info.sample_rate, info.channels, samples.len());
        assert_eq!(info.sample_rate, 44100);
        assert!((samples.len() as i64 - 44100).abs() < 3000, "{file}: {} frames", samples.len());
        let t = transcribe::transcribe_file(&mut session, &path, &TranscribeOptions::default()).unwrap();
        assert!(has_a4(&t), "{file}: A4 not found");
    }
}

#[test]
fn unreadable_files_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.wav");
    write_wav(&good, 44100, 2, &tone(44100, 1.0, 0.5));
    let bytes = std::fs::read(&good).unwrap();
    let write = |name: &str, data: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, data).unwrap();
        p
    };
    let cases = [
        ("missing file", tmp.path().join("nope.wav"), Some("cannot open")),
        ("zero bytes", write("empty.wav", &[]), Some("not a readable audio file")),
        (
            "random bytes",
            write("noise.wav", &(0..5000u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<_>>()),
            Some("not a readable audio file"),
        ),
        ("text as mp3", write("text.mp3", b"hello, this is not audio at all\n"), Some("not a readable audio file")),
        ("header only", write("header.wav", &bytes[..44]), None),
        ("truncated mid-data", write("cut.wav", &bytes[..bytes.len() / 2 + 1]), None),
        ("truncated header", write("cuthead.wav", &bytes[..20]), Some("not a readable audio file")),
    ];
    for (name, path, expect) in cases {
        let result = audio_io::load_mono(&path);
        match (&result, expect) {
            (Err(e), Some(text)) => {
                println!("{name:20} error: {e}");
                assert!(e.to_string().contains(text), "{name}: {e}");
            }
            (Ok((s, _)), None) => println!("{name:20} ok: {} frames decoded", s.len()),
            (Err(e), None) => println!("{name:20} error: {e}"),
            (Ok(_), Some(text)) => panic!("{name}: expected an error containing `{text}`"),
        }
    }
}
