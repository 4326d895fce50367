//! The engine worker: one background thread that runs jobs, assembles the captured song,
//! builds stems for the audio thread and frees the ones it gives back.

mod heard;
mod placement;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::cache::AudioCache;
use crate::capture::{CaptureTimeline, MAX_CAPTURE_SECONDS};
use crate::job::{CaptureSource, CapturedSong, Event, GenerateStem, Job, JobId};
use crate::link::{StemSwap, WorkerSide};
use crate::overview::Peaks;
use crate::preview::{Ask, Preview};
use crate::project::ProjectState;
use crate::runner::{Cancels, ModelsInfo, Outcome, Report, Runner, Task};
use crate::runtime::ExecutionProvider;
use crate::status::{EndedJob, JobOutcome, JobState, RECENT_JOBS, Status};
use crate::stem::{SLOTS, StereoAudio};

/// How often the worker looks at the capture ring when no job arrives.
const POLL: Duration = Duration::from_millis(5);
/// How often capture progress reaches the snapshot and the stored project.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);
/// Tempo assumed before the host has told us one.
const DEFAULT_TEMPO: f64 = 120.0;
/// Captured frames per waveform peak (about 47 per second at 48 kHz).
const PEAK_FRAMES: usize = 1024;

/// A job handed to the runner, as the queue lists it.
struct Queued {
    state: JobState,
    /// The runner has started it.
    running: bool,
    /// The slot the job asked for, used when its result is placed.
    slot: Option<usize>,
    /// For transcriptions: which input, for the stem's name.
    source: Option<CaptureSource>,
}

/// The worker's state; lives on its own thread.
pub(crate) struct Worker {
    side: WorkerSide,
    jobs: Receiver<Job>,
    events: Sender<Event>,
    /// Events waiting for the snapshot that reflects them to be published.
    outbox: Vec<Event>,
    status: Arc<ArcSwap<Status>>,
    project: Arc<RwLock<ProjectState>>,
    cache: AudioCache,
    sample_rate: f64,
    timeline: CaptureTimeline,
    /// Swaps waiting for room in the ring.
    pending: VecDeque<StemSwap>,
    /// Audio by content hash and sample rate, so rebuilding a slot neither re-reads the cache
    /// nor resamples again.
    sources: HashMap<(String, u32), Arc<StereoAudio>>,
    lost: Vec<String>,
    last_error: Option<String>,
    jobs_done: u64,
    /// The runtime and packs as the runner last reported them.
    models: Option<ModelsInfo>,
    /// The runner's queue, its reports and the cancel marks it shares with us.
    runner: Option<(Sender<Task>, JoinHandle<()>)>,
    /// The thread that reads instructions for the editor's preview.
    preview: Option<Preview>,
    reports: Receiver<Report>,
    cancels: Arc<Cancels>,
    /// Jobs handed to the runner and not finished, oldest first.
    queue: Vec<Queued>,
    /// Jobs that ended lately and the notices jobs gave, oldest first.
    recent: VecDeque<EndedJob>,
    notices: VecDeque<String>,
    /// Waveform summaries of the captured main input and sidechain, and the chunks to redo.
    main_peaks: Arc<Peaks>,
    context_peaks: Arc<Peaks>,
    dirty_peaks: BTreeSet<usize>,
}

impl Worker {
    /// A worker over the worker side of the hand-off, with an empty project.
    pub(crate) fn new(
        side: WorkerSide,
        jobs: Receiver<Job>,
        events: Sender<Event>,
        status: Arc<ArcSwap<Status>>,
        project: Arc<RwLock<ProjectState>>,
        cache: AudioCache,
    ) -> Self {
        let sample_rate = 48_000.0;
        Self {
            side,
            jobs,
            events,
            outbox: Vec::new(),
            status,
            project,
            cache,
            sample_rate,
            timeline: CaptureTimeline::new(sample_rate),
            pending: VecDeque::new(),
            sources: HashMap::new(),
            lost: Vec::new(),
            last_error: None,
            jobs_done: 0,
            models: None,
            runner: None,
            preview: None,
            reports: crossbeam_channel::never(),
            cancels: Arc::default(),
            queue: Vec::new(),
            recent: VecDeque::new(),
            notices: VecDeque::new(),
            main_peaks: Arc::new(empty_peaks(sample_rate)),
            context_peaks: Arc::new(empty_peaks(sample_rate)),
            dirty_peaks: BTreeSet::new(),
        }
    }

