//! Audio files in (WAV, FLAC, MP3, Ogg Vorbis via symphonia), downmixed to mono, and a streaming
//! resampler (rubato), so long files pass through in bounded pieces.

use std::fs::File;
use std::path::Path;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// Why audio could not be read or converted.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The container or codec is not recognised, or the header is broken.
    #[error("{path} is not a readable audio file: {reason}")]
    Format {
        /// The file.
        path: String,
        /// symphonia's message.
        reason: String,
    },
    /// Decoding failed part way.
    #[error("{path}: decoding failed: {reason}")]
    Decode {
        /// The file.
        path: String,
        /// symphonia's message.
        reason: String,
    },
    /// Sample rate outside what we accept.
    #[error("unsupported sample rate {0} Hz (1 Hz to 768 kHz)")]
    SampleRate(u32),
    /// The resampler could not be built or failed.
    #[error("resampling failed: {0}")]
    Resample(String),
}

/// What [`decode_mono`] found in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioInfo {
    /// Source sample rate.
    pub sample_rate: u32,
    /// Source channel count.
    pub channels: usize,
    /// Mono frames delivered.
    pub frames: usize,
    /// Packets that failed to decode and were skipped.
    pub skipped_packets: usize,
}

/// Decodes `path` and hands mono f32 pieces (channel mean, non-finite samples zeroed) to `sink`.
pub fn decode_mono(path: &Path, mut sink: impl FnMut(&[f32])) -> Result<AudioInfo, AudioError> {
    decode_mono_with_rate(path, |_, piece| sink(piece))
}

/// Like [`decode_mono`], also telling the sink the source sample rate.
pub fn decode_mono_with_rate(path: &Path, mut sink: impl FnMut(u32, &[f32])) -> Result<AudioInfo, AudioError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| AudioError::Open { path: name.clone(), source })?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let format_err = |reason: String| AudioError::Format { path: name.clone(), reason };
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &FormatOptions::default(), &MetadataOptions::default())
        .map_err(|e| format_err(e.to_string()))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| format_err("no audio track".into()))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let sample_rate = params.sample_rate.ok_or_else(|| format_err("no sample rate in header".into()))?;
    if sample_rate == 0 || sample_rate > 768_000 {
        return Err(AudioError::SampleRate(sample_rate));
    }
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| format_err(e.to_string()))?;
    let mut info =
        AudioInfo { sample_rate, channels: params.channels.map_or(0, |c| c.count()), frames: 0, skipped_packets: 0 };
    let mut buf: Option<SampleBuffer<f32>> = None;
    let mut mono = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => {
                // A broken tail (e.g. a truncated file) ends the stream; nothing at all is an error.
                if info.frames == 0 {
                    return Err(AudioError::Decode { path: name, reason: e.to_string() });
                }
                break;
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => {
                info.skipped_packets += 1;
                continue;
            }
            Err(e) => return Err(AudioError::Decode { path: name, reason: e.to_string() }),
        };
        let spec = *decoded.spec();
        let channels = spec.channels.count().max(1);
        info.channels = channels;
        let needed = decoded.capacity() * channels;
        if buf.as_ref().is_none_or(|b| b.capacity() < needed) {
            buf = Some(SampleBuffer::new(decoded.capacity() as u64, spec));
        }
        let b = buf.as_mut().expect("set above");
        b.copy_interleaved_ref(decoded);
        downmix(b.samples(), channels, &mut mono);
        info.frames += mono.len();
        if !mono.is_empty() {
            sink(sample_rate, &mono);
        }
    }
    Ok(info)
}

/// Mean over channels like NumPy's `mean(axis=0)` for few channels (f32 sum, f64 divide).
fn downmix(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    out.clear();
    for frame in interleaved.chunks_exact(channels) {
        let v = if channels == 1 {
            frame[0]
        } else {
            let sum = frame.iter().fold(0.0f32, |a, &x| a + x);
            (sum as f64 / channels as f64) as f32
        };
        out.push(if v.is_finite() { v } else { 0.0 });
    }
}

/// Decodes the whole file to mono at its own rate.
pub fn load_mono(path: &Path) -> Result<(Vec<f32>, AudioInfo), AudioError> {
    let mut all = Vec::new();
    let info = decode_mono(path, |s| all.extend_from_slice(s))?;
    Ok((all, info))
}

