//! The main job, headless: context audio in, a new stem out as MIDI and audio, several takes.
//!
//! Transcribes the context files (or reads the context from MIDI), writes the takes in memory
//! ([`song`]: analyse, plan, write the asked-for part one seed per take, [`parts`]: how each
//! role is written, [`harmony`]: the chord of each beat and the harmonic fit), then writes each
//! take as MIDI, renders it and mixes it with the context.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analysis::tempo::Meter;
use crate::arrange::{Chord, KeySig};
use crate::midi::{DRUM_CHANNEL, MidiParts, encode_midi, read_midi_parts};
use crate::packs::PackRegistry;
use crate::plan::{PlannedJob, Role};
use crate::render::Renderer;
use crate::resample::resample;
use crate::separate::decode::load_stereo;
use crate::stem::{Note, StereoAudio};
use crate::transcribe::{self, TranscribeOptions};
use crate::wav::write_wav;

pub mod harmony;
pub mod parts;
pub mod song;
pub use harmony::harmonic_fit;
pub use parts::{Edit, FromTake};
pub use song::{
    Arrangement, Arranger, SongInput, StemOverrides, StemRequest, TakeNotes, arrange_song, arrange_song_with,
};

/// Sample rate of the written audio.
const OUT_RATE: u32 = 44_100;
/// Voices of the arranger: soprano, alto, tenor, bass.
pub(crate) const VOICES: usize = 4;

/// What to generate.
#[derive(Debug, Clone, Default)]
pub struct GenerateOptions {
    /// Context audio files, played together.
    pub contexts: Vec<PathBuf>,
    /// The context as MIDI (bar 1 at its start, its tempo unless `tempo` is given): its notes
    /// replace the transcription; with audio contexts too, the audio is still what the mix plays.
    pub context_midi: Option<PathBuf>,
    /// The key to write in instead of the analysed one.
    pub key: Option<KeySig>,
    /// Chords instead of the analysed ones, one per bar from bar 1, repeating.
    pub chords: Vec<Chord>,
    /// An earlier take (a MIDI file this command wrote) to regenerate or vary.
    pub from: Option<PathBuf>,
    /// The producer's instruction.
    pub prompt: String,
    /// The tempo, when known (else estimated).
    pub tempo: Option<f64>,
    /// The meter.
    pub meter: Meter,
    /// Number of takes (one seed each).
    pub takes: usize,
    /// The first take's seed.
    pub seed: u64,
    /// Output folder.
    pub out: PathBuf,
}

/// One take's files and how well it fits.
#[derive(Debug, Clone, Serialize)]
pub struct Take {
    /// The seed that reproduces it.
    pub seed: u64,
    /// The stem as MIDI.
    pub midi: PathBuf,
    /// The stem rendered alone.
    pub wav: PathBuf,
    /// Context plus stem.
    pub mix: PathBuf,
    /// Number of notes.
    pub notes: usize,
    /// Share of the stem's note time whose pitch class is in the chord of the beat it sounds on
    /// (null for drums).
    pub harmonic_fit: f64,
    /// Notes per bar over the generated range.
    pub notes_per_bar: f64,
    /// Distinct pitches per bar over the generated range.
    pub distinct_pitches_per_bar: f64,
}

/// What `report.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The structured job the prompt became.
    pub job: PlannedJob,
    /// The analysis of the context the stem was written against.
    pub tempo_bpm: f64,
    /// The key written in (the analysed one unless `--key` gave one).
    pub key: String,
    /// One chord label per bar written against (the analysed ones unless `--chords` gave them).
    pub chords: Vec<String>,
    /// The key the analysis found.
    pub analysed_key: String,
    /// The chords the analysis found, one per bar.
    pub analysed_chords: Vec<String>,
    /// The bars written, 1-based inclusive.
    pub bars: [usize; 2],
    /// The role written.
    pub role: &'static str,
    /// The arranger voice used for the role ("drum kit" or "voicings" for rule-based roles).
    pub voice: &'static str,
    /// How the role was written: the learned model or rules.
    pub method: String,
    /// The drum groove style, for drums.
    pub drum_style: Option<String>,
    /// "write", or "regenerate"/"vary" of the `--from` take.
    pub edit: String,
    /// The takes.
    pub takes: Vec<Take>,
}

