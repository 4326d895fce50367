//! `model.toml`: what a model pack claims to contain, parsed and checked for internal sense.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The file name of a pack's manifest.
pub const MANIFEST: &str = "model.toml";

/// What a pack's models are for; the engine picks packs by task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// Audio to notes (basic-pitch).
    Transcriber,
    /// Text or audio to a vector.
    Embedder,
    /// Audio to stems.
    Separator,
    /// Audio to beats and downbeats.
    Beats,
    /// Symbolic music generation.
    Generator,
    /// Multi-voice symbolic inpainting: fill a voice or regenerate bars given the others.
    Arranger,
}

/// Element type of a tensor, as written in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 16-bit float.
    F16,
    /// 64-bit signed integer.
    I64,
    /// 32-bit signed integer.
    I32,
    /// 8-bit signed integer.
    I8,
    /// 8-bit unsigned integer.
    U8,
    /// Boolean.
    Bool,
}

/// One expected graph input or output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorSpec {
    /// The graph's name for it, e.g. `serving_default_input_2:0`.
    pub name: String,
    /// What the engine uses it for (e.g. "onset"); free text.
    #[serde(default)]
    pub role: Option<String>,
    /// Element type.
    pub dtype: DType,
    /// Dimensions; -1 means dynamic.
    pub shape: Vec<i64>,
}

/// One ONNX graph in the pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Name the engine asks for (e.g. "nmp").
    pub key: String,
    /// Path of the `.onnx` file relative to the pack folder.
    pub file: String,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    /// Expected inputs, all of them.
    pub inputs: Vec<TensorSpec>,
    /// Expected outputs, all of them.
    pub outputs: Vec<TensorSpec>,
}

/// A supporting file (licence, tokenizer) with its checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Path relative to the pack folder.
    pub path: String,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Pack name, unique among installed packs (e.g. "basic-pitch").
    pub name: String,
    /// The model's own version.
    pub version: String,
    /// What the pack does.
    pub task: TaskKind,
    /// SPDX licence of the weights.
    pub license: String,
    /// Audio sample rate the models expect, when they take audio.
    #[serde(default)]
    pub sample_rate: Option<u32>,
    /// One line for the UI.
    #[serde(default)]
    pub description: Option<String>,
    /// Where the files came from (free-form keys).
    #[serde(default)]
    pub provenance: BTreeMap<String, String>,
    /// Supporting files.
    #[serde(default)]
    pub files: Vec<FileSpec>,
    /// The ONNX graphs.
    pub models: Vec<ModelSpec>,
    /// How a bring-your-own separator's graph is driven (`task = "separator"` packs other than the
    /// built-in Spleeter one).
    #[serde(default)]
    pub separator: Option<SeparatorSpec>,
}

/// What a separator graph takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeparatorInput {
    /// Samples, `[batch, channels, samples]`.
    Waveform,
    /// STFT magnitudes, `[batch, channels, frames, bins]`.
    Magnitude,
}

/// What a separator graph gives per stem, in the input's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeparatorOutput {
    /// Samples (waveform input only).
    Waveform,
    /// A mask in 0..1 on the input magnitudes (magnitude input only).
    Mask,
    /// Estimated magnitudes; the engine turns them into ratio masks across the stems.
    Magnitude,
}

/// A bring-your-own separator: the graph's input and outputs, so a 4-stem export (Open-Unmix,
/// HTDemucs, ...) runs without code. The graph is the pack's first model; its outputs are one per
/// stem in `stems` order, or a single output with the stems on axis 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeparatorSpec {
    /// What the graph takes.
    pub input: SeparatorInput,
    /// What it gives.
    pub output: SeparatorOutput,
    /// Audio channels the graph takes (1 or 2); the rate is the manifest's `sample_rate`.
    pub channels: u32,
    /// Stem names, e.g. `["vocals", "drums", "bass", "other"]`.
    pub stems: Vec<String>,
    /// Samples (waveform) or frames (magnitude) per graph call.
    pub chunk: u32,
    /// FFT length (magnitude input): periodic Hann window, centred frames.
    #[serde(default)]
    pub n_fft: Option<u32>,
    /// Hop between frames (magnitude input).
    #[serde(default)]
    pub hop: Option<u32>,
    /// Bins the graph sees, from 0 (magnitude input; at most `n_fft / 2 + 1`); higher bins go to no stem.
    #[serde(default)]
    pub bins: Option<u32>,
    /// Frames (magnitude input) or samples (waveform input) of context each side of what a call
    /// keeps: calls overlap by twice this, so a convolutional graph never sees a chunk's edge where
    /// its output is used; waveform calls also crossfade over this many samples at each seam.
    /// Default: none for a magnitude input, `chunk / 8` for a waveform one.
    #[serde(default)]
    pub context: Option<u32>,
    /// What the method is, in words, for the edit report (default: a bring-your-own pack).
    #[serde(default)]
    pub description: Option<String>,
}

