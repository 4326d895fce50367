//! Bring-your-own separators: any `task = "separator"` pack whose manifest has a `[separator]`
//! section ([`SeparatorSpec`]) runs here without code, e.g. a 4-stem Open-Unmix or HTDemucs export.
//!
//! - `input = "waveform"`: the audio at the pack's rate in chunks of `chunk` samples
//!   (`[1, channels, chunk]`, zero padded outside the signal); each stem comes back as samples.
//!   Calls overlap by `2 context` samples (default `chunk / 8`) and crossfade over `context`
//!   samples centred on each seam, so an HTDemucs-style graph does not click at its chunk edges.
//! - `input = "magnitude"`: an STFT (periodic Hann `n_fft`, `hop`, centred) in patches of `chunk`
//!   frames (`[1, channels, chunk, bins]`); each stem comes back as a mask, or as magnitudes that
//!   become ratio masks across the stems, applied to the complex spectrum and overlap-added.
//!   With `context = k`, calls overlap: each keeps its middle `chunk - 2k` frames, so a
//!   convolutional graph's edges never reach the output.
//!
//! Only one chunk of data is alive at a time besides the input and the stems.

use std::borrow::Cow;

use ort::session::Session;
use ort::value::TensorRef;
use realfft::num_complex::Complex32;

use super::stft::Stft;
use crate::packs::manifest::{ModelSpec, SeparatorInput, SeparatorOutput, SeparatorSpec};
use crate::packs::{Pack, TaskKind};
use crate::runtime::{BuiltSession, SessionSettings};
use crate::stem::StereoAudio;

/// A bring-your-own separator pack with its graph loaded.
pub struct ByoSeparator {
    /// The pack's `[separator]` section.
    pub spec: SeparatorSpec,
    /// The rate the graph expects.
    pub sample_rate: u32,
    /// The graph.
    session: Session,
    /// Its input's name.
    input: String,
    /// Its outputs' names.
    outputs: Vec<String>,
}

/// One separated stem.
#[derive(Debug, Clone)]
pub struct Stem {
    /// The name from the manifest.
    pub name: String,
    /// The audio, at the input's rate and length.
    pub audio: StereoAudio,
}

impl ByoSeparator {
    /// Loads the pack's first model and checks it against the `[separator]` section; errors are
    /// sentences naming the pack.
    pub fn load(pack: &Pack, settings: &SessionSettings) -> Result<Self, String> {
        let fail = |reason: String| format!("separator pack `{}`: {reason}", pack.name());
        let m = &pack.manifest;
        if m.task != TaskKind::Separator {
            return Err(fail("is not a separator (task)".into()));
        }
        let spec = m.separator.clone().ok_or_else(|| fail("has no [separator] section".into()))?;
        let sample_rate = m.sample_rate.ok_or_else(|| fail("has no sample_rate".into()))?;
        let model = m.models.first().ok_or_else(|| fail("has no model".into()))?;
        check_layout(&spec, model).map_err(fail)?;
        let BuiltSession { session, .. } = pack.load_model(&model.key, settings).map_err(|e| e.to_string())?;
        Ok(ByoSeparator {
            spec,
            sample_rate,
            session,
            input: model.inputs[0].name.clone(),
            outputs: model.outputs.iter().map(|o| o.name.clone()).collect(),
        })
    }

    /// Separates `audio` into the pack's stems, each at the input's rate and length.
    pub fn separate(&mut self, audio: &StereoAudio) -> Result<Vec<Stem>, String> {
        if audio.left.len() != audio.right.len() {
            return Err("the two channels differ in length".into());
        }
        let clean = |x: &[f32]| x.iter().map(|&v| if v.is_finite() { v } else { 0.0 }).collect();
        let cleaned =
            StereoAudio { sample_rate: audio.sample_rate, left: clean(&audio.left), right: clean(&audio.right) };
        let input = crate::resample::resample(&cleaned, self.sample_rate)?;
        let stems = match self.spec.input {
            SeparatorInput::Waveform => self.run_waveform(&input)?,
            SeparatorInput::Magnitude => self.run_magnitude(&input)?,
        };
        stems
            .into_iter()
            .zip(&self.spec.stems)
            .map(|(s, name)| {
                let mut back = crate::resample::resample(&s, audio.sample_rate)?;
                back.left.resize(audio.frames(), 0.0);
                back.right.resize(audio.frames(), 0.0);
                Ok(Stem { name: name.clone(), audio: back })
            })
            .collect()
    }

