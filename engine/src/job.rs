//! Jobs the GUI and the plugin hand to the engine worker, and the events it sends back.

use std::path::PathBuf;

use crossbeam_channel::Sender;

use crate::capture::{Region, TempoPoint};
use crate::plan::PlannedJob;
use crate::project::ProjectState;
use crate::runtime::ExecutionProvider;
use crate::stem::StemOutput;

/// Identifies a job in the events it produces.
pub type JobId = u64;

/// Work for the engine worker.
#[derive(Debug)]
pub enum Job {
    /// Place a WAV or MIDI file as a stem.
    ImportStem(ImportStem),
    /// Empty a slot.
    ClearSlot {
        /// The slot, 0-based.
        slot: usize,
    },
    /// Change how a slot is heard.
    SetOutput {
        /// The slot, 0-based.
        slot: usize,
        /// Audio, MIDI or both.
        output: StemOutput,
    },
    /// The plugin (re)activated at a sample rate: stems are rebuilt for it.
    Activate {
        /// The new sample rate.
        sample_rate: f64,
        /// Signalled once the rebuilt stems are on their way to the audio thread.
        done: Sender<()>,
    },
    /// Transcribe the captured song into a MIDI stem.
    TranscribeCapture {
        /// The job's id.
        id: JobId,
        /// Which input to transcribe.
        source: CaptureSource,
        /// The slot to fill, or the first free one.
        slot: Option<usize>,
    },
    /// Copy out the captured song.
    SnapshotCapture {
        /// Receives the copy.
        reply: Sender<CapturedSong>,
    },
    /// Run the models on another device (falls back to the CPU with a notice).
    SetProvider {
        /// The device.
        provider: ExecutionProvider,
    },
    /// Forget the captured song.
    ClearCapture,
    /// Replace the project with a stored one; `done` fires when its stems are queued.
    Restore {
        /// The project to load.
        state: ProjectState,
        /// What could not be read while parsing it.
        lost: Vec<String>,
        /// Signalled once the stems are on their way to the audio thread.
        done: Sender<()>,
    },
    /// Parse an instruction into its structured job without running it (the editor's preview).
    Plan {
        /// The job's id.
        id: JobId,
        /// The instruction.
        prompt: String,
    },
    /// Write a new stem (or new takes of one) against the captured song.
    Generate(GenerateStem),
    /// Stop a queued or running job; it ends with [`Event::Cancelled`].
    Cancel {
        /// The job.
        id: JobId,
    },
    /// Make take `take` of `slot` the one that plays.
    SelectTake {
        /// The slot, 0-based.
        slot: usize,
        /// Index into the stem's takes.
        take: usize,
    },
    /// Forget take `take` of `slot` (the slot is cleared when it was the last).
    DeleteTake {
        /// The slot, 0-based.
        slot: usize,
        /// Index into the stem's takes.
        take: usize,
    },
    /// Keep the take of `slot` that is playing when the engine reads this, and forget the others.
    KeepPlayingTake {
        /// The slot, 0-based.
        slot: usize,
    },
    /// Write a slot's playing take as WAV and MIDI into a folder.
    Export {
        /// The job's id.
        id: JobId,
        /// The slot, 0-based.
        slot: usize,
        /// The folder to write into (created if missing).
        folder: PathBuf,
    },
    /// Stop the worker.
    Shutdown,
}

/// An instruction to run against the captured song.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateStem {
    /// The job's id.
    pub id: JobId,
    /// The producer's instruction.
    pub prompt: String,
    /// Which captured input is the context the stem is written against.
    pub source: CaptureSource,
    /// Bars to write (1-based, inclusive), overriding the prompt's (a ruler or loop selection).
    pub bars: Option<[u32; 2]>,
    /// Number of takes.
    pub takes: usize,
    /// The first take's seed.
    pub seed: u64,
    /// The slot to write into: new takes are added to the stem there ("regenerate", "vary");
    /// `None` takes the first free slot.
    pub slot: Option<usize>,
}

/// A file to place as a stem.
#[derive(Debug, Clone)]
pub struct ImportStem {
    /// The job's id.
    pub id: JobId,
    /// A `.wav` or `.mid` file.
    pub path: PathBuf,
    /// The slot to fill, or the first free one.
    pub slot: Option<usize>,
    /// Where the stem starts, in beats from the song start.
    pub start_beats: f64,
    /// How the stem is heard.
    pub output: StemOutput,
}

/// What the worker reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A job made progress.
    Progress {
        /// The job.
        id: JobId,
        /// What it is doing.
        stage: &'static str,
        /// 0 to 1.
        fraction: f32,
    },
    /// A stem is in place and playing.
    StemReady {
        /// The job that made it.
        id: JobId,
        /// Its slot.
        slot: usize,
    },
    /// A job failed; the message says why and what to do.
    Failed {
        /// The job.
        id: JobId,
        /// A sentence for the producer.
        message: String,
    },
    /// An instruction was parsed (answer to [`Job::Plan`]).
    Planned {
        /// The job.
        id: JobId,
        /// What the planner understood.
        job: Box<PlannedJob>,
    },
    /// A take was written and placed; it plays now.
    TakeReady {
        /// The job that wrote it.
        id: JobId,
        /// Its slot.
        slot: usize,
        /// Its index among the stem's takes.
        take: usize,
    },
    /// A stem was written to files.
    Exported {
        /// The job.
        id: JobId,
        /// The files written.
        files: Vec<PathBuf>,
    },
    /// A job did something other than exactly what was asked (a reversed or clamped bar range,
    /// an unknown instrument, an unclear key) and says so; the job goes on.
    Notice {
        /// The job.
        id: JobId,
        /// A sentence for the producer.
        message: String,
    },
    /// A job was cancelled before it finished; nothing it would have made was kept.
    Cancelled {
        /// The job.
        id: JobId,
    },
    /// A stored project was loaded; `lost` lists what could not be restored.
    Restored {
        /// One sentence per lost part.
        lost: Vec<String>,
    },
}

/// Which captured input a job reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureSource {
    /// The main input (the bus or master the plugin sits on).
    Main,
    /// The sidechain (the context tracks routed to it).
    Sidechain,
}

/// A copy of the captured song: every channel from the first captured sample to the last.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapturedSong {
    /// The capture's sample rate.
    pub sample_rate: f64,
    /// Song sample of the first frame in `channels`.
    pub start: i64,
    /// Main left, main right, sidechain left, sidechain right; gaps are silence.
    pub channels: [Vec<f32>; 4],
    /// The captured regions (the rest is gaps).
    pub regions: Vec<Region>,
    /// Tempo and meter changes seen while capturing.
    pub tempo_map: Vec<TempoPoint>,
}

impl CapturedSong {
    /// The beat at song sample `pos`; before anything was captured, 120 BPM from the start.
    pub fn beat_at(&self, pos: i64) -> f64 {
        crate::capture::beat_at(&self.tempo_map, self.sample_rate, pos)
            .unwrap_or(pos as f64 / self.sample_rate.max(1.0) * 2.0)
    }
}
