//! What the separation tests and the separation benchmark share: a band rendered through the real
//! General MIDI SoundFont with known stems, the measures its separations are judged by, and
//! `counterpart edit` runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use counterpart_engine::render::Renderer;
use counterpart_engine::stem::{Note, StereoAudio};
use counterpart_engine::wav;

/// Sample rate the test songs are rendered at.
pub const RATE: u32 = 44_100;
/// Tempo of the test songs.
pub const BPM: f64 = 120.0;
/// `extracted + remainder` must give the input back to this level (dBFS).
pub const MAX_RESIDUAL_DBFS: f64 = -60.0;

/// A note at `start` beats, `length` beats long.
pub fn note(start: f64, length: f64, key: u8, velocity: u8) -> Note {
    Note { start, length, key, velocity }
}

/// The notes of the test band: C - Am - F - G, a bar each.
pub struct Band {
    /// A picked bass: root, root, fifth, root in quarters.
    pub bass: Vec<Note>,
    /// Piano triads in half notes.
    pub piano: Vec<Note>,
    /// A rock groove: closed hi-hat in eighths, kick on 1 and 3, snare on 2 and 4.
    pub drums: Vec<Note>,
}

impl Band {
    /// `bars` bars of the band.
    pub fn new(bars: usize) -> Self {
        let roots = [36u8, 33, 29, 31];
        let triads = [[60u8, 64, 67], [57, 60, 64], [57, 60, 65], [59, 62, 67]];
        let (mut bass, mut piano, mut drums) = (Vec::new(), Vec::new(), Vec::new());
        for bar in 0..bars {
            let b = bar as f64 * 4.0;
            let (root, triad) = (roots[bar % 4], triads[bar % 4]);
            bass.extend([root, root, root + 7, root].iter().enumerate().map(|(i, &k)| note(b + i as f64, 0.9, k, 100)));
            piano.extend([0.0, 2.0].iter().flat_map(|&h| triad.map(|k| note(b + h, 1.9, k, 70))));
            drums.extend((0..8).map(|e| note(b + e as f64 * 0.5, 0.25, 42, 70)));
            drums.extend([note(b, 0.5, 36, 110), note(b + 2.0, 0.5, 36, 110)]);
            drums.extend([note(b + 1.0, 0.5, 38, 100), note(b + 3.0, 0.5, 38, 100)]);
        }
        Self { bass, piano, drums }
    }

    /// Bass, piano and drums, each rendered at [`BPM`] and [`RATE`] with `tail_seconds` after its
    /// last note-off (picked bass, acoustic grand, the drum kit).
    pub fn render(&self, renderer: &Renderer, tail_seconds: f64) -> [StereoAudio; 3] {
        [(&self.bass, Some(34)), (&self.piano, Some(0)), (&self.drums, None)]
            .map(|(notes, program)| renderer.render(notes, program, 0.0, BPM, RATE, tail_seconds).expect("renders"))
    }
}

/// `notes` (beats at [`BPM`]) as the transcriber's notes (seconds).
pub fn as_transcribed(notes: &[Note]) -> Vec<counterpart_engine::transcribe::Note> {
    let spb = 60.0 / BPM;
    notes
        .iter()
        .map(|n| counterpart_engine::transcribe::Note {
            start: n.start * spb,
            end: n.end() * spb,
            pitch: n.key,
            amplitude: 0.5,
            pitch_bends: None,
            start_frame: 0,
            end_frame: 0,
        })
        .collect()
}

/// `bars` bars of the band mixed, exactly 2 s a bar (no tail).
pub fn band_mix(renderer: &Renderer, bars: usize) -> StereoAudio {
    let frames = (bars as f64 * 2.0 * RATE as f64) as usize;
    mix(&Band::new(bars).render(renderer, 0.0), frames)
}

/// `audio` cut or padded with silence to `frames`.
pub fn fit(mut audio: StereoAudio, frames: usize) -> StereoAudio {
    audio.left.resize(frames, 0.0);
    audio.right.resize(frames, 0.0);
    audio
}

/// `stems` summed over `frames` samples: a shorter stem is silent after its end, a longer one cut.
pub fn mix(stems: &[StereoAudio], frames: usize) -> StereoAudio {
    let sample_rate = stems.first().map_or(RATE, |s| s.sample_rate);
    let mut mix = StereoAudio { sample_rate, left: vec![0.0; frames], right: vec![0.0; frames] };
    for stem in stems {
        for (out, part) in [(&mut mix.left, &stem.left), (&mut mix.right, &stem.right)] {
            out.iter_mut().zip(part).for_each(|(o, p)| *o += p);
        }
    }
    mix
}

/// Sum of squares.
pub fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&v| v as f64 * v as f64).sum()
}

/// Signal-to-distortion ratio of `estimate` against `reference` over both channels (dB): the plain
/// 10·log10(‖s‖² / ‖s − ŝ‖²), no allowed distortion filter (stricter than bss_eval's SDR).
pub fn sdr(reference: &StereoAudio, estimate: &StereoAudio) -> f64 {
    let err = |r: &[f32], e: &[f32]| r.iter().zip(e).map(|(a, b)| (a - b) as f64 * (a - b) as f64).sum::<f64>();
    let signal = energy(&reference.left) + energy(&reference.right);
    let error = err(&reference.left, &estimate.left) + err(&reference.right, &estimate.right);
    10.0 * (signal / error.max(1e-20)).log10()
}

/// Peak of `a + b - c` in dBFS.
pub fn residual_dbfs(a: &StereoAudio, b: &StereoAudio, c: &StereoAudio) -> f64 {
    let peak = (0..c.frames())
        .flat_map(|i| [a.left[i] + b.left[i] - c.left[i], a.right[i] + b.right[i] - c.right[i]])
        .fold(0.0f32, |m, x| m.max(x.abs()));
    20.0 * (peak.max(1e-12) as f64).log10()
}

/// An empty folder `target/tmp/<topic>/<name>`.
pub fn scratch(topic: &str, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tmp").join(topic).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `counterpart edit` with `options` (say `["--tempo", "120"]`); (success, stderr).
pub fn edit(input: &Path, instruction: &str, out: &Path, options: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_counterpart"))
        .args(["edit", "--input"])
        .arg(input)
        .args(["--instruction", instruction])
        .args(options)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Runs `counterpart edit` of `instruction` on `input` (the mix `mix`) into `dir/<instruction>` and
/// checks what every part edit must give: success, the report's `role` and `result` file, and an
/// extracted part and a remainder that sum back to the input. Returns (report, extracted,
/// remainder).
pub fn checked_edit(
    input: &Path,
    instruction: &str,
    dir: &Path,
    role: &str,
    result: &str,
    mix: &StereoAudio,
) -> (serde_json::Value, StereoAudio, StereoAudio) {
    let out = dir.join(instruction.replace(' ', "-"));
    let (ok, err) = edit(input, instruction, &out, &[]);
    assert!(ok, "{instruction}: {err}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["job"]["edit"]["role"], role, "{instruction}");
    assert_eq!(report["result"], result, "{instruction}");
    let extracted = wav::read_wav(&out.join("extracted.wav")).unwrap();
    let remainder = wav::read_wav(&out.join("remainder.wav")).unwrap();
    let residual = residual_dbfs(&extracted, &remainder, mix);
    assert!(residual < MAX_RESIDUAL_DBFS, "{instruction}: residual {residual:.1} dBFS");
    (report, extracted, remainder)
}
