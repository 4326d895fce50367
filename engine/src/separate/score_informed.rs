//! Score-informed separation of a pitched line (the bass, or any register): the mix is transcribed
//! (basic-pitch, [`crate::transcribe`]), the target line's notes are picked (the lowest line for
//! the bass, the highest for the melody, the second-highest for a counter-melody, the middle
//! voices for chords), and each cell's mask is built from the notes sounding there:
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
/// Gaps shorter than this between the notes above a note still cover it ([`highest_line`]), seconds.
pub const MELODY_GAP_S: f64 = 0.2;
/// A note an octave, a twelfth or two octaves over a note starting with it, under this fraction
/// of its amplitude, is its partial ([`quiet_partial`]).
pub const PARTIAL_AMPLITUDE: f32 = 0.6;

/// Transcribes `audio` (mixed to mono, resampled to 22 050 Hz) with basic-pitch, its windows run
/// side by side on `sessions` (one per core from [`transcribe::RegistrySessions`], or just one).
pub fn transcribe_mix(sessions: &mut [Session], audio: &StereoAudio) -> Result<Vec<Note>, String> {
    let mono: Vec<f32> = audio.left.iter().zip(&audio.right).map(|(l, r)| 0.5 * (l + r)).collect();
    let samples = crate::audio_io::resample(&mono, audio.sample_rate, transcribe::constants::SAMPLE_RATE)
        .map_err(|e| e.to_string())?;
    let t = transcribe::transcribe_samples_on(sessions, &samples, &TranscribeOptions::default())
        .map_err(|e| e.to_string())?;
    Ok(t.notes)
}

/// Splits `notes` into (the lowest line, the rest): a note belongs to the lowest line when it is
/// below [`BASS_ALWAYS_BELOW`], or at most [`BASS_HIGHEST`] with no lower note sounding at its middle.
pub fn lowest_line(notes: &[Note]) -> (Vec<Note>, Vec<Note>) {
    split(notes, &lowest_line_mask(notes))
}

/// Splits `notes` into (the highest line, the rest): the melody. A note is in it when it is an
/// [`upper_candidates`] note and the other such notes above it sound over less than half its length
/// (gaps under [`MELODY_GAP_S`] between them count as sounding, so a chord tone under a held melody
/// note that the transcription broke up stays out).
pub fn highest_line(notes: &[Note]) -> (Vec<Note>, Vec<Note>) {
    split(notes, &skyline(notes, &upper_candidates(notes)))
}

/// Splits `notes` into (the second-highest line, the rest): the counter-melody, the highest line
/// of the [`inner_voices`].
pub fn second_highest_line(notes: &[Note]) -> (Vec<Note>, Vec<Note>) {
    split(notes, &skyline(notes, &inner_mask(notes)))
}

/// Splits `notes` into (the middle voices, the rest): the chords, pad or arpeggio, every
/// [`upper_candidates`] note that is not in the [`highest_line`].
pub fn inner_voices(notes: &[Note]) -> (Vec<Note>, Vec<Note>) {
    split(notes, &inner_mask(notes))
}

/// Which notes can be in a line above the bass, as a mask: those not in the [`lowest_line`] and
/// not taken for another note's partial. basic-pitch often hears a strong partial as a note of its
/// own: an octave, a twelfth or two octaves over a louder note starting with it, under
/// [`PARTIAL_AMPLITUDE`] of its amplitude ([`quiet_partial`]), or an octave over a louder bass note
/// sounding at its middle. (A real voice doubling another is about as loud as it.)
pub fn upper_candidates(notes: &[Note]) -> Vec<bool> {
    let bass = lowest_line_mask(notes);
    let over_the_bass = |n: &Note| {
        let middle = 0.5 * (n.start + n.end);
        notes.iter().zip(&bass).any(|(b, &is_bass)| {
            is_bass
                && n.pitch.checked_sub(b.pitch) == Some(12)
                && b.start <= middle
                && b.end > middle
                && n.amplitude < b.amplitude
        })
    };
    notes.iter().zip(&bass).map(|(n, &is_bass)| !is_bass && !quiet_partial(n, notes) && !over_the_bass(n)).collect()
}