    /// Runs until [`Job::Shutdown`] or until the engine handle is gone.
    pub(crate) fn run(mut self) {
        self.start_runner();
        let mut last_publish = Instant::now();
        let mut capture_changed = false;
        loop {
            match self.jobs.recv_timeout(POLL) {
                Ok(Job::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(job) => {
                    self.handle(job);
                    self.publish();
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            let mut reported = false;
            while let Ok(report) = self.reports.try_recv() {
                reported |= self.on_report(report);
            }
            if reported {
                self.publish();
            }
            capture_changed |= self.drain_capture();
            self.deliver();
            // Dropping retired stems here is the point: their memory is freed off the audio thread.
            while self.side.retire.pop().is_ok() {}
            if capture_changed && last_publish.elapsed() >= PUBLISH_EVERY {
                self.publish();
                capture_changed = false;
                last_publish = Instant::now();
            }
            if !self.outbox.is_empty() {
                self.publish();
            }
        }
        self.stop_runner();
    }

    /// Starts the runner thread, which loads the models and then runs the heavy jobs.
    fn start_runner(&mut self) {
        let (tasks_tx, tasks_rx) = crossbeam_channel::unbounded();
        let (reports_tx, reports_rx) = crossbeam_channel::unbounded();
        match Preview::start(reports_tx.clone()) {
            Ok(preview) => self.preview = Some(preview),
            Err(e) => self.last_error = Some(format!("the preview thread could not be started ({e})")),
        }
        let runner = Runner::new(tasks_rx, reports_tx, self.cancels.clone(), self.cache.clone(), self.provider());
        let handle = std::thread::Builder::new().name("counterpart-jobs".into()).spawn(move || runner.run());
        match handle {
            Ok(handle) => {
                self.runner = Some((tasks_tx, handle));
                self.reports = reports_rx;
            }
            Err(e) => {
                self.last_error = Some(format!("the job thread could not be started ({e}); models cannot run"));
                self.publish();
            }
        }
    }

    /// Stops the running job at its next check and joins the runner.
    fn stop_runner(&mut self) {
        self.cancels.shut_down();
        // Hanging up both channels wakes a runner waiting for work or for a capture snapshot.
        self.reports = crossbeam_channel::never();
        if let Some(preview) = self.preview.take() {
            preview.stop();
        }
        if let Some((tasks, handle)) = self.runner.take() {
            drop(tasks);
            let _ = handle.join();
        }
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::ImportStem(import) => {
                let id = import.id;
                let title = format!("import {}", import.path.display());
                match self.import(import) {
                    Ok(slot) => {
                        self.jobs_done += 1;
                        self.ended(id, title, JobOutcome::Done);
                        self.send(Event::StemReady { id, slot });
                    }
                    Err(message) => self.fail(id, title, message),
                }
            }
            Job::ClearSlot { slot } if slot < SLOTS => {
                self.project.write().unwrap_or_else(|e| e.into_inner()).remove(slot);
                self.pending.push_back(StemSwap { slot, stem: None });
            }
            Job::SetOutput { slot, output } => {
                let record = {
                    let mut project = self.project.write().unwrap_or_else(|e| e.into_inner());
                    project.stems.iter_mut().find(|s| s.slot == slot).map(|stem| {
                        stem.output = output;
                        stem.clone()
                    })
                };
                if let Some(Ok(stem)) = record.map(|r| self.playable(&r)) {
                    self.pending.push_back(StemSwap { slot, stem: Some(Arc::new(stem)) });
                }
            }
            Job::Activate { sample_rate, done } => {
                if sample_rate > 0.0 && sample_rate != self.sample_rate {
                    self.sample_rate = sample_rate;
                    self.clear_capture();
                    self.rebuild_all();
                    self.deliver();
                }
                // Publish first: the caller sees the new rate and the cleared capture.
                self.publish();
                let _ = done.send(());
            }
            Job::TranscribeCapture { id, source, slot } => {
                let title = format!("transcribe the {}", source_name(source));
                self.dispatch(id, title, slot, Some(source), Task::Transcribe { id, source })
            }
            Job::SnapshotCapture { reply } => {
                self.drain_capture();
                // Publish first: whoever asked sees a status as current as the copy.
                self.publish();
                let _ = reply.send(self.captured_song());
            }
            Job::ClearCapture => self.clear_capture(),
            Job::SetProvider { provider } => {
                self.project.write().unwrap_or_else(|e| e.into_inner()).provider = provider;
                self.hand_over(Task::SetProvider(provider));
            }
            Job::Restore { state, lost, done } => {
                self.lost = lost;
                let provider_changed = self.provider() != state.provider;
                *self.project.write().unwrap_or_else(|e| e.into_inner()) = state;
                if provider_changed {
                    self.hand_over(Task::SetProvider(self.provider()));
                }
                self.rebuild_all();
                self.deliver();
                self.send(Event::Restored { lost: self.lost.clone() });
                self.publish();
                let _ = done.send(());
            }
            Job::Plan { id, prompt } => {
                let bars = self.captured_bars();
                let asked =
                    self.preview.as_ref().is_some_and(|p| p.ask(Ask::Plan { id, prompt: prompt.clone(), bars }));
                if !asked {
                    let message =
                        "the preview thread is not running, so instructions cannot be read; reopen the plugin";
                    self.fail(id, plan_title(&prompt), message.into());
                }
            }
            Job::Generate(job) => self.generate(job),
            Job::Export { id, slot, folder } => self.export(id, slot, folder),
            Job::Cancel { id } => self.cancel(id),
            Job::SelectTake { slot, take } => {
                if let Err(message) = self.select_take(slot, take) {
                    self.last_error = Some(message);
                }
            }
            Job::DeleteTake { slot, take } => {
                if let Err(message) = self.delete_take(slot, take) {
                    self.last_error = Some(message);
                }
            }
            Job::KeepPlayingTake { slot } => {
                if let Err(message) = self.keep_playing_take(slot) {
                    self.last_error = Some(message);
                }
            }
            Job::ClearSlot { .. } | Job::Shutdown => {}
        }
    }

    /// Hands a heavy job to the runner and lists it in the queue.
    fn dispatch(&mut self, id: JobId, title: String, slot: Option<usize>, source: Option<CaptureSource>, task: Task) {
        if !self.hand_over(task) {
            self.fail(id, title, "the job thread is not running, so models cannot run; reopen the plugin".into());
            return;
        }
        let state = JobState { id, title, stage: "queued".into(), fraction: 0.0 };
        self.queue.push(Queued { state, running: false, slot, source });
    }

    /// Sends a task to the runner; false when there is none.
    fn hand_over(&mut self, task: Task) -> bool {
        self.runner.as_ref().is_some_and(|(tasks, _)| tasks.send(task).is_ok())
    }

    /// Queues a generation, refusing at once what cannot be placed.
    fn generate(&mut self, job: GenerateStem) {
        let id = job.id;
        let title = format!("write: {}", short(&job.prompt));
        if job.prompt.trim().is_empty() {
            let message = "the instruction is empty: say what to write, e.g. \"add a bass line\"".into();
            return self.fail(id, title, message);
        }
        let base = match self.target_slot(job.slot) {
            Ok(slot) => self.project.read().unwrap_or_else(|e| e.into_inner()).stem(slot).map(|s| s.notes.clone()),
            Err(message) => return self.fail(id, title, message),
        };
        let slot = job.slot;
        let task = Task::Generate { job, sample_rate: self.sample_rate, base };
        self.dispatch(id, title, slot, None, task)
    }

    /// Queues writing a slot's playing take into a folder.
    fn export(&mut self, id: JobId, slot: usize, folder: PathBuf) {
        let record = self.project.read().unwrap_or_else(|e| e.into_inner()).stem(slot).cloned();
        match record {
            Some(record) => {
                let title = format!("export \"{}\"", record.name);
                self.dispatch(id, title, Some(slot), None, Task::Export { id, record: Box::new(record), folder })
            }
            None => self.fail(
                id,
                format!("export slot {}", slot + 1),
                format!("slot {} is empty: there is nothing to export", slot + 1),
            ),
        }
    }

    /// Removes a queued job at once, or asks the running one to stop at its next check.
    fn cancel(&mut self, id: JobId) {
        let Some(at) = self.queue.iter().position(|q| q.state.id == id) else { return };
        self.cancels.cancel(id);
        if self.queue[at].running {
            self.queue[at].state.stage = "cancelling".into();
        } else {
            let queued = self.queue.remove(at);
            self.ended(id, queued.state.title, JobOutcome::Cancelled);
            self.send(Event::Cancelled { id });
        }
    }

    /// Handles a runner report; true when the snapshot should be republished.
    fn on_report(&mut self, report: Report) -> bool {
        match report {
            Report::Models(info) => {
                if let Some(preview) = &self.preview {
                    preview.ask(Ask::Models(info.embedder.clone()));
                }
                self.models = Some(info);
                true
            }
            Report::Preview { id, prompt, planned } => {
                match planned {
                    Ok(job) => {
                        self.ended(id, plan_title(&prompt), JobOutcome::Done);
                        self.send(Event::Planned { id, job });
                    }
                    Err(message) => self.fail(id, plan_title(&prompt), message),
                }
                true
            }
            Report::Snapshot(reply) => {
                self.drain_capture();
                let _ = reply.send(self.captured_song());
                false
            }
            Report::HeardSnapshot { part, reply } => {
                self.drain_capture();
                let _ = reply.send(self.heard_song(&part));
                false
            }
            Report::Progress { id, stage, detail, fraction } => {
                let Some(queued) = self.queue.iter_mut().find(|q| q.state.id == id) else { return false };
                queued.running = true;
                if queued.state.stage != "cancelling" {
                    queued.state.stage = detail;
                }
                queued.state.fraction = fraction;
                self.send(Event::Progress { id, stage, fraction });
                true
            }
            Report::Notice { id, message } => {
                if self.notices.len() == RECENT_JOBS {
                    self.notices.pop_front();
                }
                self.notices.push_back(message.clone());
                self.send(Event::Notice { id, message });
                true
            }
            Report::Done { id, outcome } => {
                let cancelled = self.cancels.is_cancelled(id);
                self.cancels.forget(id);
                // Not listed: it was cancelled while queued and the producer was told then.
                let Some(at) = self.queue.iter().position(|q| q.state.id == id) else { return false };
                let queued = self.queue.remove(at);
                if cancelled || matches!(outcome, Outcome::Cancelled) {
                    self.ended(id, queued.state.title, JobOutcome::Cancelled);
                    self.send(Event::Cancelled { id });
                    return true;
                }
                self.finish(id, queued, outcome);
                true
            }
        }
    }

    /// Places what a finished job made and says so.
    fn finish(&mut self, id: JobId, queued: Queued, outcome: Outcome) {
        let result = match outcome {
            Outcome::Transcribed { notes, tempo } => {
                let source = queued.source.unwrap_or(CaptureSource::Sidechain);
                self.place_transcription(queued.slot, source, notes, tempo).map(|slot| {
                    self.send(Event::StemReady { id, slot });
                })
            }
            Outcome::Takes(takes) => self.place_takes(id, queued.slot, takes).map(|slot| {
                self.send(Event::StemReady { id, slot });
            }),
            Outcome::Edited(edited) => self.place_edit(id, queued.slot, *edited).map(|slot| {
                self.send(Event::StemReady { id, slot });
            }),
            Outcome::Exported(files) => {
                self.send(Event::Exported { id, files });
                Ok(())
            }
            Outcome::Failed(message) => Err(message),
            Outcome::Cancelled => Ok(()),
        };
        match result {
            Ok(()) => {
                self.jobs_done += 1;
                self.ended(id, queued.state.title, JobOutcome::Done);
            }
            Err(message) => self.fail(id, queued.state.title, message),
        }
    }

    /// How many bars the captured song spans, in the meter captured at its start.
    fn captured_bars(&self) -> Option<u32> {
        let end = self.timeline.regions().last()?.end;
        let beats = self.timeline.beat_at(end - 1)?;
        let bar_beats = self.timeline.tempo_map().first().map_or(4.0, |p| p.signature.bar_beats());
        Some((beats / bar_beats).ceil().max(1.0) as u32)
    }

    /// Forgets the captured song and its waveform.
    fn clear_capture(&mut self) {
        self.timeline.clear(self.sample_rate);
        self.main_peaks = Arc::new(empty_peaks(self.sample_rate));
        self.context_peaks = Arc::new(empty_peaks(self.sample_rate));
        self.dirty_peaks.clear();
    }

    /// Recomputes the waveform chunks that captured blocks touched since the last publish.
    fn update_peaks(&mut self) {
        let dirty = std::mem::take(&mut self.dirty_peaks);
        for chunk in dirty {
            let start = (chunk * PEAK_FRAMES) as i64;
            let read = |c: usize| self.timeline.read(c, start, PEAK_FRAMES);
            let main = [read(0), read(1)].concat();
            let side = [read(2), read(3)].concat();
            Arc::make_mut(&mut self.main_peaks).set_chunk(chunk, &main);
            Arc::make_mut(&mut self.context_peaks).set_chunk(chunk, &side);
        }
    }

    /// The device the project asks the models to run on.
    fn provider(&self) -> ExecutionProvider {
        self.project.read().unwrap_or_else(|e| e.into_inner()).provider
    }

    /// A copy of everything captured, from the first captured sample to the last.
    fn captured_song(&self) -> CapturedSong {
        let regions = self.timeline.regions().to_vec();
        let (start, end) = match (regions.first(), regions.last()) {
            (Some(first), Some(last)) => (first.start, last.end),
            _ => (0, 0),
        };
        let len = (end - start) as usize;
        CapturedSong {
            sample_rate: self.timeline.sample_rate(),
            start,
            channels: std::array::from_fn(|c| self.timeline.read(c, start, len)),
            regions,
            tempo_map: self.timeline.tempo_map().to_vec(),
        }
    }

    /// Moves waiting swaps into the ring as far as it has room.
    fn deliver(&mut self) {
        while !self.side.swaps.is_full() {
            let Some(swap) = self.pending.pop_front() else { break };
            let _ = self.side.swaps.push(swap);
        }
    }

    /// Writes captured blocks into the timeline; true when anything arrived.
    fn drain_capture(&mut self) -> bool {
        let mut any = false;
        let limit = (MAX_CAPTURE_SECONDS * self.timeline.sample_rate()) as i64;
        while let Ok(block) = self.side.capture.pop() {
            self.timeline.write(&block);
            let (first, end) = (block.pos.max(0), (block.pos + block.len as i64).min(limit));
            if end > first {
                self.dirty_peaks.extend(first as usize / PEAK_FRAMES..=(end - 1) as usize / PEAK_FRAMES);
            }
            any = true;
        }
        any
    }

    /// Publishes the snapshot and copies the capture metadata into the stored project.
    fn publish(&mut self) {
        self.update_peaks();
        let stems = {
            let mut project = self.project.write().unwrap_or_else(|e| e.into_inner());
            if !self.timeline.regions().is_empty() {
                project.capture_rate = self.timeline.sample_rate();
                project.captured = self.timeline.regions().to_vec();
                project.tempo_map = self.timeline.tempo_map().to_vec();
            }
            project.stems.clone()
        };
        self.status.store(Arc::new(Status {
            stems,
            sample_rate: self.sample_rate,
            captured: self.timeline.regions().to_vec(),
            captured_seconds: self.timeline.captured_seconds(),
            capture_dropped: self.timeline.dropped_frames(),
            lost: self.lost.clone(),
            last_error: self.last_error.clone(),
            jobs_done: self.jobs_done,
            queue: self.queue.iter().map(|q| q.state.clone()).collect(),
            recent: self.recent.iter().cloned().collect(),
            notices: self.notices.iter().cloned().collect(),
            context_peaks: self.context_peaks.clone(),
            main_peaks: self.main_peaks.clone(),
            runtime: self.models.as_ref().map_or_else(String::new, |m| m.runtime_line.clone()),
            packs: self.models.as_ref().map_or_else(Vec::new, |m| m.packs.clone()),
            pack_problems: self.models.as_ref().map_or_else(Vec::new, |m| m.problems.clone()),
            provider: self.models.as_ref().map_or_else(String::new, |m| m.provider_line.clone()),
        }));
        for event in self.outbox.drain(..) {
            // Nobody listening (no editor open) is fine: the snapshot still tells the story.
            let _ = self.events.try_send(event);
        }
    }

    /// Says that job `id` (`title`) failed: in its event, the status line and the ended jobs.
    fn fail(&mut self, id: JobId, title: String, message: String) {
        self.last_error = Some(message.clone());
        self.ended(id, title, JobOutcome::Failed(message.clone()));
        self.send(Event::Failed { id, message });
    }

    /// Keeps how a job ended for the snapshot, forgetting the oldest beyond [`RECENT_JOBS`].
    fn ended(&mut self, id: JobId, title: String, outcome: JobOutcome) {
        if self.recent.len() == RECENT_JOBS {
            self.recent.pop_front();
        }
        self.recent.push_back(EndedJob { id, title, outcome });
    }

    /// Queues an event; it goes out after the next snapshot, so a listener that reads the status
    /// on an event finds what the event says already there.
    fn send(&mut self, event: Event) {
        self.outbox.push(event);
    }
}

/// A summary with nothing captured yet.
fn empty_peaks(sample_rate: f64) -> Peaks {
    Peaks { start: 0, frames_per_peak: PEAK_FRAMES, sample_rate, min: Vec::new(), max: Vec::new() }
}

/// The input's name as the producer knows it.
fn source_name(source: CaptureSource) -> &'static str {
    match source {
        CaptureSource::Main => "main input",
        CaptureSource::Sidechain => "context (sidechain)",
    }
}

/// How the activity lists a preview of `prompt`.
fn plan_title(prompt: &str) -> String {
    format!("plan: {}", short(prompt))
}

/// The start of an instruction, for the queue's titles.
fn short(text: &str) -> String {
    const MAX: usize = 60;
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
