//! Separation speed: seconds per minute of stereo 44.1 kHz audio for each method, the ratio to the
//! target (a song separated in under a tenth of its duration: 6 s per minute), and the ratio to a
//! reference run in the same process (an all-pass mask through the same STFT pipeline, i.e. the
//! cost of the transforms alone). The input is a 3-minute song rendered here through the General
//! MIDI SoundFont (bass, piano, drums).
//!
//! `cargo bench -p counterpart-engine --bench separate` (needs `cargo xtask setup`; the Spleeter and
//! score-informed rows are skipped without the runtime and packs).

use std::time::Instant;

#[path = "../tests/common/mod.rs"]
mod common;

use common::separation::{RATE, band_mix, edit};
use counterpart_engine::packs::{PackRegistry, TaskKind};
use counterpart_engine::render::Renderer;
use counterpart_engine::runtime::{self, SessionSettings};
use counterpart_engine::separate::byo::ByoSeparator;
use counterpart_engine::separate::hpss::{self, HpssSettings};
use counterpart_engine::separate::masking::{self, Layout};
use counterpart_engine::separate::{score_informed, separate_vocals};
use counterpart_engine::stem::StereoAudio;
use counterpart_engine::transcribe::{RegistrySessions, TranscribeOptions};

const SECONDS: f64 = 180.0;
/// Target: separation time over audio time.
const TARGET_RATIO: f64 = 0.1;

fn row(name: &str, seconds: f64, audio_seconds: f64, reference: f64) {
    let per_minute = seconds / audio_seconds * 60.0;
    let ratio = seconds / audio_seconds / TARGET_RATIO;
    let verdict = if ratio <= 1.0 { "meets" } else { "misses" };
    let against = seconds / reference;
    println!(
        "{name:<36} {seconds:>7.2} s {per_minute:>8.2} s/min {ratio:>8.2}x of target ({verdict}) {against:>7.1}x reference"
    );
}

fn main() {
    let renderer = Renderer::open_default().expect("the SoundFont (cargo xtask setup)");
    // A 3-minute song at 120 BPM (2 s a bar): bass, piano triads and a rock groove.
    let audio = band_mix(&renderer, (SECONDS / 2.0) as usize);
    let audio_seconds = audio.seconds();
    println!("separation of {audio_seconds:.0} s of stereo {RATE} Hz audio; target: under {TARGET_RATIO} x duration");
    println!("{:<36} {:>9} {:>13} {:>20} {:>18}", "method", "time", "per minute", "time / target", "time / reference");

    let t = Instant::now();
    masking::extract(&audio, &Layout::for_rate(RATE, 8), |_, m| {
        m.fill(1.0);
        Ok(())
    })
    .expect("round trip");
    let reference = t.elapsed().as_secs_f64();
    row("reference: STFT round trip, no mask", reference, audio_seconds, reference);

    let t = Instant::now();
    let drums = hpss::separate_drums(&audio, &HpssSettings::default()).expect("separates");
    row("drums: HPSS + onsets", t.elapsed().as_secs_f64(), audio_seconds, reference);
    assert_eq!(drums.frames(), audio.frames());

    if runtime::init_default().is_err() {
        println!("(ONNX Runtime missing: the model rows are skipped)");
        return;
    }
    let mut registry = PackRegistry::discover_default(SessionSettings::default());
    if let Ok(pack) = registry.find(TaskKind::Transcriber).map(|p| p.name().to_string()) {
        // Before: one session with ONNX Runtime's own threads; after: one single-threaded session
        // per core, windows side by side (what `separate_role` uses), in the same run.
        let session = &mut registry.session(&pack, "nmp").expect("loads").session;
        let t = Instant::now();
        let one = score_informed::transcribe_mix(std::slice::from_mut(session), &audio).expect("transcribes");
        let on_one = t.elapsed().as_secs_f64();
        let mut sessions = RegistrySessions::new(&mut registry, &TranscribeOptions::default()).expect("loads");
        let count = sessions.as_mut_slice().len();
        let t = Instant::now();
        let notes = score_informed::transcribe_mix(sessions.as_mut_slice(), &audio).expect("transcribes");
        let transcribe = t.elapsed().as_secs_f64();
        assert_eq!(notes.len(), one.len(), "side by side gives the same notes");
        let (line, others) = score_informed::lowest_line(&notes);
        let t = Instant::now();
        score_informed::separate_line(&audio, &line, &others).expect("separates");
        let masks = t.elapsed().as_secs_f64();
        row("bass: transcription, one session", on_one, audio_seconds, reference);
        row(&format!("bass: transcription, {count} sessions"), transcribe, audio_seconds, reference);
        row("bass: score-informed masks", masks, audio_seconds, reference);
        row("bass: total, one session (before)", on_one + masks, audio_seconds, reference);
        row("bass: total (separate_role)", transcribe + masks, audio_seconds, reference);
    }
    if registry.find(TaskKind::Separator).is_ok() {
        let t = Instant::now();
        separate_vocals(&mut registry, &audio).expect("separates");
        row("vocals: Spleeter 2stems", t.elapsed().as_secs_f64(), audio_seconds, reference);
    }
    // Our learned drums / bass pack (or any bring-your-own pack): all its stems in one pass.
    if let Some(pack) = registry.packs().iter().find(|p| p.manifest.separator.is_some()) {
        let mut separator = ByoSeparator::load(pack, &SessionSettings::default()).expect("loads");
        let name = format!("{}: {}", separator.spec.stems.join(" + "), pack.name());
        let t = Instant::now();
        separator.separate(&audio).expect("separates");
        row(&name, t.elapsed().as_secs_f64(), audio_seconds, reference);
    }
    memory(&audio);
}

