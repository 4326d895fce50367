//! The engine worker: one background thread that runs jobs, assembles the captured song,
//! builds stems for the audio thread and frees the ones it gives back.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::cache::AudioCache;
use crate::capture::{CaptureTimeline, MAX_CAPTURE_SECONDS};
use crate::job::{CaptureSource, CapturedSong, Event, GenerateStem, ImportStem, Job, JobId};
use crate::link::{StemSwap, WorkerSide};
use crate::midi::read_midi;
use crate::overview::Peaks;
use crate::project::ProjectState;
use crate::resample::resample;
use crate::runner::{Cancels, EditStem, Edited, ModelsInfo, NewTakes, Outcome, Report, Runner, Task};
use crate::runtime::ExecutionProvider;
use crate::status::{EndedJob, JobOutcome, JobState, RECENT_JOBS, Status};
use crate::stem::{AudioRef, EditPart, PlayableStem, SLOTS, StemOutput, StemRecord, StereoAudio, TakeRecord};
use crate::wav::read_wav;

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
                let title = format!("plan: {}", short(&prompt));
                let bars = self.captured_bars();
                self.dispatch(id, title, None, None, Task::Plan { id, prompt, bars })
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
                self.models = Some(info);
                true
            }
            Report::Snapshot(reply) => {
                self.drain_capture();
                let _ = reply.send(self.captured_song());
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
            Outcome::Planned(job) => {
                self.send(Event::Planned { id, job });
                Ok(())
            }
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

    /// Adds new takes to the stem in the asked-for slot (or a new stem in the first free one);
    /// the first new take plays. Returns the slot.
    fn place_takes(&mut self, id: JobId, slot: Option<usize>, new: NewTakes) -> Result<usize, String> {
        for audio in &new.audio {
            let hash = AudioCache::hash(audio);
            self.sources.insert((hash, audio.sample_rate), audio.clone());
        }
        let slot = self.target_slot(slot)?;
        let existing = self.project.read().unwrap_or_else(|e| e.into_inner()).stem(slot).cloned();
        let mut record = match existing {
            Some(mut record) => {
                // An imported or transcribed stem becomes the first take, so it can be A/B'd.
                if record.takes.is_empty() {
                    record.takes.push(TakeRecord {
                        label: "original".into(),
                        prompt: String::new(),
                        seed: 0,
                        audio: record.audio.clone(),
                        notes: record.notes.clone(),
                        program: None,
                        start_beats: record.start_beats,
                        start_seconds: record.start_seconds,
                        edit: record.edit_part(),
                    });
                }
                record
            }
            None => StemRecord { slot, name: new.name.clone(), output: StemOutput::Both, ..StemRecord::default() },
        };
        let first = record.takes.len();
        // New takes of a replacement's new part ("vary", "regenerate") stay part of its edit.
        let follows_edit = record.edit_part() == EditPart::NewPart;
        for (n, mut take) in new.takes.into_iter().enumerate() {
            take.label = format!("take {} · seed {}", first + n + 1, take.seed);
            if follows_edit {
                take.edit = EditPart::NewPart;
            }
            record.takes.push(take);
        }
        record.tempo = new.tempo;
        record.activate_take(first);
        let count = record.takes.len();
        self.place(record)?;
        for take in first..count {
            self.send(Event::TakeReady { id, slot, take });
        }
        Ok(slot)
    }

    /// Places an edit of the main input: the part and the remainder each become a new take of
    /// the stem an earlier edit of the same part made (else of a new stem in a free slot), and a
    /// replacement's new part is placed like generated takes (in `slot`, else a free one).
    /// Returns the slot of what the producer now hears: the new part, else the replacing stem.
    fn place_edit(&mut self, id: JobId, slot: Option<usize>, edited: Edited) -> Result<usize, String> {
        let Edited { part, remainder, new_part } = edited;
        let project = self.project.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut chosen: Vec<usize> = Vec::new();
        for name in [&part.name, &remainder.name] {
            let earlier =
                project.stems.iter().find(|s| &s.name == name && s.takes.iter().any(|t| t.edit != EditPart::None));
            let free = (0..SLOTS).find(|s| project.stem(*s).is_none() && !chosen.contains(s));
            chosen.extend(earlier.map(|s| s.slot).or(free));
        }
        let spare = (0..SLOTS).any(|s| project.stem(s).is_none() && !chosen.contains(&s));
        if chosen.len() < 2 || (new_part.is_some() && slot.is_none() && !spare) {
            let count = if new_part.is_some() { "three" } else { "two" };
            return Err(format!(
                "an edit places {count} stems (the separated part, the rest of the song{}) and there is no room: \
                 clear a slot or two first",
                if new_part.is_some() { ", the new part" } else { "" }
            ));
        }
        let mut heard = chosen[1];
        for (stem, slot) in [part, remainder].into_iter().zip(chosen) {
            if stem.take.edit == EditPart::ReplacesMain {
                heard = slot;
            }
            self.place_edit_take(id, slot, stem)?;
        }
        match new_part {
            Some(new) => self.place_takes(id, slot, new),
            None => Ok(heard),
        }
    }

    /// Adds one stem of an edit as a new take of the stem in `slot` (a new stem when it is empty).
    fn place_edit_take(&mut self, id: JobId, slot: usize, stem: EditStem) -> Result<(), String> {
        let EditStem { name, tempo, mut take, audio } = stem;
        self.sources.insert((AudioCache::hash(&audio), audio.sample_rate), audio);
        let mut record = self
            .project
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .stem(slot)
            .cloned()
            .unwrap_or_else(|| StemRecord { slot, name, output: StemOutput::Audio, ..StemRecord::default() });
        let index = record.takes.len();
        take.label = match take.edit {
            EditPart::ReplacesMain => format!("take {} · replaces the main input", index + 1),
            _ => format!("take {} · kept (not heard)", index + 1),
        };
        record.takes.push(take);
        record.tempo = tempo;
        record.activate_take(index);
        self.place(record)?;
        self.send(Event::TakeReady { id, slot, take: index });
        Ok(())
    }

    /// Makes another take of a stem play; the audio thread ramps between them.
    fn select_take(&mut self, slot: usize, take: usize) -> Result<(), String> {
        let mut record = self.stem_record(slot)?;
        if !record.activate_take(take) {
            return Err(format!("slot {} has no take {}", slot + 1, take + 1));
        }
        self.place(record).map(|_| ())
    }

    /// Forgets a take; the slot empties when it was the last.
    fn delete_take(&mut self, slot: usize, take: usize) -> Result<(), String> {
        let mut record = self.stem_record(slot)?;
        if take >= record.takes.len() {
            return Err(format!("slot {} has no take {}", slot + 1, take + 1));
        }
        record.takes.remove(take);
        if record.takes.is_empty() {
            self.project.write().unwrap_or_else(|e| e.into_inner()).remove(slot);
            self.pending.push_back(StemSwap { slot, stem: None });
            return Ok(());
        }
        let active = match record.active_take {
            active if active > take => active - 1,
            active => active.min(record.takes.len() - 1),
        };
        record.activate_take(active);
        self.place(record).map(|_| ())
    }

    /// A copy of the record in `slot`.
    fn stem_record(&self, slot: usize) -> Result<StemRecord, String> {
        self.project
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .stem(slot)
            .cloned()
            .ok_or_else(|| format!("slot {} is empty", slot + 1))
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

    /// Places a WAV or MIDI file as a stem and returns its slot.
    fn import(&mut self, job: ImportStem) -> Result<usize, String> {
        let slot = self.target_slot(job.slot)?;
        if !job.start_beats.is_finite() {
            return Err("the stem's start position is not a number".into());
        }
        self.send(Event::Progress { id: job.id, stage: "reading", fraction: 0.1 });
        let host_tempo = self.side.transport.tempo();
        let tempo = if host_tempo > 0.0 { host_tempo } else { DEFAULT_TEMPO };
        let name = job.path.file_stem().map_or_else(|| "stem".to_string(), |s| s.to_string_lossy().into_owned());
        let extension = job.path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        let mut record = StemRecord {
            slot,
            name,
            start_beats: job.start_beats,
            start_seconds: job.start_beats * 60.0 / tempo,
            tempo,
            audio: None,
            notes: Vec::new(),
            output: job.output,
            ..StemRecord::default()
        };
        match extension.as_str() {
            "wav" | "wave" => {
                let audio = read_wav(&job.path)?;
                self.send(Event::Progress { id: job.id, stage: "storing", fraction: 0.4 });
                let reference = self.cache.store(&audio)?;
                self.sources.insert((reference.hash.clone(), reference.sample_rate), Arc::new(audio));
                record.audio = Some(reference);
            }
            "mid" | "midi" | "smf" => {
                let (notes, _) = read_midi(&job.path)?;
                record.notes = notes
                    .into_iter()
                    .map(|mut n| {
                        n.start += job.start_beats;
                        n
                    })
                    .collect();
                if job.output == StemOutput::Audio {
                    record.output = StemOutput::Midi;
                }
            }
            _ => return Err(format!("{}: Counterpart imports .wav and .mid files", job.path.display())),
        }
        self.send(Event::Progress { id: job.id, stage: "placing", fraction: 0.8 });
        self.place(record)
    }

    /// Places transcribed notes as a MIDI stem and returns its slot.
    fn place_transcription(
        &mut self,
        slot: Option<usize>,
        source: CaptureSource,
        notes: Vec<crate::stem::Note>,
        tempo: f64,
    ) -> Result<usize, String> {
        let slot = self.target_slot(slot)?;
        let start_beats = notes.first().map_or(0.0, |n| n.start);
        let record = StemRecord {
            slot,
            name: format!("{source:?} transcribed"),
            start_beats,
            start_seconds: start_beats * 60.0 / tempo,
            tempo,
            audio: None,
            notes,
            output: StemOutput::Midi,
            ..StemRecord::default()
        };
        self.place(record)
    }

    /// The device the project asks the models to run on.
    fn provider(&self) -> ExecutionProvider {
        self.project.read().unwrap_or_else(|e| e.into_inner()).provider
    }

    /// Builds a record's stem, stores the record in the project and sends the stem to the audio
    /// thread; returns its slot.
    fn place(&mut self, record: StemRecord) -> Result<usize, String> {
        let slot = record.slot;
        let stem = self.playable(&record)?;
        self.project.write().unwrap_or_else(|e| e.into_inner()).put(record);
        self.pending.push_back(StemSwap { slot, stem: Some(Arc::new(stem)) });
        self.deliver();
        Ok(slot)
    }

    /// The slot a job asked for, or the first free one.
    fn target_slot(&self, slot: Option<usize>) -> Result<usize, String> {
        match slot {
            Some(slot) if slot < SLOTS => Ok(slot),
            Some(slot) => Err(format!("there is no slot {}; Counterpart has {SLOTS}", slot + 1)),
            None => self
                .project
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .free_slot()
                .ok_or_else(|| "all 16 stem slots are full; clear one first".to_string()),
        }
    }

    /// Builds what the audio thread plays for `record` at the current sample rate.
    fn playable(&mut self, record: &StemRecord) -> Result<PlayableStem, String> {
        let audio = match &record.audio {
            Some(reference) => Some(self.audio_at_rate(reference)?),
            None => None,
        };
        let mut notes = record.notes.clone();
        notes.retain(|n| n.start.is_finite() && n.length.is_finite() && n.length >= 0.0 && n.key < 128);
        notes.sort_by(|a, b| a.start.total_cmp(&b.start));
        let start_sample = (record.start_seconds * self.sample_rate).round() as i64;
        Ok(PlayableStem { start_sample, audio, notes, output: record.output, edit: record.edit_part() })
    }

    /// The audio a reference names, at the current sample rate.
    fn audio_at_rate(&mut self, reference: &AudioRef) -> Result<Arc<StereoAudio>, String> {
        let rate = self.sample_rate.round() as u32;
        if let Some(audio) = self.sources.get(&(reference.hash.clone(), rate)) {
            return Ok(audio.clone());
        }
        let native_key = (reference.hash.clone(), reference.sample_rate);
        let native = match self.sources.get(&native_key) {
            Some(native) => native.clone(),
            None => {
                let loaded = Arc::new(self.cache.load(reference)?);
                self.sources.insert(native_key, loaded.clone());
                loaded
            }
        };
        let converted = Arc::new(resample(&native, rate)?);
        self.sources.insert((reference.hash.clone(), rate), converted.clone());
        Ok(converted)
    }

    /// Rebuilds every slot from the project (new sample rate, or a restored project).
    fn rebuild_all(&mut self) {
        let project = self.project.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut kept = project.clone();
        for slot in 0..SLOTS {
            let stem = match project.stem(slot) {
                Some(record) => match self.playable(record) {
                    Ok(stem) => Some(Arc::new(stem)),
                    Err(message) => {
                        self.lost.push(format!("slot {} \"{}\": {message}", slot + 1, record.name));
                        kept.remove(slot);
                        None
                    }
                },
                None => None,
            };
            self.pending.push_back(StemSwap { slot, stem });
        }
        *self.project.write().unwrap_or_else(|e| e.into_inner()) = kept;
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

/// The start of an instruction, for the queue's titles.
fn short(text: &str) -> String {
    const MAX: usize = 60;
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
