//! Audio to notes with Spotify's basic-pitch, ported from the Python reference (0.4.0):
//! [`window`] cuts and stitches, [`model`] runs `nmp.onnx`, [`notes`] decodes, [`midi_out`] writes.
//!
//! Speed: on the CPU, windows run side by side on one single-threaded session per core
//! ([`sessions`]), bit-identical to one session; each session thread takes the next window as soon
//! as it is free while the caller's thread decodes, resamples and stitches ([`pipeline`]). By
//! default the sessions run [`folded_graph`], an equivalent rewrite of the graph that needs about
//! a quarter less CPU (same notes, posteriorgram within 1e-6); [`Graph::Reference`] keeps the
//! pack's graph and the reference's bits.
//!
//! Memory: audio streams through the resampler and the windower in pieces; a few windows per
//! session are in flight at a time. Decoding needs the whole posteriorgram (onset and note,
//! 2 × 88 f32 per frame at 86 fps, about 3.6 MB per minute); the contour (264 bins, 5.4 MB per
//! minute) is kept only when pitch bends are wanted, and the decoding works on one copy of the
//! note activations (1.8 MB per minute). A 20-minute file thus holds about 220 MB with bends,
//! 110 MB without (measured through `counterpart`, debug build: 10.1 and 5.9 MiB per minute).

pub mod constants;
pub mod folded_graph;
pub mod midi_out;
pub mod model;
pub mod notes;
pub mod pipeline;
pub mod sessions;
pub mod window;

use std::path::Path;

use ort::session::Session;

use crate::audio_io::{self, AudioError, MonoResampler};
use crate::packs::{PackError, PackRegistry, TaskKind};
use crate::runtime::ExecutionProvider;
use constants::*;
pub use notes::{Note, NoteParams};
pub use pipeline::Transcriber;
pub use sessions::Graph;
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
    /// The caller's watch asked to stop (a cancelled job).
    #[error("the transcription was stopped")]
    Stopped,
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
    /// The graph those CPU sessions run (folded by default; [`Graph::Reference`] reproduces the
    /// reference bit for bit).
    pub graph: Graph,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        TranscribeOptions { params: NoteParams::default(), batch: 1, sessions: 0, graph: Graph::default() }
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
    transcribe_samples_watched(sessions, samples, opts, &mut |_| true)
}

/// [`transcribe_samples_on`], telling `watch` the share of the samples handed to the model after
/// every second of them; when it returns false the transcription stops with
/// [`TranscribeError::Stopped`] (the windows already running finish first).
pub fn transcribe_samples_watched(
    sessions: &mut [Session],
    samples: &[f32],
    opts: &TranscribeOptions,
    watch: &mut dyn FnMut(f32) -> bool,
) -> Result<Transcription, TranscribeError> {
    let feed = |t: &mut Transcriber<'_>| {
        let mut fed = 0;
        for piece in samples.chunks(SAMPLE_RATE as usize) {
            t.push(piece)?;
            fed += piece.len();
            if !watch(fed as f32 / samples.len() as f32) {
                return Err(TranscribeError::Stopped);
            }
        }
        Ok(())
    };
    let (pg, ()) = Transcriber::run(sessions, opts, feed)?;
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
    let (pg, info) = Transcriber::run(sessions, opts, |t| {
        // The sample rate is known only after probing, so the resampler is built on the first piece.
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
        Ok(info)
    })?;
    let notes = notes::decode(&pg, &opts.params);
    Ok(Transcription { notes, posteriorgram: pg, duration: info.frames as f64 / info.sample_rate.max(1) as f64 })
}

/// The sessions a transcription through a registry runs on: the registry's own session when it
/// runs on a GPU or one session is asked for, else `opts.sessions` CPU sessions side by side
/// running `opts.graph`, built once and kept in the registry.
pub enum RegistrySessions<'r> {
    /// The registry's cached session.
    Shared(&'r mut Session),
    /// The registry's cached side-by-side CPU sessions.
    Cpu(&'r mut [Session]),
}

impl RegistrySessions<'_> {
    /// Picks the sessions for the transcriber pack in `registry`, building them on first use.
    pub fn new<'r>(
        registry: &'r mut PackRegistry,
        opts: &TranscribeOptions,
    ) -> Result<RegistrySessions<'r>, PackError> {
        let pack = registry.find(TaskKind::Transcriber)?.name().to_string();
        let provider = registry.session(&pack, MODEL_KEY)?.provider;
        if provider != ExecutionProvider::Cpu || opts.sessions == 1 {
            return Ok(RegistrySessions::Shared(&mut registry.session(&pack, MODEL_KEY)?.session));
        }
        let (requested, graph) = (opts.sessions, opts.graph);
        let id = format!("{MODEL_KEY} x{requested} {graph:?}");
        let set = registry.session_set(&pack, &id, |p| Ok(sessions::cpu_sessions_with(p, requested, graph)?.0))?;
        Ok(RegistrySessions::Cpu(set))
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
