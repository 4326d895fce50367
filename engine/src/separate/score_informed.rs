//! Score-informed separation of a pitched line (the bass, or any register): the mix is transcribed
//! (basic-pitch, [`crate::transcribe`]), the target line's notes are picked (the lowest line for
//! the bass), and each cell's mask is built from the notes sounding there:
//!
//! - a harmonic comb per note: a Gaussian lobe (about 30 cents wide, at least a bin) on the
//!   fundamental and every partial up to [`MAX_PARTIAL_HZ`], weighted by a simple spectral model
//!   (the note's transcribed amplitude, partial `h` at `1/h`), with a short attack before the note
//!   and a release after it;
//! - the same comb for every other transcribed note, so a partial shared with another part is split
//!   Wiener-style by the modelled magnitudes, `T² / (T² + O²)`, instead of going wholly to the
//!   target;
//! - times the soft harmonic mask of [`super::hpss`], so drum hits under a bass note stay out.

use ort::session::Session;

use super::hpss::{self, HpssSettings};
use super::masking::{self, Block};
use crate::stem::StereoAudio;
use crate::transcribe::{self, Note, TranscribeOptions};

/// Highest partial frequency a comb reaches, Hz.
pub const MAX_PARTIAL_HZ: f64 = 6000.0;
/// Most partials per note.
const MAX_PARTIALS: usize = 40;
/// Lobe width (one standard deviation) as a fraction of the partial's frequency (about 30 cents).
const LOBE_FRACTION: f64 = 0.0175;
/// The mask ramps up over this long before a note's transcribed start, seconds.
const ATTACK_S: f64 = 0.03;
/// ... and down over this long after its transcribed end.
const RELEASE_S: f64 = 0.15;
/// A note starting within this of a target note an octave or a twelfth below it is taken for that
/// note's partial (basic-pitch's commonest error on low notes), not for another part.
const SAME_ONSET_S: f64 = 0.06;
/// Notes of the lowest line may reach up to here (MIDI C4): higher notes are never the bass.
pub const BASS_HIGHEST: u8 = 60;
/// Notes below this (MIDI C3) are the bass whatever sounds with them.
pub const BASS_ALWAYS_BELOW: u8 = 48;

/// Transcribes `audio` (mixed to mono, resampled to 22 050 Hz) with a basic-pitch session.
pub fn transcribe_mix(session: &mut Session, audio: &StereoAudio) -> Result<Vec<Note>, String> {
    let mono: Vec<f32> = audio.left.iter().zip(&audio.right).map(|(l, r)| 0.5 * (l + r)).collect();
    let samples = crate::audio_io::resample(&mono, audio.sample_rate, transcribe::constants::SAMPLE_RATE)
        .map_err(|e| e.to_string())?;
    let t =
        transcribe::transcribe_samples(session, &samples, &TranscribeOptions::default()).map_err(|e| e.to_string())?;
    Ok(t.notes)
}

/// Splits `notes` into (the lowest line, the rest): a note belongs to the lowest line when it is
/// below [`BASS_ALWAYS_BELOW`], or at most [`BASS_HIGHEST`] with no lower note sounding at its middle.
pub fn lowest_line(notes: &[Note]) -> (Vec<Note>, Vec<Note>) {
    notes.iter().cloned().partition(|n| {
        let middle = 0.5 * (n.start + n.end);
        n.pitch < BASS_ALWAYS_BELOW
            || (n.pitch <= BASS_HIGHEST
                && !notes.iter().any(|o| o.pitch < n.pitch && o.start <= middle && o.end > middle))
    })
}

/// Splits `notes` into (those with pitches in `low..=high`, the rest).
pub fn in_register(notes: &[Note], low: u8, high: u8) -> (Vec<Note>, Vec<Note>) {
    notes.iter().cloned().partition(|n| (low..=high).contains(&n.pitch))
}

/// The part of `audio` played by `target` (notes with times in seconds from the audio's start),
/// with `others` (the other transcribed notes) competing for shared partials.
pub fn separate_line(audio: &StereoAudio, target: &[Note], others: &[Note]) -> Result<StereoAudio, String> {
    let others: Vec<Note> = others.iter().filter(|o| !is_partial_of(o, target)).cloned().collect();
    let others = others.as_slice();
    let settings = HpssSettings { onsets: false, ..HpssSettings::default() };
    let layout = hpss::layout(audio.sample_rate, &settings);
    let mut target_comb = Vec::new();
    let mut other_comb = Vec::new();
    masking::extract(audio, &layout, |block, out| {
        let (h, p) = hpss::medians(block, &settings, &layout);
        hpss::harmonic_mask(block, &h, &p, &settings, out);
        // Only the notes that can sound in this block.
        let (from, to) =
            (block.seconds(block.before) - RELEASE_S, block.seconds(block.before + block.count) + ATTACK_S);
        let near = |notes: &[Note]| -> Vec<Note> {
            notes.iter().filter(|n| n.end >= from && n.start <= to).cloned().collect()
        };
        let (target, others) = (near(target), near(others));
        for (r, row) in out.chunks_exact_mut(block.bins).enumerate() {
            let seconds = block.seconds(block.before + r);
            comb(block, &target, seconds, &mut target_comb);
            comb(block, &others, seconds, &mut other_comb);
            for ((m, t), o) in row.iter_mut().zip(&target_comb).zip(&other_comb) {
                let (t2, o2) = (t * t, o * o);
                *m *= if t2 > 0.0 { t2 / (t2 + o2) } else { 0.0 };
            }
        }
        Ok(())
    })
}

