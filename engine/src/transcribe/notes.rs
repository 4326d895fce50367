//! Note decoding, a line-by-line port of `basic_pitch.note_creation` 0.4.0
//! (`output_to_notes_polyphonic`, `get_infered_onsets`, `get_pitch_bends`, `model_frames_to_time`).
//!
//! NumPy promotes the model's f32 activations to f64 wherever the reference mixes them with
//! `np.zeros`, so comparisons and the inferred onsets are done in f64 here too; note amplitudes are
//! NumPy's f32 pairwise mean. That keeps the output identical to the reference, not just close.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

use super::constants::*;
use super::window::Posteriorgram;

/// Decoding settings (the reference's `predict` arguments).
#[derive(Debug, Clone, PartialEq)]
pub struct NoteParams {
    /// Minimum onset activation for a note start.
    pub onset_threshold: f64,
    /// Minimum note activation for a note to continue.
    pub frame_threshold: f64,
    /// Minimum note length in frames (`round(127.70 ms * 86.13 fps)` = 11).
    pub min_note_len: usize,
    /// Also use onsets inferred from jumps in the note activations.
    pub infer_onsets: bool,
    /// Pick up remaining energy as notes (the "melodia trick").
    pub melodia_trick: bool,
    /// Frames below threshold tolerated inside a note.
    pub energy_tolerance: usize,
    /// Drop pitches below this frequency (Hz).
    pub min_freq: Option<f64>,
    /// Drop pitches above this frequency (Hz).
    pub max_freq: Option<f64>,
    /// Estimate per-note pitch bends from the contour output.
    pub pitch_bends: bool,
}

impl Default for NoteParams {
    fn default() -> Self {
        NoteParams {
            onset_threshold: ONSET_THRESHOLD,
            frame_threshold: FRAME_THRESHOLD,
            min_note_len: min_note_len_frames(MINIMUM_NOTE_LENGTH_MS),
            infer_onsets: true,
            melodia_trick: true,
            energy_tolerance: ENERGY_TOLERANCE,
            min_freq: None,
            max_freq: None,
            pitch_bends: true,
        }
    }
}

/// `int(np.round(ms / 1000 * (22050 / 256)))`.
pub fn min_note_len_frames(ms: f64) -> usize {
    round_half_even(ms / 1000.0 * (SAMPLE_RATE as f64 / FFT_HOP as f64)).max(0.0) as usize
}

/// A decoded note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// Start time in seconds.
    pub start: f64,
    /// End time in seconds.
    pub end: f64,
    /// MIDI pitch.
    pub pitch: u8,
    /// Mean note activation over the note, 0..1.
    pub amplitude: f32,
    /// Pitch bend per frame in 1/3 semitones, when estimated.
    pub pitch_bends: Option<Vec<i32>>,
    /// First frame.
    pub start_frame: usize,
    /// End frame (exclusive).
    pub end_frame: usize,
}

impl Note {
    /// MIDI velocity as the reference writes it: `round(127 * amplitude)` in f32.
    pub fn velocity(&self) -> u8 {
        round_half_even_f32(127.0f32 * self.amplitude).clamp(0.0, 127.0) as u8
    }
}

/// Decodes notes from a posteriorgram (modifies nothing; the reference works on copies, made here
/// only where it writes to them). Besides the posteriorgram it holds one f32 copy of the note
/// activations (the energy the passes use up) and the melodia pass's heap.
pub fn decode(pg: &Posteriorgram, p: &NoteParams) -> Vec<Note> {
    let n = pg.frames;
    if n == 0 {
        return Vec::new();
    }
    let (mut frames, mut onsets) = (Cow::Borrowed(&pg.note[..]), Cow::Borrowed(&pg.onset[..]));
    if p.max_freq.is_some() || p.min_freq.is_some() {
        constrain_frequency(onsets.to_mut(), frames.to_mut(), p.max_freq, p.min_freq);
    }
    let strength = OnsetStrength::new(&onsets, &frames, p.infer_onsets);
    let events = polyphonic(&frames, &strength, n, p);
    let times = model_frames_to_time(n);
    events
        .into_iter()
        .map(|(s, e, f, amp)| Note {
            start: times[s],
            end: times[e],
            pitch: f as u8 + MIDI_OFFSET,
            amplitude: amp,
            pitch_bends: (p.pitch_bends && !pg.contour.is_empty()).then(|| pitch_bends(&pg.contour, s, e, f)),
            start_frame: s,
            end_frame: e,
        })
        .collect()
}

