//! Bring-your-own separator packs through the real ONNX Runtime: two small 4-stem graphs made by
//! `scripts/separation/make_byo_model.py` (fixed gains on the waveform; band masks on a 1024-point
//! STFT) give the stems they are built to give, at other rates too, and broken packs (wrong shapes,
//! a corrupt graph, a bad digest, contradictory fields) are refused with a sentence, never a panic.

mod common;

use std::path::{Path, PathBuf};

use counterpart_engine::packs::Pack;
use counterpart_engine::runtime::SessionSettings;
use counterpart_engine::separate;
use counterpart_engine::separate::byo::{ByoSeparator, Stem};
use counterpart_engine::stem::StereoAudio;

const GAINS: [f32; 4] = [0.1, 0.2, 0.3, 0.4];

fn fixture(pack: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/byo").join(pack)
}

/// A copy of a fixture pack in a scratch folder, to break.
fn copy(pack: &str, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tmp/separate_byo").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["model.toml", "model.onnx"] {
        std::fs::copy(fixture(pack).join(file), dir.join(file)).unwrap();
    }
    dir
}

fn edit_manifest(dir: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(dir.join("model.toml")).unwrap();
    assert!(text.contains(from), "`{from}` not in the manifest");
    std::fs::write(dir.join("model.toml"), text.replacen(from, to, 1)).unwrap();
}

fn load(dir: &Path) -> Result<ByoSeparator, String> {
    let pack = Pack::open(dir).map_err(|e| e.to_string())?;
    ByoSeparator::load(&pack, &SessionSettings::default())
}

/// Sines at 300 Hz (left) and 450 Hz (right) plus one at 8 kHz in both.
fn tones(rate: u32, seconds: f64) -> StereoAudio {
    let n = (rate as f64 * seconds) as usize;
    let sine = |hz: f64, i: usize| (0.3 * (i as f64 / rate as f64 * hz * std::f64::consts::TAU).sin()) as f32;
    StereoAudio {
        sample_rate: rate,
        left: (0..n).map(|i| sine(300.0, i) + sine(8000.0, i)).collect(),
        right: (0..n).map(|i| sine(450.0, i) + sine(8000.0, i)).collect(),
    }
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

fn worst(a: &[f32], b: &[f32], range: std::ops::Range<usize>) -> f32 {
    range.map(|i| (a[i] - b[i]).abs()).fold(0.0, f32::max)
}

/// The largest difference between two separations, over every stem and channel.
fn differ(a: &[Stem], b: &[Stem]) -> f32 {
    let n = a.first().map_or(0, |s| s.audio.frames());
    let each = a
        .iter()
        .zip(b)
        .map(|(a, b)| worst(&a.audio.left, &b.audio.left, 0..n).max(worst(&a.audio.right, &b.audio.right, 0..n)));
    each.fold(0.0, f32::max)
}

fn stem<'a>(stems: &'a [Stem], name: &str) -> &'a StereoAudio {
    &stems.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no stem {name}")).audio
}

#[test]
fn a_waveform_separator_gives_its_gains_over_chunks() {
    if !common::runtime_ready() {
        return;
    }
    let mut sep = load(&fixture("byo-wave4")).unwrap();
    // 2.5 chunks: the last one is padded.
    let input = tones(44_100, 2.5);
    let stems = sep.separate(&input).unwrap();
    assert_eq!(stems.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["vocals", "drums", "bass", "other"]);
    for (s, g) in stems.iter().zip(GAINS) {
        assert_eq!(s.audio.frames(), input.frames());
        let expected: Vec<f32> = input.left.iter().map(|x| x * g).collect();
        let err = worst(&s.audio.left, &expected, 0..input.frames());
        assert!(err < 1e-6, "{}: error {err}", s.name);
        let expected: Vec<f32> = input.right.iter().map(|x| x * g).collect();
        assert!(worst(&s.audio.right, &expected, 0..input.frames()) < 1e-6, "{}: right channel", s.name);
    }
    // At 48 kHz the input is resampled to the pack's 44.1 kHz and back.
    let input = tones(48_000, 1.0);
    let stems = sep.separate(&input).unwrap();
    let other = stem(&stems, "other");
    assert_eq!((other.sample_rate, other.frames()), (48_000, 48_000));
    let expected: Vec<f32> = input.left.iter().map(|x| x * 0.4).collect();
    let err = worst(&other.left, &expected, 4800..43_200);
    assert!(err < 5e-3, "48 kHz: error {err}");
}