/// Whether `note` is a transcription of a partial of a `target` note (an octave or a twelfth above,
/// starting with it) rather than a part of its own.
fn is_partial_of(note: &Note, target: &[Note]) -> bool {
    target.iter().any(|t| {
        matches!(note.pitch.checked_sub(t.pitch), Some(12 | 19))
            && (note.start - t.start).abs() < SAME_ONSET_S
            && note.start < t.end
    })
}

/// The largest modelled magnitude of `notes` sounding at `seconds`, per bin of `block`, into `out`.
fn comb(block: &Block, notes: &[Note], seconds: f64, out: &mut Vec<f32>) {
    out.clear();
    out.resize(block.bins, 0.0);
    let bin_hz = block.bin_hz();
    let top = MAX_PARTIAL_HZ.min(0.5 * block.sample_rate as f64);
    for n in notes {
        let envelope = if seconds < n.start {
            1.0 - (n.start - seconds) / ATTACK_S
        } else if seconds > n.end {
            1.0 - (seconds - n.end) / RELEASE_S
        } else {
            1.0
        };
        if envelope <= 0.0 {
            continue;
        }
        let level = envelope * n.amplitude.max(0.05) as f64;
        let f0 = 440.0 * 2f64.powf((n.pitch as f64 - 69.0) / 12.0);
        for h in 1..=MAX_PARTIALS {
            let f = f0 * h as f64;
            if f > top {
                break;
            }
            let sigma = (LOBE_FRACTION * f).max(0.6 * bin_hz);
            let lo = ((f - 3.0 * sigma) / bin_hz).floor().max(0.0) as usize;
            let hi = (((f + 3.0 * sigma) / bin_hz).ceil() as usize).min(block.bins - 1);
            for (k, o) in out.iter_mut().enumerate().take(hi + 1).skip(lo) {
                let d = (block.hz(k) - f) / sigma;
                let w = (level / h as f64 * (-0.5 * d * d).exp()) as f32;
                *o = o.max(w);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 44_100;

    fn note(pitch: u8, start: f64, end: f64) -> Note {
        Note { start, end, pitch, amplitude: 0.5, pitch_bends: None, start_frame: 0, end_frame: 0 }
    }

    /// A harmonic tone (6 partials, 1/h amplitudes) of `pitch` from `start` to `end` seconds.
    fn tone(pitch: u8, start: f64, end: f64, seconds: f64) -> Vec<f32> {
        let f0 = 440.0 * 2f64.powf((pitch as f64 - 69.0) / 12.0);
        (0..(seconds * RATE as f64) as usize)
            .map(|i| {
                let t = i as f64 / RATE as f64;
                if t < start || t >= end {
                    return 0.0;
                }
                let ramp = ((t - start) / 0.01).min((end - t) / 0.01).min(1.0);
                (0.2 * ramp
                    * (1..=6).map(|h| (t * f0 * h as f64 * std::f64::consts::TAU).sin() / h as f64).sum::<f64>())
                    as f32
            })
            .collect()
    }

    fn sdr(reference: &[f32], estimate: &[f32]) -> f64 {
        let e = |x: &mut dyn Iterator<Item = f32>| x.map(|v| v as f64 * v as f64).sum::<f64>();
        let signal = e(&mut reference.iter().copied());
        let error = e(&mut reference.iter().zip(estimate).map(|(a, b)| a - b));
        10.0 * (signal / error.max(1e-20)).log10()
    }

    #[test]
    fn the_lowest_line_is_the_bass() {
        let notes =
            [note(40, 0.0, 1.0), note(52, 0.0, 1.0), note(55, 1.0, 2.0), note(64, 1.0, 2.0), note(45, 0.5, 1.5)];
        let (bass, rest) = lowest_line(&notes);
        let pitches: Vec<u8> = bass.iter().map(|n| n.pitch).collect();
        // 45 is below C3; 55 is the lowest at its middle (1.5 s: 45 has ended); 52 sits over 40.
        assert_eq!(pitches, [40, 55, 45]);
        assert_eq!(rest.len(), 2);
        let (mid, _) = in_register(&notes, 50, 60);
        assert_eq!(mid.iter().map(|n| n.pitch).collect::<Vec<_>>(), [52, 55]);
    }

    #[test]
    fn a_bass_note_is_taken_from_under_a_higher_chord() {
        let seconds = 3.0;
        let bass = tone(36, 0.2, 2.8, seconds);
        let upper: Vec<f32> = [(60, 0.2), (64, 0.2), (67, 0.2)].iter().fold(vec![0.0; bass.len()], |acc, &(p, s)| {
            acc.iter().zip(tone(p, s, 2.8, seconds)).map(|(a, b)| a + b).collect()
        });
        let mix: Vec<f32> = bass.iter().zip(&upper).map(|(a, b)| a + b).collect();
        let audio = StereoAudio { sample_rate: RATE, left: mix.clone(), right: mix.clone() };
        let target = [note(36, 0.2, 2.8)];
        let others = [note(60, 0.2, 2.8), note(64, 0.2, 2.8), note(67, 0.2, 2.8)];
        let out = separate_line(&audio, &target, &others).unwrap();
        let got = sdr(&bass, &out.left);
        // The mix as the estimate scores well below 0 dB here (the chord is louder).
        let baseline = sdr(&bass, &mix);
        // Measured 7.2 dB against -4.8 dB: partials 4-6 of the bass sit on the chord's fundamentals.
        assert!(got > 5.0 && got > baseline + 10.0, "bass SDR {got:.1} dB (mix as estimate {baseline:.1} dB)");
        // No notes: nothing extracted.
        let none = separate_line(&audio, &[], &others).unwrap();
        assert!(none.left.iter().all(|&x| x == 0.0));
    }
}
