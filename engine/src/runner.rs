//! The job runner: one thread beside the worker that runs the heavy jobs (generate, edit,
//! transcribe, export) one after another, so the worker keeps draining the capture ring and
//! delivering stems while a model runs; instruction previews have a thread of their own
//! (`preview`). The runner owns the models; the worker owns the project and places what the
//! runner reports.

mod edit;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};

use crate::analysis::tempo::Meter;
use crate::cache::AudioCache;
use crate::capture::TempoPoint;
use crate::capture_transcription::{transcribe_capture, transcribe_capture_seconds};
use crate::generate::{Arranger, SongInput, StemOverrides, StemRequest};
use crate::job::{CaptureSource, CapturedSong, GenerateStem, JobId};
use crate::midi::encode_midi;
use crate::models::Models;
use crate::packs::{Pack, TaskKind};
use crate::plan::{self, PlannedJob, SongContext};
use crate::render::Renderer;
use crate::runtime::{ExecutionProvider, SessionSettings};
use crate::stem::{Note, StemRecord, StereoAudio, TakeRecord};
use crate::wav::write_wav;
pub(crate) use edit::{EditStem, Edited};

/// Tempo assumed where the capture has none.
const DEFAULT_TEMPO: f64 = 120.0;
/// Seconds a rendered take runs past its last note-off (release and reverb).
const RENDER_TAIL: f64 = 1.0;

/// What the worker and the runner share: which jobs were cancelled, and whether to stop.
#[derive(Debug, Default)]
pub(crate) struct Cancels {
    ids: Mutex<HashSet<JobId>>,
    shutdown: AtomicBool,
}

impl Cancels {
    /// Marks a job cancelled.
    pub(crate) fn cancel(&self, id: JobId) {
        self.ids.lock().unwrap_or_else(|e| e.into_inner()).insert(id);
    }

    /// Whether a job was cancelled (or the engine is stopping).
    pub(crate) fn is_cancelled(&self, id: JobId) -> bool {
        self.shutdown.load(Ordering::Relaxed) || self.ids.lock().unwrap_or_else(|e| e.into_inner()).contains(&id)
    }

    /// Forgets a finished job's mark.
    pub(crate) fn forget(&self, id: JobId) {
        self.ids.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    /// Stops every job at its next check.
    pub(crate) fn shut_down(&self) {
        self.shutdown.store(true, Ordering::Relaxed);
    }
}

/// Work for the runner.
#[derive(Debug)]
pub(crate) enum Task {
    /// Write takes at `sample_rate` (or edit the main input, when the prompt asks to remove,
    /// extract or replace a part); `base` is the playing take of the slot written into, whose
    /// notes outside the written bars are kept.
    Generate { job: GenerateStem, sample_rate: f64, base: Option<Vec<Note>> },
    /// Transcribe a captured input.
    Transcribe { id: JobId, source: CaptureSource },
    /// Write a stem's playing take into a folder.
    Export { id: JobId, record: Box<StemRecord>, folder: PathBuf },
    /// Reload the models for another device.
    SetProvider(ExecutionProvider),
}

/// The model runtime and packs as the status line shows them.
#[derive(Debug, Clone)]
pub(crate) struct ModelsInfo {
    pub(crate) runtime_line: String,
    pub(crate) packs: Vec<String>,
    pub(crate) problems: Vec<String>,
    pub(crate) provider_line: String,
    /// The prompt model's pack for the preview thread, or why there is none.
    pub(crate) embedder: Result<Box<Pack>, String>,
}

/// What the runner tells the worker.
#[derive(Debug)]
pub(crate) enum Report {
    /// The models were (re)loaded.
    Models(ModelsInfo),
    /// The runner needs a copy of the captured song.
    Snapshot(Sender<CapturedSong>),
    /// The runner needs a copy of the captured song with its main input as heard, the edits of
    /// `part` left out.
    HeardSnapshot { part: String, reply: Sender<CapturedSong> },
    /// A job moved on: the event's stage, the queue's wording, 0 to 1.
    Progress { id: JobId, stage: &'static str, detail: String, fraction: f32 },
    /// A job did something other than exactly what was asked, and says what.
    Notice { id: JobId, message: String },
    /// A job ended.
    Done { id: JobId, outcome: Outcome },
    /// The preview thread read an instruction (not a job: it was never queued).
    Preview { id: JobId, prompt: String, planned: Result<Box<PlannedJob>, String> },
}

/// How a job ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    Takes(NewTakes),
    Edited(Box<Edited>),
    Transcribed { notes: Vec<Note>, tempo: f64 },
    Exported(Vec<PathBuf>),
    Failed(String),
    Cancelled,
}

/// A long step's view of its job: reports how far it got and says when to stop.
struct Watch {
    id: JobId,
    stage: &'static str,
    detail: String,
    /// The job's progress at the step's start and end.
    from: f32,
    to: f32,
    /// The share last reported.
    told: f32,
    stopped: bool,
    reports: Sender<Report>,
    cancels: Arc<Cancels>,
}

impl Watch {
    /// Hears that `done` (0 to 1) of the step is done; false when the job was cancelled.
    fn tell(&mut self, done: f32) -> bool {
        if done - self.told >= 0.02 {
            self.told = done;
            let fraction = self.from + (self.to - self.from) * done;
            let (id, stage, detail) = (self.id, self.stage, self.detail.clone());
            let _ = self.reports.send(Report::Progress { id, stage, detail, fraction });
        }
        self.stopped = self.cancels.is_cancelled(self.id);
        !self.stopped
    }

