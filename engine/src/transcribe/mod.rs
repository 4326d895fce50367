//! Audio to notes with Spotify's basic-pitch, ported from the Python reference (0.4.0):
//! [`window`] cuts and stitches, [`model`] runs `nmp.onnx`, [`notes`] decodes, [`midi_out`] writes.
//!
//! Memory: audio streams through the resampler and the windower in pieces; windows run in small
//! batches. Decoding needs the whole posteriorgram (onset and note, 2 × 88 f32 per frame at
//! 86 fps, about 3.6 MB per minute); the contour (264 bins, 5.4 MB per minute) is kept only when
//! pitch bends are wanted. A 20-minute file thus holds about 180 MB with bends, 72 MB without.

pub mod constants;
pub mod midi_out;
pub mod model;
pub mod notes;
pub mod window;

use std::path::Path;

use ort::session::Session;

use crate::audio_io::{self, AudioError, MonoResampler};
use crate::packs::{PackError, PackRegistry, TaskKind};
use constants::*;
pub use notes::{Note, NoteParams};
pub use window::Posteriorgram;

/// Model key of the basic-pitch graph inside its pack.
pub const MODEL_KEY: &str = "nmp";

/// Why a transcription failed.
#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    /// The input audio could not be read.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// No usable transcriber pack or runtime.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// The model failed on a batch.
    #[error("transcription model failed: {0}")]
    Model(String),
}

/// Settings for one transcription.
#[derive(Debug, Clone)]
pub struct TranscribeOptions {
    /// Note decoding settings.
    pub params: NoteParams,
    /// Windows per model call (1 reproduces the reference exactly; larger is faster).
    pub batch: usize,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        TranscribeOptions { params: NoteParams::default(), batch: 1 }
    }
}

/// Result of a transcription.
#[derive(Debug, Clone, Default)]
pub struct Transcription {
    /// Notes in the reference's order (onset pass backwards in time, then melodia notes).
    pub notes: Vec<Note>,
    /// The stitched model outputs.
    pub posteriorgram: Posteriorgram,
    /// Input length in seconds.
    pub duration: f64,
}

/// Incremental posteriorgram builder: push 22050 Hz mono samples, then [`finish`](Self::finish).
pub struct Transcriber<'s> {
    /// The basic-pitch session.
    session: &'s mut Session,
    /// Cuts the stream into windows.
    windower: window::Windower,
    /// Windows waiting for a batch (flat).
    pending: Vec<f32>,
    /// Windows per model call.
    batch: usize,
    /// Whether to keep the contour output.
    keep_contour: bool,
    /// The output so far.
    pg: Posteriorgram,
}

impl<'s> Transcriber<'s> {
    /// A transcriber running `session` with `opts`.
    pub fn new(session: &'s mut Session, opts: &TranscribeOptions) -> Self {
        let batch = opts.batch.max(1);
        Transcriber {
            session,
            windower: window::Windower::new(),
            pending: Vec::with_capacity(batch * AUDIO_N_SAMPLES),
            batch,
            keep_contour: opts.params.pitch_bends,
            pg: Posteriorgram::default(),
        }
    }

    /// Adds samples at 22050 Hz; non-finite samples become 0.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), TranscribeError> {
        let clean: Vec<f32> = samples.iter().map(|&x| if x.is_finite() { x } else { 0.0 }).collect();
        let Self { windower, pending, batch, .. } = self;
        let mut full = Vec::new();
        windower.push(&clean, |w| {
            pending.extend_from_slice(w);
            if pending.len() == AUDIO_N_SAMPLES * *batch {
                full.push(std::mem::take(pending));
            }
        });
        for batch in full {
            self.run(&batch)?;
        }
        Ok(())
    }

    /// Runs the last windows and returns the trimmed posteriorgram.
    pub fn finish(mut self) -> Result<Posteriorgram, TranscribeError> {
        let Self { windower, pending, .. } = &mut self;
        windower.finish(|w| pending.extend_from_slice(w));
        let rest = std::mem::take(&mut self.pending);
        for batch in rest.chunks(AUDIO_N_SAMPLES * self.batch) {
            self.run(batch)?;
        }
        let n = self.windower.pushed();
        self.pg.trim(n);
        Ok(self.pg)
    }

    /// Runs one batch and appends its stitched frames.
    fn run(&mut self, windows: &[f32]) -> Result<(), TranscribeError> {
        let out = model::run(self.session, windows).map_err(TranscribeError::Model)?;
        let per = ANNOT_N_FRAMES;
        for b in 0..windows.len() / AUDIO_N_SAMPLES {
            let o = &out.onset[b * per * N_NOTES..(b + 1) * per * N_NOTES];
            let n = &out.note[b * per * N_NOTES..(b + 1) * per * N_NOTES];
            let c = &out.contour[b * per * N_CONTOUR..(b + 1) * per * N_CONTOUR];
            self.pg.append_window(o, n, self.keep_contour.then_some(c));
        }
        Ok(())
    }
}

/// Transcribes 22050 Hz mono samples held in memory.
pub fn transcribe_samples(
    session: &mut Session,
    samples: &[f32],
    opts: &TranscribeOptions,
) -> Result<Transcription, TranscribeError> {
    let mut t = Transcriber::new(session, opts);
    for piece in samples.chunks(1 << 16) {
        t.push(piece)?;
    }
    let pg = t.finish()?;
    let notes = notes::decode(&pg, &opts.params);
    Ok(Transcription { notes, posteriorgram: pg, duration: samples.len() as f64 / SAMPLE_RATE as f64 })
}

/// Decodes, downmixes and resamples a file to 22050 Hz while transcribing it.
pub fn transcribe_file(
    session: &mut Session,
    path: &Path,
    opts: &TranscribeOptions,
) -> Result<Transcription, TranscribeError> {
    // The sample rate is known only after probing, so the resampler is built on the first piece.
    let mut t = Transcriber::new(session, opts);
    let mut resampler: Option<MonoResampler> = None;
    let mut failure: Option<TranscribeError> = None;
    let info = audio_io::decode_mono_with_rate(path, |sr, piece| {
        if failure.is_some() {
            return;
        }
        let r = match resampler.as_mut() {
            Some(r) => r,
            None => match MonoResampler::new(sr, SAMPLE_RATE) {
                Ok(r) => resampler.insert(r),
                Err(e) => {
                    failure = Some(e.into());
                    return;
                }
            },
        };
        let mut sink = |s: &[f32]| {
            if failure.is_none()
                && let Err(e) = t.push(s)
            {
                failure = Some(e);
            }
        };
        if let Err(e) = r.push(piece, &mut sink) {
            failure = Some(e.into());
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(mut r) = resampler {
        let mut failure = None;
        r.finish(&mut |s: &[f32]| {
            if failure.is_none()
                && let Err(e) = t.push(s)
            {
                failure = Some(e);
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
    }
    let pg = t.finish()?;
    let notes = notes::decode(&pg, &opts.params);
    Ok(Transcription { notes, posteriorgram: pg, duration: info.frames as f64 / info.sample_rate.max(1) as f64 })
}

/// Finds the transcriber pack in `registry`, builds its session once and transcribes `path`.
pub fn transcribe_with_registry(
    registry: &mut PackRegistry,
    path: &Path,
    opts: &TranscribeOptions,
) -> Result<Transcription, TranscribeError> {
    let pack = registry.find(TaskKind::Transcriber)?.name().to_string();
    let model = registry.session(&pack, MODEL_KEY)?;
    transcribe_file(&mut model.session, path, opts)
}