impl SeparatorSpec {
    /// Checks the fields against each other; errors are sentences.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=2).contains(&self.channels) {
            return Err(format!("[separator] channels must be 1 or 2, not {}", self.channels));
        }
        if self.stems.is_empty() || self.stems.iter().any(|s| s.trim().is_empty()) {
            return Err("[separator] stems must name every stem".into());
        }
        if self.chunk == 0 {
            return Err("[separator] chunk must be positive".into());
        }
        match (self.input, self.output) {
            (SeparatorInput::Waveform, SeparatorOutput::Waveform) => self.check_context("sample"),
            (SeparatorInput::Magnitude, SeparatorOutput::Mask | SeparatorOutput::Magnitude) => {
                let (Some(n_fft), Some(hop), Some(bins)) = (self.n_fft, self.hop, self.bins) else {
                    return Err("[separator] a magnitude input needs n_fft, hop and bins".into());
                };
                if n_fft < 16 || n_fft % 2 != 0 || hop == 0 || hop > n_fft || bins == 0 || bins > n_fft / 2 + 1 {
                    return Err(format!("[separator] n_fft {n_fft}, hop {hop}, bins {bins} do not fit together"));
                }
                self.check_context("frame")
            }
            (i, o) => Err(format!("[separator] a {i:?} input cannot give {o:?} outputs").to_lowercase()),
        }
    }

    /// Samples of context either side of a waveform call: `context`, or `chunk / 8`.
    pub fn waveform_context(&self) -> u32 {
        self.context.unwrap_or(self.chunk / 8)
    }

    /// Checks that `context` leaves some of a chunk (of `unit`s) to keep.
    fn check_context(&self, unit: &str) -> Result<(), String> {
        match self.context {
            Some(context) if 2 * context as u64 >= self.chunk as u64 => {
                Err(format!("[separator] context {context} leaves no {unit}s of a {}-{unit} chunk to keep", self.chunk))
            }
            _ => Ok(()),
        }
    }
}

impl Manifest {
    /// Parses the TOML text and checks it for internal sense; errors are plain sentences.
    pub fn parse(text: &str) -> Result<Self, String> {
        let m: Manifest = toml::from_str(text).map_err(|e| format!("invalid {MANIFEST}: {}", e.message()))?;
        m.check()?;
        Ok(m)
    }

    /// Checks what serde cannot: non-empty names, safe relative paths, hex digests, sane shapes.
    fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("`name` is empty".into());
        }
        if self.models.is_empty() {
            return Err("no [[models]] entries".into());
        }
        if self.sample_rate == Some(0) {
            return Err("`sample_rate` is 0".into());
        }
        if let Some(spec) = &self.separator {
            if self.task != TaskKind::Separator {
                return Err("a [separator] section needs task = \"separator\"".into());
            }
            if self.sample_rate.is_none() {
                return Err("a [separator] pack needs its `sample_rate`".into());
            }
            spec.check()?;
        }
        for f in &self.files {
            check_rel_path(&f.path)?;
            check_digest(&f.path, &f.sha256)?;
        }
        for (i, m) in self.models.iter().enumerate() {
            if self.models[..i].iter().any(|o| o.key == m.key) {
                return Err(format!("model key `{}` appears twice", m.key));
            }
            check_rel_path(&m.file)?;
            check_digest(&m.file, &m.sha256)?;
            if m.inputs.is_empty() || m.outputs.is_empty() {
                return Err(format!("model `{}` must list its inputs and outputs", m.key));
            }
            for t in m.inputs.iter().chain(&m.outputs) {
                if t.shape.iter().any(|&d| d == 0 || d < -1) {
                    return Err(format!("tensor `{}` has a bad shape {:?} (use -1 for dynamic)", t.name, t.shape));
                }
            }
        }
        Ok(())
    }

    /// The model with this key.
    pub fn model(&self, key: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.key == key)
    }
}

/// Rejects absolute paths and `..` so a manifest cannot point outside its pack.
fn check_rel_path(p: &str) -> Result<(), String> {
    let path = std::path::Path::new(p);
    if p.is_empty() || path.is_absolute() || path.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err(format!("file path `{p}` must be relative and stay inside the pack"));
    }
    Ok(())
}

/// Requires a 64-digit hex SHA-256.
fn check_digest(file: &str, d: &str) -> Result<(), String> {
    if d.len() != 64 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("sha256 of `{file}` is not 64 hex digits"));
    }
    Ok(())
}