    /// Waveform in, waveform out, chunk by chunk. Each call sees `context` samples either side of
    /// the `chunk - 2 context` it keeps (samples outside the signal are silent), and neighbouring
    /// calls crossfade linearly over `context` samples centred on their seam, so each call's output is
    /// used only at least `context / 2` from its edges and no seam clicks.
    fn run_waveform(&mut self, input: &StereoAudio) -> Result<Vec<StereoAudio>, String> {
        let (channels, chunk, len) = (self.spec.channels as usize, self.spec.chunk as usize, input.frames());
        let context = self.spec.waveform_context() as usize;
        let keep = chunk - 2 * context;
        let half = context.min(keep) / 2;
        let right = if channels == 1 { 0 } else { chunk };
        let mut stems = vec![stereo(input.sample_rate, len); self.spec.stems.len()];
        let mut data = vec![0.0f32; channels * chunk];
        for start in (0..len).step_by(keep) {
            let end = (start + keep).min(len);
            data.fill(0.0);
            for w in 0..chunk {
                let Some(i) = (start + w).checked_sub(context).filter(|&i| i < len) else { continue };
                let (l, r) = (input.left[i], input.right[i]);
                if channels == 1 {
                    data[w] = 0.5 * (l + r);
                } else {
                    data[w] = l;
                    data[chunk + w] = r;
                }
            }
            let outs = self.run(&[1, channels, chunk], &data)?;
            let from = if start == 0 { 0 } else { start - half };
            let to = if end == len { len } else { end + half };
            for i in from..to {
                let weight = crossfade(i, start, end, len, half);
                let w = i + context - start;
                for (stem, out) in stems.iter_mut().zip(&outs) {
                    stem.left[i] += weight * out[w];
                    stem.right[i] += weight * out[right + w];
                }
            }
        }
        Ok(stems)
    }

    /// Magnitudes in, masks (or magnitudes) out, patch by patch, back through overlap-add. With
    /// `context`, each call sees `context` frames either side of the `chunk - 2 context` it keeps
    /// (frames outside the signal are silent).
    fn run_magnitude(&mut self, input: &StereoAudio) -> Result<Vec<StereoAudio>, String> {
        let spec = &self.spec;
        let (channels, chunk, len) = (spec.channels as usize, spec.chunk as usize, input.frames());
        let (n_fft, hop, bins) = (
            spec.n_fft.unwrap_or(4096) as usize,
            spec.hop.unwrap_or(1024) as usize,
            spec.bins.unwrap_or(1024) as usize,
        );
        let context = spec.context.unwrap_or(0) as usize;
        let keep = chunk - 2 * context;
        let output = spec.output;
        let count = spec.stems.len();
        let mut stft = Stft::with_size(n_fft, hop);
        let (spectrum, frames) = (stft.bins(), stft.frame_count(len));
        let mut stems = vec![stereo(input.sample_rate, len); count];
        let mut spectra = vec![Complex32::default(); 2 * keep * spectrum];
        let mut magnitude = vec![0.0f32; channels * chunk * bins];
        let mut masked = vec![Complex32::default(); spectrum];
        for first in (0..frames).step_by(keep) {
            let n = keep.min(frames - first);
            magnitude.fill(0.0);
            for (c, signal) in [&input.left, &input.right].into_iter().enumerate() {
                for w in 0..chunk {
                    let Some(frame) = (first + w).checked_sub(context).filter(|&f| f < frames) else { continue };
                    let z = stft.analyse(signal, frame);
                    if (context..context + n).contains(&w) {
                        spectra[(c * keep + w - context) * spectrum..][..spectrum].copy_from_slice(z);
                    }
                    let row = &mut magnitude[((c % channels) * chunk + w) * bins..][..bins];
                    let share = if channels == 1 { 0.5 } else { 1.0 };
                    for (m, z) in row.iter_mut().zip(&z[..bins]) {
                        *m += share * z.norm();
                    }
                }
            }
            let mut outs = self.run(&[1, channels, chunk, bins], &magnitude)?;
            if output == SeparatorOutput::Magnitude {
                for i in 0..magnitude.len() {
                    let total: f32 = outs.iter().map(|o| o[i].max(0.0)).sum();
                    for o in outs.iter_mut() {
                        o[i] = if total > 1e-12 { o[i].max(0.0) / total } else { 1.0 / count as f32 };
                    }
                }
            }
            for (stem, mask) in stems.iter_mut().zip(&outs) {
                for (c, channel) in [&mut stem.left, &mut stem.right].into_iter().enumerate() {
                    for t in 0..n {
                        let x = &spectra[(c * keep + t) * spectrum..][..spectrum];
                        let k = &mask[((c % channels) * chunk + context + t) * bins..][..bins];
                        masked.fill(Complex32::default());
                        for ((z, x), k) in masked.iter_mut().zip(x).zip(k) {
                            *z = x * if k.is_finite() { k.clamp(0.0, 1.0) } else { 0.0 };
                        }
                        stft.synthesise(&masked, first + t, channel);
                    }
                }
            }
        }
        for stem in stems.iter_mut() {
            for channel in [&mut stem.left, &mut stem.right] {
                for (i, x) in channel.iter_mut().enumerate() {
                    *x /= stft.envelope(i, frames);
                }
            }
        }
        Ok(stems)
    }