/// Peak memory (`VmHWM`, reported by the child itself in `report.json`) of the `counterpart edit`
/// binary removing the drums from a 1-minute and a 20-minute input (the song repeated, 16-bit
/// stereo WAV), and their ratio: segmenting keeps it flat where a whole-file edit grew with the
/// length (the 20-minute input alone is 423 MiB as f32).
fn memory(song: &StereoAudio) {
    // About 1.3 GB of WAV files: in memory (/dev/shm) where there is one, so disk space is no issue.
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        shm.join(format!("counterpart-separate-bench-{}", std::process::id()))
    } else {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tmp/separate-bench")
    };
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let mut peaks = Vec::new();
    println!(
        "{:<36} {:>9} {:>13} {:>12} {:>10}",
        "counterpart edit \"remove the drums\"", "peak RSS", "separate", "segments", "wall"
    );
    for minutes in [1usize, 20] {
        let input = dir.join(format!("song-{minutes}min.wav"));
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&input, spec).expect("writes");
        let to_i16 = |x: f32| (x.clamp(-1.0, 1.0) * 32767.0) as i16;
        for i in 0..minutes * 60 * RATE as usize {
            let j = i % song.frames();
            w.write_sample(to_i16(song.left[j])).expect("writes");
            w.write_sample(to_i16(song.right[j])).expect("writes");
        }
        w.finalize().expect("writes");
        let out = dir.join(format!("out-{minutes}min"));
        let t = Instant::now();
        let (ok, err) = edit(&input, "remove the drums", &out, &[]);
        let wall = t.elapsed().as_secs_f64();
        assert!(ok, "{err}");
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report")).expect("json");
        let peak = report["peak_memory_mib"].as_f64().unwrap_or(f64::NAN);
        println!(
            "{:<36} {peak:>5.0} MiB {:>7.2} s/min {:>12} {wall:>8.1} s",
            format!("{minutes} min input"),
            report["separate_s_per_audio_minute"].as_f64().unwrap_or(f64::NAN),
            report["segments"]["count"],
        );
        peaks.push(peak);
        let _ = std::fs::remove_dir_all(&out);
        let _ = std::fs::remove_file(&input);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("peak memory, 20 min / 1 min: {:.2}x", peaks[1] / peaks[0]);
}
