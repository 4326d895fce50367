//! Chords and arpeggios by rule: each bar's chord voiced with all its tones (3 for triads, 4 for
//! sevenths) inside the role's register, each voicing chosen to move the voices as little as
//! possible from the previous one; held or re-struck on the context's strong onsets, or broken
//! into an arpeggio.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Chord;
use super::rhythm::{OnsetGrid, STEPS_PER_BEAT};
use crate::stem::Note;

/// Widest voicing, in semitones (an octave and a third).
const MAX_SPAN: u8 = 16;

/// A voicing per bar (`None` where the bar has no chord), voice-led from bar to bar inside
/// `register`. The seed breaks near-ties between equally smooth voicings.
pub fn voice_chords(chords: &[Option<Chord>], register: (u8, u8), seed: u64) -> Vec<Option<Vec<u8>>> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7015_1C95);
    let centre = (f64::from(register.0) + f64::from(register.1)) / 2.0;
    let mut previous: Option<Vec<u8>> = None;
    chords
        .iter()
        .map(|chord| {
            let chord = chord.as_ref()?;
            let candidates = candidates(chord, register);
            let cost = |v: &Vec<u8>| {
                let mean = v.iter().map(|&k| f64::from(k)).sum::<f64>() / v.len() as f64;
                let motion = previous.as_ref().map_or(0.0, |p| movement(p, v));
                let inverted = if v[0] % 12 == chord.root % 12 { 0.0 } else { 1.5 };
                motion + 0.25 * (mean - centre).abs() + inverted
            };
            let scored: Vec<(f64, &Vec<u8>)> =
                candidates.iter().map(|v| (cost(v) + rng.random::<f64>() * 0.75, v)).collect();
            let best = scored.iter().min_by(|a, b| a.0.total_cmp(&b.0)).map(|(_, v)| (*v).clone())?;
            previous = Some(best.clone());
            Some(best)
        })
        .collect()
}

/// Semitones the voices move from `a` to `b` (both sorted; a voice added or dropped counts 3).
pub fn movement(a: &[u8], b: &[u8]) -> f64 {
    let common: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x.abs_diff(*y))).sum();
    common + 3.0 * a.len().abs_diff(b.len()) as f64
}

/// Every voicing of `chord` with each chord tone once, inside `register` and no wider than
/// [`MAX_SPAN`], sorted low to high; a close root position when the register is too narrow.
fn candidates(chord: &Chord, (lo, hi): (u8, u8)) -> Vec<Vec<u8>> {
    let pcs = chord.pitch_classes();
    let options: Vec<Vec<u8>> = pcs.iter().map(|&pc| (lo..=hi).filter(|k| k % 12 == pc).collect()).collect();
    let mut out = Vec::new();
    let mut current = Vec::new();
    fn walk(options: &[Vec<u8>], current: &mut Vec<u8>, out: &mut Vec<Vec<u8>>) {
        let Some((first, rest)) = options.split_first() else {
            let mut v = current.clone();
            v.sort_unstable();
            if v.last().unwrap_or(&0) - v.first().unwrap_or(&0) <= MAX_SPAN {
                out.push(v);
            }
            return;
        };
        for &k in first {
            current.push(k);
            walk(rest, current, out);
            current.pop();
        }
    }
    walk(&options, &mut current, &mut out);
    if out.is_empty() {
        let root = (lo..=hi).find(|k| k % 12 == chord.root % 12).unwrap_or(lo);
        let intervals: Vec<u8> = pcs.iter().map(|pc| (pc + 12 - chord.root % 12) % 12).collect();
        out.push(intervals.iter().map(|i| (root + i).min(127)).collect());
    }
    out
}

/// Where a chord is struck in `bar`: the downbeat only (sparser), the context's strong onsets,
/// or every onset the context has (busier).
pub fn strikes(grid: &OnsetGrid, bar: usize, density: i8) -> Vec<usize> {
    let mut steps = match density.signum() {
        -1 => vec![0],
        1 => grid.onsets(bar),
        _ => grid.strong_onsets(bar),
    };
    if !steps.contains(&0) {
        steps.insert(0, 0);
    }
    steps
}

