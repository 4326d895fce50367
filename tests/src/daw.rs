//! A small DAW around [`ClapHost`]: a playhead that moves like a host's (play, stop, seek,
//! loop, tempo changes), block-by-block rendering, and helpers to place stems through the
//! plugin's own saved state.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use counterpart_engine::cache::AudioCache;
use counterpart_engine::project::ProjectState;
use counterpart_engine::stem::{StemOutput, StemRecord, StereoAudio};

use crate::clap_host::{ClapHost, InEvent, OutEvent, Transport};

/// The CLAP bundle under test: `COUNTERPART_CLAP`, else the workspace's `target/bundled`.
pub fn clap_bundle() -> PathBuf {
    let path = std::env::var_os("COUNTERPART_CLAP")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bundled/Counterpart.clap"));
    assert!(
        path.exists(),
        "{} does not exist: build it first with `cargo xtask bundle counterpart` (the README's test command does)",
        path.display()
    );
    path
}

/// One audio cache folder for the whole test process: `COUNTERPART_CACHE` when the test run sets
/// it (`.ci/test` does, so nothing changes the environment while test threads run), else a folder
/// of this process's that is put in `COUNTERPART_CACHE` before any plugin is created.
pub fn shared_cache() -> AudioCache {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let set = std::env::var_os(counterpart_engine::cache::CACHE_ENV).filter(|d| !d.is_empty());
        if let Some(dir) = set {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).expect("the COUNTERPART_CACHE folder");
            return dir;
        }
        remove_stale_caches();
        let dir = std::env::temp_dir().join(format!("{CACHE_PREFIX}{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        // SAFETY: set once, before any plugin instance (and so any reader) exists.
        unsafe { std::env::set_var(counterpart_engine::cache::CACHE_ENV, &dir) };
        dir
    });
    AudioCache::new(dir)
}

/// The shared cache folders' names: this prefix and the test process's id.
const CACHE_PREFIX: &str = "counterpart-host-tests-";

/// Removes the cache folders of test processes that have ended (each holds a few hundred MB of
/// stems; a test process cannot clean up after itself when it exits).
fn remove_stale_caches() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(CACHE_PREFIX)) else { continue };
        let ended = pid.parse::<u32>().is_ok_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
        if ended {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The host's song position, moved the way a DAW moves it: in whole samples, with the beat
/// grid anchored where the tempo last changed.
#[derive(Debug, Clone, Copy)]
pub struct Playhead {
    /// Song position in samples.
    pub sample: i64,
    /// BPM.
    tempo: f64,
    /// Whether the transport runs.
    pub playing: bool,
    /// The cycle, in beats, when on.
    pub loop_beats: Option<(f64, f64)>,
    sample_rate: f64,
    /// (sample, beat) where the current tempo took over.
    anchor: (i64, f64),
}

impl Playhead {
    /// Stopped at the song start.
    pub fn new(tempo: f64, sample_rate: f64) -> Self {
        Self { sample: 0, tempo, playing: false, loop_beats: None, sample_rate, anchor: (0, 0.0) }
    }

    /// The position in quarter-note beats.
    pub fn beats(&self) -> f64 {
        self.anchor.1 + (self.sample - self.anchor.0) as f64 / self.sample_rate * self.tempo / 60.0
    }

    /// Locates to `beats`, as if the current tempo held from the song start.
    pub fn seek(&mut self, beats: f64) {
        self.sample = (beats * 60.0 / self.tempo * self.sample_rate).round() as i64;
        self.anchor = (self.sample, beats);
    }

    /// Changes the tempo from the current position on.
    pub fn set_tempo(&mut self, tempo: f64) {
        self.anchor = (self.sample, self.beats());
        self.tempo = tempo;
    }

    fn advance(&mut self, frames: usize) {
        if !self.playing {
            return;
        }
        self.sample += frames as i64;
        if let Some((start, end)) = self.loop_beats {
            let beats = self.beats();
            if beats >= end - 1e-9 {
                self.seek(start + (beats - end).max(0.0) % (end - start));
            }
        }
    }

    fn transport(&self) -> Transport {
        let mut t = Transport::new(self.tempo, (4, 4));
        t.seek_beats(self.beats());
        t.song_pos_seconds = self.sample as f64 / self.sample_rate;
        t.playing = self.playing;
        if let Some((start, end)) = self.loop_beats {
            t.loop_active = true;
            t.loop_start_beats = start;
            t.loop_end_beats = end;
        }
        t
    }
}

/// A note event from the plugin, at an absolute sample of the render.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoteOut {
    /// Sample index from the start of the render.
    pub sample: usize,
    /// MIDI channel (the stem slot).
    pub channel: i16,
    /// MIDI key.
    pub key: i16,
    /// Note-on (true) or note-off.
    pub on: bool,
}

/// What a render produced.
#[derive(Debug, Default)]
pub struct Rendered {
    /// Main output, left and right.
    pub main: [Vec<f32>; 2],
    /// Group outputs, each left and right.
    pub groups: Vec<[Vec<f32>; 2]>,
    /// Note events in time order.
    pub notes: Vec<NoteOut>,
}

