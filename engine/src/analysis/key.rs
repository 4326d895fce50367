//! Key estimation: Krumhansl–Kessler profiles correlated with the duration-weighted pitch classes.

use serde::Serialize;

use super::{FLAT_NAMES, SHARP_NAMES, pitch_class_profile};
use crate::transcribe::Note;

/// Krumhansl–Kessler major profile.
const MAJOR: [f32; 12] = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88];
/// Krumhansl–Kessler minor profile.
const MINOR: [f32; 12] = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17];

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
}

impl Key {
    /// Whether chord names in this key read better with flats (F, Bb, Eb... and their minors).
    pub fn prefers_flats(&self) -> bool {
        let major_tonic = if self.mode == "minor" { (self.tonic + 3) % 12 } else { self.tonic };
        matches!(major_tonic, 1 | 3 | 5 | 8 | 10)
    }
}

/// Best-correlating major or minor key over all notes.
pub fn estimate(notes: &[Note]) -> Key {
    let end = notes.iter().map(|n| n.end).fold(0.0, f64::max);
    let pcp = pitch_class_profile(notes, 0.0, end + 1.0);
    if pcp.iter().sum::<f32>() <= 0.0 {
        return Key { name: "unknown".into(), tonic: 0, mode: "major".into(), correlation: 0.0 };
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
    let mut key = Key { name: String::new(), tonic, mode: mode.into(), correlation };
    let names = if key.prefers_flats() { FLAT_NAMES } else { SHARP_NAMES };
    key.name = format!("{} {mode}", names[tonic as usize]);
    key
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