/// `constrain_frequency`: zero bins outside `[min_freq, max_freq]`.
fn constrain_frequency(onsets: &mut [f32], frames: &mut [f32], max_freq: Option<f64>, min_freq: Option<f64>) {
    let bin = |hz: f64| round_half_even(hz_to_midi(hz) - MIDI_OFFSET as f64).clamp(0.0, N_NOTES as f64) as usize;
    for row in 0..frames.len() / N_NOTES {
        let r = row * N_NOTES;
        if let Some(hz) = max_freq {
            let b = bin(hz);
            onsets[r + b..r + N_NOTES].fill(0.0);
            frames[r + b..r + N_NOTES].fill(0.0);
        }
        if let Some(hz) = min_freq {
            let b = bin(hz);
            onsets[r..r + b].fill(0.0);
            frames[r..r + b].fill(0.0);
        }
    }
}

/// The onset activations the peak picking reads, in f64 like NumPy: the model's onsets, or with
/// `infer_onsets` the reference's `get_infered_onsets` (n_diff = 2), worked out per cell from the
/// two maxima instead of held as two f64 matrices (1.4 kB a frame, 7 MB a minute).
struct OnsetStrength<'a> {
    /// Onset activations, `frames × 88`.
    onsets: &'a [f32],
    /// Note activations, `frames × 88`.
    frames: &'a [f32],
    /// Whether onsets are inferred from the note activations too.
    infer: bool,
    /// Largest onset activation.
    max_onset: f64,
    /// Largest jump in the note activations.
    max_diff: f64,
}

impl<'a> OnsetStrength<'a> {
    /// Finds the maxima the inferred onsets are scaled by.
    fn new(onsets: &'a [f32], frames: &'a [f32], infer: bool) -> Self {
        let mut s = OnsetStrength { onsets, frames, infer, max_onset: 0.0, max_diff: 0.0 };
        if infer {
            s.max_onset = onsets.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            s.max_diff = (0..frames.len()).map(|i| s.diff(i)).fold(f64::NEG_INFINITY, f64::max);
        }
        s
    }

    /// The jump into cell `idx` (flat `frame * 88 + bin`): the smaller rise over 1 and 2 frames,
    /// 0 when falling and in the first two frames.
    fn diff(&self, idx: usize) -> f64 {
        if idx < 2 * N_NOTES {
            return 0.0;
        }
        let x = self.frames[idx] as f64;
        let d = (x - self.frames[idx - N_NOTES] as f64).min(x - self.frames[idx - 2 * N_NOTES] as f64);
        if d < 0.0 { 0.0 } else { d }
    }

    /// The onset strength of cell `idx`.
    fn at(&self, idx: usize) -> f64 {
        let o = self.onsets[idx] as f64;
        if !self.infer {
            return o;
        }
        // NumPy: max_onset * diff / max_diff, which is NaN everywhere when max_diff is 0; a NaN
        // row never forms a peak, so "no onsets at all" is the equivalent.
        if self.max_diff == 0.0 || !self.max_diff.is_finite() {
            return f64::NAN;
        }
        let scaled = self.max_onset * self.diff(idx) / self.max_diff;
        if o.is_nan() || scaled.is_nan() { f64::NAN } else { o.max(scaled) }
    }
}