/// A loaded, active plugin with a playhead.
pub struct Daw {
    /// The plugin.
    pub host: ClapHost,
    /// Its song position.
    pub playhead: Playhead,
    /// Sample rate.
    pub sample_rate: f64,
    /// Frames per process call.
    pub block: usize,
}

impl Daw {
    /// Loads the bundle and activates it at `sample_rate` for blocks of `block` frames.
    pub fn new(sample_rate: f64, block: usize) -> Self {
        shared_cache();
        let mut host = ClapHost::load(&clap_bundle(), None).expect("the bundle loads");
        host.activate(sample_rate, 1, block.max(1) as u32).expect("activates");
        host.start_processing().expect("starts processing");
        Self { host, playhead: Playhead::new(120.0, sample_rate), sample_rate, block }
    }

    /// Replaces the plugin's project through the host's state load, like a DAW opening a song.
    pub fn load_project(&mut self, project: &ProjectState) {
        let mut state = decode_state(&self.host.save_state().expect("saves"));
        state["fields"]["project"] = serde_json::Value::String(serde_json::to_string(project).unwrap());
        self.host.load_state(&encode_state(&state)).expect("loads");
        // One stopped block lets the swaps land and the gain ramps settle.
        self.render(1, |_, _| 0.0);
    }

    /// Renders `frames` samples in blocks, feeding `input(channel, sample)` on the main input
    /// (channels 0-1) and the sidechain (2-3), with `events` sent in the first block.
    pub fn render_with(&mut self, frames: usize, input: impl Fn(usize, usize) -> f32, events: &[InEvent]) -> Rendered {
        let mut out = Rendered::default();
        let mut done = 0;
        while done < frames {
            let n = self.block.min(frames - done);
            let mut inputs = self.host.make_input_buffers(n);
            for (port, channels) in inputs.iter_mut().enumerate() {
                for (c, channel) in channels.iter_mut().enumerate() {
                    for (i, v) in channel.iter_mut().enumerate() {
                        *v = input(port * 2 + c, done + i);
                    }
                }
            }
            let mut outputs = self.host.make_output_buffers(n);
            let first = if done == 0 { events } else { &[] };
            let result =
                self.host.process(&inputs, &mut outputs, Some(self.playhead.transport()), first).expect("processes");
            for (port, channels) in outputs.iter().enumerate() {
                if port == 0 {
                    out.main[0].extend(&channels[0]);
                    out.main[1].extend(&channels[1]);
                } else {
                    if out.groups.len() < port {
                        out.groups.push(Default::default());
                    }
                    out.groups[port - 1][0].extend(&channels[0]);
                    out.groups[port - 1][1].extend(&channels[1]);
                }
            }
            for event in &result.events {
                let note = match *event {
                    OutEvent::NoteOn { time, channel, key, .. } => (time, channel, key, true),
                    OutEvent::NoteOff { time, channel, key, .. } => (time, channel, key, false),
                    _ => continue,
                };
                out.notes.push(NoteOut { sample: done + note.0 as usize, channel: note.1, key: note.2, on: note.3 });
            }
            self.playhead.advance(n);
            done += n;
        }
        out
    }

    /// [`Self::render_with`] without events.
    pub fn render(&mut self, frames: usize, input: impl Fn(usize, usize) -> f32) -> Rendered {
        self.render_with(frames, input, &[])
    }

    /// Sets a parameter (by display name) to a normalised value, as an automation event.
    pub fn set_param(&mut self, name: &str, normalized: f64) {
        let id = self.host.param_by_name(name).unwrap_or_else(|| panic!("no parameter named {name}")).id;
        let plain = self.host.param_plain_from_normalized(id, normalized).unwrap_or(normalized);
        self.host.flush_params(&[InEvent::ParamValue { time: 0, param_id: id, value: plain }]).expect("flush");
    }

    /// The project the plugin's saved state holds, as a DAW would save it.
    pub fn saved_project(&mut self) -> ProjectState {
        let state = decode_state(&self.host.save_state().expect("saves"));
        let text = state["fields"]["project"].as_str().expect("the project field").to_string();
        serde_json::from_str(&text).expect("the project parses")
    }

    /// What the plugin's engine was doing when its state was saved (the write-only "activity"
    /// field): `queue` (id, title, stage, fraction), `recent` (id, title, outcome "done" /
    /// "failed" / "cancelled", message), `notices`, `last_error`, `captured` regions and
    /// `capture_overruns`.
    pub fn saved_activity(&mut self) -> Activity {
        let state = decode_state(&self.host.save_state().expect("saves"));
        let text = state["fields"]["activity"].as_str().expect("the activity field");
        Activity(serde_json::from_str(text).expect("the activity parses"))
    }

