//! Drums (HPSS + onsets) and bass (score-informed) separation on a song rendered here through the
//! real General MIDI SoundFont with known stems, and `counterpart edit` end to end: remove /
//! extract / keep only / quieter / replace, the remainder summing back to the input, and bad input
//! (mono, 8 and 192 kHz, silence, clipping, NaN, a 1-second loop, vocals asked of an
//! instrumental). Needs the SoundFont and, for bass and the CLI, the runtime and packs; skipped
//! without them unless CI=true.

mod common;

use common::separation::{
    self, Band, MAX_RESIDUAL_DBFS, RATE, as_transcribed, checked_edit, edit, energy, fit, residual_dbfs, scratch, sdr,
};
use counterpart_engine::render::Renderer;
use counterpart_engine::separate::hpss::{self, HpssSettings};
use counterpart_engine::separate::score_informed;
use counterpart_engine::stem::{Note, StereoAudio};
use counterpart_engine::wav;

/// The stems of the test song.
struct Song {
    mix: StereoAudio,
    bass: StereoAudio,
    drums: StereoAudio,
    bass_notes: Vec<Note>,
}

/// `bars` bars of the test band (C - Am - F - G at 120 BPM: a picked bass in roots and fifths, piano
/// triads in half notes, a rock groove of kick, snare and closed hi-hat in eighths), each part
/// rendered with a 1 s tail and padded to the longest.
fn song(renderer: &Renderer, bars: usize) -> Song {
    let band = Band::new(bars);
    let stems = band.render(renderer, 1.0);
    let frames = stems.iter().map(StereoAudio::frames).max().unwrap();
    let stems = stems.map(|s| fit(s, frames));
    let mix = separation::mix(&stems, frames);
    let [bass, _, drums] = stems;
    Song { mix, bass, drums, bass_notes: band.bass }
}

#[test]
fn drums_by_hpss_beat_the_mix_and_plain_hpss() {
    let Some(renderer) = common::renderer() else { return };
    let song = song(&renderer, 4);
    let refined = hpss::separate_drums(&song.mix, &HpssSettings::default()).unwrap();
    let plain = hpss::separate_drums(&song.mix, &HpssSettings { onsets: false, ..HpssSettings::default() }).unwrap();
    let (baseline, plain, refined) =
        (sdr(&song.drums, &song.mix), sdr(&song.drums, &plain), sdr(&song.drums, &refined));
    eprintln!("drums SDR: mix as estimate {baseline:.1} dB, HPSS {plain:.1} dB, HPSS + onsets {refined:.1} dB");
    assert!(refined > baseline + 3.0, "drums {refined:.1} dB vs the mix {baseline:.1} dB");
    // Measured: 3.4 against 2.8 dB; the onset refinement must not lose SDR.
    assert!(refined >= plain, "onsets made it worse: {refined:.2} dB vs {plain:.2} dB");
}

#[test]
fn bass_from_its_true_notes_and_from_the_transcription() {
    let Some(renderer) = common::renderer() else { return };
    let Some(mut session) = common::basic_pitch_session() else { return };
    let song = song(&renderer, 4);
    let truth = as_transcribed(&song.bass_notes);
    let heard = score_informed::transcribe_mix(std::slice::from_mut(&mut session), &song.mix).unwrap();
    let (line, others) = score_informed::lowest_line(&heard);
    let from_truth = score_informed::separate_line(&song.mix, &truth, &others).unwrap();
    let from_heard = score_informed::separate_line(&song.mix, &line, &others).unwrap();
    let baseline = sdr(&song.bass, &song.mix);
    let (oracle, got) = (sdr(&song.bass, &from_truth), sdr(&song.bass, &from_heard));
    eprintln!(
        "bass SDR: mix as estimate {baseline:.1} dB, true notes {oracle:.1} dB, transcribed lowest line \
         ({} notes of {} heard) {got:.1} dB",
        line.len(),
        heard.len()
    );
    // Measured: mix 2.6-3.7 dB, true notes 5.9 dB, transcribed 6.0 dB (the kick under the bass and
    // the picked attacks, which the harmonic mask gives to the drums, are what is left).
    assert!(got > baseline + 2.0, "bass {got:.1} dB vs the mix {baseline:.1} dB");
    assert!(got > oracle - 1.5, "transcribed {got:.1} dB vs true notes {oracle:.1} dB");
}

/// The renderer, when the packs a CLI edit needs are there too.
fn ready() -> Option<Renderer> {
    let r = common::renderer()?;
    common::embedder()?;
    common::basic_pitch()?;
    Some(r)
}