/// `output_to_notes_polyphonic`: (start frame, end frame, bin, amplitude) in the reference's order.
fn polyphonic(frames: &[f32], onsets: &OnsetStrength, n: usize, p: &NoteParams) -> Vec<(usize, usize, usize, f32)> {
    let thr = p.frame_threshold;
    let tol = p.energy_tolerance;
    let min_len = p.min_note_len as isize;
    // scipy.signal.argrelmax(axis=0, order=1, mode="clip"): strict local maxima in time.
    let mut peaks = Vec::new();
    for t in 1..n.saturating_sub(1) {
        for f in 0..N_NOTES {
            let x = onsets.at(t * N_NOTES + f);
            if x > onsets.at((t - 1) * N_NOTES + f) && x > onsets.at((t + 1) * N_NOTES + f) && x >= p.onset_threshold {
                peaks.push((t, f));
            }
        }
    }
    let mut energy = frames.to_vec();
    let zero_around = |energy: &mut [f32], t: usize, f: usize| {
        energy[t * N_NOTES + f] = 0.0;
        if f < MAX_FREQ_IDX {
            energy[t * N_NOTES + f + 1] = 0.0;
        }
        if f > 0 {
            energy[t * N_NOTES + f - 1] = 0.0;
        }
    };
    let mut notes = Vec::new();
    for &(start, f) in peaks.iter().rev() {
        if start + 1 >= n {
            continue;
        }
        let mut i = start + 1;
        let mut k = 0;
        while i < n - 1 && k < tol {
            if (energy[i * N_NOTES + f] as f64) < thr {
                k += 1;
            } else {
                k = 0;
            }
            i += 1;
        }
        i -= k;
        if i as isize - start as isize <= min_len {
            continue;
        }
        for t in start..i {
            zero_around(&mut energy, t, f);
        }
        notes.push((start, i, f, mean_f32(frames, start, i, f)));
    }
    if !p.melodia_trick {
        return notes;
    }
    // np.argmax over the whole matrix each round, done with a max-heap: entries go stale when
    // their cell is zeroed (cells only ever drop to 0), ties go to the lowest flat index.
    let mut heap: BinaryHeap<Cell> =
        energy.iter().enumerate().filter(|&(_, &v)| (v as f64) > thr).map(|(idx, &v)| Cell { value: v, idx }).collect();
    while let Some(cell) = heap.pop() {
        if energy[cell.idx] != cell.value {
            continue;
        }
        let (i_mid, f) = (cell.idx / N_NOTES, cell.idx % N_NOTES);
        energy[cell.idx] = 0.0;
        let mut i = i_mid + 1;
        let mut k = 0usize;
        while i < n - 1 && k < tol {
            if (energy[i * N_NOTES + f] as f64) < thr {
                k += 1;
            } else {
                k = 0;
            }
            zero_around(&mut energy, i, f);
            i += 1;
        }
        let i_end = i as isize - 1 - k as isize;
        let mut i = i_mid as isize - 1;
        let mut k = 0isize;
        while i > 0 && k < tol as isize {
            if (energy[i as usize * N_NOTES + f] as f64) < thr {
                k += 1;
            } else {
                k = 0;
            }
            zero_around(&mut energy, i as usize, f);
            i -= 1;
        }
        let i_start = i + 1 + k;
        if i_end - i_start <= min_len {
            continue;
        }
        let (s, e) = (i_start as usize, i_end as usize);
        notes.push((s, e, f, mean_f32(frames, s, e, f)));
    }
    notes
}

/// A heap entry for the melodia pass: larger value first, then smaller flat index.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cell {
    /// Activation when pushed.
    value: f32,
    /// Flat index `frame * 88 + bin`.
    idx: usize,
}

impl Eq for Cell {}

impl PartialOrd for Cell {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cell {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.total_cmp(&other.value).then_with(|| other.idx.cmp(&self.idx))
    }
}