#[test]
fn a_convolving_waveform_separator_has_no_seams() {
    if !common::runtime_ready() {
        return;
    }
    // byo-conv4 convolves with 33-tap kernels (16 samples either side): 4096-sample calls with 256
    // samples of context, crossfaded at 30 seams, must give what one call on the whole signal gives.
    let mut input = tones(44_100, 2.5);
    let mut state = 99u32;
    for x in input.left.iter_mut().chain(input.right.iter_mut()) {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        *x += 0.1 * ((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5);
    }
    let n = input.frames();
    let chunked = load(&fixture("byo-conv4")).unwrap().separate(&input).unwrap();
    let dir = copy("byo-conv4", "whole");
    edit_manifest(&dir, "chunk = 4096\ncontext = 256", "chunk = 1048576\ncontext = 0");
    let whole = load(&dir).unwrap().separate(&input).unwrap();
    let err = differ(&chunked, &whole);
    assert!(err < 1e-5, "chunked calls differ from the whole by {err}");
    // The stems are not trivial (the delays move the signal) and still sum to the input.
    assert!(worst(&stem(&whole, "drums").left, &input.left, 0..n) > 0.1);
    let sum: Vec<f32> = (0..n).map(|i| whole.iter().map(|s| s.audio.right[i]).sum()).collect();
    assert!(worst(&sum, &input.right, 0..n) < 1e-5, "stems do not sum to the input");
    // The default context (chunk / 8) has no seams either; hard chunks (context 0) do.
    let dir = copy("byo-conv4", "default");
    edit_manifest(&dir, "context = 256\n", "");
    let default = load(&dir).unwrap().separate(&input).unwrap();
    assert!(differ(&default, &whole) < 1e-5, "default context has seams");
    let dir = copy("byo-conv4", "hard");
    edit_manifest(&dir, "context = 256", "context = 0");
    let hard = load(&dir).unwrap().separate(&input).unwrap();
    let seam = differ(&hard, &whole);
    assert!(seam > 1e-2, "hard chunks should click at their edges: {seam}");
}

#[test]
fn a_mask_separator_splits_the_spectrum_into_its_bands() {
    if !common::runtime_ready() {
        return;
    }
    let mut sep = load(&fixture("byo-mask4")).unwrap();
    // 300 and 450 Hz are below bin 128 (5.5 kHz at 1024 points): "vocals"; 8 kHz is bin 186: "drums".
    let input = tones(44_100, 1.3);
    let stems = sep.separate(&input).unwrap();
    let (low, high) = (stem(&stems, "vocals"), stem(&stems, "drums"));
    let inside = 2048..input.frames() - 2048;
    let n = input.frames();
    let sine = |hz: f64, i: usize| (0.3 * (i as f64 / 44_100.0 * hz * std::f64::consts::TAU).sin()) as f32;
    let low_left: Vec<f32> = (0..n).map(|i| sine(300.0, i)).collect();
    let low_right: Vec<f32> = (0..n).map(|i| sine(450.0, i)).collect();
    let high_expected: Vec<f32> = (0..n).map(|i| sine(8000.0, i)).collect();
    assert!(worst(&low.left, &low_left, inside.clone()) < 2e-3, "left low band");
    assert!(worst(&low.right, &low_right, inside.clone()) < 2e-3, "right low band");
    assert!(worst(&high.left, &high_expected, inside.clone()) < 2e-3, "high band");
    for empty in ["bass", "other"] {
        let level = rms(&stem(&stems, empty).left[inside.clone()]);
        assert!(level < 1e-3, "{empty} should be empty: rms {level}");
    }
    // The four stems sum back to the input.
    let sum: Vec<f32> = (0..n).map(|i| stems.iter().map(|s| s.audio.left[i]).sum()).collect();
    assert!(worst(&sum, &input.left, inside) < 1e-4, "stems do not sum to the input");
}

#[test]
fn overlapping_calls_keep_their_middles_and_name_the_method() {
    if !common::runtime_ready() {
        return;
    }
    // byo-mask4's masks depend on the bin only, so calls overlapping by 2 x 16 frames of context
    // must give what calls side by side give, over many seams (64-frame calls, 32 kept).
    let input = tones(44_100, 1.3);
    let plain = load(&fixture("byo-mask4")).unwrap().separate(&input).unwrap();
    let dir = copy("byo-mask4", "context");
    edit_manifest(&dir, "chunk = 64", "chunk = 64\ncontext = 16\ndescription = \"band masks with context\"");
    let mut sep = load(&dir).unwrap();
    assert_eq!(separate::byo::method_text(&sep.spec), "band masks with context");
    let overlapped = sep.separate(&input).unwrap();
    for (a, b) in plain.iter().zip(&overlapped) {
        let all = 0..input.frames();
        let err = worst(&a.audio.left, &b.audio.left, all.clone()).max(worst(&a.audio.right, &b.audio.right, all));
        assert!(err < 1e-5, "{}: overlapped calls differ by {err}", a.name);
    }
    let plain_spec = load(&fixture("byo-mask4")).unwrap().spec;
    assert!(separate::byo::method_text(&plain_spec).starts_with("bring-your-own"));
}

#[test]
fn broken_packs_are_refused_with_a_reason() {
    if !common::runtime_ready() {
        return;
    }
    let cases: [(&str, &str, &str, &str, &str); 8] = [
        // The [separator] says mono, the graph takes two channels.
        ("wave-mono", "byo-wave4", "channels = 2", "channels = 1", "channel"),
        // The manifest's input name disagrees with the real graph.
        ("wave-name", "byo-wave4", "name = \"mix\"", "name = \"mixture\"", "mixture"),
        // Three stems named for four outputs.
        ("wave-stems", "byo-wave4", "\"bass\", \"other\"]", "\"bass\"]", "outputs"),
        // A waveform input cannot give masks.
        ("wave-output", "byo-wave4", "output = \"waveform\"", "output = \"mask\"", "cannot give"),
        // A magnitude input without its STFT size.
        ("mask-fft", "byo-mask4", "n_fft = 1024\n", "", "n_fft"),
        // More bins than the STFT has.
        ("mask-bins", "byo-mask4", "bins = 513", "bins = 600", "bins"),
        // Context on both sides that leaves nothing of a 64-frame call to keep.
        ("mask-context", "byo-mask4", "chunk = 64", "chunk = 64\ncontext = 32", "context 32"),
        // Waveform context on both sides that leaves nothing of a 44100-sample call to keep.
        ("wave-context", "byo-wave4", "chunk = 44100", "chunk = 44100\ncontext = 22050", "context 22050"),
    ];
    for (name, pack, from, to, expected) in cases {
        let dir = copy(pack, name);
        edit_manifest(&dir, from, to);
        let err = load(&dir).err().unwrap_or_else(|| panic!("{name}: loaded"));
        eprintln!("{name}: {err}");
        assert!(err.contains(expected), "{name}: {err}");
    }
    // A corrupt graph whose digest matches: ONNX Runtime refuses it, with the pack named.
    let dir = copy("byo-wave4", "corrupt");
    std::fs::write(dir.join("model.onnx"), b"not an onnx graph").unwrap();
    let digest = counterpart_engine::packs::verify::sha256_file(&dir.join("model.onnx")).unwrap();
    let text = std::fs::read_to_string(dir.join("model.toml")).unwrap();
    let old = text.lines().find(|l| l.starts_with("sha256")).unwrap().to_string();
    std::fs::write(dir.join("model.toml"), text.replace(&old, &format!("sha256 = \"{digest}\""))).unwrap();
    let err = load(&dir).err().expect("corrupt graph loaded");
    assert!(err.contains("byo-wave4"), "{err}");
    // A graph that does not match its digest is not even opened.
    let dir = copy("byo-mask4", "digest");
    std::fs::write(dir.join("model.onnx"), b"tampered").unwrap();
    let err = load(&dir).err().expect("tampered graph loaded");
    assert!(err.to_lowercase().contains("sha") || err.contains("digest"), "{err}");
}

#[test]
fn odd_input_is_handled() {
    if !common::runtime_ready() {
        return;
    }
    let mut sep = load(&fixture("byo-mask4")).unwrap();
    let empty = sep.separate(&StereoAudio { sample_rate: 44_100, ..Default::default() }).unwrap();
    assert!(empty.iter().all(|s| s.audio.frames() == 0));
    let mut nan = tones(8_000, 0.5);
    nan.left[100] = f32::NAN;
    nan.right[200] = f32::INFINITY;
    let stems = sep.separate(&nan).unwrap();
    assert!(stems.iter().all(|s| s.audio.left.iter().chain(&s.audio.right).all(|x| x.is_finite())));
    assert!(stems.iter().all(|s| s.audio.frames() == 4000 && s.audio.sample_rate == 8_000));
    let uneven = StereoAudio { sample_rate: 44_100, left: vec![0.0; 10], right: vec![0.0; 9] };
    assert!(sep.separate(&uneven).is_err());
}

#[test]
fn edit_uses_an_installed_pack_that_has_the_stem() {
    if common::embedder().is_none() {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tmp/separate_byo/edit");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let input = tones(44_100, 1.5);
    counterpart_engine::wav::write_wav(&dir.join("in.wav"), &input).unwrap();
    let out = dir.join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_counterpart"))
        .env("COUNTERPART_MODELS", fixture("byo-wave4"))
        .args(["edit", "--input"])
        .arg(dir.join("in.wav"))
        .args(["--instruction", "extract the drums", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["model"]["pack"], "byo-wave4");
    let drums = counterpart_engine::wav::read_wav(&out.join("extracted.wav")).unwrap();
    let expected: Vec<f32> = input.left.iter().map(|x| x * GAINS[1]).collect();
    assert!(worst(&drums.left, &expected, 0..input.frames()) < 1e-6);
}
