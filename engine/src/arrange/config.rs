//! `arranger.json`: the constants the arranger pack was trained with (grid, pitch range, voices,
//! conditioning layout, Gibbs schedule), read from the pack so the Rust side never guesses them.

use serde::Deserialize;

/// The config file inside the arranger pack.
pub const CONFIG_FILE: &str = "arranger.json";

/// A voice the model knows, with the register it was trained on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VoiceSpec {
    /// "soprano", "alto", "tenor" or "bass".
    pub name: String,
    /// Lowest MIDI key seen in training (untransposed).
    pub low: u8,
    /// Highest MIDI key seen in training (untransposed).
    pub high: u8,
}

/// One chord quality of the conditioning vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct QualitySpec {
    /// Suffix as in [`crate::analysis::chords::ChordLabel::quality`] ("", "m", "7", ...).
    pub suffix: String,
    /// Semitones above the root.
    pub intervals: Vec<u8>,
}

/// The annealed Gibbs schedule (Coconet): re-mask a share falling from `mask_max` to `mask_min`
/// over `anneal_share` of the iterations.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct GibbsSpec {
    /// Resampling rounds after the first full draw.
    pub iterations: usize,
    /// Share of target cells re-masked in the first round.
    pub mask_max: f64,
    /// Share re-masked once annealing ends.
    pub mask_min: f64,
    /// Share of the rounds over which the mask share falls.
    pub anneal_share: f64,
    /// Softmax temperature.
    pub temperature: f32,
    /// Classifier-free guidance weight of the attribute controls: logits are drawn from
    /// `free + guidance * (asked - free)`, `free` being the call with every attribute unknown;
    /// 1 asks the model once and takes what it says.
    #[serde(default = "no_guidance")]
    pub guidance: f32,
}

fn no_guidance() -> f32 {
    1.0
}

/// Where the per-voice attribute one-hots sit in the `attr` input (one row of `attr_channels`
/// per voice); the last class of each group means "unknown".
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AttrLayout {
    /// `[start, end)` of the density one-hot.
    pub density: [usize; 2],
    /// Notes-per-bar bucket edges (bucket = number of edges at or below the value).
    pub density_edges: Vec<f64>,
    /// `[start, end)` of the register one-hot.
    pub register: [usize; 2],
    /// Mean MIDI key where register bucket 0 starts.
    pub register_low: f64,
    /// Semitones per register bucket.
    pub register_width: f64,
}

impl AttrLayout {
    /// Width of one voice's row.
    pub fn channels(&self) -> usize {
        self.density[1].max(self.register[1])
    }

    /// The density class meaning "unknown".
    pub fn density_unknown(&self) -> usize {
        self.density[1] - self.density[0] - 1
    }

    /// The register class meaning "unknown".
    pub fn register_unknown(&self) -> usize {
        self.register[1] - self.register[0] - 1
    }

    /// Bucket of a notes-per-bar value.
    pub fn density_bucket(&self, notes_per_bar: f64) -> usize {
        self.density_edges.iter().filter(|&&e| e <= notes_per_bar).count().min(self.density_unknown() - 1)
    }

    /// Bucket of a mean MIDI key, clipped to the known buckets.
    pub fn register_bucket(&self, mean_key: f64) -> usize {
        let b = ((mean_key - self.register_low) / self.register_width).floor().max(0.0) as usize;
        b.min(self.register_unknown() - 1)
    }
}

/// The whole `arranger.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ArrangerConfig {
    /// Steps in the graph's fixed window.
    pub window_steps: usize,
    /// Grid steps per quarter-note beat.
    pub steps_per_beat: usize,
    /// Grid steps per bar (4/4).
    pub steps_per_bar: usize,
    /// MIDI key of pitch class 0.
    pub pitch_lo: u8,
    /// Number of pitch classes; the rest class comes after them.
    pub pitch_classes: usize,
    /// Index of the rest class (= `pitch_classes`).
    pub rest_class: usize,
    /// Width of the per-step conditioning vector.
    pub cond_channels: usize,
    /// Chord qualities, in the order of the quality one-hot.
    pub qualities: Vec<QualitySpec>,
    /// Voices in the order of the roll's voice axis.
    pub voices: Vec<VoiceSpec>,
    /// Default sampling schedule.
    pub gibbs: GibbsSpec,
    /// Per-voice attribute controls; `None` for a pack whose graph has no `attr` input.
    #[serde(default)]
    pub attr_layout: Option<AttrLayout>,
}

/// Offsets of the conditioning features (written by `scripts/arranger/model.py::cond_features`).
pub mod cond {
    /// Chord pitch classes, 12 wide.
    pub const CHROMA: usize = 0;
    /// Chord root one-hot, 12 wide.
    pub const ROOT: usize = 12;
    /// Chord quality one-hot, one per quality.
    pub const QUALITY: usize = 24;
    /// Set when no chord is given for the step.
    pub const NO_CHORD: usize = 32;
    /// Key tonic one-hot, 12 wide (all zero when the key is unknown).
    pub const KEY_TONIC: usize = 33;
    /// 1 for a minor key.
    pub const KEY_MINOR: usize = 45;
    /// Step within the bar, one-hot over `steps_per_bar`.
    pub const BAR_PHASE: usize = 46;
}

impl ArrangerConfig {
    /// Parses and checks the JSON text against the layout this code writes.
    pub fn parse(text: &str) -> Result<Self, String> {
        let c: Self = serde_json::from_str(text).map_err(|e| format!("invalid {CONFIG_FILE}: {e}"))?;
        let classes = c.rest_class + 1;
        if c.rest_class != c.pitch_classes
            || c.window_steps == 0
            || c.steps_per_beat == 0
            || c.steps_per_bar == 0
            || c.voices.is_empty()
            || classes < 2
        {
            return Err(format!("{CONFIG_FILE}: inconsistent grid or pitch range"));
        }
        if c.qualities.len() != cond::NO_CHORD - cond::QUALITY || c.cond_channels != cond::BAR_PHASE + c.steps_per_bar {
            return Err(format!("{CONFIG_FILE}: conditioning layout differs from the one this engine writes"));
        }
        if let Some(a) = &c.attr_layout
            && (a.density[1] != a.density[0] + a.density_edges.len() + 2
                || a.register[1] < a.register[0] + 2
                || a.register_width <= 0.0)
        {
            return Err(format!("{CONFIG_FILE}: attribute layout is inconsistent"));
        }
        Ok(c)
    }

    /// Number of classes per cell (pitches + rest).
    pub fn classes(&self) -> usize {
        self.rest_class + 1
    }

    /// Highest MIDI key the model can name.
    pub fn pitch_hi(&self) -> u8 {
        self.pitch_lo + (self.pitch_classes - 1) as u8
    }
}
