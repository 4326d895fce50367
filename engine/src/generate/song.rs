//! The main job in memory: the notes heard in the song in, one planned stem out as notes per
//! take. The command line writes the takes to files ([`super::generate`]); the plugin places them.

use crate::analysis::{self, Analysis, AnalyzeOptions, ChordLabel, chords, tempo::Meter};
use crate::arrange::drums::DrumStyle;
use crate::arrange::rhythm::OnsetGrid;
use crate::arrange::{Chord, KeySig, Sampler};
use crate::packs::PackRegistry;
use crate::plan::{self, Action, Embedder, PlannedJob, Role, SongContext};
use crate::runtime::SessionSettings;
use crate::stem::Note;
use crate::transcribe;

use super::distinct_per_bar;
use super::harmony::{self, BeatClock, harmonic_fit};
use super::parts::{Edit, FromTake, Part};

/// Most bars a song may have (about four hours at 120 BPM in 4/4); a longer or endless duration is
/// cut to it.
const MAX_BARS: usize = 30_000;

/// The song a stem is written against.
#[derive(Debug, Clone, Default)]
pub struct SongInput {
    /// Notes heard in the context, in seconds from the start of the audio.
    pub heard: Vec<transcribe::Note>,
    /// Length of the context in seconds.
    pub duration: f64,
    /// The tempo, when known (else estimated from the notes).
    pub tempo: Option<f64>,
    /// The meter.
    pub meter: Meter,
    /// Seconds from the start of the audio to the first bar's downbeat when the host's bar grid
    /// is known (the plugin: bar 1 = the host's song beat 0); `None` takes the first detected one.
    pub origin: Option<f64>,
    /// The notes are the parts as written (a MIDI file), not transcribed from audio.
    pub from_midi: bool,
}

/// What the producer asked for.
#[derive(Debug, Clone, Default)]
pub struct StemRequest {
    /// The instruction.
    pub prompt: String,
    /// Bars to write (1-based, inclusive), overriding the prompt's (a ruler or loop selection).
    pub bars: Option<[u32; 2]>,
    /// Number of takes (one seed each).
    pub takes: usize,
    /// The first take's seed.
    pub seed: u64,
}

/// What the producer fixed beyond the prompt (`counterpart generate --key/--chords/--from`); the
/// default changes nothing. Kept apart from [`StemRequest`] so callers that build one field by
/// field keep compiling.
#[derive(Debug, Clone, Default)]
pub struct StemOverrides {
    /// The key to write in instead of the analysed one.
    pub key: Option<KeySig>,
    /// Chords to write against instead of the analysed ones: one per bar from bar 1, repeating.
    pub chords: Vec<Chord>,
    /// An earlier take to regenerate or vary over the bars ("regenerate bars 3-4", "vary this
    /// take"): its notes outside the bars are kept exactly.
    pub from: Option<FromTake>,
}

/// One take as notes, with how well it fits the song.
#[derive(Debug, Clone)]
pub struct TakeNotes {
    /// The seed that reproduces it.
    pub seed: u64,
    /// The notes, in beats from the song's first downbeat.
    pub notes: Vec<Note>,
    /// Share of the stem's note time whose pitch class is in the chord of the beat it sounds on
    /// (the chords it was written against; NaN for drums).
    pub harmonic_fit: f64,
    /// Notes per bar over the written range.
    pub notes_per_bar: f64,
    /// Distinct pitches per bar over the written range.
    pub distinct_pitches_per_bar: f64,
}

/// A planned stem written against a song, every take in memory.
#[derive(Debug, Clone)]
pub struct Arrangement {
    /// The structured job the prompt became.
    pub job: PlannedJob,
    /// The role written (the job's, or bass when it named none).
    pub role: Role,
    /// The General MIDI program the stem is rendered with.
    pub program: Option<u8>,
    /// The analysis of the context.
    pub analysis: Analysis,
    /// Seconds from the start of the audio to the first downbeat (beat 0 of the takes).
    pub origin: f64,
    /// Beats per bar.
    pub bar_beats: f64,
    /// The bars written, 1-based inclusive.
    pub bars: [usize; 2],
    /// The arranger voice used for the role (0 soprano .. 3 bass).
    pub voice: usize,
    /// The takes, in seed order.
    pub takes: Vec<TakeNotes>,
    /// The key written in (the analysed one or the override).
    pub key: KeySig,
    /// The chord of each bar written against (the analysed ones or the override), for reports.
    pub chords: Vec<Option<Chord>>,
    /// The chord of each quarter-note beat from the first downbeat: what the model was given and
    /// the harmonic fit is measured against (the analysis per beat, or the override's bar chords).
    pub beat_chords: Vec<Option<Chord>>,
    /// How the role was written (learned model or rules), for reports.
    pub method: String,
    /// The drum groove style, for drums.
    pub drum_style: Option<String>,
    /// "write", "regenerate" or "vary".
    pub edit: String,
}

