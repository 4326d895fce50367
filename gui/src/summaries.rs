//! Waveform and piano-roll summaries of the stems, computed on a background thread and cached by
//! content (the audio's hash, a hash of the notes): the GUI thread only looks them up and draws.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use counterpart_engine::cache::AudioCache;
use counterpart_engine::overview::Peaks;
use counterpart_engine::stem::{AudioRef, Note, StereoAudio};
use crossbeam_channel::{Receiver, Sender};

/// Frames per min/max pair in the finest waveform level.
const BASE_FRAMES_PER_PEAK: usize = 128;
/// Each coarser level summarises this many pairs of the one below.
const LEVEL_FACTOR: usize = 4;

/// One resolution of a waveform: min and max of each chunk of `frames_per_peak` frames.
#[derive(Debug, Clone, Default)]
pub struct Level {
    /// Frames per pair.
    pub frames_per_peak: usize,
    /// Lowest sample of each chunk (both channels).
    pub min: Vec<f32>,
    /// Highest sample of each chunk (both channels).
    pub max: Vec<f32>,
}

/// A waveform at several resolutions, finest first, so drawing reads about one pair per pixel.
#[derive(Debug, Clone, Default)]
pub struct WaveSummary {
    /// The audio's sample rate.
    pub sample_rate: f64,
    /// Resolutions, finest first.
    pub levels: Vec<Level>,
}

impl WaveSummary {
    /// Summarises stereo audio (both channels into one envelope).
    pub fn of_audio(audio: &StereoAudio) -> Self {
        let left = Peaks::of(&audio.left, BASE_FRAMES_PER_PEAK, 0, audio.sample_rate as f64);
        let right = Peaks::of(&audio.right, BASE_FRAMES_PER_PEAK, 0, audio.sample_rate as f64);
        let base = Level {
            frames_per_peak: BASE_FRAMES_PER_PEAK,
            min: left.min.iter().zip(&right.min).map(|(a, b)| a.min(*b)).collect(),
            max: left.max.iter().zip(&right.max).map(|(a, b)| a.max(*b)).collect(),
        };
        Self::with_levels(base, audio.sample_rate as f64)
    }

    /// Builds the coarser levels above `base`.
    fn with_levels(base: Level, sample_rate: f64) -> Self {
        let mut levels = vec![base];
        while let Some(last) = levels.last().filter(|l| l.min.len() > 64) {
            let next = Level {
                frames_per_peak: last.frames_per_peak * LEVEL_FACTOR,
                min: last.min.chunks(LEVEL_FACTOR).map(|c| c.iter().copied().fold(0.0, f32::min)).collect(),
                max: last.max.chunks(LEVEL_FACTOR).map(|c| c.iter().copied().fold(0.0, f32::max)).collect(),
            };
            levels.push(next);
        }
        Self { sample_rate, levels }
    }

    /// The coarsest level that still has at least one pair per `frames_per_pixel` frames.
    pub fn level_for(&self, frames_per_pixel: f64) -> Option<&Level> {
        self.levels
            .iter()
            .take_while(|l| l.frames_per_peak as f64 <= frames_per_pixel.max(1.0))
            .last()
            .or(self.levels.first())
    }
}

/// A stem's notes sorted by start with their pitch range, for the piano roll.
#[derive(Debug, Clone, Default)]
pub struct NoteSummary {
    /// The notes, sorted by start.
    pub notes: Vec<Note>,
    /// Lowest key.
    pub low: u8,
    /// Highest key.
    pub high: u8,
    /// The longest note, to find the notes sounding at a beat.
    pub longest: f64,
}

impl NoteSummary {
    /// Sorts and measures `notes` (notes that are not numbers are left out).
    pub fn of(notes: &[Note]) -> Self {
        let mut notes: Vec<Note> =
            notes.iter().filter(|n| n.start.is_finite() && n.length.is_finite() && n.key < 128).copied().collect();
        notes.sort_by(|a, b| a.start.total_cmp(&b.start));
        let low = notes.iter().map(|n| n.key).min().unwrap_or(60);
        let high = notes.iter().map(|n| n.key).max().unwrap_or(60);
        let longest = notes.iter().map(|n| n.length.max(0.0)).fold(0.0, f64::max);
        Self { notes, low, high, longest }
    }

    /// The notes that sound somewhere in `from..to` beats.
    pub fn sounding(&self, from: f64, to: f64) -> &[Note] {
        let first = self.notes.partition_point(|n| n.start + self.longest < from);
        let last = self.notes.partition_point(|n| n.start < to);
        &self.notes[first..last.max(first)]
    }
}

/// A content key for a list of notes.
pub fn notes_key(notes: &[Note]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    notes.len().hash(&mut hasher);
    for n in notes {
        (n.start.to_bits(), n.length.to_bits(), n.key, n.velocity).hash(&mut hasher);
    }
    hasher.finish()
}

