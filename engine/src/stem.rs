//! Stems: what a slot holds (audio, MIDI notes or both) and how it is placed on the song.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// How many stem slots the plugin has; slot `n` sends its MIDI on channel `n`.
pub const SLOTS: usize = 16;

/// One MIDI note, placed in quarter-note beats from the start of the song.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// Start, in beats from the song start.
    pub start: f64,
    /// Length in beats.
    pub length: f64,
    /// MIDI key, 0-127.
    pub key: u8,
    /// MIDI velocity, 1-127.
    pub velocity: u8,
}

impl Note {
    /// The beat at which the note ends.
    pub fn end(&self) -> f64 {
        self.start + self.length
    }
}

/// How a stem is heard: as audio in the plugin's output, as notes on its MIDI output, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StemOutput {
    /// Audio only.
    Audio,
    /// MIDI notes only.
    Midi,
    /// Audio and MIDI.
    #[default]
    Both,
}

impl StemOutput {
    /// Whether the stem's audio is mixed into the output.
    pub fn plays_audio(self) -> bool {
        matches!(self, Self::Audio | Self::Both)
    }

    /// Whether the stem's notes are sent as MIDI.
    pub fn sends_midi(self) -> bool {
        matches!(self, Self::Midi | Self::Both)
    }
}

/// Two channels of audio at a sample rate (mono sources are duplicated into both).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StereoAudio {
    /// Samples per second.
    pub sample_rate: u32,
    /// Left channel.
    pub left: Vec<f32>,
    /// Right channel; always as long as `left`.
    pub right: Vec<f32>,
}

impl StereoAudio {
    /// Number of sample frames.
    pub fn frames(&self) -> usize {
        self.left.len()
    }

    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        self.frames() as f64 / self.sample_rate.max(1) as f64
    }
}

/// What a take that came out of an edit of the main input does in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EditPart {
    /// Not an edit: mixed into the output like any stem.
    #[default]
    None,
    /// The edit's result: over its audio's span it plays instead of the main input (the
    /// "Edit A/B" parameter brings the original back).
    ReplacesMain,
    /// The other half of an edit (what was removed, or what was left when a part was kept),
    /// kept for export and for later edits; it is not heard.
    Kept,
    /// The part a replacement wrote ("replace the bass with something busier"): mixed in like
    /// any stem while the edits are heard, silent while "Edit A/B" plays the original.
    NewPart,
}

impl EditPart {
    /// Whether this is an ordinary take, not part of an edit (stored projects leave it out).
    pub fn is_none(&self) -> bool {
        *self == EditPart::None
    }
}

/// A stem as the audio thread plays it, built off the audio thread at the plugin's sample rate
/// and handed over behind an `Arc`.
#[derive(Debug, Clone, Default)]
pub struct PlayableStem {
    /// Song sample (at the playback rate) where `audio` starts.
    pub start_sample: i64,
    /// The audio, at the playback rate; `None` for a MIDI-only stem.
    pub audio: Option<Arc<StereoAudio>>,
    /// Notes sorted by start.
    pub notes: Vec<Note>,
    /// Whether the audio plays, the notes are sent, or both.
    pub output: StemOutput,
    /// Whether the audio replaces the main input over its span, is kept silent, or is mixed in.
    pub edit: EditPart,
    /// Where edits of the main input overlap, the one of the higher layer is heard: it was made
    /// later, from the song as it sounded with the other.
    pub layer: u64,
}

/// Where a stored stem's audio lives in the content-addressed cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioRef {
    /// SHA-256 of the audio content (hex).
    pub hash: String,
    /// The sample rate the audio was made at.
    pub sample_rate: u32,
    /// Number of frames.
    pub frames: u64,
}

/// A stem as the DAW project stores it; `audio` and `notes` are the take that plays.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StemRecord {
    /// Slot index, 0-based.
    pub slot: usize,
    /// Display name.
    pub name: String,
    /// Placement in beats from the song start (what the producer sees).
    pub start_beats: f64,
    /// Placement in seconds from the song start (what the audio follows).
    pub start_seconds: f64,
    /// The tempo the stem was made at, in BPM.
    pub tempo: f64,
    /// The audio, if any.
    pub audio: Option<AudioRef>,
    /// The notes, if any, in beats from the song start.
    #[serde(default)]
    pub notes: Vec<Note>,
    /// How the stem is heard.
    #[serde(default)]
    pub output: StemOutput,
    /// Every take written for this stem (empty for imported or transcribed stems).
    #[serde(default)]
    pub takes: Vec<TakeRecord>,
    /// Index in `takes` of the one that plays.
    #[serde(default)]
    pub active_take: usize,
}

