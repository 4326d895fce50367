//! The transcription pipeline: the caller pushes samples (decoding and resampling on its own
//! thread), the windower cuts them, one thread per session takes the next window as soon as it
//! is free, and the outputs are stitched back in window order while later windows still run.
//!
//! Memory stays bounded for any input length: at most [`IN_FLIGHT_PER_SESSION`] batches per
//! session are queued, running or waiting for an earlier one, and their buffers are reused.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::{Scope, ScopedJoinHandle};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use ort::session::Session;

use super::constants::*;
use super::model::{self, BatchOutput};
use super::window::{Posteriorgram, Windower};
use super::{TranscribeError, TranscribeOptions};
use crate::runtime::panic_message;

/// Batches per session that may be queued, running or waiting to be stitched at once.
const IN_FLIGHT_PER_SESSION: usize = 3;

/// A batch of windows for a session thread.
struct Job {
    /// Position of the batch in the stream.
    index: usize,
    /// The windows, flat.
    windows: Vec<f32>,
}

/// A batch's outputs, with its buffer back for reuse.
struct Done {
    /// Position of the batch in the stream.
    index: usize,
    /// The input buffer, returned.
    windows: Vec<f32>,
    /// The model's outputs.
    output: Result<BatchOutput, String>,
}

/// Streams samples through the model sessions; made and finished by [`Transcriber::run`].
pub struct Transcriber<'scope> {
    /// Cuts the stream into windows.
    windower: Windower,
    /// Windows cut but not yet sent (flat).
    filling: Vec<f32>,
    /// Windows per model call.
    batch: usize,
    /// Queue of batches for the session threads; `None` once the last was sent.
    jobs: Option<Sender<Job>>,
    /// Outputs from the session threads, in the order they finish.
    done: Receiver<Done>,
    /// The session threads.
    workers: Vec<ScopedJoinHandle<'scope, ()>>,
    /// Batches sent so far.
    sent: usize,
    /// Batches stitched so far.
    stitched: usize,
    /// Most batches sent but not yet stitched.
    limit: usize,
    /// Outputs that finished before an earlier batch.
    waiting: BTreeMap<usize, BatchOutput>,
    /// Returned batch buffers.
    free: Vec<Vec<f32>>,
    /// Scratch for the finite copy of pushed samples.
    clean: Vec<f32>,
    /// Whether to keep the contour output.
    keep_contour: bool,
    /// The output so far.
    pg: Posteriorgram,
}

impl<'scope> Transcriber<'scope> {
    /// Starts one thread per session, lets `feed` push the samples, then runs the last windows
    /// and returns the trimmed posteriorgram with what `feed` returned.
    pub fn run<R>(
        sessions: &mut [Session],
        opts: &TranscribeOptions,
        feed: impl FnOnce(&mut Transcriber<'_>) -> Result<R, TranscribeError>,
    ) -> Result<(Posteriorgram, R), TranscribeError> {
        if sessions.is_empty() {
            return Err(TranscribeError::Model("no model session to run the transcriber on".into()));
        }
        std::thread::scope(|scope| {
            let mut t = Transcriber::start(scope, sessions, opts);
            let fed = feed(&mut t)?;
            Ok((t.finish()?, fed))
        })
    }

    /// Spawns the session threads.
    fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        sessions: &'env mut [Session],
        opts: &TranscribeOptions,
    ) -> Self {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let (results, done) = crossbeam_channel::unbounded::<Done>();
        let limit = sessions.len() * IN_FLIGHT_PER_SESSION;
        let workers = sessions
            .iter_mut()
            .map(|session| {
                let (queue, results) = (queue.clone(), results.clone());
                scope.spawn(move || work(session, &queue, &results))
            })
            .collect();
        let batch = opts.batch.max(1);
        Transcriber {
            windower: Windower::new(),
            filling: Vec::with_capacity((batch + 1) * AUDIO_N_SAMPLES),
            batch,
            jobs: Some(jobs),
            done,
            workers,
            sent: 0,
            stitched: 0,
            limit,
            waiting: BTreeMap::new(),
            free: Vec::new(),
            clean: Vec::with_capacity(HOP_SIZE),
            keep_contour: opts.params.pitch_bends,
            pg: Posteriorgram::default(),
        }
    }