    /// Cancelled when the step stopped for a cancel (its own error is then beside the point).
    fn check(&self) -> Result<(), Stop> {
        if self.stopped { Err(Stop::Cancelled) } else { Ok(()) }
    }
}

/// Takes written for one stem, their audio already in the cache.
#[derive(Debug)]
pub(crate) struct NewTakes {
    /// The stem's name (its role).
    pub(crate) name: String,
    /// The tempo the takes were rendered at.
    pub(crate) tempo: f64,
    /// The takes, labelled by the worker when it places them.
    pub(crate) takes: Vec<TakeRecord>,
    /// Each take's audio, so the worker need not read it back from the cache.
    pub(crate) audio: Vec<Arc<StereoAudio>>,
}

/// Why a job stopped early.
enum Stop {
    Failed(String),
    Cancelled,
}

impl From<String> for Stop {
    fn from(message: String) -> Self {
        Stop::Failed(message)
    }
}

/// The runner thread's state.
pub(crate) struct Runner {
    pub(crate) tasks: Receiver<Task>,
    pub(crate) reports: Sender<Report>,
    pub(crate) cancels: Arc<Cancels>,
    pub(crate) cache: AudioCache,
    pub(crate) provider: ExecutionProvider,
    models: Option<Models>,
    /// The prompt embedder and the arranger model, built on first use and kept between jobs.
    arranger: Option<Arranger>,
    renderer: Option<Renderer>,
    /// The share of the running job's progress bar the current step fills (an edit that
    /// writes a new part gives the writing its second half).
    span: (f32, f32),
}

impl Runner {
    /// A runner that loads the models for `provider` when it starts.
    pub(crate) fn new(
        tasks: Receiver<Task>,
        reports: Sender<Report>,
        cancels: Arc<Cancels>,
        cache: AudioCache,
        provider: ExecutionProvider,
    ) -> Self {
        Self {
            tasks,
            reports,
            cancels,
            cache,
            provider,
            models: None,
            arranger: None,
            renderer: None,
            span: (0.0, 1.0),
        }
    }