/// `np.mean(frames[s:e, f])` for f32: pairwise sum in f32, then divided in f64 and rounded to f32.
fn mean_f32(frames: &[f32], s: usize, e: usize, f: usize) -> f32 {
    let col: Vec<f32> = (s..e).map(|t| frames[t * N_NOTES + f]).collect();
    (pairwise_sum(&col) as f64 / col.len() as f64) as f32
}

/// NumPy's `pairwise_sum` for float32 (8 accumulators, blocks of 128).
fn pairwise_sum(a: &[f32]) -> f32 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0f32, |r, &x| r + x)
    } else if n <= 128 {
        let mut r = [0.0f32; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// `model_frames_to_time`: frame times with the reference's per-window offset correction.
pub fn model_frames_to_time(n: usize) -> Vec<f64> {
    let window_offset = (FFT_HOP as f64 / SAMPLE_RATE as f64)
        * (ANNOT_N_FRAMES as f64 - (AUDIO_N_SAMPLES as f64 / FFT_HOP as f64))
        + 0.0018;
    (0..n)
        .map(|t| {
            let original = (t * FFT_HOP) as f64 / SAMPLE_RATE as f64;
            original - window_offset * (t / ANNOT_N_FRAMES) as f64
        })
        .collect()
}

/// `get_pitch_bends` for one note: argmax of the Gaussian-weighted contour around the pitch.
fn pitch_bends(contour: &[f32], s: usize, e: usize, f: usize) -> Vec<i32> {
    let tol = PITCH_BEND_TOLERANCE as isize;
    let window_length = 2 * tol + 1;
    let gaussian: Vec<f64> = (0..window_length)
        .map(|j| {
            let x = j as f64 - (window_length as f64 - 1.0) / 2.0;
            (-(x * x) / (2.0 * 5.0 * 5.0)).exp()
        })
        .collect();
    let pitch_hz = 440.0 * 2f64.powf(((f + MIDI_OFFSET as usize) as f64 - 69.0) / 12.0);
    let freq_idx =
        round_half_even(12.0 * CONTOURS_BINS_PER_SEMITONE as f64 * (pitch_hz / BASE_FREQUENCY).log2()) as isize;
    let n_bins = N_CONTOUR as isize;
    let lo = (freq_idx - tol).max(0);
    let hi = n_bins.min(freq_idx + tol + 1);
    let g_lo = (tol - freq_idx).max(0);
    let pb_shift = tol - (tol - freq_idx).max(0);
    (s..e)
        .map(|t| {
            let row = &contour[t * N_CONTOUR..(t + 1) * N_CONTOUR];
            let mut best = (0isize, f64::NEG_INFINITY);
            for (j, b) in (lo..hi).enumerate() {
                let v = row[b as usize] as f64 * gaussian[(g_lo + j as isize) as usize];
                if v > best.1 {
                    best = (j as isize, v);
                }
            }
            (best.0 - pb_shift) as i32
        })
        .collect()
}

/// `librosa.hz_to_midi`.
fn hz_to_midi(hz: f64) -> f64 {
    12.0 * (hz.log2() - 440f64.log2()) + 69.0
}

/// `np.round` for f64 (half to even).
fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 { 2.0 * (x / 2.0).round() } else { r }
}

/// `np.round` for f32 (half to even).
fn round_half_even_f32(x: f32) -> f32 {
    round_half_even(x as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_note_len_is_eleven_frames() {
        assert_eq!(min_note_len_frames(127.70), 11);
    }

    #[test]
    fn pairwise_matches_numpy_shape() {
        let a: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin().abs()).collect();
        let naive: f64 = a.iter().map(|&x| x as f64).sum();
        assert!((pairwise_sum(&a) as f64 - naive).abs() < 1e-3);
    }

    #[test]
    fn half_even() {
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(3.5), 4.0);
        assert_eq!(round_half_even(-0.5), -0.0);
    }
}