/// Whether `note` is an octave, a twelfth or two octaves over a note of `notes` that starts with it
/// and is louder by more than 1 / [`PARTIAL_AMPLITUDE`]: that note's partial.
pub fn quiet_partial(note: &Note, notes: &[Note]) -> bool {
    notes.iter().any(|t| {
        matches!(note.pitch.checked_sub(t.pitch), Some(12 | 19 | 24))
            && (note.start - t.start).abs() < SAME_ONSET_S
            && note.start < t.end
            && note.amplitude < PARTIAL_AMPLITUDE * t.amplitude
    })
}

/// Which notes are in the lowest line, as a mask.
fn lowest_line_mask(notes: &[Note]) -> Vec<bool> {
    notes
        .iter()
        .map(|n| {
            let middle = 0.5 * (n.start + n.end);
            n.pitch < BASS_ALWAYS_BELOW
                || (n.pitch <= BASS_HIGHEST
                    && !notes.iter().any(|o| o.pitch < n.pitch && o.start <= middle && o.end > middle))
        })
        .collect()
}

/// The [`inner_voices`], as a mask over `notes`.
fn inner_mask(notes: &[Note]) -> Vec<bool> {
    let candidates = upper_candidates(notes);
    let melody = skyline(notes, &candidates);
    candidates.iter().zip(melody).map(|(&c, m)| c && !m).collect()
}

/// Which `candidates` are the top line: those that other, higher candidates sound over for less
/// than half their length (gaps under [`MELODY_GAP_S`] between the higher notes bridged).
fn skyline(notes: &[Note], candidates: &[bool]) -> Vec<bool> {
    let mut spans: Vec<(f64, f64)> = Vec::new();
    (0..notes.len())
        .map(|i| {
            let n = &notes[i];
            if !candidates[i] || n.end <= n.start {
                return false;
            }
            spans.clear();
            spans.extend(
                (0..notes.len())
                    .filter(|&j| candidates[j] && notes[j].pitch > n.pitch)
                    .map(|j| (notes[j].start, notes[j].end))
                    .filter(|&(s, e)| e > n.start - MELODY_GAP_S && s < n.end + MELODY_GAP_S),
            );
            spans.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut covered = 0.0;
            let mut current: Option<(f64, f64)> = None;
            for &(s, e) in spans.iter() {
                match &mut current {
                    Some((_, ce)) if s <= *ce + MELODY_GAP_S => *ce = ce.max(e),
                    _ => {
                        if let Some((cs, ce)) = current {
                            covered += overlap(cs, ce, n.start, n.end);
                        }
                        current = Some((s, e));
                    }
                }
            }
            if let Some((cs, ce)) = current {
                covered += overlap(cs, ce, n.start, n.end);
            }
            covered < 0.5 * (n.end - n.start)
        })
        .collect()
}

/// Length of the overlap of `a0..a1` and `b0..b1`.
fn overlap(a0: f64, a1: f64, b0: f64, b1: f64) -> f64 {
    (a1.min(b1) - a0.max(b0)).max(0.0)
}

