//! The song's harmony beat by beat: the chord of every quarter-note beat heard in the context (the
//! arranger model was trained with a chord per beat, and chorales, hymns and turnarounds change
//! chord within the bar), and how well a line fits those chords.

use crate::analysis::chords::{self, ChordLabel};
use crate::stem::Note;
use crate::transcribe;

/// Where the song's beats lie in the heard audio.
#[derive(Debug, Clone, Copy)]
pub struct BeatClock {
    /// Seconds from the start of the audio to the first downbeat.
    pub origin: f64,
    /// Seconds per quarter-note beat.
    pub seconds_per_beat: f64,
    /// Quarter-note beats per bar.
    pub bar_beats: f64,
}

impl BeatClock {
    /// Seconds from the start of the audio to beat `beat` (from the first downbeat).
    fn at(&self, beat: f64) -> f64 {
        self.origin + beat * self.seconds_per_beat
    }
}

/// The chord of every quarter-note beat of the bars labelled in `bar_chords` (one per bar from the
/// first downbeat, as [`chords::label_bar`] names them): each beat's own label, the bar's where
/// nothing sounds in the beat. Measured end to end from audio (`cargo xtask evaluate-arranger`,
/// see `scripts/arranger/RESULTS.md`): falling back to the half bar's or the bar's label where a
/// beat's label is unclear fits the score's harmony worse than the beat's own label, however noisy.
pub fn beat_chords(
    heard: &[transcribe::Note],
    clock: BeatClock,
    bar_chords: &[Option<ChordLabel>],
) -> Vec<Option<ChordLabel>> {
    let bar_beats = clock.bar_beats.max(1e-3);
    let beats = (bar_chords.len() as f64 * bar_beats).ceil() as usize;
    (0..beats)
        .map(|beat| {
            let start = beat as f64;
            chords::label_span(heard, clock.at(start), clock.at(start + 1.0))
                .or_else(|| bar_chords.get(((start + 0.5) / bar_beats) as usize).cloned().flatten())
        })
        .collect()
}

/// Every bar's chord repeated on each of its quarter-note beats (chords the producer gave per bar).
pub fn per_beat(bar_chords: &[Option<ChordLabel>], bar_beats: f64) -> Vec<Option<ChordLabel>> {
    let bar_beats = bar_beats.max(1e-3);
    let beats = (bar_chords.len() as f64 * bar_beats).ceil() as usize;
    (0..beats).map(|beat| bar_chords.get(((beat as f64 + 0.5) / bar_beats) as usize).cloned().flatten()).collect()
}

/// Share of the notes' sounding time, beat by beat, whose pitch class belongs to the chord of the
/// beat (`beat_chords[b]` covers beats `b..b + 1` from the first downbeat); time on beats with no
/// chord is not counted. 0 when nothing is counted.
pub fn harmonic_fit(notes: &[Note], beat_chords: &[Option<ChordLabel>]) -> f64 {
    let (mut inside, mut total) = (0.0, 0.0);
    for n in notes.iter().filter(|n| n.start.is_finite() && n.length.is_finite() && n.length > 0.0) {
        let first = n.start.max(0.0).floor() as usize;
        let last = (n.end().ceil().max(0.0) as usize).min(beat_chords.len());
        for (beat, chord) in beat_chords.iter().enumerate().take(last).skip(first) {
            let Some(chord) = chord else { continue };
            let overlap = n.end().min(beat as f64 + 1.0) - n.start.max(beat as f64);
            if overlap <= 0.0 {
                continue;
            }
            total += overlap;
            if chord.pitch_classes().contains(&(n.key % 12)) {
                inside += overlap;
            }
        }
    }
    if total > 0.0 { inside / total } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heard(start: f64, end: f64, pitch: u8) -> transcribe::Note {
        transcribe::Note { start, end, pitch, amplitude: 0.6, pitch_bends: None, start_frame: 0, end_frame: 0 }
    }

    fn note(start: f64, length: f64, key: u8) -> Note {
        Note { start, length, key, velocity: 80 }
    }

    #[test]
    fn each_beat_gets_its_own_chord() {
        // One 4/4 bar at 60 BPM: C | - | F | G7 as chords with the root in the bass; nothing
        // sounds on the second beat.
        let mut notes = Vec::new();
        for (beat, chord) in [(0.0, &[48, 64, 67, 72][..]), (2.0, &[53, 65, 69, 72]), (3.0, &[43, 59, 62, 65])] {
            notes.extend(chord.iter().map(|&p| heard(beat, beat + 1.0, p)));
        }
        let clock = BeatClock { origin: 0.0, seconds_per_beat: 1.0, bar_beats: 4.0 };
        let bar = chords::label_bar(&notes, 0.0, 4.0, 4);
        let beats = beat_chords(&notes, clock, std::slice::from_ref(&bar));
        let names: Vec<String> = beats.iter().map(|c| c.as_ref().map_or("N".into(), |c| c.name(false))).collect();
        // The silent beat takes the bar's chord.
        assert_eq!(names, ["C", bar.as_ref().unwrap().name(false).as_str(), "F", "G7"]);
        assert_eq!(per_beat(&[bar, None], 4.0).len(), 8);
    }

    #[test]
    fn fit_is_measured_on_the_beat_each_part_of_a_note_sounds_in() {
        let c = chords::label_profile(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        let g = chords::label_profile(&[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        let beats = vec![c.clone(), c, g, None];
        // A G held over beats 2-3 fits both; an E over beats 3-4 fits beat 3 only (beat 4 has no chord).
        assert!((harmonic_fit(&[note(1.0, 2.0, 55)], &beats) - 1.0).abs() < 1e-9);
        assert!((harmonic_fit(&[note(2.0, 2.0, 52)], &beats) - 0.0).abs() < 1e-9);
        assert!((harmonic_fit(&[note(0.0, 1.0, 52), note(2.0, 1.0, 52)], &beats) - 0.5).abs() < 1e-9);
        assert_eq!(harmonic_fit(&[note(f64::NAN, 1.0, 60), note(-3.0, 1.0, 60)], &beats), 0.0);
    }
}