    /// Plays a song of `frames` from the song start with `play(daw, frames)` (which feeds it block
    /// by block), again if the plugin did not hear all of it: a capture ring that overflowed on a
    /// busy machine leaves gaps, and jobs refuse a song that was only partly captured. Done when
    /// the saved activity lists `[0, frames)` as the one captured region; panics after three plays.
    pub fn play_until_captured(&mut self, frames: usize, mut play: impl FnMut(&mut Daw, usize)) {
        let whole = [(0, frames as i64)];
        for pass in 1..=3 {
            self.playhead.seek(0.0);
            self.playhead.playing = true;
            play(self, frames);
            self.playhead.playing = false;
            // The worker publishes what it captured a few times a second.
            let heard = Instant::now();
            let mut activity = self.saved_activity();
            while activity.captured() != whole && heard.elapsed() < Duration::from_secs(10) {
                play(self, self.block * 16);
                activity = self.saved_activity();
            }
            if activity.captured() == whole {
                return;
            }
            eprintln!("pass {pass}: the song was not captured whole: {activity}");
            assert!(pass < 3, "three plays and the song was never captured whole: {activity}");
        }
    }

    /// A parameter's value as the plugin displays it.
    pub fn param_text(&mut self, name: &str) -> String {
        let id = self.host.param_by_name(name).unwrap_or_else(|| panic!("no parameter named {name}")).id;
        let value = self.host.param_value(id).expect("value");
        self.host.param_value_to_text(id, value).expect("text")
    }
}

/// Deterministic noise in [-0.5, 0.5), different for every seed and index.
pub fn noise(seed: u64, index: usize) -> f32 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (index as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 29;
    (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
}

/// A stereo noise clip, left and right different.
pub fn noise_clip(seed: u64, sample_rate: u32, frames: usize) -> StereoAudio {
    StereoAudio {
        sample_rate,
        left: (0..frames).map(|i| noise(seed, 2 * i)).collect(),
        right: (0..frames).map(|i| noise(seed, 2 * i + 1)).collect(),
    }
}

/// nice-plug's CLAP state: a little-endian `u64` length, then the JSON document.
pub fn decode_state(bytes: &[u8]) -> serde_json::Value {
    assert!(bytes.len() >= 8, "state shorter than its length prefix");
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(len, bytes.len() - 8, "length prefix matches");
    serde_json::from_slice(&bytes[8..]).expect("state is JSON")
}

/// The inverse of [`decode_state`].
pub fn encode_state(state: &serde_json::Value) -> Vec<u8> {
    let json = serde_json::to_vec(state).unwrap();
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend(json);
    bytes
}

/// An audio stem of 48 kHz noise in `slot` at `start_beats` (120 BPM), stored in the shared
/// cache, with its audio.
pub fn stored_audio_stem(slot: usize, start_beats: f64, frames: usize, seed: u64) -> (StemRecord, StereoAudio) {
    let audio = noise_clip(seed, 48_000, frames);
    let reference = shared_cache().store(&audio).expect("cache");
    let record = StemRecord {
        slot,
        name: format!("stem {slot}"),
        start_beats,
        start_seconds: start_beats * 0.5,
        tempo: 120.0,
        audio: Some(reference),
        notes: Vec::new(),
        output: StemOutput::Audio,
        ..StemRecord::default()
    };
    (record, audio)
}

/// A project holding `stems`.
pub fn project_of(stems: &[StemRecord]) -> ProjectState {
    let mut project = ProjectState::default();
    for stem in stems {
        project.put(stem.clone());
    }
    project
}

/// The engine's activity as the plugin saved it (see [`Daw::saved_activity`]).
#[derive(Debug, Clone)]
pub struct Activity(pub serde_json::Value);

impl Activity {
    /// Titles of the jobs queued or running.
    pub fn queued(&self) -> Vec<&str> {
        self.0["queue"].as_array().into_iter().flatten().filter_map(|j| j["title"].as_str()).collect()
    }

    /// How the last job titled `title` ended: `Some(Ok(()))` done, `Some(Err(why))` failed or
    /// cancelled, `None` not ended (or never run).
    pub fn ended(&self, title: &str) -> Option<Result<(), String>> {
        let recent = self.0["recent"].as_array()?;
        let job = recent.iter().rev().find(|j| j["title"].as_str() == Some(title))?;
        match job["outcome"].as_str() {
            Some("done") => Some(Ok(())),
            Some("failed") => Some(Err(job["message"].as_str().unwrap_or("failed without a message").to_string())),
            other => Some(Err(other.unwrap_or("ended without an outcome").to_string())),
        }
    }

    /// Whether a job titled `title` is queued, running or ended.
    pub fn seen(&self, title: &str) -> bool {
        self.queued().contains(&title) || self.ended(title).is_some()
    }

    /// The captured regions as (start, end) song samples.
    pub fn captured(&self) -> Vec<(i64, i64)> {
        let regions = self.0["captured"].as_array().into_iter().flatten();
        regions.filter_map(|r| Some((r[0].as_i64()?, r[1].as_i64()?))).collect()
    }
}

impl std::fmt::Display for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.0.clone();
        // The runtime line is long and says nothing about jobs.
        if let Some(map) = shown.as_object_mut() {
            map.remove("runtime");
        }
        write!(f, "{shown}")
    }
}