impl Arrangement {
    /// Seconds per beat at the analysed tempo.
    pub fn seconds_per_beat(&self) -> f64 {
        60.0 / self.analysis.tempo.bpm
    }
}

/// The models the job runs, built once and kept between jobs: the planner's sentence embedder and
/// the arranger model. Building them costs a few hundred milliseconds, more than writing a stem.
pub struct Arranger {
    /// The planner's embedder.
    embedder: Embedder,
    /// The arranger model, or why it could not be loaded (said when a role needs it: the roles
    /// written by rule run without it).
    sampler: Result<Sampler, String>,
}

impl Arranger {
    /// Builds the planner's embedder and the arranger model from the installed packs.
    pub fn from_registry(registry: &PackRegistry, settings: &SessionSettings) -> Result<Self, String> {
        let embedder = Embedder::from_registry(registry, settings).map_err(|e| e.to_string())?;
        let sampler = Sampler::from_registry(registry, settings).map_err(|e| e.to_string());
        Ok(Self { embedder, sampler })
    }

    /// The planner's embedder, for planning a prompt without writing anything.
    pub fn embedder(&mut self) -> &mut Embedder {
        &mut self.embedder
    }

    /// Analyses the song, plans the prompt and writes every take, with a fixed key, chords, or an
    /// earlier take to regenerate or vary; `progress` hears each step and every warning.
    pub fn arrange(
        &mut self,
        input: &SongInput,
        request: &StemRequest,
        overrides: &StemOverrides,
        mut progress: impl FnMut(&str),
    ) -> Result<Arrangement, String> {
        let (heard, _) = analysis::finite_notes(&input.heard);
        // A silent context with a length still has bars: drums, or a part over given chords.
        let silent = heard.is_empty();
        if silent && !(input.duration.is_finite() && input.duration > 0.0) {
            return Err(
                "no notes were heard in the context (silent or unpitched audio) and it has no length: there is \
                 nothing to write against"
                    .into(),
            );
        }
        progress("analysing");
        let meter = input.meter;
        let analysis = analysis::analyze(&input.heard, input.duration, &AnalyzeOptions { tempo: input.tempo, meter });
        let seconds_per_beat = 60.0 / analysis.tempo.bpm;
        let origin = input.origin.unwrap_or_else(|| analysis.downbeats.first().copied().unwrap_or(0.0));
        let bar_beats = meter.beats.max(1) as f64 * 4.0 / meter.unit.max(1) as f64;
        // On a known grid the bars are the host's, not the detected ones, up to the last with music.
        let grid_origin = input.origin.or(silent.then_some(origin));
        let host_bars: Option<Vec<(f64, f64)>> = grid_origin.map(|origin| {
            let bar_seconds = bar_beats * seconds_per_beat;
            let end = if input.duration.is_finite() { input.duration } else { heard_end(&heard) };
            let count = ((end - origin) / bar_seconds - 1e-6).ceil().clamp(1.0, MAX_BARS as f64) as usize;
            let spans: Vec<(f64, f64)> =
                (0..count).map(|i| (origin + i as f64 * bar_seconds, origin + (i + 1) as f64 * bar_seconds)).collect();
            let keep = if silent { spans.len() } else { analysis::song_bars(&heard, &spans) };
            spans[..keep].to_vec()
        });
        let song_bars = host_bars.as_ref().map_or(analysis.bars.len(), Vec::len).max(1);

        progress("planning");
        let mut job = plan::plan(
            &request.prompt,
            &SongContext { bars: Some(song_bars as u32), ..SongContext::default() },
            &mut self.embedder,
        );
        let planned_warnings = job.warnings.len();
        let role = match job.role.or(overrides.from.as_ref().map(FromTake::likely_role)) {
            Some(role) => role,
            None => {
                job.warnings.push(unnamed_part(&job));
                Role::Bass
            }
        };
        let voice = match role {
            Role::Bass | Role::Drums => 3,
            Role::Melody => 0,
            Role::CounterMelody | Role::Chords => 1,
            Role::Arpeggio => 2,
            Role::Vocals => {
                return Err("vocals cannot be written, only removed or extracted (`counterpart edit`)".into());
            }
        };
        if silent {
            if role != Role::Drums && overrides.chords.is_empty() {
                return Err(format!(
                    "no notes were heard in the context (silent or unpitched audio): a {} part needs chords to \
                     follow; give them (--chords) or ask for drums",
                    role.name()
                ));
            }
            job.warnings.push(format!(
                "no notes were heard in the context (silent or unpitched audio): the {} part follows {} over its {song_bars} bars",
                role.name(),
                if role == Role::Drums { "the tempo" } else { "the given chords" }
            ));
        }
        let edit = match (&overrides.from, job.action) {
            (None, _) => Edit::Write,
            (Some(_), Some(Action::Vary)) => Edit::Vary,
            (Some(_), _) => Edit::Regenerate,
        };
        let [first, last] = match request.bars {
            Some(selection) => check_selection(selection, song_bars, &mut job),
            None => job.bars.map_or([1, song_bars], |[a, b]| [a as usize, b as usize]),
        };
        let (first, last) = (first.clamp(1, song_bars), last.clamp(1, song_bars));
        if overrides.key.is_none() {
            job.warnings.extend(analysis.warnings.iter().cloned());
        } else {
            job.warnings.extend(analysis.warnings.iter().filter(|w| !w.starts_with("the key is unclear")).cloned());
        }
        for message in job.errors.iter().chain(&job.warnings[planned_warnings..]) {
            progress(&format!("note: {message}"));
        }

        // Context notes in beats from the first downbeat, spread over the other voices by pitch.
        let context: Vec<Note> = heard
            .iter()
            .map(|n| Note {
                start: (n.start - origin) / seconds_per_beat,
                length: (n.end - n.start) / seconds_per_beat,
                key: n.pitch,
                velocity: n.velocity().max(1),
            })
            .filter(|n| n.start >= 0.0)
            .collect();
        let bar_spans: Vec<(f64, f64)> =
            host_bars.unwrap_or_else(|| analysis.bars.iter().map(|b| (b.start, b.end)).collect());
        let bar_labels: Vec<Option<ChordLabel>> = bar_spans
            .iter()
            .map(|&(start, end)| chords::label_bar(&heard, start, end, meter.beats.max(1) as usize))
            .collect();
        // The producer's chords (one per bar, repeating) win over the analysed ones; the analysed
        // ones are given to the model beat by beat, as it was trained.
        let (bar_labels, beat_labels) = if overrides.chords.is_empty() {
            let clock = BeatClock { origin, seconds_per_beat, bar_beats };
            let beats = harmony::beat_chords(&heard, clock, &bar_labels);
            (bar_labels, beats)
        } else {
            let given: Vec<Option<ChordLabel>> = (0..bar_labels.len().max(song_bars))
                .map(|b| Some(overrides.chords[b % overrides.chords.len()].label()))
                .collect();
            let beats = harmony::per_beat(&given, bar_beats);
            (given, beats)
        };
        let bar_chords: Vec<Option<Chord>> = bar_labels.iter().map(|c| c.as_ref().map(Chord::from)).collect();
        let beat_chords: Vec<Option<Chord>> = beat_labels.iter().map(|c| c.as_ref().map(Chord::from)).collect();
        let key = overrides.key.unwrap_or(KeySig { tonic: analysis.key.tonic, minor: analysis.key.mode == "minor" });
        let model_role = matches!(role, Role::Bass | Role::Melody | Role::CounterMelody);
        let sampler = match (model_role, &mut self.sampler) {
            (false, _) => None,
            (true, Ok(sampler)) => Some(sampler),
            (true, Err(e)) => return Err(e.clone()),
        };
        let shift = 12 * i16::from(job.register);
        let shifted = |(lo, hi): (u8, u8)| {
            ((i16::from(lo) + shift).clamp(0, 127) as u8, (i16::from(hi) + shift).clamp(0, 127) as u8)
        };
        let register = match role {
            Role::Chords => Some(shifted((52, 76))),
            Role::Arpeggio => Some(shifted((48, 79))),
            _ => sampler.as_ref().and_then(|s| s.config().voices.get(voice).map(|v| shifted((v.low, v.high)))),
        };
        let program = overrides.from.as_ref().and_then(|f| f.program).or(job.program).or(role.default_program());
        let drum_style = DrumStyle::from_words(&request.prompt, &job.style)
            .unwrap_or_else(|| DrumStyle::from_context(analysis.tempo.bpm, &analysis.features.onset_pattern));
        let grid = OnsetGrid::from_notes(&context, song_bars, bar_beats);
        let part = Part {
            role,
            voice,
            context: &context,
            chords: &bar_chords,
            beat_chords: &beat_chords,
            voices_known: input.from_midi,
            key,
            bars: first - 1..last,
            bar_beats,
            density: job.density,
            register,
            register_step: job.register,
            drum_style,
            grid: &grid,
            from: overrides.from.as_ref(),
            edit,
        };

        let mut sampler = sampler;
        let mut takes = Vec::new();
        for take in 0..request.takes.max(1) {
            let seed = request.seed + take as u64;
            progress(&format!("writing take {} (seed {seed})", take + 1));
            let notes = part.write(sampler.as_deref_mut(), seed)?;
            let (start, end) = part.beats();
            let inside: Vec<Note> =
                notes.iter().filter(|n| n.start >= start - 1e-9 && n.start < end - 1e-9).copied().collect();
            let bars = (last + 1 - first) as f64;
            takes.push(TakeNotes {
                seed,
                harmonic_fit: if role == Role::Drums { f64::NAN } else { harmonic_fit(&inside, &beat_labels) },
                notes_per_bar: inside.len() as f64 / bars,
                distinct_pitches_per_bar: distinct_per_bar(&inside, bar_beats) / bars,
                notes,
            });
        }
        Ok(Arrangement {
            method: part.method(),
            drum_style: (role == Role::Drums).then(|| drum_style.name().to_string()),
            edit: edit.name().to_string(),
            job,
            role,
            program,
            analysis,
            origin,
            bar_beats,
            bars: [first, last],
            voice,
            takes,
            key,
            chords: bar_chords,
            beat_chords,
        })
    }
}

