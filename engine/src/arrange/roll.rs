//! The piano roll the model reads: one class per (voice, step) on the pack's grid, plus the
//! per-step conditioning; and the way back from a voice's classes to notes. Pure functions.

use super::config::{ArrangerConfig, cond};
use super::{Chord, KeySig};
use crate::stem::Note;

/// Velocity of generated notes.
pub const VELOCITY: u8 = 80;

/// The class of each step of one voice from `0` to `steps`: the note sounding at the step's middle
/// (the latest-starting one when notes overlap), folded by octaves into the model's range; the
/// rest class where nothing sounds.
pub fn quantize(notes: &[Note], steps: usize, cfg: &ArrangerConfig) -> Vec<usize> {
    let mut out = vec![cfg.rest_class; steps];
    let mut started = vec![f64::NEG_INFINITY; steps];
    let spb = cfg.steps_per_beat as f64;
    for n in notes {
        let first = ((n.start * spb - 0.5).ceil().max(0.0)) as usize;
        let last = ((n.end() * spb - 0.5).ceil().max(0.0) as usize).min(steps);
        for t in first..last {
            if n.start >= started[t] {
                started[t] = n.start;
                out[t] = pitch_class(n.key, cfg);
            }
        }
    }
    out
}

/// A MIDI key as a class, moved by octaves into the model's range.
pub fn pitch_class(key: u8, cfg: &ArrangerConfig) -> usize {
    let mut k = key;
    while k < cfg.pitch_lo {
        k += 12;
    }
    while k > cfg.pitch_hi() {
        k -= 12;
    }
    usize::from(k - cfg.pitch_lo)
}

/// Notes of one voice's classes over `[from, to)` steps: equal consecutive classes merge into one
/// note (the grid cannot tell a held note from a repeated one), rests are dropped.
pub fn to_notes(classes: &[usize], from: usize, to: usize, cfg: &ArrangerConfig) -> Vec<Note> {
    let spb = cfg.steps_per_beat as f64;
    let mut notes = Vec::new();
    let mut t = from;
    while t < to {
        let c = classes[t];
        let mut end = t + 1;
        while end < to && classes[end] == c {
            end += 1;
        }
        if c != cfg.rest_class {
            notes.push(Note {
                start: t as f64 / spb,
                length: (end - t) as f64 / spb,
                key: cfg.pitch_lo + c as u8,
                velocity: VELOCITY,
            });
        }
        t = end;
    }
    notes
}

/// Conditioning `[window_steps, cond_channels]` for the window starting at step `start`;
/// `quality` is the index of each step's chord quality (`None` for no chord).
pub fn cond_features(
    chords: &[Option<Chord>],
    quality: &[Option<usize>],
    key: Option<KeySig>,
    start: usize,
    cfg: &ArrangerConfig,
) -> Vec<f32> {
    let (n, c) = (cfg.window_steps, cfg.cond_channels);
    let mut f = vec![0.0f32; n * c];
    for t in 0..n {
        let row = &mut f[t * c..(t + 1) * c];
        let step = start + t;
        match (chords.get(step).copied().flatten(), quality.get(step).copied().flatten()) {
            (Some(ch), Some(q)) => {
                let root = usize::from(ch.root % 12);
                for &iv in &cfg.qualities[q].intervals {
                    row[cond::CHROMA + (root + usize::from(iv)) % 12] = 1.0;
                }
                row[cond::ROOT + root] = 1.0;
                row[cond::QUALITY + q] = 1.0;
            }
            _ => row[cond::NO_CHORD] = 1.0,
        }
        if let Some(k) = key {
            row[cond::KEY_TONIC + usize::from(k.tonic % 12)] = 1.0;
            row[cond::KEY_MINOR] = if k.minor { 1.0 } else { 0.0 };
        }
        row[cond::BAR_PHASE + step % cfg.steps_per_bar] = 1.0;
    }
    f
}