/// A summary the GUI waits for, or what went wrong making it.
#[derive(Debug, Clone)]
pub enum Entry<T> {
    /// Being computed.
    Pending,
    /// Ready to draw.
    Ready(Arc<T>),
    /// Could not be made (missing or damaged audio); the message says why.
    Failed(String),
}

enum Request {
    Wave(AudioRef),
    Notes(u64, Vec<Note>),
}

enum Done {
    Wave(String, Result<WaveSummary, String>),
    Notes(u64, NoteSummary),
}

/// A note list's first and last note and its content key.
type MemoKey = (Option<Note>, Option<Note>, u64);

/// The summary cache and the thread that fills it; dropping it stops and joins the thread, so no
/// editor code runs after the plugin is gone (a host may unload the plugin right after destroying
/// it, and a thread still running its code would crash the host).
pub struct Summaries {
    requests: Sender<Request>,
    thread: Option<JoinHandle<()>>,
    done: Receiver<Done>,
    waves: HashMap<String, Entry<WaveSummary>>,
    notes: HashMap<u64, Entry<NoteSummary>>,
    /// Content keys of note lists already hashed, by where they live in the current snapshot
    /// (checked against their first and last note), so a frame does not hash them again.
    key_memo: HashMap<(usize, usize), MemoKey>,
    /// Each lane's last mesh and what it was built from.
    meshes: HashMap<usize, (u64, Arc<egui::Mesh>)>,
}

impl Summaries {
    /// Starts the summary thread over the audio cache.
    pub fn new(cache: AudioCache) -> Self {
        let (requests, jobs) = crossbeam_channel::unbounded::<Request>();
        let (finished, done) = crossbeam_channel::unbounded();
        let spawned = std::thread::Builder::new().name("counterpart-summaries".into()).spawn(move || {
            for request in jobs {
                let result = match request {
                    Request::Wave(audio) => {
                        Done::Wave(audio.hash.clone(), cache.load(&audio).map(|a| WaveSummary::of_audio(&a)))
                    }
                    Request::Notes(key, notes) => Done::Notes(key, NoteSummary::of(&notes)),
                };
                if finished.send(result).is_err() {
                    break;
                }
            }
        });
        let thread = match spawned {
            Ok(thread) => thread,
            Err(e) => {
                // Without the thread every summary reports why; the editor still works.
                let (tx, rx) = crossbeam_channel::unbounded();
                drop(rx);
                let mut this = Self {
                    requests: tx,
                    thread: None,
                    done,
                    waves: HashMap::new(),
                    notes: HashMap::new(),
                    key_memo: HashMap::new(),
                    meshes: HashMap::new(),
                };
                this.waves.insert(String::new(), Entry::Failed(format!("no summary thread: {e}")));
                return this;
            }
        };
        Self {
            requests,
            thread: Some(thread),
            done,

            waves: HashMap::new(),
            notes: HashMap::new(),
            key_memo: HashMap::new(),
            meshes: HashMap::new(),
        }
    }

    /// Takes in what the thread finished.
    pub fn poll(&mut self) {
        while let Ok(done) = self.done.try_recv() {
            match done {
                Done::Wave(hash, Ok(wave)) => {
                    self.waves.insert(hash, Entry::Ready(Arc::new(wave)));
                }
                Done::Wave(hash, Err(message)) => {
                    self.waves.insert(hash, Entry::Failed(message));
                }
                Done::Notes(key, notes) => {
                    self.notes.insert(key, Entry::Ready(Arc::new(notes)));
                }
            }
        }
    }

    /// The waveform of `audio`, asking for it the first time.
    pub fn wave(&mut self, audio: &AudioRef) -> Entry<WaveSummary> {
        if let Some(entry) = self.waves.get(&audio.hash) {
            return entry.clone();
        }
        let entry = match self.requests.send(Request::Wave(audio.clone())) {
            Ok(()) => Entry::Pending,
            Err(_) => Entry::Failed("the summary thread is not running".into()),
        };
        self.waves.insert(audio.hash.clone(), entry.clone());
        entry
    }

    /// The piano roll of `notes` under `key` ([`notes_key`]), asking for it the first time.
    pub fn notes(&mut self, key: u64, notes: &[Note]) -> Entry<NoteSummary> {
        if let Some(entry) = self.notes.get(&key) {
            return entry.clone();
        }
        let entry = match self.requests.send(Request::Notes(key, notes.to_vec())) {
            Ok(()) => Entry::Pending,
            Err(_) => Entry::Failed("the summary thread is not running".into()),
        };
        self.notes.insert(key, entry.clone());
        entry
    }

