//! Counterpart's engine: stems and their playback, the captured song, the job worker and the
//! audio cache. It has no plugin dependencies; the plugin, the GUI and the `counterpart`
//! command all drive it.

pub mod analysis;
pub mod arrange;
pub mod audio_io;
pub mod cache;
pub mod capture;
pub mod capture_transcription;
pub mod generate;
pub mod job;
pub mod link;
pub mod midi;
pub mod models;
pub mod overview;
pub mod packs;
pub mod plan;
pub mod playback;
mod preview;
pub mod project;
pub mod render;
pub mod resample;
mod runner;
pub mod runtime;
pub mod separate;
pub mod settings;
pub mod status;
pub mod stem;
pub mod timeline;
pub mod transcribe;
pub mod wav;
mod worker;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, Sender};
use serde_json::Value;

use cache::AudioCache;
use job::{CapturedSong, Event, GenerateStem, ImportStem, Job, JobId};
use link::{AudioSide, HostTransport};
use project::ProjectState;
use status::Status;

/// Events the worker can have waiting before it drops progress reports nobody reads.
const EVENT_CAPACITY: usize = 4096;
/// How long loading a stored project may take before the host gets control back.
const RESTORE_TIMEOUT: Duration = Duration::from_secs(20);

/// The handle to the engine worker: submit jobs, read events and the status snapshot.
/// Dropping it stops and joins the worker.
pub struct Engine {
    jobs: Sender<Job>,
    events: Receiver<Event>,
    status: Arc<ArcSwap<Status>>,
    store: Arc<ProjectStore>,
    transport: Arc<HostTransport>,
    next_id: AtomicU64,
    worker: Option<JoinHandle<()>>,
}

impl Engine {
    /// Starts the worker thread and returns the handle and the audio thread's ends.
    pub fn start(cache: AudioCache) -> (Self, AudioSide) {
        let (audio, worker_side) = link::link();
        let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
        let (events_tx, events_rx) = crossbeam_channel::bounded(EVENT_CAPACITY);
        let status = Arc::new(ArcSwap::from_pointee(Status::default()));
        let project = Arc::new(RwLock::new(ProjectState::default()));
        let transport = worker_side.transport.clone();
        let worker = worker::Worker::new(worker_side, jobs_rx, events_tx, status.clone(), project.clone(), cache);
        // A plugin must never panic into the host: without a worker, jobs fail and the status says why.
        let handle = std::thread::Builder::new().name("counterpart-engine".into()).spawn(move || worker.run()).ok();
        if handle.is_none() {
            status.store(Arc::new(Status {
                last_error: Some("the engine thread could not be started (out of threads or memory?)".into()),
                ..Status::default()
            }));
        }
        let store = Arc::new(ProjectStore { project, jobs: jobs_tx.clone() });
        let engine = Self {
            jobs: jobs_tx,
            events: events_rx,
            status,
            store,
            transport,
            next_id: AtomicU64::new(1),
            worker: handle,
        };
        (engine, audio)
    }

    /// Sends a job to the worker.
    pub fn send(&self, job: Job) {
        let _ = self.jobs.send(job);
    }

    /// Tells the worker the plugin's sample rate and waits until the stems are rebuilt for it,
    /// so the first block after activation already plays them at the right rate.
    pub fn activate(&self, sample_rate: f64) {
        let (done, wait) = crossbeam_channel::bounded(1);
        self.send(Job::Activate { sample_rate, done });
        let _ = wait.recv_timeout(RESTORE_TIMEOUT);
    }

    /// A copy of the captured song (waits for the worker; not for the audio thread).
    pub fn captured_song(&self) -> Option<CapturedSong> {
        let (reply, wait) = crossbeam_channel::bounded(1);
        self.send(Job::SnapshotCapture { reply });
        wait.recv_timeout(RESTORE_TIMEOUT).ok()
    }

