//! Musical time: conversions between beats, bars and samples, and the loop wrap.
//!
//! Beats are quarter notes, as CLAP and VST3 report them. Positions in samples are at the
//! plugin's sample rate and count from the start of the host's song.

use serde::{Deserialize, Serialize};

/// A meter such as 4/4 or 6/8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSignature {
    /// Beats per bar, in units of the denominator.
    pub numerator: u16,
    /// The note value of one beat (4 = quarter, 8 = eighth).
    pub denominator: u16,
}

impl Default for TimeSignature {
    fn default() -> Self {
        Self { numerator: 4, denominator: 4 }
    }
}

impl TimeSignature {
    /// Length of one bar in quarter-note beats (4/4 = 4, 6/8 = 3, 7/8 = 3.5).
    pub fn bar_beats(self) -> f64 {
        let den = self.denominator.max(1) as f64;
        self.numerator.max(1) as f64 * 4.0 / den
    }

    /// Parses "4/4", "6/8", ...; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let (n, d) = text.trim().split_once('/')?;
        let numerator: u16 = n.trim().parse().ok()?;
        let denominator: u16 = d.trim().parse().ok()?;
        let valid = (1..=64).contains(&numerator) && [1, 2, 4, 8, 16, 32].contains(&denominator);
        valid.then_some(Self { numerator, denominator })
    }
}

/// A constant tempo at a sample rate: the unit in which beats and samples convert.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeGrid {
    /// Quarter notes per minute.
    pub tempo: f64,
    /// Samples per second.
    pub sample_rate: f64,
    /// The meter that groups beats into bars.
    pub signature: TimeSignature,
}

impl TimeGrid {
    /// A grid at `tempo` BPM and `sample_rate` Hz in 4/4.
    pub fn new(tempo: f64, sample_rate: f64) -> Self {
        Self { tempo, sample_rate, signature: TimeSignature::default() }
    }

    /// Samples in one quarter-note beat.
    pub fn samples_per_beat(&self) -> f64 {
        self.sample_rate * 60.0 / self.tempo
    }

    /// Converts a span of beats into (fractional) samples.
    pub fn beats_to_samples(&self, beats: f64) -> f64 {
        beats * self.samples_per_beat()
    }

    /// Converts a span of samples into beats.
    pub fn samples_to_beats(&self, samples: f64) -> f64 {
        samples / self.samples_per_beat()
    }

    /// The zero-based bar that contains `beats`, and the beat inside that bar.
    pub fn bar_and_beat(&self, beats: f64) -> (i64, f64) {
        let bar_len = self.signature.bar_beats();
        let bar = (beats / bar_len).floor();
        (bar as i64, beats - bar * bar_len)
    }

    /// The beat at which zero-based `bar` starts.
    pub fn bar_start(&self, bar: i64) -> f64 {
        bar as f64 * self.signature.bar_beats()
    }
}

/// One contiguous run of a processing block: `len` samples that start at song sample `pos` and
/// at `offset` inside the host's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Offset of the run inside the host block.
    pub offset: usize,
    /// Song position of the run's first sample.
    pub pos: i64,
    /// Number of samples in the run.
    pub len: usize,
}

/// Splits a block of `len` samples starting at song sample `pos` at the loop end, if the host's
/// cycle is on and the block runs across it. Returns up to two segments and how many are used.
///
/// Hosts differ here: some split their process calls at the loop point themselves, others report
/// the position of the block's first sample only. Splitting here makes both sample-accurate.
pub fn split_at_loop(pos: i64, len: usize, loop_range: Option<(i64, i64)>) -> ([Segment; 2], usize) {
    let whole = Segment { offset: 0, pos, len };
    let empty = Segment { offset: len, pos, len: 0 };
    match loop_range {
        Some((start, end)) if end > start && pos < end && pos + len as i64 > end => {
            let first = (end - pos) as usize;
            let tail = Segment { offset: first, pos: start, len: len - first };
            ([Segment { len: first, ..whole }, tail], 2)
        }
        _ => ([whole, empty], 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beats_and_samples_round_trip() {
        let grid = TimeGrid::new(120.0, 48_000.0);
        assert_eq!(grid.samples_per_beat(), 24_000.0);
        assert_eq!(grid.beats_to_samples(8.0), 192_000.0);
        assert_eq!(grid.samples_to_beats(36_000.0), 1.5);
        let odd = TimeGrid::new(97.3, 44_100.0);
        let beats = 13.37;
        assert!((odd.samples_to_beats(odd.beats_to_samples(beats)) - beats).abs() < 1e-9);
    }

    #[test]
    fn bars_follow_the_meter() {
        let mut grid = TimeGrid::new(120.0, 48_000.0);
        assert_eq!(grid.bar_and_beat(9.5), (2, 1.5));
        assert_eq!(grid.bar_start(2), 8.0);
        grid.signature = TimeSignature::parse("6/8").unwrap();
        assert_eq!(grid.signature.bar_beats(), 3.0);
        assert_eq!(grid.bar_and_beat(7.0), (2, 1.0));
        grid.signature = TimeSignature::parse("7/8").unwrap();
        assert_eq!(grid.bar_start(2), 7.0);
        assert_eq!(grid.bar_and_beat(-1.0), (-1, 2.5));
    }

    #[test]
    fn meters_parse_or_refuse() {
        assert_eq!(TimeSignature::parse(" 3/4 "), Some(TimeSignature { numerator: 3, denominator: 4 }));
        for bad in ["", "4", "0/4", "4/0", "4/5", "x/4", "4/4/4", "65/4"] {
            assert_eq!(TimeSignature::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn blocks_split_at_the_loop_end() {
        let (segs, n) = split_at_loop(90, 20, Some((50, 100)));
        assert_eq!(n, 2);
        assert_eq!(segs[0], Segment { offset: 0, pos: 90, len: 10 });
        assert_eq!(segs[1], Segment { offset: 10, pos: 50, len: 10 });

        // A block that ends exactly at the loop end needs no split.
        let (segs, n) = split_at_loop(80, 20, Some((50, 100)));
        assert_eq!((n, segs[0]), (1, Segment { offset: 0, pos: 80, len: 20 }));
        // No loop, an empty loop, or a block past the loop: one segment.
        assert_eq!(split_at_loop(90, 20, None).1, 1);
        assert_eq!(split_at_loop(90, 20, Some((100, 100))).1, 1);
        assert_eq!(split_at_loop(120, 20, Some((50, 100))).1, 1);
    }
}
