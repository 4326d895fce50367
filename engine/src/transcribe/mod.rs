//! Audio to notes with Spotify's basic-pitch, ported from the Python reference (0.4.0):
//! [`window`] cuts and stitches, [`model`] runs `nmp.onnx`, [`notes`] decodes, [`midi_out`] writes.
//!
//! Speed: on the CPU, windows run side by side on one single-threaded session per core
//! ([`sessions`]), bit-identical to one session.
//!
//! Memory: audio streams through the resampler and the windower in pieces; windows run in rounds
//! of a few per session. Decoding needs the whole posteriorgram (onset and note, 2 × 88 f32 per
//! frame at 86 fps, about 3.6 MB per minute); the contour (264 bins, 5.4 MB per minute) is kept
//! only when pitch bends are wanted. A 20-minute file thus holds about 180 MB with bends, 72 MB without.

pub mod constants;
pub mod midi_out;
pub mod model;
pub mod notes;
pub mod sessions;
pub mod window;

use std::path::Path;

use ort::session::Session;

use crate::audio_io::{self, AudioError, MonoResampler};
use crate::packs::{PackError, PackRegistry, TaskKind};
use crate::runtime::ExecutionProvider;
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
    /// Windows per model call (1 reproduces the reference bit for bit; larger changes the last
    /// float bits of the posteriorgram, and helps a GPU or one multi-threaded session, not
    /// single-threaded sessions side by side).
    pub batch: usize,
    /// Sessions run side by side when the transcriber builds its own CPU sessions (0: one per
    /// core, up to [`sessions::MAX_CPU_SESSIONS`]; 1: one session with ONNX Runtime's threads).
    pub sessions: usize,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        TranscribeOptions { params: NoteParams::default(), batch: 1, sessions: 0 }
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

/// Model batches each session gets per round; a round holds `sessions × batch × this` windows.
const BATCHES_PER_SESSION: usize = 8;

/// Incremental posteriorgram builder: push 22050 Hz mono samples, then [`finish`](Self::finish).
pub struct Transcriber<'s> {
    /// The basic-pitch sessions, run side by side.
    sessions: &'s mut [Session],
    /// Cuts the stream into windows.
    windower: window::Windower,
    /// Windows waiting for a round (flat).
    pending: Vec<f32>,
    /// Windows per round.
    round: usize,
    /// Windows per model call.
    batch: usize,
    /// Scratch for the finite copy of pushed samples.
    clean: Vec<f32>,
    /// Whether to keep the contour output.
    keep_contour: bool,
    /// The output so far.
    pg: Posteriorgram,
}

impl<'s> Transcriber<'s> {
    /// A transcriber running `sessions` (at least one) side by side with `opts`.
    pub fn new(sessions: &'s mut [Session], opts: &TranscribeOptions) -> Self {
        let batch = opts.batch.max(1);
        let round = sessions.len().max(1) * batch * BATCHES_PER_SESSION;
        Transcriber {
            sessions,
            windower: window::Windower::new(),
            pending: Vec::with_capacity((round + 1) * AUDIO_N_SAMPLES),
            round,
            batch,
            clean: Vec::with_capacity(HOP_SIZE),
            keep_contour: opts.params.pitch_bends,
            pg: Posteriorgram::default(),
        }
    }

    /// Adds samples at 22050 Hz; non-finite samples become 0.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), TranscribeError> {
        // A hop's worth at a time completes at most one window, so a round never holds more than
        // one extra window, however much is pushed at once.
        for piece in samples.chunks(HOP_SIZE) {
            self.clean.clear();
            self.clean.extend(piece.iter().map(|&x| if x.is_finite() { x } else { 0.0 }));
            let pending = &mut self.pending;
            self.windower.push(&self.clean, |w| pending.extend_from_slice(w));
            if self.pending.len() >= self.round * AUDIO_N_SAMPLES {
                self.run_pending()?;
            }
        }
        Ok(())
    }

    /// Runs the last windows and returns the trimmed posteriorgram.
    pub fn finish(mut self) -> Result<Posteriorgram, TranscribeError> {
        let pending = &mut self.pending;
        self.windower.finish(|w| pending.extend_from_slice(w));
        while !self.pending.is_empty() {
            self.run_pending()?;
        }
        let n = self.windower.pushed();
        self.pg.trim(n);
        Ok(self.pg)
    }

    /// Runs up to a round of the pending windows and appends their stitched frames.
    fn run_pending(&mut self) -> Result<(), TranscribeError> {
        let n = self.pending.len().min((self.round + 1) * AUDIO_N_SAMPLES);
        let outputs =
            sessions::run_round(self.sessions, &self.pending[..n], self.batch).map_err(TranscribeError::Model)?;
        self.pending.drain(..n);
        let per = ANNOT_N_FRAMES;
        for out in outputs {
            for b in 0..out.onset.len() / (per * N_NOTES) {
                let o = &out.onset[b * per * N_NOTES..(b + 1) * per * N_NOTES];
                let n = &out.note[b * per * N_NOTES..(b + 1) * per * N_NOTES];
                let c = &out.contour[b * per * N_CONTOUR..(b + 1) * per * N_CONTOUR];
                self.pg.append_window(o, n, self.keep_contour.then_some(c));
            }
        }
        Ok(())
    }
}