    /// Runs the graph on one chunk of `shape`; one flat output of the same size per stem.
    fn run(&mut self, shape: &[usize], data: &[f32]) -> Result<Vec<Vec<f32>>, String> {
        let size: usize = shape.iter().product();
        let tensor = TensorRef::from_array_view((shape.to_vec(), data)).map_err(|e| e.to_string())?;
        let outputs = self.session.run(ort::inputs![self.input.as_str() => tensor]).map_err(|e| e.to_string())?;
        let stems = self.spec.stems.len();
        let mut flat = Vec::with_capacity(stems);
        for name in &self.outputs {
            let value = outputs.get(name).ok_or_else(|| format!("model output `{name}` missing"))?;
            let (got, values) = value.try_extract_tensor::<f32>().map_err(|e| format!("output `{name}`: {e}"))?;
            let got: Vec<usize> = got.iter().map(|&d| d.max(0) as usize).collect();
            let expected: Vec<usize> =
                if self.outputs.len() == 1 { [&shape[..1], &[stems], &shape[1..]].concat() } else { shape.to_vec() };
            if got != expected {
                return Err(format!("model output `{name}` has shape {got:?}, expected {expected:?}"));
            }
            flat.extend(values.chunks_exact(size).map(<[f32]>::to_vec));
        }
        Ok(flat)
    }
}

/// Checks the manifest's tensors against the `[separator]` section: one input of the right rank
/// and channels (and bins), and one output per stem or one with the stems on axis 1.
fn check_layout(spec: &SeparatorSpec, model: &ModelSpec) -> Result<(), String> {
    let [input] = model.inputs.as_slice() else {
        return Err(format!("the separator graph must have one input, the manifest lists {}", model.inputs.len()));
    };
    let rank = match spec.input {
        SeparatorInput::Waveform => 3,
        SeparatorInput::Magnitude => 4,
    };
    let fits = |d: i64, want: usize| d == -1 || d == want as i64;
    let shape = &input.shape;
    if shape.len() != rank || !fits(shape[1], spec.channels as usize) {
        return Err(format!(
            "input `{}` has shape {shape:?}; a {:?} separator with {} channel(s) takes rank {rank} with \
             the channels on axis 1",
            input.name, spec.input, spec.channels
        )
        .to_lowercase());
    }
    if spec.input == SeparatorInput::Magnitude && !fits(shape[3], spec.bins.unwrap_or(0) as usize) {
        return Err(format!("input `{}` has {} bins, the [separator] section {:?}", input.name, shape[3], spec.bins));
    }
    let stems = spec.stems.len();
    match model.outputs.as_slice() {
        [one] if stems > 1 => {
            if one.shape.len() != rank + 1 || !fits(one.shape[1], stems) {
                return Err(format!(
                    "the single output `{}` has shape {:?}; it must hold the {stems} stems on axis 1",
                    one.name, one.shape
                ));
            }
        }
        outs if outs.len() == stems => {
            if let Some(o) = outs.iter().find(|o| o.shape.len() != rank) {
                return Err(format!("output `{}` has shape {:?}, expected rank {rank}", o.name, o.shape));
            }
        }
        outs => {
            return Err(format!("{stems} stems named but the graph lists {} outputs", outs.len()));
        }
    }
    Ok(())
}

/// The method in words for an edit report: the pack's `[separator] description`, or "a
/// bring-your-own pack".
pub fn method_text(spec: &SeparatorSpec) -> Cow<'static, str> {
    match &spec.description {
        Some(text) => text.clone().into(),
        None => "bring-your-own separator pack ([separator] in its model.toml)".into(),
    }
}

/// The weight at sample `i` of the call that keeps `start..end` of `len` samples: 1 inside, linear
/// ramps over `2 half` samples centred on each seam with a neighbour, so neighbours' weights sum to 1.
fn crossfade(i: usize, start: usize, end: usize, len: usize, half: usize) -> f32 {
    if half == 0 {
        return if (start..end).contains(&i) { 1.0 } else { 0.0 };
    }
    let width = 2.0 * half as f32;
    let rise = if start == 0 { 1.0 } else { (i as f32 - start as f32 + half as f32 + 0.5) / width };
    let fall = if end == len { 1.0 } else { (end as f32 - i as f32 + half as f32 - 0.5) / width };
    rise.clamp(0.0, 1.0) * fall.clamp(0.0, 1.0)
}

/// Silence of `len` frames at `rate`.
fn stereo(rate: u32, len: usize) -> StereoAudio {
    StereoAudio { sample_rate: rate, left: vec![0.0; len], right: vec![0.0; len] }
}
