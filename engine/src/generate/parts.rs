//! How each role is written for one seed. Bass, melody and counter-melody: the arranger model
//! picks the pitches, the context's rhythm places the onsets ([`crate::arrange::rhythm`]). Chords
//! and arpeggio: voice-led voicings of the bar's chord ([`crate::arrange::voicing`]). Drums: the
//! groove library ([`crate::arrange::drums`]). With an earlier take, every note outside the bar
//! range is kept as it was and only the range is rewritten (regenerate) or re-pitched (vary).

use std::ops::Range;

use crate::arrange::drums::{self, DrumRequest, DrumStyle};
use crate::arrange::rhythm::{self, Lock, OnsetGrid};
use crate::arrange::{Attributes, Chord, FillRequest, KeySig, Sampler, voicing};
use crate::plan::Role;
use crate::stem::Note;

use super::assign_voices;

/// Share of the beats a variation redraws.
pub const VARY_SHARE: f64 = 0.5;

/// An earlier take to rewrite, as read from its MIDI file.
#[derive(Debug, Clone, Default)]
pub struct FromTake {
    /// Its notes, in beats from the song's first downbeat.
    pub notes: Vec<Note>,
    /// Whether it is a drum part (General MIDI channel 10).
    pub drums: bool,
    /// Its General MIDI program, when the file sets one.
    pub program: Option<u8>,
}

impl FromTake {
    /// The role a take most likely plays when the prompt names none: drums on channel 10, chords
    /// when most onsets are three notes or more, bass when it sits low, else melody.
    pub fn likely_role(&self) -> Role {
        if self.drums {
            return Role::Drums;
        }
        let n = self.notes.len().max(1);
        let stacked = self
            .notes
            .iter()
            .filter(|a| self.notes.iter().filter(|b| (a.start - b.start).abs() < 1e-3).count() >= 3)
            .count();
        let mean = self.notes.iter().map(|x| f64::from(x.key)).sum::<f64>() / n as f64;
        if stacked * 2 > n {
            Role::Chords
        } else if mean < 55.0 {
            Role::Bass
        } else {
            Role::Melody
        }
    }
}

/// What happens to the bar range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// A new part (or a take rewritten from scratch over the range).
    Write,
    /// The range of an earlier take written again; the rest kept.
    Regenerate,
    /// The range of an earlier take varied: same rhythm, some beats' pitches redrawn.
    Vary,
}

impl Edit {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Edit::Write => "write",
            Edit::Regenerate => "regenerate",
            Edit::Vary => "vary",
        }
    }
}

/// Everything a take of one part is written from.
pub struct Part<'a> {
    /// The role.
    pub role: Role,
    /// The arranger voice for model roles (0 soprano .. 3 bass).
    pub voice: usize,
    /// Context notes in beats from the first downbeat.
    pub context: &'a [Note],
    /// One chord per bar from bar 0 (the analysis or the override): what the rule-written roles voice.
    pub chords: &'a [Option<Chord>],
    /// One chord per quarter-note beat from beat 0: what the model is conditioned on.
    pub beat_chords: &'a [Option<Chord>],
    /// The model reads the context's notes as voices (exact MIDI parts). Transcribed notes are
    /// too noisy for that: the model then writes from the chords and key alone, which fits the
    /// song's harmony better (scripts/arranger/RESULTS.md, "End to end from audio").
    pub voices_known: bool,
    /// The key (the analysis or the override).
    pub key: KeySig,
    /// Bars to write, from 0.
    pub bars: Range<usize>,
    /// Beats per bar.
    pub bar_beats: f64,
    /// -1 sparser, 0, +1 busier.
    pub density: i8,
    /// Lowest and highest key for pitched roles (already shifted by `register_step`).
    pub register: Option<(u8, u8)>,
    /// -1 lower, 0, +1 higher (an octave each), as asked.
    pub register_step: i8,
    /// The groove style for drums.
    pub drum_style: DrumStyle,
    /// The context's onsets.
    pub grid: &'a OnsetGrid,
    /// The take being rewritten, if any.
    pub from: Option<&'a FromTake>,
    /// What to do with the range.
    pub edit: Edit,
}

