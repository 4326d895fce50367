//! The main job, headless: context audio in, a new stem out as MIDI and audio, several takes.
//!
//! Transcribes the context files, writes the takes in memory ([`song`]: analyse, plan, fill the
//! asked-for voice with the arranger one seed per take, shape its density), then writes each
//! take as MIDI, renders it and mixes it with the context.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analysis::{chords, tempo::Meter};
use crate::midi::encode_midi;
use crate::packs::PackRegistry;
use crate::plan::PlannedJob;
use crate::render::Renderer;
use crate::resample::resample;
use crate::separate::decode::load_stereo;
use crate::stem::{Note, StereoAudio};
use crate::transcribe::{self, TranscribeOptions};
use crate::wav::write_wav;

pub mod song;
pub use song::{Arrangement, SongInput, StemRequest, TakeNotes, arrange_song};

/// Sample rate of the written audio.
const OUT_RATE: u32 = 44_100;
/// Voices of the arranger: soprano, alto, tenor, bass.
pub(crate) const VOICES: usize = 4;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Context audio files, played together.
    pub contexts: Vec<PathBuf>,
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
    /// Share of the stem's note time whose pitch class is in the bar's chord.
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
    /// The estimated key.
    pub key: String,
    /// One chord label per bar.
    pub chords: Vec<String>,
    /// The bars written, 1-based inclusive.
    pub bars: [usize; 2],
    /// The arranger voice used for the role.
    pub voice: &'static str,
    /// The takes.
    pub takes: Vec<Take>,
}

/// Runs the whole job and writes every file into `opts.out`; `progress` hears each step.
pub fn generate(
    registry: &mut PackRegistry,
    opts: &GenerateOptions,
    mut progress: impl FnMut(&str),
) -> Result<Report, String> {
    if opts.contexts.is_empty() {
        return Err("generate needs at least one --context audio file".into());
    }
    progress("transcribing the context");
    let mut input = SongInput { tempo: opts.tempo, meter: opts.meter, ..SongInput::default() };
    for path in &opts.contexts {
        let t = transcribe::transcribe_with_registry(registry, path, &TranscribeOptions::default())
            .map_err(|e| e.to_string())?;
        input.duration = input.duration.max(t.duration);
        input.heard.extend(t.notes);
    }
    let request = StemRequest { prompt: opts.prompt.clone(), takes: opts.takes, seed: opts.seed, bars: None };
    let arrangement = arrange_song(registry, &input, &request, &mut progress)?;
    let Arrangement { role, program, origin, bar_beats, bars, .. } = arrangement;
    let (bpm, seconds_per_beat) = (arrangement.analysis.tempo.bpm, arrangement.seconds_per_beat());

    progress("rendering");
    let context_audio = mix_down(&opts.contexts)?;
    let renderer = Renderer::open_default()?;
    std::fs::create_dir_all(&opts.out).map_err(|e| format!("cannot create {}: {e}", opts.out.display()))?;
    let mut takes = Vec::new();
    for (n, take) in arrangement.takes.iter().enumerate() {
        let name = format!("{}-{}", role.name(), n + 1);
        let midi = opts.out.join(format!("{name}.mid"));
        std::fs::write(&midi, encode_midi(&take.notes, bpm, 0, program)).map_err(|e| e.to_string())?;
        // The stem's audio starts at the song's first downbeat, so it lines up with the context.
        let stem = renderer.render(&take.notes, program, -origin / seconds_per_beat, bpm, OUT_RATE, 1.0)?;
        let wav = opts.out.join(format!("{name}.wav"));
        write_wav(&wav, &stem)?;
        let mix = opts.out.join(format!("mix-{}.wav", n + 1));
        write_wav(&mix, &sum(&context_audio, &stem))?;
        let range = ((bars[0] - 1) as f64 * bar_beats, bars[1] as f64 * bar_beats);
        debug_assert!(take.notes.iter().all(|n| n.start >= range.0 - 1e-9 && n.start < range.1));
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
    let report = Report {
        job: arrangement.job,
        tempo_bpm: bpm,
        key: arrangement.analysis.key.name.clone(),
        chords: arrangement.analysis.chords.clone(),
        bars,
        voice: ["soprano", "alto", "tenor", "bass"][arrangement.voice],
        takes,
    };
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(opts.out.join("report.json"), text).map_err(|e| e.to_string())?;
    Ok(report)
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

/// Makes a line sparser (drop notes off the beat, lengthen the rest) or busier (split notes
/// of a beat or longer into eighths), so "sparser" and "busier" change notes per bar.
pub fn shape_density(notes: Vec<Note>, density: i8) -> Vec<Note> {
    match density.signum() {
        -1 => {
            let kept: Vec<Note> = notes.iter().filter(|n| (n.start.fract()).abs() < 1e-6).copied().collect();
            let kept = if kept.len() < notes.len() && !kept.is_empty() {
                kept
            } else {
                notes.iter().step_by(2).copied().collect()
            };
            // Hold each kept note until the next one.
            let mut out: Vec<Note> = kept.clone();
            for (note, next) in out.iter_mut().zip(kept.iter().skip(1)) {
                note.length = (next.start - note.start).max(note.length);
            }
            out
        }
        1 => notes
            .into_iter()
            .flat_map(|n| {
                let pieces = if n.length >= 1.0 { (n.length / 0.5).floor() as usize } else { 1 };
                let length = n.length / pieces as f64;
                (0..pieces).map(move |i| Note { start: n.start + i as f64 * length, length, ..n })
            })
            .collect(),
        _ => notes,
    }
}

/// Share of the notes' duration whose pitch class belongs to the chord of the bar they start in.
pub fn harmonic_fit(notes: &[Note], chords: &[Option<chords::ChordLabel>], bar_beats: f64) -> f64 {
    let (mut inside, mut total) = (0.0, 0.0);
    for n in notes {
        let bar = (n.start / bar_beats).floor().max(0.0) as usize;
        let Some(Some(chord)) = chords.get(bar) else { continue };
        total += n.length;
        if chord.pitch_classes().contains(&(n.key % 12)) {
            inside += n.length;
        }
    }
    if total > 0.0 { inside / total } else { 0.0 }
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