    /// Loads the models, then runs tasks until the worker hangs up.
    pub(crate) fn run(mut self) {
        self.load_models(self.provider);
        while let Ok(task) = self.tasks.recv() {
            let id = match &task {
                Task::SetProvider(provider) => {
                    self.load_models(*provider);
                    continue;
                }
                Task::Transcribe { id, .. } | Task::Export { id, .. } => *id,
                Task::Generate { job, .. } => job.id,
            };
            // Cancelled while queued: the worker already said so.
            if self.cancels.is_cancelled(id) {
                self.cancels.forget(id);
                continue;
            }
            self.span = (0.0, 1.0);
            self.progress(id, "starting", "starting".into(), 0.0);
            let result = match task {
                Task::Generate { job, sample_rate, base } => self.generate_or_edit(&job, sample_rate, base),
                Task::Transcribe { source, .. } => self.transcribe(id, source),
                Task::Export { record, folder, .. } => self.export(id, &record, &folder).map(Outcome::Exported),
                Task::SetProvider(_) => continue,
            };
            let outcome = match result {
                Ok(outcome) => outcome,
                Err(Stop::Failed(message)) => Outcome::Failed(message),
                Err(Stop::Cancelled) => Outcome::Cancelled,
            };
            if self.reports.send(Report::Done { id, outcome }).is_err() {
                break;
            }
        }
    }

    fn load_models(&mut self, provider: ExecutionProvider) {
        self.provider = provider;
        self.arranger = None;
        let mut models = Models::discover(provider);
        let embedder = models
            .registry()
            .and_then(|r| r.find(TaskKind::Embedder).map(|p| Box::new(p.clone())).map_err(|e| e.to_string()));
        let info = ModelsInfo {
            runtime_line: models.runtime_line.clone(),
            packs: models.packs.clone(),
            problems: models.problems.clone(),
            provider_line: models.provider_line(),
            embedder,
        };
        self.models = Some(models);
        let _ = self.reports.send(Report::Models(info));
    }

    fn check(&self, id: JobId) -> Result<(), Stop> {
        if self.cancels.is_cancelled(id) { Err(Stop::Cancelled) } else { Ok(()) }
    }

    /// Progress of job `id` inside a long step (its stage and the queue's wording), over the
    /// share `range` of the job, and the way the step hears that the job was cancelled.
    fn watch(&self, id: JobId, stage: &'static str, detail: String, range: (f32, f32)) -> Watch {
        let (from, to) =
            (self.span.0 + (self.span.1 - self.span.0) * range.0, self.span.0 + (self.span.1 - self.span.0) * range.1);
        Watch {
            id,
            stage,
            detail,
            from,
            to,
            told: 0.0,
            stopped: false,
            reports: self.reports.clone(),
            cancels: self.cancels.clone(),
        }
    }

    fn progress(&self, id: JobId, stage: &'static str, detail: String, fraction: f32) {
        let fraction = self.span.0 + (self.span.1 - self.span.0) * fraction;
        let _ = self.reports.send(Report::Progress { id, stage, detail, fraction });
    }

    fn models(&mut self) -> Result<&mut Models, String> {
        if self.models.is_none() {
            self.load_models(self.provider);
        }
        self.models.as_mut().ok_or_else(|| "the model runtime could not be prepared".to_string())
    }

    /// A copy of the captured song, from the worker.
    fn snapshot(&self) -> Result<CapturedSong, Stop> {
        let (reply, wait) = crossbeam_channel::bounded(1);
        self.reports.send(Report::Snapshot(reply)).map_err(|_| Stop::Cancelled)?;
        wait.recv().map_err(|_| Stop::Cancelled)
    }

    /// A copy of the captured song whose main input is as heard: with the edits of other parts
    /// than `part` (see the worker's `heard_song`).
    fn heard_snapshot(&self, part: &str) -> Result<CapturedSong, Stop> {
        let (reply, wait) = crossbeam_channel::bounded(1);
        self.reports.send(Report::HeardSnapshot { part: part.into(), reply }).map_err(|_| Stop::Cancelled)?;
        wait.recv().map_err(|_| Stop::Cancelled)
    }

