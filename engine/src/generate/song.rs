//! The main job in memory: the notes heard in the song in, one planned stem out as notes per
//! take. The command line writes the takes to files ([`super::generate`]); the plugin places them.

use crate::analysis::{self, Analysis, AnalyzeOptions, chords, tempo::Meter};
use crate::arrange::{Chord, FillRequest, KeySig, Sampler};
use crate::packs::PackRegistry;
use crate::plan::{self, Embedder, PlannedJob, Role, SongContext};
use crate::runtime::SessionSettings;
use crate::stem::Note;
use crate::transcribe;

use super::{assign_voices, distinct_per_bar, harmonic_fit, shape_density};

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

/// One take as notes, with how well it fits the song.
#[derive(Debug, Clone)]
pub struct TakeNotes {
    /// The seed that reproduces it.
    pub seed: u64,
    /// The notes, in beats from the song's first downbeat.
    pub notes: Vec<Note>,
    /// Share of the stem's note time whose pitch class is in the bar's chord.
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
}

impl Arrangement {
    /// Seconds per beat at the analysed tempo.
    pub fn seconds_per_beat(&self) -> f64 {
        60.0 / self.analysis.tempo.bpm
    }
}

/// Analyses the song, plans the prompt and writes every take; `progress` hears each step.
pub fn arrange_song(
    registry: &mut PackRegistry,
    input: &SongInput,
    request: &StemRequest,
    mut progress: impl FnMut(&str),
) -> Result<Arrangement, String> {
    let heard = &input.heard;
    if heard.is_empty() {
        return Err(
            "no notes were heard in the context (silent or unpitched audio): there is nothing to write against".into(),
        );
    }
    progress("analysing");
    let meter = input.meter;
    let analysis = analysis::analyze(heard, input.duration, &AnalyzeOptions { tempo: input.tempo, meter });
    let seconds_per_beat = 60.0 / analysis.tempo.bpm;
    let origin = analysis.downbeats.first().copied().unwrap_or(0.0);
    let bar_beats = meter.beats.max(1) as f64 * 4.0 / meter.unit.max(1) as f64;
    let song_bars = analysis.bars.len().max(1);

    progress("planning");
    let mut embedder = Embedder::from_registry(registry, &SessionSettings::default()).map_err(|e| e.to_string())?;
    let job = plan::plan(
        &request.prompt,
        &SongContext { bars: Some(song_bars as u32), ..SongContext::default() },
        &mut embedder,
    );
    if let Some(error) = job.errors.first() {
        progress(&format!("note: {error}"));
    }
    let role = job.role.unwrap_or(Role::Bass);
    let voice = match role {
        Role::Bass => 3,
        Role::Melody => 0,
        Role::CounterMelody | Role::Chords => 1,
        Role::Arpeggio => 2,
        Role::Drums => {
            return Err(
                "drums are not written yet: only pitched parts (bass, melody, counter-melody, chords, arpeggio) are"
                    .into(),
            );
        }
        Role::Vocals => return Err("vocals cannot be written, only removed or extracted (`counterpart edit`)".into()),
    };
    let [first, last] = request.bars.or(job.bars).map_or([1, song_bars], |[a, b]| [a as usize, b as usize]);
    let (first, last) = (first.clamp(1, song_bars), last.clamp(1, song_bars));

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
    let voices = assign_voices(&context, voice);
    let chord_of_bar: Vec<Option<chords::ChordLabel>> =
        analysis.bars.iter().map(|b| chords::label_bar(heard, b.start, b.end, meter.beats.max(1) as usize)).collect();
    let mut sampler = Sampler::from_registry(registry, &SessionSettings::default()).map_err(|e| e.to_string())?;
    let steps_per_bar = sampler.config().steps_per_bar;
    let chord_steps: Vec<Option<Chord>> =
        chord_of_bar.iter().flat_map(|c| std::iter::repeat_n(c.as_ref().map(Chord::from), steps_per_bar)).collect();
    let key = KeySig { tonic: analysis.key.tonic, minor: analysis.key.mode == "minor" };
    let register = sampler.config().voices.get(voice).map(|v| {
        let shift = 12 * job.register as i16;
        ((v.low as i16 + shift).clamp(0, 127) as u8, (v.high as i16 + shift).clamp(0, 127) as u8)
    });
    let program = job.program.or(match role {
        Role::Bass => Some(33),
        _ => Some(0),
    });

    let mut takes = Vec::new();
    for take in 0..request.takes.max(1) {
        let seed = request.seed + take as u64;
        progress(&format!("writing take {} (seed {seed})", take + 1));
        let fill = FillRequest {
            voices: voices.clone(),
            chords: chord_steps.clone(),
            key: Some(key),
            voice,
            bars: first - 1..last,
            register,
            seed,
            vary: None,
        };
        let notes = shape_density(sampler.fill(&fill).map_err(|e| e.to_string())?, job.density);
        let bars = (last + 1 - first) as f64;
        takes.push(TakeNotes {
            seed,
            harmonic_fit: harmonic_fit(&notes, &chord_of_bar, bar_beats),
            notes_per_bar: notes.len() as f64 / bars,
            distinct_pitches_per_bar: distinct_per_bar(&notes, bar_beats) / bars,
            notes,
        });
    }
    Ok(Arrangement { job, role, program, analysis, origin, bar_beats, bars: [first, last], voice, takes })
}