/// Analyses the song, plans the prompt and writes every take; `progress` hears each step. Builds
/// the models for this one job: callers that write several keep an [`Arranger`].
pub fn arrange_song(
    registry: &mut PackRegistry,
    input: &SongInput,
    request: &StemRequest,
    progress: impl FnMut(&str),
) -> Result<Arrangement, String> {
    arrange_song_with(registry, input, request, &StemOverrides::default(), progress)
}

/// [`arrange_song`] with a fixed key, chords, or an earlier take to regenerate or vary.
pub fn arrange_song_with(
    registry: &mut PackRegistry,
    input: &SongInput,
    request: &StemRequest,
    overrides: &StemOverrides,
    progress: impl FnMut(&str),
) -> Result<Arrangement, String> {
    Arranger::from_registry(registry, &SessionSettings::default())?.arrange(input, request, overrides, progress)
}

/// When the last heard note ends, in seconds.
fn heard_end(heard: &[transcribe::Note]) -> f64 {
    heard.iter().map(|n| n.end).fold(0.0, f64::max)
}

/// What the job says when the prompt named no part it knows and a bass line is written instead.
fn unnamed_part(job: &PlannedJob) -> String {
    let words: Vec<String> =
        job.unparsed.iter().filter(|w| !w.starts_with("...")).map(|w| format!("\"{w}\"")).collect();
    match words.len() {
        0 => "no part was named; wrote a bass line".into(),
        1 => format!("{} is not a part or instrument this arranger knows; wrote a bass line instead", words[0]),
        _ => format!(
            "none of {} is a part or instrument this arranger knows; wrote a bass line instead",
            words.join(", ")
        ),
    }
}