    /// What the planner makes of `prompt` in a song of `bars` bars.
    fn planned(&mut self, prompt: &str, bars: Option<u32>) -> Result<PlannedJob, Stop> {
        let embedder = self.arranger()?.embedder();
        Ok(plan::plan(prompt, &SongContext { bars, ..SongContext::default() }, embedder))
    }

    /// The prompt embedder and the arranger model for the chosen device, built on first use.
    fn arranger(&mut self) -> Result<&mut Arranger, Stop> {
        if self.arranger.is_none() {
            let settings = SessionSettings { provider: self.provider, ..SessionSettings::default() };
            let registry = self.models()?.registry()?;
            self.arranger = Some(Arranger::from_registry(registry, &settings)?);
        }
        self.arranger.as_mut().ok_or_else(|| Stop::Failed("the prompt model could not be loaded".into()))
    }

    /// Runs an instruction: one that removes, extracts or replaces a part edits the captured main
    /// input ([`Self::edit`]); anything else writes takes against the captured context.
    fn generate_or_edit(
        &mut self,
        job: &GenerateStem,
        sample_rate: f64,
        base: Option<Vec<Note>>,
    ) -> Result<Outcome, Stop> {
        self.progress(job.id, "planning", "reading the instruction".into(), 0.02);
        let planned = self.planned(&job.prompt, None)?;
        if edit::is_edit(&planned) {
            return self.edit(job, &planned, sample_rate, base);
        }
        let song = self.snapshot()?;
        let request =
            StemRequest { prompt: job.prompt.clone(), bars: job.bars, takes: job.takes.max(1), seed: job.seed };
        self.write_takes(job, &song, job.source, request, sample_rate, base).map(Outcome::Takes)
    }

    fn transcribe(&mut self, id: JobId, source: CaptureSource) -> Result<Outcome, Stop> {
        self.progress(id, "transcribing", "transcribing".into(), 0.1);
        let song = self.snapshot()?;
        let mut watch = self.watch(id, "transcribing", "transcribing".into(), (0.1, 0.9));
        let notes = transcribe_capture(self.models()?, &song, source, &mut |done| watch.tell(done));
        watch.check()?;
        let notes = notes?;
        if notes.is_empty() {
            return Err(format!("no notes were heard in the captured {source:?} input").into());
        }
        self.check(id)?;
        let tempo = song.tempo_map.first().map_or(DEFAULT_TEMPO, |p| p.tempo);
        Ok(Outcome::Transcribed { notes, tempo })
    }