/// Runs the whole job and writes every file into `opts.out`; `progress` hears each step.
pub fn generate(
    registry: &mut PackRegistry,
    opts: &GenerateOptions,
    mut progress: impl FnMut(&str),
) -> Result<Report, String> {
    if opts.contexts.is_empty() && opts.context_midi.is_none() {
        return Err("generate needs at least one --context audio file or a --context-midi file".into());
    }
    let mut input = SongInput { tempo: opts.tempo, meter: opts.meter, ..SongInput::default() };
    let context_midi = match &opts.context_midi {
        Some(path) => {
            progress("reading the context MIDI");
            let parts = read_midi_parts(path)?;
            let tempo = opts.tempo.or(parts.tempo).unwrap_or(120.0);
            input.heard = heard_from_midi(&parts.pitched, tempo);
            input.from_midi = true;
            if input.heard.is_empty() {
                return Err(format!(
                    "{}: no pitched notes to write against (drums alone carry no harmony)",
                    path.display()
                ));
            }
            input.duration = input.heard.iter().map(|n| n.end).fold(0.0, f64::max);
            // The file's bar 1 starts at its first tick.
            (input.tempo, input.origin) = (Some(tempo), Some(0.0));
            Some((parts, tempo))
        }
        None => None,
    };
    for path in &opts.contexts {
        if context_midi.is_some() {
            input.duration = input.duration.max(load_stereo(path)?.seconds());
            continue;
        }
        progress("transcribing the context");
        let t = transcribe::transcribe_with_registry(registry, path, &TranscribeOptions::default())
            .map_err(|e| e.to_string())?;
        input.duration = input.duration.max(t.duration);
        input.heard.extend(t.notes);
    }
    let overrides =
        StemOverrides { key: opts.key, chords: opts.chords.clone(), from: read_take(opts.from.as_deref())? };
    let request = StemRequest { prompt: opts.prompt.clone(), takes: opts.takes, seed: opts.seed, bars: None };
    let arrangement = arrange_song_with(registry, &input, &request, &overrides, &mut progress)?;
    let Arrangement { role, program, origin, bars, .. } = arrangement;
    let (bpm, seconds_per_beat) = (arrangement.analysis.tempo.bpm, arrangement.seconds_per_beat());
    let channel = if role == Role::Drums { DRUM_CHANNEL } else { 0 };
    let program = if role == Role::Drums { None } else { program.or(Some(0)) };

    progress("rendering");
    let renderer = Renderer::open_default()?;
    let context_audio = match &context_midi {
        Some((parts, tempo)) if opts.contexts.is_empty() => render_midi_context(&renderer, parts, *tempo)?,
        _ => mix_down(&opts.contexts)?,
    };
    std::fs::create_dir_all(&opts.out).map_err(|e| format!("cannot create {}: {e}", opts.out.display()))?;
    let mut takes = Vec::new();
    for (n, take) in arrangement.takes.iter().enumerate() {
        let name = format!("{}-{}", role.name(), n + 1);
        let midi = opts.out.join(format!("{name}.mid"));
        std::fs::write(&midi, encode_midi(&take.notes, bpm, channel, program)).map_err(|e| e.to_string())?;
        // The stem's audio starts at the song's first downbeat, so it lines up with the context.
        let stem = renderer.render(&take.notes, program, -origin / seconds_per_beat, bpm, OUT_RATE, 1.0)?;
        let wav = opts.out.join(format!("{name}.wav"));
        write_wav(&wav, &stem)?;
        let mix = opts.out.join(format!("mix-{}.wav", n + 1));
        write_wav(&mix, &sum(&context_audio, &stem))?;
        takes.push(Take {
            seed: take.seed,
            midi,
            wav,
            mix,
            notes: take.notes.len(),
            harmonic_fit: take.harmonic_fit,
            notes_per_bar: take.notes_per_bar,
            distinct_pitches_per_bar: take.distinct_pitches_per_bar,
        });
    }
    let flats = arrangement.key.prefers_flats();
    let report = Report {
        job: arrangement.job,
        tempo_bpm: bpm,
        key: arrangement.key.name(),
        chords: arrangement.chords.iter().map(|c| c.map_or_else(|| "N".into(), |c| c.label().name(flats))).collect(),
        analysed_key: arrangement.analysis.key.name.clone(),
        analysed_chords: arrangement.analysis.chords.clone(),
        bars,
        role: role.name(),
        voice: match role {
            Role::Drums => "drum kit",
            Role::Chords | Role::Arpeggio => "voicings",
            _ => ["soprano", "alto", "tenor", "bass"][arrangement.voice.min(VOICES - 1)],
        },
        method: arrangement.method,
        drum_style: arrangement.drum_style,
        edit: arrangement.edit,
        takes,
    };
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(opts.out.join("report.json"), text).map_err(|e| e.to_string())?;
    Ok(report)
}