impl Part<'_> {
    /// How this role is written, for reports.
    pub fn method(&self) -> String {
        match self.role {
            Role::Drums => {
                format!("drum pattern library ({} grooves, seeded ghost notes and fills)", self.drum_style.name())
            }
            Role::Chords => "chord voicings by rule (voice-led, struck on the context's strong onsets)".into(),
            Role::Arpeggio => "broken-chord voicings by rule".into(),
            _ if self.voices_known => {
                "arranger model (Gibbs inpainting) against the context's parts for pitch, onsets locked to the context's rhythm".into()
            }
            _ => "arranger model (Gibbs inpainting) from the song's chords and key for pitch, onsets locked to the context's rhythm".into(),
        }
    }

    /// The take for `seed`: the whole part (kept notes outside the range included), sorted. Model
    /// roles need the `sampler`.
    pub fn write(&self, sampler: Option<&mut Sampler>, seed: u64) -> Result<Vec<Note>, String> {
        let inside = match self.role {
            Role::Drums => drums::write(&DrumRequest {
                style: self.drum_style,
                density: self.density,
                bars: self.bars.clone(),
                bar_beats: self.bar_beats,
                seed,
            })?,
            Role::Chords | Role::Arpeggio => {
                let register = self.register.unwrap_or((52, 76));
                let voicings = voicing::voice_chords(self.chords, register, seed);
                if self.role == Role::Chords {
                    voicing::block_chords(&voicings, self.grid, self.bars.clone(), self.density)
                } else {
                    voicing::arpeggio(&voicings, self.grid, self.bars.clone(), self.density, seed)
                }
            }
            _ => self.model_line(sampler.ok_or("the arranger model is not loaded")?, seed)?,
        };
        let (start, end) = self.beats();
        let mut notes: Vec<Note> = self
            .from
            .map(|f| f.notes.iter().filter(|n| n.start < start - 1e-9 || n.start >= end - 1e-9).copied().collect())
            .unwrap_or_default();
        notes.extend(inside.into_iter().filter(|n| n.start >= start - 1e-9 && n.start < end - 1e-9));
        notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.key.cmp(&b.key)));
        Ok(notes)
    }

    /// The range in beats.
    pub fn beats(&self) -> (f64, f64) {
        (self.bars.start as f64 * self.bar_beats, self.bars.end as f64 * self.bar_beats)
    }

    /// The density and register asked of the model: a density request scales the notes per bar of
    /// the earlier take over the range (else of the context's voices) like the rhythm rules do; a
    /// register request asks for the middle of the shifted register. Unasked ones stay unknown.
    fn attributes(&self, voices: &[Vec<Note>]) -> Attributes {
        let (start, end) = self.beats();
        let bars = self.bars.len();
        let inside = |notes: &[Note]| -> Vec<Note> {
            notes.iter().filter(|n| n.start >= start - 1e-9 && n.start < end - 1e-9).copied().collect()
        };
        let own = self.from.map(|f| Attributes::of(&inside(&f.notes), bars)).and_then(|a| a.notes_per_bar);
        let context: Vec<f64> = (0..voices.len())
            .filter(|&v| v != self.voice)
            .filter_map(|v| Attributes::of(&inside(&voices[v]), bars).notes_per_bar)
            .collect();
        let base = own.or((!context.is_empty()).then(|| context.iter().sum::<f64>() / context.len() as f64));
        let factor = match self.density.signum() {
            -1 => Some(0.5),
            1 => Some(1.5),
            _ => None,
        };
        Attributes {
            notes_per_bar: base.zip(factor).map(|(b, f)| b * f),
            mean_key: self
                .register
                .filter(|_| self.register_step != 0)
                .map(|(lo, hi)| (f64::from(lo) + f64::from(hi)) / 2.0),
        }
    }

    /// A model-written line over the range: pitches from the sampler (seeing the earlier take
    /// outside the range as context), onsets on the context's rhythm; a variation keeps the
    /// take's own onsets and lengths and takes the varied pitches.
    fn model_line(&self, sampler: &mut Sampler, seed: u64) -> Result<Vec<Note>, String> {
        let mut voices = assign_voices(self.context, self.voice);
        if let Some(from) = self.from {
            voices[self.voice] = from.notes.clone();
        }
        let attributes = self.attributes(&voices);
        if !self.voices_known {
            // Voices with no notes are unknown to the model; the part's own earlier take stays.
            voices.iter_mut().enumerate().filter(|(v, _)| *v != self.voice).for_each(|(_, notes)| notes.clear());
        }
        let steps_per_beat = sampler.config().steps_per_beat;
        let chords: Vec<Option<Chord>> =
            self.beat_chords.iter().flat_map(|c| std::iter::repeat_n(*c, steps_per_beat)).collect();
        let vary = self.edit == Edit::Vary && self.from.is_some();
        let fill = FillRequest {
            voices,
            chords,
            key: Some(self.key),
            voice: self.voice,
            bars: self.bars.clone(),
            register: self.register,
            seed,
            vary: vary.then_some(VARY_SHARE),
            attributes,
        };
        let line = sampler.fill(&fill).map_err(|e| e.to_string())?;
        if let (true, Some(from)) = (vary, self.from) {
            let (start, end) = self.beats();
            return Ok(from
                .notes
                .iter()
                .filter(|n| n.start >= start - 1e-9 && n.start < end - 1e-9)
                .map(|n| Note { key: rhythm::pitch_at(&line, n.start + 0.125).unwrap_or(n.key), ..*n })
                .collect());
        }
        let lock = match self.role {
            Role::Bass => Lock { follow: 1.0, own: 0.0 },
            _ => Lock { follow: 0.5, own: 2.0 },
        };
        Ok(rhythm::lock_line(&line, self.grid, self.bars.clone(), self.density, lock))
    }
}