    /// Queues a transcription of the captured song into a MIDI stem and returns the job's id.
    pub fn transcribe_capture(&self, source: job::CaptureSource, slot: Option<usize>) -> JobId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.send(Job::TranscribeCapture { id, source, slot });
        id
    }

    /// Queues a WAV or MIDI file to be placed as a stem and returns the job's id.
    pub fn import(&self, mut job: ImportStem) -> JobId {
        job.id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let id = job.id;
        self.send(Job::ImportStem(job));
        id
    }

    /// Queues parsing an instruction (the editor's preview); answered by [`Event::Planned`].
    pub fn plan(&self, prompt: &str) -> JobId {
        let id = self.next_id();
        self.send(Job::Plan { id, prompt: prompt.to_string() });
        id
    }

    /// Queues writing a stem (or new takes of the stem in `job.slot`) against the captured song;
    /// `job.id` is replaced by a fresh one, which is returned. Answered by one
    /// [`Event::TakeReady`] per take and [`Event::StemReady`], or [`Event::Failed`].
    pub fn generate(&self, mut job: GenerateStem) -> JobId {
        job.id = self.next_id();
        let id = job.id;
        self.send(Job::Generate(job));
        id
    }

    /// Cancels a queued or running job; it ends with [`Event::Cancelled`] and leaves nothing.
    pub fn cancel(&self, id: JobId) {
        self.send(Job::Cancel { id });
    }

    /// Makes take `take` of `slot` the one that plays.
    pub fn select_take(&self, slot: usize, take: usize) {
        self.send(Job::SelectTake { slot, take });
    }

    /// Forgets take `take` of `slot` (the slot empties when it was the last).
    pub fn delete_take(&self, slot: usize, take: usize) {
        self.send(Job::DeleteTake { slot, take });
    }

    /// Keeps the take of `slot` that plays and forgets the others, in one step (no take indices
    /// that a newer take could shift).
    pub fn keep_playing_take(&self, slot: usize) {
        self.send(Job::KeepPlayingTake { slot });
    }

    /// Queues writing `slot`'s playing take as `<name>.wav` and `<name>.mid` into `folder`;
    /// answered by [`Event::Exported`] with the paths, or [`Event::Failed`].
    pub fn export(&self, slot: usize, folder: impl Into<std::path::PathBuf>) -> JobId {
        let id = self.next_id();
        self.send(Job::Export { id, slot, folder: folder.into() });
        id
    }

    fn next_id(&self) -> JobId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The worker's events (progress, finished stems, failures).
    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    /// The latest status snapshot.
    pub fn status(&self) -> Arc<Status> {
        self.status.load_full()
    }

    /// The transport the audio thread last published.
    pub fn transport(&self) -> &HostTransport {
        &self.transport
    }

    /// The stored project, shared with the plugin's persistent state.
    pub fn store(&self) -> Arc<ProjectStore> {
        self.store.clone()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.jobs.send(Job::Shutdown);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// The project as the DAW stores it: read on save, replaced on load.
pub struct ProjectStore {
    project: Arc<RwLock<ProjectState>>,
    jobs: Sender<Job>,
}

impl ProjectStore {
    /// The project as JSON, for the host's save.
    pub fn to_json(&self) -> Value {
        let project = self.project.read().unwrap_or_else(|e| e.into_inner());
        serde_json::to_value(&*project).unwrap_or(Value::Null)
    }

    /// Loads a stored project: what can be read is restored and queued for the audio thread
    /// before this returns; what cannot is listed in the status snapshot.
    pub fn restore_json(&self, value: &Value) {
        let (state, lost) = ProjectState::from_json_lenient(value);
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        if self.jobs.send(Job::Restore { state, lost, done: done_tx }).is_ok() {
            let _ = done_rx.recv_timeout(RESTORE_TIMEOUT);
        }
    }

    /// A copy of the project.
    pub fn snapshot(&self) -> ProjectState {
        self.project.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