/// MIDI notes (beats from bar 1) as heard notes in seconds at `tempo`.
fn heard_from_midi(notes: &[Note], tempo: f64) -> Vec<transcribe::Note> {
    let spb = 60.0 / tempo;
    notes
        .iter()
        .map(|n| transcribe::Note {
            start: n.start * spb,
            end: n.end() * spb,
            pitch: n.key,
            amplitude: f32::from(n.velocity) / 127.0,
            pitch_bends: None,
            start_frame: 0,
            end_frame: 0,
        })
        .collect()
}

/// The earlier take at `path` (a MIDI file, beat 0 = the song's first downbeat), if given.
fn read_take(path: Option<&Path>) -> Result<Option<FromTake>, String> {
    let Some(path) = path else { return Ok(None) };
    let parts = read_midi_parts(path)?;
    let drums = parts.pitched.is_empty();
    let notes = if drums { parts.drums } else { parts.pitched };
    if notes.is_empty() {
        return Err(format!("{}: the take has no notes to regenerate or vary", path.display()));
    }
    Ok(Some(FromTake { notes, drums, program: parts.program }))
}

/// The context MIDI rendered for the mix: pitched notes on a piano, drums on the kit.
fn render_midi_context(renderer: &Renderer, parts: &MidiParts, tempo: f64) -> Result<StereoAudio, String> {
    let pitched = renderer.render(&parts.pitched, Some(parts.program.unwrap_or(0)), 0.0, tempo, OUT_RATE, 1.0)?;
    if parts.drums.is_empty() {
        return Ok(pitched);
    }
    Ok(sum(&pitched, &renderer.render(&parts.drums, None, 0.0, tempo, OUT_RATE, 1.0)?))
}

/// Spreads context notes over the arranger's voices other than `target`: at each note's onset,
/// the highest sounding note goes to the highest free voice, and so on down.
pub(crate) fn assign_voices(context: &[Note], target: usize) -> Vec<Vec<Note>> {
    let free: Vec<usize> = (0..VOICES).filter(|&v| v != target).collect();
    let mut voices = vec![Vec::new(); VOICES];
    for note in context {
        let higher = context
            .iter()
            .filter(|o| o.key > note.key && o.start <= note.start + 1e-6 && o.end() > note.start + 1e-6)
            .count();
        voices[free[higher.min(free.len() - 1)]].push(*note);
    }
    voices
}

pub(crate) fn distinct_per_bar(notes: &[Note], bar_beats: f64) -> f64 {
    let mut seen = std::collections::HashSet::new();
    for n in notes {
        seen.insert(((n.start / bar_beats).floor() as i64, n.key));
    }
    seen.len() as f64
}

/// The context files decoded, resampled to the output rate and summed.
fn mix_down(paths: &[PathBuf]) -> Result<StereoAudio, String> {
    let mut mix = StereoAudio { sample_rate: OUT_RATE, ..Default::default() };
    for path in paths {
        let audio = resample(&load_stereo(Path::new(path))?, OUT_RATE)?;
        mix = sum(&mix, &audio);
    }
    Ok(mix)
}

/// Sample-wise sum, as long as the longer input.
fn sum(a: &StereoAudio, b: &StereoAudio) -> StereoAudio {
    let frames = a.frames().max(b.frames());
    let at = |v: &Vec<f32>, i: usize| v.get(i).copied().unwrap_or(0.0);
    StereoAudio {
        sample_rate: a.sample_rate.max(b.sample_rate),
        left: (0..frames).map(|i| at(&a.left, i) + at(&b.left, i)).collect(),
        right: (0..frames).map(|i| at(&a.right, i) + at(&b.right, i)).collect(),
    }
}