#[test]
fn edit_removes_extracts_and_changes_levels_and_the_parts_sum_back() {
    let Some(renderer) = ready() else { return };
    let dir = scratch("separate_edit", "cli");
    let song = song(&renderer, 4);
    let input = dir.join("song.wav");
    wav::write_wav(&input, &song.mix).unwrap();
    let cases = [
        ("remove the drums", "drums", "remove", "remainder.wav"),
        ("extract the drums", "drums", "extract", "extracted.wav"),
        ("keep only the bass", "bass", "extract", "extracted.wav"),
        ("take out the bass", "bass", "remove", "remainder.wav"),
        ("make the drums quieter", "drums", "gain", "result.wav"),
    ];
    for (instruction, role, action, result) in cases {
        let (report, extracted, remainder) = checked_edit(&input, instruction, &dir, role, result, &song.mix);
        let got = &report["job"]["edit"]["action"];
        assert!(got == action || got.get(action).is_some(), "{instruction}: action {got}");
        if action == "gain" {
            // "quieter": the drums 6 dB down on top of everything else.
            let quieter = wav::read_wav(&dir.join(instruction.replace(' ', "-")).join("result.wav")).unwrap();
            let g = 10f32.powf(-6.0 / 20.0);
            let worst = (0..quieter.frames())
                .map(|i| (quieter.left[i] - remainder.left[i] - g * extracted.left[i]).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "result is not remainder + drums at -6 dB: {worst}");
            assert!(energy(&quieter.left) < energy(&song.mix.left), "quieter is not quieter");
        }
    }
}

#[test]
fn edit_replace_writes_a_new_bass_and_a_mix() {
    let Some(renderer) = ready() else { return };
    let dir = scratch("separate_edit", "replace");
    let song = song(&renderer, 8);
    let input = dir.join("song.wav");
    wav::write_wav(&input, &song.mix).unwrap();
    let out = dir.join("out");
    let (ok, err) = edit(&input, "replace the bass with something busier", &out, &["--tempo", "120"]);
    assert!(ok, "{err}");
    let (notes, _) = counterpart_engine::midi::read_midi(&out.join("new.mid")).unwrap();
    assert!(notes.len() >= 8, "{} notes in the new bass", notes.len());
    // In a bass register: every note from C1 to below G4, half of them below G3.
    let mut keys: Vec<u8> = notes.iter().map(|n| n.key).collect();
    keys.sort_unstable();
    assert!(keys[0] >= 24 && keys[keys.len() - 1] < 67, "a bass line stays low: {keys:?}");
    assert!(keys[keys.len() / 2] < 55, "median key {} is not a bass's: {keys:?}", keys[keys.len() / 2]);
    // The new mix is the remainder (the song without its old bass) plus the new bass.
    let mix = wav::read_wav(&out.join("mix.wav")).unwrap();
    let new = wav::read_wav(&out.join("new.wav")).unwrap();
    let remainder = wav::read_wav(&out.join("remainder.wav")).unwrap();
    let extracted = wav::read_wav(&out.join("extracted.wav")).unwrap();
    assert_eq!(mix.frames(), song.mix.frames());
    assert!(energy(&new.left) > 0.0);
    let mut worst = 0.0f32;
    for (rest, part, mix) in [(&remainder.left, &new.left, &mix.left), (&remainder.right, &new.right, &mix.right)] {
        for (i, m) in mix.iter().enumerate() {
            worst = worst.max((rest[i] + part.get(i).copied().unwrap_or(0.0) - m).abs());
        }
    }
    assert!(worst < 1e-6, "mix.wav is not remainder + new part: {worst}");
    let residual = residual_dbfs(&extracted, &remainder, &song.mix);
    assert!(residual < MAX_RESIDUAL_DBFS, "the old bass and the remainder do not sum back: {residual:.1} dBFS");
}

/// The extracted part and the remainder an edit wrote into `out`.
fn stems(out: &std::path::Path) -> (StereoAudio, StereoAudio) {
    (wav::read_wav(&out.join("extracted.wav")).unwrap(), wav::read_wav(&out.join("remainder.wav")).unwrap())
}

