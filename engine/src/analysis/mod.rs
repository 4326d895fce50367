//! Musical analysis of transcribed notes: tempo and beat grid, key, per-bar chords and simple
//! per-track features. Pure functions over [`Note`]s; no model needed.

pub mod chords;
pub mod features;
pub mod key;
pub mod tempo;

use serde::Serialize;

use crate::transcribe::Note;
pub use chords::ChordLabel;
pub use features::TrackFeatures;
pub use key::Key;
pub use tempo::{BeatGrid, Meter};

/// Analysis settings.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    /// Known tempo in BPM; estimated from the onsets when `None`.
    pub tempo: Option<f64>,
    /// Time signature (default 4/4).
    pub meter: Meter,
}

/// One note as reported in the analysis.
#[derive(Debug, Clone, Serialize)]
pub struct NoteOut {
    /// Start in seconds.
    pub start: f64,
    /// End in seconds.
    pub end: f64,
    /// MIDI pitch.
    pub pitch: u8,
    /// MIDI velocity.
    pub velocity: u8,
    /// Start in beats from the first downbeat.
    pub start_beat: f64,
}

/// One bar and its chord.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    /// Bar number from 0.
    pub index: usize,
    /// Start in seconds.
    pub start: f64,
    /// End in seconds.
    pub end: f64,
    /// Chord label, e.g. "Eb", "Cm", "Bb7", "F#dim", or "N" for no notes.
    pub chord: String,
    /// Template match score, 0..1.
    pub chord_score: f32,
}

/// One context track (an input file) and its features on the song's grid.
#[derive(Debug, Clone, Serialize)]
pub struct TrackOut {
    /// The track's name (its file).
    pub name: String,
    /// Its features.
    pub features: TrackFeatures,
}

/// The full `analyze` report.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Input length in seconds.
    pub duration: f64,
    /// Tempo and meter, and whether the tempo was estimated.
    pub tempo: tempo::TempoOut,
    /// Beat times in seconds.
    pub beats: Vec<f64>,
    /// Downbeat (bar start) times in seconds.
    pub downbeats: Vec<f64>,
    /// Estimated key.
    pub key: Key,
    /// Bars with chords.
    pub bars: Vec<Bar>,
    /// Chord labels, one per bar (same as `bars[i].chord`).
    pub chords: Vec<String>,
    /// Features of all the notes together.
    pub features: TrackFeatures,
    /// Features of each context track, when the notes came as tracks ([`analyze_tracks`]).
    pub tracks: Vec<TrackOut>,
    /// The notes.
    pub notes: Vec<NoteOut>,
    /// What the analysis ignored or could not tell: notes with broken times, an unclear key.
    pub warnings: Vec<String>,
}

/// Runs every analysis step over the notes of a clip of `duration` seconds. Notes whose start or
/// end is not a finite time are left out (and counted in `warnings`); the song's bars end with the
/// last bar that has music in it (see [`song_bars`]).
pub fn analyze(notes: &[Note], duration: f64, opts: &AnalyzeOptions) -> Analysis {
    analyze_on_grid(notes, duration, opts).0
}

/// [`analyze`] of the song the named tracks make together, with each track's features on the
/// song's beat grid in `tracks`.
pub fn analyze_tracks(tracks: &[(String, Vec<Note>)], duration: f64, opts: &AnalyzeOptions) -> Analysis {
    let all: Vec<Note> = tracks.iter().flat_map(|(_, notes)| notes.iter().cloned()).collect();
    let (mut analysis, grid) = analyze_on_grid(&all, duration, opts);
    analysis.tracks = tracks
        .iter()
        .map(|(name, notes)| TrackOut {
            name: name.clone(),
            features: features::track_features(&finite_notes(notes).0, &grid),
        })
        .collect();
    analysis
}