/// Splits `notes` into (those marked in `mask`, the rest), in order.
fn split(notes: &[Note], mask: &[bool]) -> (Vec<Note>, Vec<Note>) {
    let (mut yes, mut no) = (Vec::new(), Vec::new());
    for (n, &m) in notes.iter().zip(mask) {
        if m { &mut yes } else { &mut no }.push(n.clone());
    }
    (yes, no)
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

    fn loud(pitch: u8, start: f64, end: f64, amplitude: f32) -> Note {
        Note { amplitude, ..note(pitch, start, end) }
    }

    fn pitches(notes: &[Note]) -> Vec<u8> {
        notes.iter().map(|n| n.pitch).collect()
    }

    #[test]
    fn the_highest_line_is_the_melody_over_held_chords() {
        let notes = [
            note(36, 0.0, 2.0),
            note(60, 0.0, 2.0),
            note(64, 0.0, 1.0),
            // A moving melody over them; its last note broken into two by the transcription.
            note(72, 0.0, 0.5),
            note(74, 0.5, 1.0),
            note(76, 1.0, 1.4),
            note(76, 1.5, 2.0),
            // A chord tone struck in that 0.1 s gap: still under the held melody note.
            note(67, 1.35, 1.65),
            // A quiet octave partial of the first melody note's neighbour below, above everything.
            loud(76, 0.0, 0.5, 0.1),
            loud(64, 0.0, 0.5, 0.3),
        ];
        let (melody, rest) = highest_line(&notes);
        assert_eq!(pitches(&melody), [72, 74, 76, 76]);
        assert_eq!(melody.len() + rest.len(), notes.len());
        // The counter-melody is the top of what is left under the melody (the bass is never taken).
        let (counter, _) = second_highest_line(&notes);
        assert_eq!(pitches(&counter), [64, 67, 64]);
        // The chords: everything between, but not the quiet partial.
        let (chords, rest) = inner_voices(&notes);
        assert_eq!(pitches(&chords), [60, 64, 67, 64]);
        assert!(rest.iter().any(|n| n.pitch == 76 && n.amplitude < 0.2), "the partial is left to the others");
    }

    #[test]
    fn a_loud_octave_is_a_voice_and_a_quiet_one_a_partial() {
        let with_upper = |amplitude| [note(40, 0.0, 1.0), loud(64, 0.0, 1.0, 0.6), loud(76, 0.0, 1.0, amplitude)];
        // Well under the lower note's amplitude: the 76 is the 64's partial, so the 64 is the melody.
        let quiet = with_upper(0.2);
        assert!(quiet_partial(&quiet[2], &quiet));
        assert_eq!(pitches(&highest_line(&quiet).0), [64]);
        assert!(inner_voices(&quiet).0.is_empty());
        // As loud as it: a voice doubling the 64 an octave up, the melody, with the 64 under it.
        let doubled = with_upper(0.5);
        assert!(!quiet_partial(&doubled[2], &doubled));
        assert_eq!(pitches(&highest_line(&doubled).0), [76]);
        assert_eq!(pitches(&inner_voices(&doubled).0), [64]);
        // A quieter octave over a sounding bass note is the bass's partial, never a chord tone.
        let octave = [note(40, 0.0, 1.0), loud(52, 0.2, 1.0, 0.3), note(64, 0.0, 1.0), note(72, 0.0, 1.0)];
        assert_eq!(pitches(&inner_voices(&octave).0), [64]);
        assert_eq!(pitches(&second_highest_line(&octave).0), [64]);
        // An octave that starts later is its own note, however quiet.
        let later = [note(40, 0.0, 1.0), loud(64, 0.0, 1.0, 0.6), loud(76, 0.3, 1.0, 0.1)];
        assert!(!quiet_partial(&later[2], &later));
    }

    #[test]
    fn the_lines_of_a_four_part_chorale() {
        // Two chords of a four-part texture: soprano over alto, tenor and bass; the melody moves
        // in quarter notes over the second chord while the inner voices hold.
        let notes = [
            note(43, 0.0, 1.0),
            note(59, 0.0, 1.0),
            note(62, 0.0, 1.0),
            note(71, 0.0, 1.0),
            note(48, 1.0, 2.0),
            note(55, 1.0, 2.0),
            note(64, 1.0, 2.0),
            note(72, 1.0, 1.5),
            note(74, 1.5, 2.0),
        ];
        assert_eq!(pitches(&lowest_line(&notes).0), [43, 48]);
        assert_eq!(pitches(&highest_line(&notes).0), [71, 72, 74]);
        assert_eq!(pitches(&second_highest_line(&notes).0), [62, 64]);
        assert_eq!(pitches(&inner_voices(&notes).0), [59, 62, 55, 64]);
        // The skyline's limit: where the melody rests, the top chord tone is the highest line (the
        // 64 sounds on for 2.5 s after the 72 stops).
        let alone = [note(40, 0.0, 3.0), note(64, 0.0, 3.0), note(72, 0.0, 0.5)];
        assert_eq!(pitches(&highest_line(&alone).0), [64, 72]);
        // Bass alone: no melody, no chords.
        let bass = [note(36, 0.0, 1.0), note(43, 1.0, 2.0)];
        assert!(highest_line(&bass).0.is_empty() && inner_voices(&bass).0.is_empty());
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