/// One generated take of a stem, kept so the producer can A/B and go back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TakeRecord {
    /// Display label ("take 2 · seed 8").
    pub label: String,
    /// The instruction that wrote it.
    pub prompt: String,
    /// The seed that reproduces it.
    pub seed: u64,
    /// Its rendered audio, if any.
    pub audio: Option<AudioRef>,
    /// Its notes, in beats from the song start.
    #[serde(default)]
    pub notes: Vec<Note>,
    /// The General MIDI program it was rendered with (`None`: drums or unknown).
    #[serde(default)]
    pub program: Option<u8>,
    /// Where its audio starts, in beats from the song start.
    #[serde(default)]
    pub start_beats: f64,
    /// Where its audio starts, in seconds from the song start.
    #[serde(default)]
    pub start_seconds: f64,
    /// For a take made by an edit of the main input: whether it replaces the input or is kept.
    #[serde(default, skip_serializing_if = "EditPart::is_none")]
    pub edit: EditPart,
    /// For an edit's takes: the part it separated ("vocals"). Edits of one part are alternatives
    /// to each other; an edit of another part is made on top of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_of: Option<String>,
    /// For an edit's takes: when it was made among the project's edits (1 is the first).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub layer: u64,
}

/// Whether a layer is unset (stored projects leave it out).
fn is_zero(layer: &u64) -> bool {
    *layer == 0
}

impl StemRecord {
    /// Makes take `take` the one that plays (its audio, notes and placement become the
    /// record's); false when there is no such take.
    pub fn activate_take(&mut self, take: usize) -> bool {
        let Some(chosen) = self.takes.get(take) else { return false };
        self.audio = chosen.audio.clone();
        self.notes = chosen.notes.clone();
        self.start_beats = chosen.start_beats;
        self.start_seconds = chosen.start_seconds;
        self.active_take = take;
        true
    }

    /// The take that plays, if the stem has takes.
    pub fn playing_take(&self) -> Option<&TakeRecord> {
        self.takes.get(self.active_take)
    }

    /// What the playing take does as part of an edit of the main input.
    pub fn edit_part(&self) -> EditPart {
        self.playing_take().map_or(EditPart::None, |t| t.edit)
    }

    /// The playing take's layer among the project's edits (0 when it is not an edit).
    pub fn edit_layer(&self) -> u64 {
        self.playing_take().map_or(0, |t| t.layer)
    }

    /// The beat after the stem's last sound, for the GUI's lane length.
    pub fn end_beats(&self) -> f64 {
        let notes_end = self.notes.iter().map(Note::end).fold(self.start_beats, f64::max);
        let audio_end = self.audio.as_ref().map_or(self.start_beats, |a| {
            self.start_beats + a.frames as f64 / a.sample_rate.max(1) as f64 * self.tempo / 60.0
        });
        notes_end.max(audio_end)
    }

    /// Whether a host tempo differs from the tempo the stem was made at by more than 0.01 BPM.
    pub fn tempo_differs(&self, host_tempo: f64) -> bool {
        (host_tempo - self.tempo).abs() > 0.01
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stem_knows_its_end_and_whether_the_host_tempo_moved() {
        let stem = StemRecord {
            slot: 0,
            name: "bass".into(),
            start_beats: 8.0,
            start_seconds: 4.0,
            tempo: 120.0,
            audio: Some(AudioRef { hash: String::new(), sample_rate: 48_000, frames: 96_000 }),
            notes: vec![Note { start: 9.0, length: 6.0, key: 40, velocity: 90 }],
            output: StemOutput::Both,
            ..StemRecord::default()
        };
        // The audio lasts 2 s = 4 beats at 120 BPM (beat 12); the last note ends at beat 15.
        assert_eq!(stem.end_beats(), 15.0);
        assert!(!stem.tempo_differs(120.0) && !stem.tempo_differs(120.005));
        assert!(stem.tempo_differs(121.0) && stem.tempo_differs(90.0));
        assert!(StemOutput::Both.plays_audio() && StemOutput::Both.sends_midi());
        assert!(!StemOutput::Midi.plays_audio() && !StemOutput::Audio.sends_midi());
    }
}
