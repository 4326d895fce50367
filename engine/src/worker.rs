//! The engine worker: one background thread that runs jobs, assembles the captured song,
//! builds stems for the audio thread and frees the ones it gives back.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::cache::AudioCache;
use crate::capture::CaptureTimeline;
use crate::capture_transcription;
use crate::job::{CaptureSource, CapturedSong, Event, ImportStem, Job, JobId};
use crate::link::{StemSwap, WorkerSide};
use crate::midi::read_midi;
use crate::models::Models;
use crate::project::ProjectState;
use crate::resample::resample;
use crate::runtime::ExecutionProvider;
use crate::status::Status;
use crate::stem::{AudioRef, PlayableStem, SLOTS, StemOutput, StemRecord, StereoAudio};
use crate::wav::read_wav;

/// How often the worker looks at the capture ring when no job arrives.
const POLL: Duration = Duration::from_millis(5);
/// How often capture progress reaches the snapshot and the stored project.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);
/// Tempo assumed before the host has told us one.
const DEFAULT_TEMPO: f64 = 120.0;

/// The worker's state; lives on its own thread.
pub(crate) struct Worker {
    pub(crate) side: WorkerSide,
    pub(crate) jobs: Receiver<Job>,
    pub(crate) events: Sender<Event>,
    pub(crate) status: Arc<ArcSwap<Status>>,
    pub(crate) project: Arc<RwLock<ProjectState>>,
    pub(crate) cache: AudioCache,
    pub(crate) sample_rate: f64,
    pub(crate) timeline: CaptureTimeline,
    /// Swaps waiting for room in the ring.
    pub(crate) pending: VecDeque<StemSwap>,
    /// Audio by content hash and sample rate, so rebuilding a slot neither re-reads the cache
    /// nor resamples again.
    pub(crate) sources: HashMap<(String, u32), Arc<StereoAudio>>,
    pub(crate) lost: Vec<String>,
    pub(crate) last_error: Option<String>,
    pub(crate) jobs_done: u64,
    /// The model runtime and packs, once discovered.
    pub(crate) models: Option<Models>,
    /// The discovery running beside the worker, until it reports.
    pub(crate) models_loading: Option<Receiver<Models>>,
}

impl Worker {
    /// Runs until [`Job::Shutdown`] or until the engine handle is gone.
    pub(crate) fn run(mut self) {
        // Loading the runtime and checking the packs (hashing 100 MB of models the first time)
        // happens beside the worker, so activation and state loading never wait for it.
        let (tx, rx) = crossbeam_channel::bounded(1);
        let provider = self.provider();
        let spawned = std::thread::Builder::new()
            .name("counterpart-models".into())
            .spawn(move || {
                let _ = tx.send(Models::discover(provider));
            })
            .is_ok();
        self.models_loading = spawned.then_some(rx);
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
            if let Some(models) = self.models_loading.as_ref().and_then(|rx| rx.try_recv().ok()) {
                self.models = Some(models);
                self.models_loading = None;
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
        }
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::ImportStem(import) => {
                let id = import.id;
                match self.import(import) {
                    Ok(slot) => {
                        self.jobs_done += 1;
                        self.send(Event::StemReady { id, slot });
                    }
                    Err(message) => self.fail(id, message),
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
                    self.timeline.clear(sample_rate);
                    self.rebuild_all();
                    self.deliver();
                }
                let _ = done.send(());
            }
            Job::TranscribeCapture { id, source, slot } => match self.transcribe(id, source, slot) {
                Ok(slot) => {
                    self.jobs_done += 1;
                    self.send(Event::StemReady { id, slot });
                }
                Err(message) => self.fail(id, message),
            },
            Job::SnapshotCapture { reply } => {
                self.drain_capture();
                let _ = reply.send(self.captured_song());
            }
            Job::ClearCapture => self.timeline.clear(self.sample_rate),
            Job::SetProvider { provider } => {
                self.project.write().unwrap_or_else(|e| e.into_inner()).provider = provider;
                self.models_loading = None;
                self.models = Some(Models::discover(provider));
            }
            Job::Restore { state, lost, done } => {
                self.lost = lost;
                let provider_changed = self.models.as_ref().map_or(self.provider(), |m| m.provider) != state.provider;
                *self.project.write().unwrap_or_else(|e| e.into_inner()) = state;
                if provider_changed {
                    self.models_loading = None;
                    self.models = Some(Models::discover(self.provider()));
                }
                self.rebuild_all();
                self.deliver();
                self.send(Event::Restored { lost: self.lost.clone() });
                self.publish();
                let _ = done.send(());
            }
            Job::Plan { id, .. } | Job::Generate(crate::job::GenerateStem { id, .. }) | Job::Export { id, .. } => {
                self.fail(id, "this job is not handled yet".into())
            }
            Job::Cancel { .. } | Job::SelectTake { .. } | Job::DeleteTake { .. } => {}
            Job::ClearSlot { .. } | Job::Shutdown => {}
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

    /// Transcribes a captured input into a MIDI stem and returns its slot.
    fn transcribe(&mut self, id: JobId, source: CaptureSource, slot: Option<usize>) -> Result<usize, String> {
        let slot = self.target_slot(slot)?;
        self.send(Event::Progress { id, stage: "transcribing", fraction: 0.1 });
        self.drain_capture();
        let song = self.captured_song();
        let models = self.models()?;
        let notes = capture_transcription::transcribe_capture(models, &song, source)?;
        if notes.is_empty() {
            return Err(format!("no notes were heard in the captured {source:?} input"));
        }
        let tempo = song.tempo_map.first().map_or(DEFAULT_TEMPO, |p| p.tempo);
        let start_beats = notes[0].start;
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
        self.send(Event::Progress { id, stage: "placing", fraction: 0.9 });
        self.place(record)
    }

    /// The runtime and packs, waiting for the background discovery if it is still running.
    fn models(&mut self) -> Result<&mut Models, String> {
        if self.models.is_none() {
            let loaded = self.models_loading.take().and_then(|rx| rx.recv().ok());
            self.models = Some(loaded.unwrap_or_else(|| Models::discover(self.provider())));
        }
        self.models.as_mut().ok_or_else(|| "the model runtime could not be prepared".to_string())
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
        Ok(PlayableStem { start_sample, audio, notes, output: record.output })
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
        while let Ok(block) = self.side.capture.pop() {
            self.timeline.write(&block);
            any = true;
        }
        any
    }

    /// Publishes the snapshot and copies the capture metadata into the stored project.
    fn publish(&mut self) {
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
            queue: Vec::new(),
            context_peaks: Default::default(),
            main_peaks: Default::default(),
            runtime: self.models.as_ref().map_or_else(String::new, |m| m.runtime_line.clone()),
            packs: self.models.as_ref().map_or_else(Vec::new, |m| m.packs.clone()),
            pack_problems: self.models.as_ref().map_or_else(Vec::new, |m| m.problems.clone()),
            provider: self.models.as_ref().map_or_else(String::new, Models::provider_line),
        }));
    }

    fn fail(&mut self, id: JobId, message: String) {
        self.last_error = Some(message.clone());
        self.send(Event::Failed { id, message });
    }

    fn send(&self, event: Event) {
        // Nobody listening (no editor open) is fine: the snapshot still tells the story.
        let _ = self.events.try_send(event);
    }
}