    /// Adds samples at 22050 Hz; non-finite samples become 0.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), TranscribeError> {
        // A hop's worth at a time completes at most one window.
        for piece in samples.chunks(HOP_SIZE) {
            self.clean.clear();
            self.clean.extend(piece.iter().map(|&x| if x.is_finite() { x } else { 0.0 }));
            let filling = &mut self.filling;
            self.windower.push(&self.clean, |w| filling.extend_from_slice(w));
            if self.filling.len() >= self.batch * AUDIO_N_SAMPLES {
                self.send()?;
            }
        }
        Ok(())
    }

    /// Sends the last windows, waits for every output and returns the trimmed posteriorgram.
    fn finish(mut self) -> Result<Posteriorgram, TranscribeError> {
        let filling = &mut self.filling;
        self.windower.finish(|w| filling.extend_from_slice(w));
        while !self.filling.is_empty() {
            self.send()?;
        }
        self.jobs = None; // the session threads end once the queue is empty
        while self.stitched < self.sent {
            self.receive(true)?;
        }
        for worker in std::mem::take(&mut self.workers) {
            worker.join().map_err(|p| TranscribeError::Model(format!("model thread failed: {}", panic_message(&p))))?;
        }
        let n = self.windower.pushed();
        self.pg.trim(n);
        Ok(std::mem::take(&mut self.pg))
    }

    /// Sends up to a batch of the cut windows, first waiting while too many are in flight, then
    /// stitches whatever has finished.
    fn send(&mut self) -> Result<(), TranscribeError> {
        while self.sent - self.stitched >= self.limit {
            self.receive(true)?;
        }
        let n = self.filling.len().min(self.batch * AUDIO_N_SAMPLES);
        let mut windows = self.free.pop().unwrap_or_default();
        windows.clear();
        windows.extend_from_slice(&self.filling[..n]);
        self.filling.drain(..n);
        let jobs = self.jobs.as_ref().ok_or_else(|| TranscribeError::Model("transcription already finished".into()))?;
        jobs.send(Job { index: self.sent, windows })
            .map_err(|_| TranscribeError::Model("the model threads stopped".into()))?;
        self.sent += 1;
        while self.receive(false)? {}
        Ok(())
    }

    /// Takes one finished batch (waiting for it when `block`) and stitches every batch that is
    /// next in order; `false` when nothing had finished.
    fn receive(&mut self, block: bool) -> Result<bool, TranscribeError> {
        let stopped = || TranscribeError::Model("the model threads stopped".into());
        let done = if block {
            self.done.recv().map_err(|_| stopped())?
        } else {
            match self.done.try_recv() {
                Ok(d) => d,
                Err(TryRecvError::Empty) => return Ok(false),
                Err(TryRecvError::Disconnected) => return Err(stopped()),
            }
        };
        self.free.push(done.windows);
        self.waiting.insert(done.index, done.output.map_err(TranscribeError::Model)?);
        while let Some(out) = self.waiting.remove(&self.stitched) {
            self.stitch(&out);
            self.stitched += 1;
        }
        Ok(true)
    }

    /// Appends one batch's windows to the posteriorgram.
    fn stitch(&mut self, out: &BatchOutput) {
        let per = ANNOT_N_FRAMES;
        for b in 0..out.onset.len() / (per * N_NOTES) {
            let o = &out.onset[b * per * N_NOTES..(b + 1) * per * N_NOTES];
            let n = &out.note[b * per * N_NOTES..(b + 1) * per * N_NOTES];
            let c = &out.contour[b * per * N_CONTOUR..(b + 1) * per * N_CONTOUR];
            self.pg.append_window(o, n, self.keep_contour.then_some(c));
        }
    }
}

/// A session thread: runs batches until the queue closes; a panic in the model becomes an error.
fn work(session: &mut Session, queue: &Receiver<Job>, results: &Sender<Done>) {
    for job in queue.iter() {
        let output = catch_unwind(AssertUnwindSafe(|| model::run(session, &job.windows)))
            .unwrap_or_else(|panic| Err(format!("model thread failed: {}", panic_message(&panic))));
        if results.send(Done { index: job.index, windows: job.windows, output }).is_err() {
            return;
        }
    }
}
