//! The context's rhythm on the beat grid, and lines locked to it: the arranger model chooses the
//! pitches on its eighth-note grid; here the stem's onsets move to where the song's own onsets
//! are (sixteenth grid, bar by bar), as many per bar as the context has, fewer or more when the
//! prompt asks for a sparser or busier part.

use std::ops::Range;

use crate::stem::Note;

/// Grid steps per quarter-note beat (sixteenths).
pub const STEPS_PER_BEAT: usize = 4;
/// An onset counts when it carries this share of the bar's strongest onset (faint transcription
/// noise does not).
const ONSET_SHARE: f32 = 0.2;
/// An onset is strong (re-strikes a held chord) above this share.
const STRONG_SHARE: f32 = 0.6;

/// Onset strength of the context per bar and sixteenth step.
#[derive(Debug, Clone)]
pub struct OnsetGrid {
    /// Steps per bar.
    bar_steps: usize,
    /// Beats per bar.
    bar_beats: f64,
    /// `[bar][step]`: summed weight of the onsets there, divided by the bar's strongest.
    local: Vec<Vec<f32>>,
    /// `[step]`: share of the bars with an onset on the step.
    recurring: Vec<f32>,
}

impl OnsetGrid {
    /// The grid of `context` (notes in beats from bar 0) over `bars` bars of `bar_beats` beats.
    /// A note's weight grows with its velocity, so a chord or a loud hit outweighs a passing note.
    pub fn from_notes(context: &[Note], bars: usize, bar_beats: f64) -> Self {
        let bar_steps = ((bar_beats * STEPS_PER_BEAT as f64).round() as usize).max(1);
        let mut local = vec![vec![0.0f32; bar_steps]; bars];
        for n in context.iter().filter(|n| n.start.is_finite() && n.start >= -0.125) {
            let step = (n.start.max(0.0) * STEPS_PER_BEAT as f64).round() as usize;
            if let Some(bar) = local.get_mut(step / bar_steps) {
                bar[step % bar_steps] += 0.3 + f32::from(n.velocity) / 127.0;
            }
        }
        let mut recurring = vec![0.0f32; bar_steps];
        let sounding = local.iter().filter(|b| b.iter().any(|&w| w > 0.0)).count().max(1);
        for bar in &mut local {
            let top = bar.iter().copied().fold(0.0, f32::max);
            if top > 0.0 {
                bar.iter_mut().for_each(|w| *w /= top);
            }
            for (s, w) in bar.iter().enumerate() {
                if *w >= ONSET_SHARE {
                    recurring[s] += 1.0 / sounding as f32;
                }
            }
        }
        OnsetGrid { bar_steps, bar_beats, local, recurring }
    }

    /// Steps per bar.
    pub fn bar_steps(&self) -> usize {
        self.bar_steps
    }

    /// Onset strength of `step` in `bar`, 0..1 (0 outside the context).
    pub fn strength(&self, bar: usize, step: usize) -> f32 {
        self.local.get(bar).and_then(|b| b.get(step)).copied().unwrap_or(0.0)
    }

    /// Steps of `bar` where the context has an onset.
    pub fn onsets(&self, bar: usize) -> Vec<usize> {
        (0..self.bar_steps).filter(|&s| self.strength(bar, s) >= ONSET_SHARE).collect()
    }

    /// Steps of `bar` with a strong onset, always with the downbeat.
    pub fn strong_onsets(&self, bar: usize) -> Vec<usize> {
        (0..self.bar_steps).filter(|&s| s == 0 || self.strength(bar, s) >= STRONG_SHARE).collect()
    }

    /// How much a note on `step` of `bar` belongs there: the context's onset there, how often the
    /// song has one on that step, and the step's metric weight (downbeat > beat > eighth).
    pub fn score(&self, bar: usize, step: usize) -> f32 {
        self.strength(bar, step) + 0.5 * self.recurring.get(step).copied().unwrap_or(0.0) + metric(step)
    }