    /// The piano roll of a stem's notes, hashing them only when this list was not seen before.
    pub fn notes_of(&mut self, notes: &[Note]) -> Entry<NoteSummary> {
        let place = (notes.as_ptr() as usize, notes.len());
        let ends = (notes.first().copied(), notes.last().copied());
        let key = match self.key_memo.get(&place) {
            Some(&(first, last, key)) if (first, last) == ends => key,
            _ => {
                if self.key_memo.len() > 1024 {
                    self.key_memo.clear();
                }
                let key = notes_key(notes);
                self.key_memo.insert(place, (ends.0, ends.1, key));
                key
            }
        };
        self.notes(key, notes)
    }

    /// Lane `slot`'s mesh for `key`, built by `build` only when the key changed.
    pub fn mesh(&mut self, slot: usize, key: u64, build: impl FnOnce() -> egui::Mesh) -> Arc<egui::Mesh> {
        match self.meshes.get(&slot) {
            Some((built_for, mesh)) if *built_for == key => mesh.clone(),
            _ => {
                let mesh = Arc::new(build());
                self.meshes.insert(slot, (key, mesh.clone()));
                mesh
            }
        }
    }

    /// Whether anything asked for is still being computed.
    pub fn busy(&self) -> bool {
        self.waves.values().any(|e| matches!(e, Entry::Pending))
            || self.notes.values().any(|e| matches!(e, Entry::Pending))
    }

    /// Waits (polling) until nothing is pending or `timeout` passes; for tests and benchmarks.
    pub fn settle(&mut self, timeout: Duration) -> bool {
        let start = Instant::now();
        loop {
            self.poll();
            if !self.busy() {
                return true;
            }
            if start.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Summaries {
    fn drop(&mut self) {
        // Hanging up the requests ends the thread's loop after the summary it is on.
        drop(std::mem::replace(&mut self.requests, crossbeam_channel::bounded(0).0));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Threads of this process whose name starts with `prefix` (Linux names are cut to 15 bytes).
    #[cfg(target_os = "linux")]
    fn threads_named(prefix: &str) -> usize {
        let tasks = std::fs::read_dir("/proc/self/task").expect("lists this process's threads");
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.trim_end().starts_with(prefix))
            .count()
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn dropping_the_summaries_joins_their_thread_even_while_it_is_busy() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = AudioCache::new(dir.path());
        // Two minutes of audio keep a debug build's thread busy for a while.
        let n = 48_000 * 120;
        let audio = StereoAudio { sample_rate: 48_000, left: vec![0.25; n], right: vec![-0.25; n] };
        let reference = cache.store(&audio).expect("stored");
        let name = "counterpart-sum";
        assert_eq!(threads_named(name), 0, "no summary thread before");
        let mut summaries = Summaries::new(cache);
        // A new thread names itself once it runs.
        let start = Instant::now();
        while threads_named(name) == 0 && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(threads_named(name), 1, "the summary thread runs");
        assert!(matches!(summaries.wave(&reference), Entry::Pending));
        drop(summaries);
        // Joined: the thread has ended. The kernel may still list an exited thread in
        // /proc/self/task for a moment after the join returns, so look again for a while.
        let joined = Instant::now();
        while threads_named(name) != 0 && joined.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(threads_named(name), 0, "the summary thread outlived the editor");
    }

    #[test]
    fn levels_keep_the_extremes_and_pick_about_one_pair_per_pixel() {
        let n = 48_000 * 10;
        let left: Vec<f32> = (0..n).map(|i| if i == 300_000 { 0.9 } else { 0.1 }).collect();
        let right: Vec<f32> = (0..n).map(|i| if i == 5 { -0.7 } else { -0.1 }).collect();
        let wave = WaveSummary::of_audio(&StereoAudio { sample_rate: 48_000, left, right });
        for level in &wave.levels {
            assert_eq!(level.max.iter().copied().fold(0.0, f32::max), 0.9);
            assert_eq!(level.min.iter().copied().fold(0.0, f32::min), -0.7);
        }
        assert_eq!(wave.level_for(1.0).unwrap().frames_per_peak, BASE_FRAMES_PER_PEAK);
        assert_eq!(wave.level_for(600.0).unwrap().frames_per_peak, 512);
    }

    #[test]
    fn sounding_notes_include_long_notes_started_before_the_view() {
        let note = |start, length| Note { start, length, key: 60, velocity: 90 };
        let roll = NoteSummary::of(&[note(8.0, 1.0), note(0.0, 6.0), note(20.0, 1.0)]);
        let starts: Vec<f64> = roll.sounding(5.0, 10.0).iter().map(|n| n.start).collect();
        // The note from beat 0 lasts to beat 6, so it sounds at 5; the beat-20 note does not.
        assert_eq!(starts, vec![0.0, 8.0]);
        assert_ne!(notes_key(&roll.notes), notes_key(&roll.notes[..2]));
    }
}