/// Transcribes 22050 Hz mono samples held in memory on one session.
pub fn transcribe_samples(
    session: &mut Session,
    samples: &[f32],
    opts: &TranscribeOptions,
) -> Result<Transcription, TranscribeError> {
    transcribe_samples_on(std::slice::from_mut(session), samples, opts)
}

/// Transcribes 22050 Hz mono samples held in memory on `sessions` side by side.
pub fn transcribe_samples_on(
    sessions: &mut [Session],
    samples: &[f32],
    opts: &TranscribeOptions,
) -> Result<Transcription, TranscribeError> {
    let mut t = Transcriber::new(sessions, opts);
    t.push(samples)?;
    let pg = t.finish()?;
    let notes = notes::decode(&pg, &opts.params);
    Ok(Transcription { notes, posteriorgram: pg, duration: samples.len() as f64 / SAMPLE_RATE as f64 })
}

/// Decodes, downmixes and resamples a file to 22050 Hz while transcribing it on one session.
pub fn transcribe_file(
    session: &mut Session,
    path: &Path,
    opts: &TranscribeOptions,
) -> Result<Transcription, TranscribeError> {
    transcribe_file_on(std::slice::from_mut(session), path, opts)
}

/// Decodes, downmixes and resamples a file to 22050 Hz while transcribing it on `sessions` side
/// by side.
pub fn transcribe_file_on(
    sessions: &mut [Session],
    path: &Path,
    opts: &TranscribeOptions,
) -> Result<Transcription, TranscribeError> {
    // The sample rate is known only after probing, so the resampler is built on the first piece.
    let mut t = Transcriber::new(sessions, opts);
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

/// The sessions a transcription through a registry runs on: the registry's own session when it
/// runs on a GPU or one session is asked for, else `opts.sessions` CPU sessions side by side.
pub enum RegistrySessions<'r> {
    /// The registry's cached session.
    Shared(&'r mut Session),
    /// Sessions built for this transcription.
    Cpu(Vec<Session>),
}

impl RegistrySessions<'_> {
    /// Picks or builds the sessions for the transcriber pack in `registry`.
    pub fn new<'r>(
        registry: &'r mut PackRegistry,
        opts: &TranscribeOptions,
    ) -> Result<RegistrySessions<'r>, PackError> {
        let pack = registry.find(TaskKind::Transcriber)?.clone();
        let model = registry.session(pack.name(), MODEL_KEY)?;
        if model.provider != ExecutionProvider::Cpu || opts.sessions == 1 {
            return Ok(RegistrySessions::Shared(&mut model.session));
        }
        Ok(RegistrySessions::Cpu(sessions::cpu_sessions(&pack, opts.sessions)?))
    }

    /// The sessions, ready for [`transcribe_file_on`] or [`transcribe_samples_on`].
    pub fn as_mut_slice(&mut self) -> &mut [Session] {
        match self {
            RegistrySessions::Shared(s) => std::slice::from_mut(*s),
            RegistrySessions::Cpu(v) => v,
        }
    }
}

/// Finds the transcriber pack in `registry`, picks its sessions ([`RegistrySessions`]) and
/// transcribes `path`.
pub fn transcribe_with_registry(
    registry: &mut PackRegistry,
    path: &Path,
    opts: &TranscribeOptions,
) -> Result<Transcription, TranscribeError> {
    let mut sessions = RegistrySessions::new(registry, opts)?;
    transcribe_file_on(sessions.as_mut_slice(), path, opts)
}
