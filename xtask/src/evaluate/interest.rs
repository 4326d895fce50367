//! Musical-interest figures of a line, defined as in `scripts/arranger/evaluate.py` so the
//! from-audio table reads like the score-level one: non-root and passing-note shares, distinct
//! durations per bar, the melodic interval histogram and the onset positions in the bar.

use counterpart_engine::analysis::chords::ChordLabel;
use counterpart_engine::stem::Note;

/// Interval histogram bins: -12..=12 semitones (wider leaps clipped).
pub const INTERVAL_BINS: usize = 25;
/// Onset positions per bar (eighth notes of 4/4).
pub const ONSET_BINS: usize = 8;
/// Grid step in beats (an eighth note).
const STEP: f64 = 0.5;

/// Raw counts of one line, summed over pieces before the shares are taken.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Eighth steps of note time with a chord label.
    pub labelled_steps: f64,
    /// Those whose pitch class is not the chord's root.
    pub non_root_steps: f64,
    /// Notes with a chord label at their onset.
    pub labelled_notes: f64,
    /// Those that are passing notes.
    pub passing_notes: f64,
    /// Distinct note lengths summed over the bars with notes.
    pub durations: f64,
    /// Bars with notes.
    pub bars: f64,
    /// Note-to-note intervals.
    pub intervals: [f64; INTERVAL_BINS],
    /// Onsets per eighth position in the bar.
    pub onsets: [f64; ONSET_BINS],
}

impl Counts {
    /// Counts of `notes` (in beats); `chord_at(beat)` is the chord sounding there, if labelled.
    pub fn of(notes: &[Note], bar_beats: f64, chord_at: impl Fn(f64) -> Option<ChordLabel>) -> Self {
        let mut notes = notes.to_vec();
        notes.sort_by(|a, b| a.start.total_cmp(&b.start));
        let mut c = Counts::default();
        for n in &notes {
            let mut t = n.start + STEP / 2.0;
            while t < n.end() {
                if let Some(chord) = chord_at(t) {
                    c.labelled_steps += 1.0;
                    c.non_root_steps += f64::from(u8::from(n.key % 12 != chord.root));
                }
                t += STEP;
            }
            let position = ((n.start.rem_euclid(bar_beats)) / STEP).round() as usize % ONSET_BINS;
            c.onsets[position] += 1.0;
        }
        for (i, n) in notes.iter().enumerate() {
            let Some(chord) = chord_at(n.start + 1e-6) else { continue };
            c.labelled_notes += 1.0;
            let (Some(prev), Some(next)) = (i.checked_sub(1).map(|j| notes[j]), notes.get(i + 1)) else { continue };
            let joined = (prev.end() - n.start).abs() < 1e-6 && (n.end() - next.start).abs() < 1e-6;
            let (d_in, d_out) = (i16::from(n.key) - i16::from(prev.key), i16::from(next.key) - i16::from(n.key));
            let steps = (1..=2).contains(&d_in.abs()) && (1..=2).contains(&d_out.abs()) && d_in * d_out > 0;
            c.passing_notes += f64::from(u8::from(joined && steps && !chord.pitch_classes().contains(&(n.key % 12))));
        }
        for pair in notes.windows(2) {
            let d = (i16::from(pair[1].key) - i16::from(pair[0].key)).clamp(-12, 12);
            c.intervals[(d + 12) as usize] += 1.0;
        }
        let mut bars: Vec<(i64, Vec<i64>)> = Vec::new();
        for n in &notes {
            let (bar, length) = ((n.start / bar_beats).floor() as i64, (n.length * 8.0).round() as i64);
            match bars.iter_mut().find(|(b, _)| *b == bar) {
                Some((_, ls)) if ls.contains(&length) => {}
                Some((_, ls)) => ls.push(length),
                None => bars.push((bar, vec![length])),
            }
        }
        c.durations = bars.iter().map(|(_, ls)| ls.len() as f64).sum();
        c.bars = bars.len() as f64;
        c
    }

    /// Adds `o`'s counts.
    pub fn add(&mut self, o: &Counts) {
        self.labelled_steps += o.labelled_steps;
        self.non_root_steps += o.non_root_steps;
        self.labelled_notes += o.labelled_notes;
        self.passing_notes += o.passing_notes;
        self.durations += o.durations;
        self.bars += o.bars;
        self.intervals.iter_mut().zip(o.intervals).for_each(|(a, b)| *a += b);
        self.onsets.iter_mut().zip(o.onsets).for_each(|(a, b)| *a += b);
    }

    /// Share of note time on a non-root pitch class.
    pub fn non_root_share(&self) -> f64 {
        self.non_root_steps / self.labelled_steps.max(1.0)
    }

    /// Share of notes that are passing notes.
    pub fn passing_share(&self) -> f64 {
        self.passing_notes / self.labelled_notes.max(1.0)
    }

    /// Distinct note lengths per bar with notes.
    pub fn durations_per_bar(&self) -> f64 {
        self.durations / self.bars.max(1.0)
    }

    /// Entropy in bits of the onset positions (0-3).
    pub fn onset_entropy(&self) -> f64 {
        let total: f64 = self.onsets.iter().sum();
        -self.onsets.iter().filter(|&&n| n > 0.0).map(|n| n / total * (n / total).log2()).sum::<f64>()
    }

    /// Total variation distance between the two interval histograms (0 = same distribution).
    pub fn interval_tvd(&self, other: &Counts) -> f64 {
        let (a, b) = (self.intervals.iter().sum::<f64>().max(1.0), other.intervals.iter().sum::<f64>().max(1.0));
        0.5 * self.intervals.iter().zip(other.intervals).map(|(x, y)| (x / a - y / b).abs()).sum::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(start: f64, length: f64, key: u8) -> Note {
        Note { start, length, key, velocity: 80 }
    }

    #[test]
    fn a_scale_run_over_c_major_has_passing_notes_and_a_root_line_none() {
        let c = |_: f64| Some(ChordLabel { root: 0, quality: "", score: 1.0 });
        // C D E F G: D and F are passing notes, four of five notes off the root.
        let run: Vec<Note> = [60, 62, 64, 65, 67].iter().enumerate().map(|(i, &k)| note(i as f64, 1.0, k)).collect();
        let r = Counts::of(&run, 4.0, c);
        assert_eq!((r.passing_notes, r.labelled_notes), (2.0, 5.0));
        assert!((r.non_root_share() - 0.8).abs() < 1e-9);
        let roots: Vec<Note> = (0..8).map(|b| note(b as f64, 1.0, 48)).collect();
        let b = Counts::of(&roots, 4.0, c);
        assert_eq!((b.non_root_share(), b.passing_share(), b.durations_per_bar()), (0.0, 0.0, 1.0));
        // Onsets on the four beats only: 2 bits; intervals all unisons vs all steps: distance 1.
        assert!((b.onset_entropy() - 2.0).abs() < 1e-9);
        assert!((b.interval_tvd(&r) - 1.0).abs() < 1e-9);
    }
}