/// Mono resampler fed in pieces of any size; passes audio through untouched when rates match.
pub struct MonoResampler {
    /// The FFT resampler, or `None` for pass-through.
    inner: Option<Fft<f32>>,
    /// Input waiting for a full chunk.
    pending: Vec<f32>,
    /// Output scratch.
    out: Vec<f32>,
    /// Output frames still to drop for the resampler's delay.
    to_trim: usize,
    /// Input frames received.
    frames_in: usize,
    /// Output frames delivered.
    frames_out: usize,
    /// Output/input rate ratio.
    ratio: f64,
}

impl MonoResampler {
    /// A resampler from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<Self, AudioError> {
        if from == 0 || to == 0 {
            return Err(AudioError::SampleRate(from.min(to)));
        }
        let inner = if from == to {
            None
        } else {
            Some(
                Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input)
                    .map_err(|e| AudioError::Resample(e.to_string()))?,
            )
        };
        let to_trim = inner.as_ref().map_or(0, |r| r.output_delay());
        let out = vec![0.0; inner.as_ref().map_or(0, |r| r.output_frames_max())];
        Ok(MonoResampler {
            inner,
            pending: Vec::new(),
            out,
            to_trim,
            frames_in: 0,
            frames_out: 0,
            ratio: to as f64 / from as f64,
        })
    }

    /// Feeds samples; resampled output goes to `sink`.
    pub fn push(&mut self, samples: &[f32], sink: &mut impl FnMut(&[f32])) -> Result<(), AudioError> {
        self.frames_in += samples.len();
        if self.inner.is_none() {
            self.frames_out += samples.len();
            sink(samples);
            return Ok(());
        }
        self.pending.extend_from_slice(samples);
        let need = self.inner.as_ref().map_or(0, |r| r.input_frames_next());
        let mut used = 0;
        while self.pending.len() - used >= need {
            let chunk = self.pending[used..used + need].to_vec();
            self.run(&chunk, None, sink)?;
            used += need;
        }
        self.pending.drain(..used);
        Ok(())
    }

    /// Flushes the tail so the output has `ceil(in * ratio)` frames in total.
    pub fn finish(&mut self, sink: &mut impl FnMut(&[f32])) -> Result<(), AudioError> {
        let Some(r) = self.inner.as_ref() else {
            return Ok(());
        };
        let need = r.input_frames_next();
        let expected = (self.frames_in as f64 * self.ratio).ceil() as usize;
        let mut chunk = std::mem::take(&mut self.pending);
        let partial = chunk.len();
        chunk.resize(need, 0.0);
        let mut first = true;
        while self.frames_out < expected {
            let p = if first { partial } else { 0 };
            first = false;
            let remaining = expected - self.frames_out;
            self.run(&chunk, Some(p), &mut |s: &[f32]| sink(&s[..s.len().min(remaining)]))?;
        }
        Ok(())
    }

    /// One resampler call; trims the start-up delay and counts what reaches the sink.
    fn run(&mut self, chunk: &[f32], partial: Option<usize>, sink: &mut impl FnMut(&[f32])) -> Result<(), AudioError> {
        let r = self.inner.as_mut().expect("only called when resampling");
        let err = |e: &dyn std::fmt::Display| AudioError::Resample(e.to_string());
        let input = InterleavedSlice::new(chunk, 1, chunk.len()).map_err(|e| err(&e))?;
        let out_len = self.out.len();
        let mut output = InterleavedSlice::new_mut(&mut self.out[..], 1, out_len).map_err(|e| err(&e))?;
        let indexing = partial.map(|p| Indexing::new().partial_len(p));
        let (_, produced) = r.process_into_buffer(&input, &mut output, indexing.as_ref()).map_err(|e| err(&e))?;
        let skip = self.to_trim.min(produced);
        self.to_trim -= skip;
        let piece = &self.out[skip..produced];
        if !piece.is_empty() {
            self.frames_out += piece.len();
            sink(piece);
        }
        Ok(())
    }
}

/// Resamples a whole mono signal (convenience for tests and short clips).
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    let mut out = Vec::with_capacity((samples.len() as f64 * to as f64 / from.max(1) as f64) as usize + 16);
    let mut r = MonoResampler::new(from, to)?;
    let mut sink = |s: &[f32]| out.extend_from_slice(s);
    r.push(samples, &mut sink)?;
    r.finish(&mut sink)?;
    Ok(out)
}