/// [`analyze`], and the beat grid it used.
fn analyze_on_grid(notes: &[Note], duration: f64, opts: &AnalyzeOptions) -> (Analysis, BeatGrid) {
    let (notes, dropped) = finite_notes(notes);
    let notes = &notes[..];
    let grid = tempo::beat_grid(notes, duration, opts.tempo, opts.meter);
    let key = key::estimate(notes);
    let mut warnings = Vec::new();
    if dropped > 0 {
        warnings.push(format!("{dropped} note(s) with an infinite or undefined start or end time were ignored"));
    }
    if !notes.is_empty() && !key.is_clear() {
        warnings.push(key::unclear_warning(&key));
    }
    let flats = key.prefers_flats();
    let spans: Vec<(f64, f64)> = grid.bars().collect();
    let spans = &spans[..song_bars(notes, &spans)];
    let bars: Vec<Bar> = spans
        .iter()
        .copied()
        .enumerate()
        .map(|(index, (start, end))| {
            let label = chords::label_bar(notes, start, end, grid.meter.beats as usize);
            Bar {
                index,
                start,
                end,
                chord: label.as_ref().map_or_else(|| "N".to_string(), |l| l.name(flats)),
                chord_score: label.map_or(0.0, |l| l.score),
            }
        })
        .collect();
    let features = features::track_features(notes, &grid);
    let mut sorted: Vec<&Note> = notes.iter().collect();
    sorted.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.pitch.cmp(&b.pitch)));
    let analysis = Analysis {
        duration,
        tempo: grid.tempo_out(),
        beats: grid.beats.clone(),
        downbeats: spans.iter().map(|b| b.0).collect(),
        key,
        chords: bars.iter().map(|b| b.chord.clone()).collect(),
        bars,
        features,
        tracks: Vec::new(),
        notes: sorted
            .into_iter()
            .map(|n| NoteOut {
                start: n.start,
                end: n.end,
                pitch: n.pitch,
                velocity: n.velocity(),
                start_beat: grid.beat_position(n.start),
            })
            .collect(),
        warnings,
    };
    (analysis, grid)
}

/// The notes whose start and end are finite times, and how many were not.
pub fn finite_notes(notes: &[Note]) -> (Vec<Note>, usize) {
    let kept: Vec<Note> = notes.iter().filter(|n| n.start.is_finite() && n.end.is_finite()).cloned().collect();
    let dropped = notes.len() - kept.len();
    (kept, dropped)
}

/// A note starting within this of the end of a note of the same pitch continues it: the
/// transcriber splits a long note decaying in its release.
const CONTINUATION_S: f64 = 0.03;

/// How many of `bars` (start, end seconds, in order) the song has: up to the last bar in which a
/// note starts (lasting an eighth of the bar or more: the transcriber hears short blips in an
/// organ's or a reverb's release; and not merely continuing a note of the same pitch) or notes
/// sound for most of it, so the release tail of the last chord adds no bar. At least one when
/// there are bars.
pub fn song_bars(notes: &[Note], bars: &[(f64, f64)]) -> usize {
    let continues = |n: &Note| {
        notes.iter().any(|m| m.pitch == n.pitch && m.start < n.start && (n.start - m.end).abs() <= CONTINUATION_S)
    };
    let counts = |&(start, end): &(f64, f64)| {
        let shortest = (end - start) / 8.0;
        let starts_here = |n: &&Note| n.start >= start && n.start < end && n.end - n.start >= shortest;
        if notes.iter().filter(starts_here).any(|n| !continues(n)) {
            return true;
        }
        let mut sounding: Vec<(f64, f64)> =
            notes.iter().map(|n| (n.start.max(start), n.end.min(end))).filter(|(a, b)| b > a).collect();
        sounding.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (mut covered, mut reach) = (0.0, start);
        for (a, b) in sounding {
            covered += (b - a.max(reach)).max(0.0);
            reach = reach.max(b);
        }
        covered > 0.5 * (end - start)
    };
    bars.iter().rposition(counts).map_or(bars.len().min(1), |last| last + 1)
}

/// Pitch-class names with sharps.
pub const SHARP_NAMES: [&str; 12] = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
/// Pitch-class names with flats.
pub const FLAT_NAMES: [&str; 12] = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"];

/// Pitch-class profile of the notes overlapping `[start, end)`, weighted by overlap × velocity.
pub fn pitch_class_profile(notes: &[Note], start: f64, end: f64) -> [f32; 12] {
    let mut pcp = [0.0f32; 12];
    for n in notes {
        let overlap = n.end.min(end) - n.start.max(start);
        if overlap > 0.0 {
            pcp[(n.pitch % 12) as usize] += (overlap * (0.25 + n.amplitude as f64)) as f32;
        }
    }
    pcp
}