    /// Start of `bar` in beats.
    pub fn bar_start(&self, bar: usize) -> f64 {
        bar as f64 * self.bar_beats
    }
}

/// Metric weight of a sixteenth step in the bar.
fn metric(step: usize) -> f32 {
    match step {
        0 => 0.3,
        s if s % STEPS_PER_BEAT == 0 => 0.2,
        s if s % (STEPS_PER_BEAT / 2) == 0 => 0.1,
        _ => 0.0,
    }
}

/// How a line follows the context.
#[derive(Debug, Clone, Copy)]
pub struct Lock {
    /// 1: as many notes per bar as the context has onsets (a bass line); 0: as many as the model
    /// wrote; in between a blend.
    pub follow: f64,
    /// Bonus for keeping one of the model's own onsets (lets a melody keep some of its rhythm).
    pub own: f32,
}

/// Notes per bar for a density request: half (at least one), the same, or half as many again.
pub fn scaled_count(base: usize, density: i8) -> usize {
    match density.signum() {
        -1 => base.div_ceil(2).max(1),
        1 => base + (base / 2).max(1),
        _ => base.max(1),
    }
}

/// `line` (the model's notes) with its onsets moved onto the context's rhythm over `bars`, the
/// pitch at each new onset being the one the model had sounding there (or last before it); never
/// more onsets in a bar than the context has (unless busier), and a pitch the model held is held,
/// not struck again on the next onset. Each note holds until the next one, never past the range.
/// Bars where the model wrote nothing stay empty. Measured end to end from audio on the chorales
/// (see `scripts/arranger/RESULTS.md`): striking every context onset gave the bass 1.3-1.4 times
/// the true bass's notes per bar; holding brings it to about the true count. A sparser line keeps
/// every other note of the plain one, so it always has fewer.
pub fn lock_line(line: &[Note], grid: &OnsetGrid, bars: Range<usize>, density: i8, lock: Lock) -> Vec<Note> {
    let range_end = grid.bar_start(bars.end);
    if density < 0 {
        let plain = lock_line(line, grid, bars, 0, lock);
        let kept: Vec<(f64, u8, u8)> = plain.iter().step_by(2).map(|n| (n.start, n.key, n.velocity)).collect();
        return held(&kept, range_end);
    }
    let step_beats = 1.0 / STEPS_PER_BEAT as f64;
    let mut onsets: Vec<(f64, u8, u8)> = Vec::new();
    for bar in bars {
        let (start, end) = (grid.bar_start(bar), grid.bar_start(bar + 1));
        if !line.iter().any(|n| n.start < end && n.end() > start) {
            continue;
        }
        let own: Vec<usize> = line
            .iter()
            .filter(|n| n.start >= start - 1e-9 && n.start < end)
            .map(|n| ((n.start - start) / step_beats).round() as usize)
            .collect();
        let context = grid.onsets(bar).len();
        let base = if context == 0 {
            own.len()
        } else {
            let blend = (lock.follow * context as f64 + (1.0 - lock.follow) * own.len() as f64).round() as usize;
            blend.min(context)
        };
        let count = scaled_count(base, density).min(grid.bar_steps());
        let mut steps: Vec<(usize, f32)> = (0..grid.bar_steps())
            .map(|s| (s, grid.score(bar, s) + if own.contains(&s) { lock.own } else { 0.0 }))
            .collect();
        steps.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut chosen: Vec<usize> = steps.iter().take(count).map(|s| s.0).collect();
        chosen.sort_unstable();
        for s in chosen {
            let t = start + s as f64 * step_beats;
            if let Some(key) = pitch_at(line, t + step_beats / 2.0) {
                // Where the model held the pitch, the line holds it too instead of striking it again
                // on every context onset (unless a busier line is asked for).
                let holds = onsets.last().is_some_and(|&(from, last, _)| {
                    last == key && !line.iter().any(|n| n.key == key && n.start > from + 1e-9 && n.start <= t + 1e-9)
                });
                if holds && density == 0 {
                    continue;
                }
                let velocity = (70.0 + 30.0 * grid.strength(bar, s)).round() as u8;
                onsets.push((t, key, velocity));
            }
        }
    }
    held(&onsets, range_end)
}