/// The voicings as block chords over `bars`, each struck per [`strikes`] and held until the next
/// strike (slightly short of it, so a re-strike is heard).
pub fn block_chords(
    voicings: &[Option<Vec<u8>>],
    grid: &OnsetGrid,
    bars: std::ops::Range<usize>,
    density: i8,
) -> Vec<Note> {
    let step_beats = 1.0 / STEPS_PER_BEAT as f64;
    let mut notes = Vec::new();
    for bar in bars {
        let Some(Some(voicing)) = voicings.get(bar) else { continue };
        let start = grid.bar_start(bar);
        let end = grid.bar_start(bar + 1);
        let hits = strikes(grid, bar, density);
        for (i, &s) in hits.iter().enumerate() {
            let t = start + s as f64 * step_beats;
            let until = hits.get(i + 1).map_or(end, |&n| start + n as f64 * step_beats);
            let length = if i + 1 < hits.len() { (until - t) * 0.95 } else { until - t };
            let velocity = (64.0 + 24.0 * grid.strength(bar, s)).round() as u8;
            notes.extend(voicing.iter().map(|&key| Note { start: t, length, key, velocity }));
        }
    }
    notes
}

/// Arpeggio figures: the order in which the voicing's notes are played.
const FIGURES: [&[usize]; 4] = [&[0, 1, 2, 3], &[3, 2, 1, 0], &[0, 1, 2, 3, 2, 1], &[0, 2, 1, 3]];

/// The voicings broken into an arpeggio over `bars`: quarter notes (sparser), eighths, or
/// sixteenths (busier), in a figure chosen by the seed; triads get the root an octave up as a
/// fourth note. Notes on the context's onsets are accented.
pub fn arpeggio(
    voicings: &[Option<Vec<u8>>],
    grid: &OnsetGrid,
    bars: std::ops::Range<usize>,
    density: i8,
    seed: u64,
) -> Vec<Note> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xA4_9E66);
    let figure = FIGURES[rng.random_range(0..FIGURES.len())];
    let every = match density.signum() {
        -1 => STEPS_PER_BEAT,
        1 => 1,
        _ => STEPS_PER_BEAT / 2,
    };
    let step_beats = 1.0 / STEPS_PER_BEAT as f64;
    let mut notes = Vec::new();
    let mut i = 0;
    for bar in bars {
        let Some(Some(voicing)) = voicings.get(bar) else { continue };
        let mut tones = voicing.clone();
        if tones.len() < 4 {
            tones.push(tones[0].saturating_add(12).min(127));
        }
        for s in (0..grid.bar_steps()).step_by(every) {
            let key = tones[figure[i % figure.len()] % tones.len()];
            i += 1;
            let velocity = (68.0 + 24.0 * grid.strength(bar, s)).round() as u8;
            notes.push(Note {
                start: grid.bar_start(bar) + s as f64 * step_beats,
                length: every as f64 * step_beats,
                key,
                velocity,
            });
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chord(root: u8, quality: &'static str) -> Option<Chord> {
        Some(Chord { root, quality })
    }

    #[test]
    fn voicings_hold_every_chord_tone_and_move_little() {
        let chords = [chord(0, ""), chord(9, "m"), chord(5, ""), chord(7, "7"), None];
        let voiced = voice_chords(&chords, (52, 76), 1);
        for (c, v) in chords.iter().zip(&voiced) {
            let (Some(c), Some(v)) = (c, v) else {
                assert!(v.is_none());
                continue;
            };
            let mut pcs: Vec<u8> = v.iter().map(|k| k % 12).collect();
            pcs.sort_unstable();
            let mut want = c.pitch_classes();
            want.sort_unstable();
            assert_eq!(pcs, want, "{c:?} voiced as {v:?}");
            assert!(v.iter().all(|k| (52..=76).contains(k)));
        }
        // C -> Am keeps C and E and moves G up a tone: the smoothest possible step.
        let (c, am) = (voiced[0].as_ref().unwrap(), voiced[1].as_ref().unwrap());
        assert!(movement(c, am) <= 3.0, "{c:?} -> {am:?}");
    }
}
