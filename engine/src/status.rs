//! The engine's state as the GUI reads it: one immutable snapshot, swapped whole.

use std::sync::Arc;

use crate::capture::Region;
use crate::job::JobId;
use crate::overview::Peaks;
use crate::stem::StemRecord;

/// A snapshot of everything the editor shows about the engine.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// The stems in their slots.
    pub stems: Vec<StemRecord>,
    /// The sample rate the engine builds stems for.
    pub sample_rate: f64,
    /// Captured song regions, in samples at `sample_rate`.
    pub captured: Vec<Region>,
    /// Seconds of song captured.
    pub captured_seconds: f64,
    /// Frames the capture could not keep (song longer than the capture limit).
    pub capture_dropped: u64,
    /// What could not be restored when the project was loaded.
    pub lost: Vec<String>,
    /// The last job failure, for the status line.
    pub last_error: Option<String>,
    /// Which model runtime is loaded, or what is wrong with it and how to fix it.
    pub runtime: String,
    /// Which device the models run on, and why not the chosen one if it fell back.
    pub provider: String,
    /// Usable model packs: name, version, task and licence.
    pub packs: Vec<String>,
    /// Packs that were found but refused, and why.
    pub pack_problems: Vec<String>,
    /// Jobs finished since the plugin started.
    pub jobs_done: u64,
    /// Jobs queued or running, oldest first.
    pub queue: Vec<JobState>,
    /// Jobs that ended lately, oldest first (at most [`RECENT_JOBS`]).
    pub recent: Vec<EndedJob>,
    /// What jobs said lately about doing something other than exactly what was asked, oldest
    /// first (at most [`RECENT_JOBS`]).
    pub notices: Vec<String>,
    /// Waveform summary of the captured context (sidechain) for the editor's overview.
    pub context_peaks: Arc<Peaks>,
    /// Waveform summary of the captured main input.
    pub main_peaks: Arc<Peaks>,
}

/// How many ended jobs and notices the snapshot keeps.
pub const RECENT_JOBS: usize = 20;

/// A job that ended, with how.
#[derive(Debug, Clone, PartialEq)]
pub struct EndedJob {
    /// The job.
    pub id: JobId,
    /// What it was, as the queue called it ("write: remove the vocals").
    pub title: String,
    /// How it ended.
    pub outcome: JobOutcome,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    /// It did what it was asked.
    Done,
    /// It failed, and the sentence says why and what to do.
    Failed(String),
    /// It was cancelled.
    Cancelled,
}

/// A queued or running job as the editor lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobState {
    /// The job.
    pub id: JobId,
    /// What it is ("add · bass · bars 9-16").
    pub title: String,
    /// What it is doing now ("queued", "transcribing", "writing take 2", ...).
    pub stage: String,
    /// 0 to 1.
    pub fraction: f32,
}