/// Notes from `(beat, key, velocity)` onsets in order, each held until the next onset, at most a
/// bar of 4 beats and never past `range_end`.
fn held(onsets: &[(f64, u8, u8)], range_end: f64) -> Vec<Note> {
    let step_beats = 1.0 / STEPS_PER_BEAT as f64;
    let mut notes = Vec::with_capacity(onsets.len());
    for (i, &(t, key, velocity)) in onsets.iter().enumerate() {
        let next = onsets.get(i + 1).map_or(range_end, |o| o.0).min(range_end).min(t + 4.0);
        notes.push(Note { start: t, length: (next - t).max(step_beats), key, velocity });
    }
    notes
}

/// The key sounding at beat `t` in `line`, else the last one started before it, else the first.
pub fn pitch_at(line: &[Note], t: f64) -> Option<u8> {
    line.iter()
        .filter(|n| n.start <= t && n.end() > t)
        .max_by(|a, b| a.start.total_cmp(&b.start))
        .or_else(|| line.iter().filter(|n| n.start <= t).max_by(|a, b| a.start.total_cmp(&b.start)))
        .or_else(|| line.iter().min_by(|a, b| a.start.total_cmp(&b.start)))
        .map(|n| n.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(start: f64, length: f64, key: u8, velocity: u8) -> Note {
        Note { start, length, key, velocity }
    }

    #[test]
    fn a_line_moves_onto_the_context_onsets_keeping_its_pitches() {
        // Context: onsets on beats 1, 2.5 and 4 of both bars (a loud chord on the downbeat).
        let mut context = Vec::new();
        for bar in 0..2 {
            let b = bar as f64 * 4.0;
            context.extend([note(b, 1.0, 48, 100), note(b, 1.0, 60, 90), note(b + 1.5, 0.5, 50, 70)]);
            context.push(note(b + 3.0, 1.0, 55, 70));
        }
        let grid = OnsetGrid::from_notes(&context, 2, 4.0);
        assert_eq!(grid.onsets(0), [0, 6, 12]);
        assert_eq!(grid.strong_onsets(0), [0]);
        // The model's line: straight quarter notes C D E F, then G held for the second bar.
        let line = [note(0.0, 1.0, 36, 80), note(1.0, 1.0, 38, 80), note(2.0, 1.0, 40, 80), note(3.0, 1.0, 41, 80)];
        let line = [&line[..], &[note(4.0, 4.0, 43, 80)]].concat();
        let lock = Lock { follow: 1.0, own: 0.0 };
        let locked = lock_line(&line, &grid, 0..2, 0, lock);
        let got: Vec<(f64, u8)> = locked.iter().map(|n| (n.start, n.key)).collect();
        // The G the model holds through the second bar is held, not struck on each onset.
        assert_eq!(got, [(0.0, 36), (1.5, 38), (3.0, 41), (4.0, 43)]);
        assert!((locked[3].end() - 8.0).abs() < 1e-9, "the last note stops at the range end");
        // Where the model strikes the G again (beat 7), the line strikes it on the next onset.
        let again = [&line[..4], &[note(4.0, 2.0, 43, 80), note(6.0, 2.0, 43, 80)]].concat();
        let got: Vec<(f64, u8)> = lock_line(&again, &grid, 0..2, 0, lock).iter().map(|n| (n.start, n.key)).collect();
        assert_eq!(got[3..], [(4.0, 43), (7.0, 43)]);
        // Sparser and busier move the count per bar; busier strikes held pitches again.
        assert_eq!(lock_line(&line, &grid, 0..2, -1, lock).len(), 2);
        assert_eq!(lock_line(&line, &grid, 0..2, 1, lock).len(), 8);
    }
}