    /// Transcribes `source` of `song` (the context), writes the takes `request` asks for on the
    /// host's bar grid, renders each at the plugin's rate and stores it in the cache. Nothing
    /// reaches the project from here: the worker places the takes once all are done, so a
    /// cancelled job leaves nothing behind.
    fn write_takes(
        &mut self,
        job: &GenerateStem,
        song: &CapturedSong,
        source: CaptureSource,
        request: StemRequest,
        sample_rate: f64,
        base: Option<Vec<Note>>,
    ) -> Result<NewTakes, Stop> {
        let id = job.id;
        self.progress(id, "transcribing", "transcribing the context".into(), 0.05);
        let mut watch = self.watch(id, "transcribing", "transcribing the context".into(), (0.05, 0.15));
        let heard = transcribe_capture_seconds(self.models()?, song, source, &mut |done| watch.tell(done));
        watch.check()?;
        let heard = heard?;

        // The host's grid: bar 1 is the host's song beat 0. Notes are moved from captured time
        // onto the song's beats through the captured tempo map, then counted at one tempo.
        let point = song.tempo_map.first().copied();
        let tempo = point.map_or(DEFAULT_TEMPO, |p| p.tempo);
        let signature = point.map(|p| p.signature).unwrap_or_default();
        let meter = Meter { beats: signature.numerator.max(1) as u32, unit: signature.denominator.max(1) as u32 };
        let seconds =
            |captured: f64| song.beat_at(song.start + (captured * song.sample_rate).round() as i64) * 60.0 / tempo;
        let heard: Vec<_> = heard
            .into_iter()
            .map(|mut n| {
                (n.start, n.end) = (seconds(n.start), seconds(n.end));
                n
            })
            .collect();
        let captured = song.channels[0].len() as f64 / song.sample_rate.max(1.0);
        let input = SongInput {
            heard,
            duration: seconds(captured),
            tempo: Some(tempo),
            meter,
            origin: Some(0.0),
            from_midi: false,
        };
        let reports = self.reports.clone();
        let takes = request.takes;
        let span = self.span;
        let arrangement = self.arranger()?.arrange(&input, &request, &StemOverrides::default(), |step| {
            let (stage, fraction) = match step {
                "analysing" => ("analysing", 0.15),
                "planning" => ("planning", 0.2),
                s if s.starts_with("writing take") => {
                    let n: usize =
                        s["writing take ".len()..].split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(1);
                    ("writing", 0.25 + 0.25 * (n - 1) as f32 / takes as f32)
                }
                _ => return,
            };
            let fraction = span.0 + (span.1 - span.0) * fraction;
            let _ = reports.send(Report::Progress { id, stage, detail: step.to_string(), fraction });
        })?;
        for message in arrangement.job.warnings.iter().chain(&arrangement.job.errors) {
            let _ = self.reports.send(Report::Notice { id, message: message.clone() });
        }
        self.check(id)?;

        let bar_beats = arrangement.bar_beats;
        let written = ((arrangement.bars[0] - 1) as f64 * bar_beats, arrangement.bars[1] as f64 * bar_beats);
        if self.renderer.is_none() {
            self.renderer = Some(Renderer::open_default()?);
        }
        let mut out =
            NewTakes { name: arrangement.role.name().to_string(), tempo, takes: Vec::new(), audio: Vec::new() };
        for (n, take) in arrangement.takes.iter().enumerate() {
            let fraction = 0.5 + 0.45 * n as f32 / arrangement.takes.len() as f32;
            self.progress(id, "rendering", format!("rendering take {}", n + 1), fraction);
            let mut notes: Vec<Note> = match &base {
                Some(base) => base.iter().filter(|b| b.start < written.0 || b.start >= written.1).copied().collect(),
                None => Vec::new(),
            };
            notes.extend(take.notes.iter().copied());
            notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.key.cmp(&b.key)));
            let first = notes.first().map_or(written.0, |n| n.start).min(written.0);
            let start_beats = (first / bar_beats).floor().max(0.0) * bar_beats;
            let take_tempo = tempo_at_beat(&song.tempo_map, start_beats);
            let renderer = self.renderer.as_ref().ok_or_else(|| "no SoundFont".to_string())?;
            let audio = renderer.render(
                &notes,
                arrangement.program,
                start_beats,
                take_tempo,
                sample_rate.round() as u32,
                RENDER_TAIL,
            )?;
            self.check(id)?;
            let reference = self.cache.store(&audio)?;
            out.takes.push(TakeRecord {
                label: String::new(),
                prompt: job.prompt.clone(),
                seed: take.seed,
                audio: Some(reference),
                notes,
                program: arrangement.program,
                start_beats,
                start_seconds: seconds_at_beat(&song.tempo_map, song.sample_rate, start_beats),
                ..TakeRecord::default()
            });
            out.audio.push(Arc::new(audio));
        }
        self.check(id)?;
        Ok(out)
    }

    /// Writes the record's playing take as `<name>.wav` (from the song start, so it lines up
    /// when dropped at bar 1) and `<name>.mid` (beats from the song start) into `folder`.
    fn export(&mut self, id: JobId, record: &StemRecord, folder: &Path) -> Result<Vec<PathBuf>, Stop> {
        self.progress(id, "writing", "writing files".into(), 0.2);
        if record.audio.is_none() && record.notes.is_empty() {
            return Err(format!("slot {} has nothing to export", record.slot + 1).into());
        }
        let unwritable = |e: std::io::Error| {
            format!("cannot write into {} ({e}); choose a folder you can write to", folder.display())
        };
        std::fs::create_dir_all(folder).map_err(unwritable)?;
        let name: String = record
            .name
            .chars()
            .map(|c| if c.is_alphanumeric() || matches!(c, ' ' | '-' | '_') { c } else { '_' })
            .collect();
        let name = if name.trim().is_empty() { format!("stem {}", record.slot + 1) } else { name };
        let mut files = Vec::new();
        if let Some(reference) = &record.audio {
            let audio = self.cache.load(reference)?;
            let lead = (record.start_seconds.max(0.0) * audio.sample_rate as f64).round() as usize;
            let pad = |channel: &[f32]| std::iter::repeat_n(0.0, lead).chain(channel.iter().copied()).collect();
            let padded =
                StereoAudio { sample_rate: audio.sample_rate, left: pad(&audio.left), right: pad(&audio.right) };
            let path = folder.join(format!("{name}.wav"));
            write_wav(&path, &padded).map_err(|e| format!("{e}; choose a folder you can write to"))?;
            files.push(path);
        }
        self.check(id)?;
        if !record.notes.is_empty() {
            let program = record.playing_take().and_then(|t| t.program);
            let bytes = encode_midi(&record.notes, record.tempo, record.slot as u8, program);
            let path = folder.join(format!("{name}.mid"));
            std::fs::write(&path, bytes).map_err(unwritable)?;
            files.push(path);
        }
        Ok(files)
    }
}