#[test]
fn bad_input_gets_a_clear_message_and_never_a_panic() {
    let Some(renderer) = ready() else { return };
    let dir = scratch("separate_edit", "bad");
    let song = song(&renderer, 2);
    // Rates and channel counts: the remainder still sums back, at the input's rate and length.
    for (rate, instruction) in [(8_000u32, "extract the bass"), (192_000, "remove the drums")] {
        let audio = counterpart_engine::resample::resample(&song.mix, rate).unwrap();
        let input = dir.join(format!("song-{rate}.wav"));
        wav::write_wav(&input, &audio).unwrap();
        let out = dir.join(format!("{rate}-{}", instruction.replace(' ', "-")));
        let (ok, err) = edit(&input, instruction, &out, &[]);
        assert!(ok, "{rate} Hz {instruction}: {err}");
        let e = wav::read_wav(&out.join("extracted.wav")).unwrap();
        let r = wav::read_wav(&out.join("remainder.wav")).unwrap();
        assert_eq!((e.sample_rate, e.frames()), (rate, audio.frames()));
        let residual = residual_dbfs(&e, &r, &audio);
        assert!(residual < MAX_RESIDUAL_DBFS, "{rate} Hz {instruction}: residual {residual:.1} dBFS");
    }
    // Mono: a 16-bit one-channel file.
    let mono = dir.join("mono.wav");
    let spec =
        hound::WavSpec { channels: 1, sample_rate: RATE, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(&mono, spec).unwrap();
    for &x in &song.mix.left {
        w.write_sample((x.clamp(-1.0, 1.0) * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    // Mono: both channels of the stems sum back to the one of the input (as decoded, 16-bit).
    let (ok, err) = edit(&mono, "remove the drums", &dir.join("mono-out"), &[]);
    assert!(ok, "mono: {err}");
    let decoded = counterpart_engine::separate::decode::load_stereo(&mono).unwrap();
    assert_eq!(decoded.left, decoded.right);
    let (e, r) = stems(&dir.join("mono-out"));
    let residual = residual_dbfs(&e, &r, &decoded);
    assert!(residual < MAX_RESIDUAL_DBFS, "mono: residual {residual:.1} dBFS");
    // Clipping (driven hard into ±1), NaN samples and a 1-second loop still separate, and sum back
    // (the NaN samples as silence, which the report and stderr say).
    let clipped = StereoAudio {
        sample_rate: RATE,
        left: song.mix.left.iter().map(|x| (x * 8.0).clamp(-1.0, 1.0)).collect(),
        right: song.mix.right.iter().map(|x| (x * 8.0).clamp(-1.0, 1.0)).collect(),
    };
    let (mut nan, mut zeroed) = (song.mix.clone(), song.mix.clone());
    for i in (0..nan.frames()).step_by(997) {
        nan.left[i] = f32::NAN;
        zeroed.left[i] = 0.0;
    }
    let nans = nan.frames().div_ceil(997);
    let short = StereoAudio {
        sample_rate: RATE,
        left: song.mix.left[..RATE as usize].to_vec(),
        right: song.mix.right[..RATE as usize].to_vec(),
    };
    for (name, audio, heard, non_finite) in
        [("clipped", &clipped, &clipped, 0), ("nan", &nan, &zeroed, nans), ("short", &short, &short, 0)]
    {
        let input = dir.join(format!("{name}.wav"));
        wav::write_wav(&input, audio).unwrap();
        let out = dir.join(format!("{name}-out"));
        let (ok, err) = edit(&input, "remove the drums", &out, &[]);
        assert!(ok, "{name}: {err}");
        let (e, r) = stems(&out);
        assert!(e.left.iter().chain(&e.right).all(|x| x.is_finite()), "{name}: non-finite output");
        assert_eq!(e.frames(), audio.frames(), "{name}");
        let residual = residual_dbfs(&e, &r, heard);
        assert!(residual < MAX_RESIDUAL_DBFS, "{name}: residual {residual:.1} dBFS");
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
        assert_eq!(report["audio"]["non_finite_samples"], non_finite, "{name}");
        let notices = report["notices"].as_array().unwrap();
        assert_eq!(notices.len(), usize::from(non_finite > 0), "{name}: {notices:?}");
        let said = err.contains(&format!("notice: {non_finite} NaN or infinite samples"));
        assert_eq!(said, non_finite > 0, "{name}: stderr {err}");
    }
    // Messages, and nothing written.
    let silent = dir.join("silent.wav");
    wav::write_wav(&silent, &StereoAudio { sample_rate: RATE, left: vec![0.0; 44_100], right: vec![0.0; 44_100] })
        .unwrap();
    let instrumental = dir.join("instrumental.wav");
    wav::write_wav(&instrumental, &song.mix).unwrap();
    let garbage = dir.join("garbage.wav");
    std::fs::write(&garbage, b"RIFF not really a wave file").unwrap();
    for (input, instruction, expected) in [
        (&silent, "remove the drums", "silent"),
        (&instrumental, "remove the vocals", "no vocals found"),
        (&instrumental, "make it better", "does not"),
        (&instrumental, "replace the vocals", "cannot be replaced"),
        (&garbage, "remove the drums", "garbage.wav"),
    ] {
        let out = dir.join("refused");
        let (ok, err) = edit(input, instruction, &out, &[]);
        assert!(!ok, "{instruction} on {}: succeeded", input.display());
        assert!(err.contains(expected), "{instruction} on {}: {err}", input.display());
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.join("extracted.wav").exists(), "{instruction}: files written");
    }
}