/// The bars of a ruler or loop selection (1-based, inclusive) checked against a song of `song_bars`
/// bars as the planner checks a range in the prompt: upside down is turned round, past the end is
/// cut, wholly outside the song is the whole song; each said in the job's warnings or errors.
fn check_selection([a, b]: [u32; 2], song_bars: usize, job: &mut PlannedJob) -> [usize; 2] {
    let (mut a, mut b, n) = (a as usize, b as usize, song_bars);
    let asked = if a == b { format!("bar {a}") } else { format!("bars {a}-{b}") };
    if a.max(b) == 0 {
        job.errors.push(format!(
            "the selection ({asked}) starts before bar 1: bars are counted from 1; wrote the whole song"
        ));
        return [1, n];
    }
    if a > b {
        if b > n {
            job.errors.push(format!(
                "the selection ({asked}) runs backwards and lies outside the {n}-bar song; wrote the whole song"
            ));
            return [1, n];
        }
        std::mem::swap(&mut a, &mut b);
        job.warnings.push(format!("the selection ({asked}) runs backwards; read as bars {}-{b}", a.max(1)));
    }
    let a = a.max(1);
    if a > n {
        job.errors.push(format!("the selection ({asked}) is past the end of the {n}-bar song; wrote the whole song"));
        return [1, n];
    }
    if b > n {
        job.warnings
            .push(format!("the selection ({asked}) goes past the end of the {n}-bar song; cut to bars {a}-{n}"));
        b = n;
    }
    [a, b]
}