/// The tempo in force at song beat `beat`.
fn tempo_at_beat(map: &[TempoPoint], beat: f64) -> f64 {
    let at = map.partition_point(|p| p.beats <= beat);
    map.get(at.saturating_sub(1)).map_or(DEFAULT_TEMPO, |p| p.tempo)
}

/// Seconds from the song start to song beat `beat`, through the captured tempo map.
fn seconds_at_beat(map: &[TempoPoint], sample_rate: f64, beat: f64) -> f64 {
    let at = map.partition_point(|p| p.beats <= beat);
    match map.get(at.saturating_sub(1)) {
        Some(p) => p.pos as f64 / sample_rate.max(1.0) + (beat - p.beats) * 60.0 / p.tempo,
        None => beat * 60.0 / DEFAULT_TEMPO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::TimeSignature;

    #[test]
    fn beats_map_to_seconds_through_tempo_changes() {
        let signature = TimeSignature::default();
        let map = [
            TempoPoint { pos: 0, beats: 0.0, tempo: 120.0, signature },
            TempoPoint { pos: 96_000, beats: 4.0, tempo: 60.0, signature },
        ];
        assert_eq!(seconds_at_beat(&map, 48_000.0, 2.0), 1.0);
        assert_eq!(seconds_at_beat(&map, 48_000.0, 6.0), 4.0);
        assert_eq!(tempo_at_beat(&map, 3.9), 120.0);
        assert_eq!(tempo_at_beat(&map, 4.0), 60.0);
        assert_eq!(seconds_at_beat(&[], 48_000.0, 4.0), 2.0);
    }

    #[test]
    fn a_cancel_mark_holds_until_forgotten_and_shutdown_cancels_everything() {
        let cancels = Cancels::default();
        cancels.cancel(3);
        assert!(cancels.is_cancelled(3) && !cancels.is_cancelled(4));
        cancels.forget(3);
        assert!(!cancels.is_cancelled(3));
        cancels.shut_down();
        assert!(cancels.is_cancelled(4));
    }
}
