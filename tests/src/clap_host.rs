//! A small, headless CLAP test host built on `clack-host` 0.2 / `clack-extensions` 0.2.
//!
//! This module is self-contained so it can be copied verbatim into another crate. It needs:
//!
//! ```toml
//! clack-host = "0.2"
//! clack-extensions = { version = "0.2", features = ["clack-host", "audio-ports", "latency",
//!     "gui", "log", "note-ports", "params", "posix-fd", "state", "thread-check", "timer"] }
//! ```
//!
//! Threading model: [`ClapHost`] is `!Send` and everything (main-thread *and* audio-thread calls)
//! happens on the thread that created it. The host's `thread-check` extension reports the
//! thread as the *audio* thread while inside [`ClapHost::process`],
//! [`ClapHost::start_processing`] / [`ClapHost::stop_processing`] / [`ClapHost::reset`] and
//! active-state param flushes, and as the *main* thread otherwise.
//!
//! Parameter values are CLAP *plain* values (whatever range the plugin reports through
//! `params.get_info`). Some frameworks (e.g. nih-plug derivatives) expose every parameter in the
//! `0..=1` normalised range, in which case plain == normalised; see
//! [`ClapHost::param_plain_from_normalized`].
//!
//! GUI: the `gui_*` methods drive the plugin's `clap.gui` extension (embedded windows; the
//! caller owns the parent window, e.g. an X11 window it created). The host side records what
//! the plugin asks for through `clap_host_gui` (see [`ClapHost::gui_requests`]) but never
//! resizes, shows or hides anything by itself. Plugins whose editors render on their own
//! thread (baseview does) only need [`ClapHost::pump_main_thread`] to be called regularly.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use clack_extensions::audio_ports::{
    AudioPortFlags, AudioPortInfoBuffer, AudioPortRescanFlags, HostAudioPorts, HostAudioPortsImpl, PluginAudioPorts,
};
use clack_extensions::gui::{GuiApiType, GuiConfiguration, GuiSize, HostGui, HostGuiImpl, PluginGui, Window};
use clack_extensions::latency::{HostLatency, HostLatencyImpl, PluginLatency};
use clack_extensions::log::{HostLog, HostLogImpl};
use clack_extensions::note_ports::{
    HostNotePorts, HostNotePortsImpl, NotePortInfoBuffer, NotePortRescanFlags, PluginNotePorts,
};
use clack_extensions::params::{
    HostParams, HostParamsImplMainThread, HostParamsImplShared, ParamClearFlags, ParamInfoBuffer, ParamRescanFlags,
    PluginParams,
};
use clack_extensions::posix_fd::{FdFlags, HostPosixFd, HostPosixFdImpl};
use clack_extensions::state::{HostState, HostStateImpl, PluginState};
use clack_extensions::thread_check::{HostThreadCheck, HostThreadCheckImpl};
use clack_extensions::timer::{HostTimer, HostTimerImpl, PluginTimer, TimerId};
use clack_host::events::event_types::{
    MidiEvent, NoteOffEvent, NoteOnEvent, ParamModEvent, ParamValueEvent, TransportEvent, TransportFlags,
};
use clack_host::events::spaces::CoreEventSpace;
use clack_host::events::{EventFlags, EventHeader, Match, Pckn};
use clack_host::prelude::{
    AudioPortBuffer, AudioPortBufferType, AudioPorts, ClapId, EventBuffer, HostExtensions, HostHandlers, HostInfo,
    InputChannel, MainThreadHandler, PluginAudioConfiguration, PluginAudioProcessor, PluginEntry, PluginInstance,
    SharedHandler,
};
use clack_host::utils::{BeatTime, SecondsTime};

/// Audio for all ports of one direction: `[port][channel][frame]`.
pub type PortBuffers = Vec<Vec<Vec<f32>>>;

pub use clack_extensions::log::LogSeverity;
pub use clack_extensions::note_ports::{NoteDialect, NoteDialects};
pub use clack_extensions::params::ParamInfoFlags;
pub use clack_host::process::ProcessStatus;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Errors returned by [`ClapHost`].
#[derive(Debug, Clone, PartialEq)]
pub enum HostError {
    /// The `.clap` file could not be loaded (dlopen failed, no entry, `init` failed...).
    Load(String),
    /// The bundle has no plugin factory.
    NoPluginFactory,
    /// No plugin in the bundle matched the requested id (or the bundle is empty).
    PluginNotFound(String),
    /// `clap_plugin_factory.create_plugin` or `clap_plugin.init` failed.
    Instantiate(String),
    /// The operation needs an activated plugin.
    NotActive,
    /// The operation needs a deactivated plugin.
    AlreadyActive,
    /// `clap_plugin.activate` failed.
    Activation(String),
    /// `start_processing` failed or `process` returned `CLAP_PROCESS_ERROR`.
    Process(String),
    /// The audio buffers passed to `process` do not match the plugin's port layout.
    BufferLayout(String),
    /// An input event had a sample offset outside the processed block.
    EventOutOfRange {
        /// The event's sample offset.
        time: u32,
        /// The number of frames in the block.
        frames: u32,
    },
    /// The plugin does not implement a required extension.
    MissingExtension(&'static str),
    /// State save/load failed.
    State(String),
    /// Invalid parameter id (e.g. `u32::MAX`, `CLAP_INVALID_ID`).
    InvalidParamId(u32),
    /// A `clap.gui` call failed, or was made in the wrong GUI state (e.g. `show` before `create`).
    Gui(String),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Load(m) => write!(f, "failed to load CLAP bundle: {m}"),
            HostError::NoPluginFactory => f.write_str("bundle exposes no plugin factory"),
            HostError::PluginNotFound(m) => write!(f, "plugin not found: {m}"),
            HostError::Instantiate(m) => write!(f, "failed to instantiate plugin: {m}"),
            HostError::NotActive => f.write_str("plugin is not active"),
            HostError::AlreadyActive => f.write_str("plugin is already active"),
            HostError::Activation(m) => write!(f, "activation failed: {m}"),
            HostError::Process(m) => write!(f, "processing failed: {m}"),
            HostError::BufferLayout(m) => write!(f, "audio buffer layout mismatch: {m}"),
            HostError::EventOutOfRange { time, frames } => {
                write!(f, "event at sample {time} outside block of {frames} frames")
            }
            HostError::MissingExtension(e) => write!(f, "plugin does not implement {e}"),
            HostError::State(m) => write!(f, "state error: {m}"),
            HostError::InvalidParamId(id) => write!(f, "invalid parameter id {id}"),
            HostError::Gui(m) => write!(f, "GUI error: {m}"),
        }
    }
}

impl std::error::Error for HostError {}

// ---------------------------------------------------------------------------------------------
// Public data types
// ---------------------------------------------------------------------------------------------

/// Descriptor of one plugin inside a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSummary {
    /// Unique CLAP id (reverse-DNS).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Vendor string (empty if absent).
    pub vendor: String,
    /// Version string (empty if absent).
    pub version: String,
    /// Feature strings (`"audio-effect"`, `"instrument"`, ...).
    pub features: Vec<String>,
}

/// One audio port, as reported by the `audio-ports` extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioPortInfo {
    /// Stable port id.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Number of channels.
    pub channel_count: u32,
    /// Whether the port has `CLAP_AUDIO_PORT_IS_MAIN`.
    pub is_main: bool,
    /// Port type (`"mono"`, `"stereo"`, ...) if given.
    pub port_type: Option<String>,
    /// Id of the in-place paired port, if any.
    pub in_place_pair: Option<u32>,
}

/// One note port, as reported by the `note-ports` extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotePortInfo {
    /// Stable port id.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Supported dialects (CLAP / MIDI / MIDI-MPE / MIDI2).
    pub supported_dialects: NoteDialects,
    /// Preferred dialect, if valid.
    pub preferred_dialect: Option<NoteDialect>,
}

/// One parameter, as reported by `params.get_info`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamInfo {
    /// Stable parameter id.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Module path (`"Osc/1"`), may be empty.
    pub module: String,
    /// Minimum plain value.
    pub min: f64,
    /// Maximum plain value.
    pub max: f64,
    /// Default plain value.
    pub default: f64,
    /// Raw CLAP flags (stepped, automatable, ...).
    pub flags: ParamInfoFlags,
}

/// A log message sent by the plugin through `clap_host_log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMessage {
    /// Severity.
    pub severity: LogSeverity,
    /// Message text.
    pub message: String,
}

/// Counters of every host callback the plugin made. Snapshot returned by
/// [`ClapHost::requests`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostRequests {
    /// `clap_host.request_callback` calls.
    pub callback: u32,
    /// `clap_host.request_process` calls.
    pub process: u32,
    /// `clap_host.request_restart` calls.
    pub restart: u32,
    /// `clap_host_params.rescan` calls.
    pub params_rescan: u32,
    /// `clap_host_params.clear` calls.
    pub params_clear: u32,
    /// `clap_host_params.request_flush` calls.
    pub params_flush: u32,
    /// `clap_host_state.mark_dirty` calls.
    pub state_dirty: u32,
    /// `clap_host_latency.changed` calls.
    pub latency_changed: u32,
    /// `clap_host_audio_ports.rescan` calls.
    pub audio_ports_rescan: u32,
    /// `clap_host_note_ports.rescan` calls.
    pub note_ports_rescan: u32,
    /// `clap_host_timer_support.register_timer` calls.
    pub timers_registered: u32,
    /// `clap_host_posix_fd_support.register_fd` calls.
    pub fds_registered: u32,
}

/// What the plugin asked of the host through `clap_host_gui`. Snapshot returned by
/// [`ClapHost::gui_requests`]. The host accepts every request (returns `true`) and records it;
/// it does not act on any of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuiRequests {
    /// `request_resize` calls in order, as `(width, height)` in the window API's units (physical
    /// pixels for X11).
    pub resizes: Vec<(u32, u32)>,
    /// `resize_hints_changed` calls.
    pub resize_hints_changed: u32,
    /// `request_show` calls.
    pub show: u32,
    /// `request_hide` calls.
    pub hide: u32,
    /// `closed` calls in order, with their `was_destroyed` flag.
    pub closed: Vec<bool>,
}

/// What [`ClapHost::pump_main_thread`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PumpReport {
    /// Whether `on_main_thread` was called (a callback had been requested).
    pub ran_callback: bool,
    /// Number of `on_timer` calls made.
    pub timers_fired: u32,
    /// Whether the plugin was deactivated + re-activated because it requested a restart.
    pub restarted: bool,
    /// Whether an inactive-state `params.flush` was performed because it was requested.
    pub flushed_params: bool,
}

/// Host transport, converted to a `clap_event_transport` for each `process` call.
///
/// All fields are always flagged as valid (tempo, beats and seconds timeline, time signature).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transport {
    /// `CLAP_TRANSPORT_IS_PLAYING`.
    pub playing: bool,
    /// Tempo in BPM.
    pub tempo: f64,
    /// Song position in beats (quarter notes).
    pub song_pos_beats: f64,
    /// Song position in seconds.
    pub song_pos_seconds: f64,
    /// `CLAP_TRANSPORT_IS_LOOP_ACTIVE`.
    pub loop_active: bool,
    /// Loop start in beats.
    pub loop_start_beats: f64,
    /// Loop end in beats.
    pub loop_end_beats: f64,
    /// Time signature (numerator, denominator).
    pub time_sig: (u16, u16),
    /// Start of the current bar, in beats.
    pub bar_start_beats: f64,
    /// Current bar number (0-based).
    pub bar_number: i32,
}

impl Default for Transport {
    fn default() -> Self {
        Self::new(120.0, (4, 4))
    }
}

impl Transport {
    /// A playing transport at position 0 with the given tempo and time signature.
    pub fn new(tempo: f64, time_sig: (u16, u16)) -> Self {
        Self {
            playing: true,
            tempo,
            song_pos_beats: 0.0,
            song_pos_seconds: 0.0,
            loop_active: false,
            loop_start_beats: 0.0,
            loop_end_beats: 0.0,
            time_sig,
            bar_start_beats: 0.0,
            bar_number: 0,
        }
    }

    /// Length of one bar, in beats (quarter notes).
    pub fn beats_per_bar(&self) -> f64 {
        let (num, den) = self.time_sig;
        f64::from(num) * 4.0 / f64::from(den.max(1))
    }

    /// Moves to `beats` (recomputing seconds, bar start and bar number, constant tempo).
    pub fn seek_beats(&mut self, beats: f64) {
        self.song_pos_beats = beats;
        self.song_pos_seconds = beats * 60.0 / self.tempo;
        let bpb = self.beats_per_bar();
        let bar = (beats / bpb).floor();
        self.bar_start_beats = bar * bpb;
        // Saturating float->int conversion is fine for a test host.
        #[allow(clippy::cast_possible_truncation)]
        {
            self.bar_number = bar as i32;
        }
    }

    /// Advances the playhead by `frames` at `sample_rate` if playing, wrapping at the loop end
    /// when the loop is active.
    pub fn advance(&mut self, frames: u32, sample_rate: f64) {
        if !self.playing {
            return;
        }
        let mut beats = self.song_pos_beats + f64::from(frames) / sample_rate * self.tempo / 60.0;
        let loop_len = self.loop_end_beats - self.loop_start_beats;
        if self.loop_active && loop_len > 0.0 && beats >= self.loop_end_beats {
            beats = self.loop_start_beats + (beats - self.loop_start_beats) % loop_len;
        }
        self.seek_beats(beats);
    }

    fn to_clap(self) -> TransportEvent {
        let mut flags = TransportFlags::HAS_TEMPO
            | TransportFlags::HAS_BEATS_TIMELINE
            | TransportFlags::HAS_SECONDS_TIMELINE
            | TransportFlags::HAS_TIME_SIGNATURE;
        if self.playing {
            flags |= TransportFlags::IS_PLAYING;
        }
        if self.loop_active {
            flags |= TransportFlags::IS_LOOP_ACTIVE;
        }
        let beats_to_secs = |b: f64| {
            if self.tempo > 0.0 { b * 60.0 / self.tempo } else { 0.0 }
        };
        TransportEvent {
            header: EventHeader::new_core(0, EventFlags::empty()),
            flags,
            song_pos_beats: BeatTime::from_float(self.song_pos_beats),
            song_pos_seconds: SecondsTime::from_float(self.song_pos_seconds),
            tempo: self.tempo,
            tempo_inc: 0.0,
            loop_start_beats: BeatTime::from_float(self.loop_start_beats),
            loop_end_beats: BeatTime::from_float(self.loop_end_beats),
            loop_start_seconds: SecondsTime::from_float(beats_to_secs(self.loop_start_beats)),
            loop_end_seconds: SecondsTime::from_float(beats_to_secs(self.loop_end_beats)),
            bar_start: BeatTime::from_float(self.bar_start_beats),
            bar_number: self.bar_number,
            time_signature_numerator: self.time_sig.0,
            time_signature_denominator: self.time_sig.1,
        }
    }
}

/// An input event for [`ClapHost::process`] (or [`ClapHost::flush_params`] for param events).
///
/// `time` is the sample offset inside the block and must be `< frames`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InEvent {
    /// `CLAP_EVENT_PARAM_VALUE` with a CLAP *plain* value.
    ParamValue {
        /// Sample offset.
        time: u32,
        /// Parameter id.
        param_id: u32,
        /// Plain value (within the param's `min..=max`).
        value: f64,
    },
    /// `CLAP_EVENT_PARAM_MOD` (modulation offset, plain units), applied to all voices.
    ParamMod {
        /// Sample offset.
        time: u32,
        /// Parameter id.
        param_id: u32,
        /// Modulation amount.
        amount: f64,
    },
    /// `CLAP_EVENT_NOTE_ON`.
    NoteOn {
        /// Sample offset.
        time: u32,
        /// Note port index.
        port: u16,
        /// MIDI-like channel 0..=15.
        channel: u16,
        /// Key 0..=127.
        key: u16,
        /// Velocity 0..=1.
        velocity: f64,
        /// Note id, or `None` for "unspecified" (-1).
        note_id: Option<u32>,
    },
    /// `CLAP_EVENT_NOTE_OFF`.
    NoteOff {
        /// Sample offset.
        time: u32,
        /// Note port index.
        port: u16,
        /// Channel 0..=15.
        channel: u16,
        /// Key 0..=127.
        key: u16,
        /// Release velocity 0..=1.
        velocity: f64,
        /// Note id, or `None` for "unspecified" (-1).
        note_id: Option<u32>,
    },
    /// `CLAP_EVENT_MIDI` (MIDI 1.0 bytes).
    Midi {
        /// Sample offset.
        time: u32,
        /// Note port index.
        port: u16,
        /// Raw MIDI bytes.
        data: [u8; 3],
    },
}

impl InEvent {
    /// Param value change (plain value).
    pub fn param(time: u32, param_id: u32, value: f64) -> Self {
        InEvent::ParamValue { time, param_id, value }
    }

    /// Note on, port 0, no note id.
    pub fn note_on(time: u32, channel: u16, key: u16, velocity: f64) -> Self {
        InEvent::NoteOn { time, port: 0, channel, key, velocity, note_id: None }
    }

    /// Note off, port 0, no note id.
    pub fn note_off(time: u32, channel: u16, key: u16, velocity: f64) -> Self {
        InEvent::NoteOff { time, port: 0, channel, key, velocity, note_id: None }
    }

    /// The event's sample offset.
    pub fn time(&self) -> u32 {
        match *self {
            InEvent::ParamValue { time, .. }
            | InEvent::ParamMod { time, .. }
            | InEvent::NoteOn { time, .. }
            | InEvent::NoteOff { time, .. }
            | InEvent::Midi { time, .. } => time,
        }
    }

    fn push_into(&self, buffer: &mut EventBuffer) -> Result<(), HostError> {
        let note_pckn = |port: u16, channel: u16, key: u16, note_id: Option<u32>| {
            Pckn::new(port, channel, key, note_id.map_or(Match::All, Match::Specific))
        };
        let id = |param_id: u32| ClapId::from_raw(param_id).ok_or(HostError::InvalidParamId(param_id));
        match *self {
            InEvent::ParamValue { time, param_id, value } => {
                buffer.push(&ParamValueEvent::new(time, id(param_id)?, Pckn::match_all(), value))
            }
            InEvent::ParamMod { time, param_id, amount } => {
                buffer.push(&ParamModEvent::new(time, id(param_id)?, Pckn::match_all(), amount))
            }
            InEvent::NoteOn { time, port, channel, key, velocity, note_id } => {
                buffer.push(&NoteOnEvent::new(time, note_pckn(port, channel, key, note_id), velocity))
            }
            InEvent::NoteOff { time, port, channel, key, velocity, note_id } => {
                buffer.push(&NoteOffEvent::new(time, note_pckn(port, channel, key, note_id), velocity))
            }
            InEvent::Midi { time, port, data } => buffer.push(&MidiEvent::new(time, port, data)),
        }
        Ok(())
    }
}

/// An event the plugin pushed to the output event list.
///
/// Note fields use raw CLAP values: `-1` means "wildcard / unspecified".
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutEvent {
    /// `CLAP_EVENT_NOTE_ON`.
    NoteOn {
        /// Sample offset.
        time: u32,
        /// Port index (-1 = any).
        port: i16,
        /// Channel (-1 = any).
        channel: i16,
        /// Key (-1 = any).
        key: i16,
        /// Note id (-1 = unspecified).
        note_id: i32,
        /// Velocity.
        velocity: f64,
    },
    /// `CLAP_EVENT_NOTE_OFF`.
    NoteOff {
        /// Sample offset.
        time: u32,
        /// Port index (-1 = any).
        port: i16,
        /// Channel (-1 = any).
        channel: i16,
        /// Key (-1 = any).
        key: i16,
        /// Note id (-1 = unspecified).
        note_id: i32,
        /// Velocity.
        velocity: f64,
    },
    /// `CLAP_EVENT_NOTE_CHOKE`.
    NoteChoke {
        /// Sample offset.
        time: u32,
        /// Port index.
        port: i16,
        /// Channel.
        channel: i16,
        /// Key.
        key: i16,
        /// Note id.
        note_id: i32,
    },
    /// `CLAP_EVENT_NOTE_END` (voice finished).
    NoteEnd {
        /// Sample offset.
        time: u32,
        /// Port index.
        port: i16,
        /// Channel.
        channel: i16,
        /// Key.
        key: i16,
        /// Note id.
        note_id: i32,
    },
    /// `CLAP_EVENT_MIDI`.
    Midi {
        /// Sample offset.
        time: u32,
        /// Port index.
        port: u16,
        /// Raw bytes.
        data: [u8; 3],
    },
    /// `CLAP_EVENT_MIDI2`.
    Midi2 {
        /// Sample offset.
        time: u32,
        /// Port index.
        port: u16,
        /// Raw UMP words.
        data: [u32; 4],
    },
    /// `CLAP_EVENT_MIDI_SYSEX` (payload not copied).
    MidiSysEx {
        /// Sample offset.
        time: u32,
        /// Port index.
        port: u16,
        /// Payload size in bytes.
        len: u32,
    },
    /// `CLAP_EVENT_PARAM_VALUE` (plugin-side automation, e.g. from its GUI).
    ParamValue {
        /// Sample offset.
        time: u32,
        /// Param id (`u32::MAX` if invalid).
        param_id: u32,
        /// Plain value.
        value: f64,
    },
    /// `CLAP_EVENT_PARAM_GESTURE_BEGIN`.
    ParamGestureBegin {
        /// Sample offset.
        time: u32,
        /// Param id.
        param_id: u32,
    },
    /// `CLAP_EVENT_PARAM_GESTURE_END`.
    ParamGestureEnd {
        /// Sample offset.
        time: u32,
        /// Param id.
        param_id: u32,
    },
    /// Anything else (other core events, or events from non-core spaces).
    Other {
        /// Sample offset.
        time: u32,
        /// Event space id.
        space_id: u16,
        /// Event type id.
        type_id: u16,
    },
}

/// `OutEvent::$variant` from a note event `$e`: its port, channel, key and note id, and each named `$field`.
macro_rules! note_event {
    ($variant:ident, $time:expr, $e:ident $(, $field:ident)*) => {{
        let p = $e.pckn();
        OutEvent::$variant {
            time: $time,
            port: p.raw_port_index(),
            channel: p.raw_channel(),
            key: p.raw_key(),
            note_id: p.raw_note_id(),
            $($field: $e.$field(),)*
        }
    }};
}

impl OutEvent {
    fn from_unknown(event: &clack_host::events::UnknownEvent) -> Self {
        let header = event.header();
        let time = header.time();
        let pid = |id: Option<ClapId>| id.map_or(u32::MAX, ClapId::get);
        match event.as_core_event() {
            Some(CoreEventSpace::NoteOn(e)) => note_event!(NoteOn, time, e, velocity),
            Some(CoreEventSpace::NoteOff(e)) => note_event!(NoteOff, time, e, velocity),
            Some(CoreEventSpace::NoteChoke(e)) => note_event!(NoteChoke, time, e),
            Some(CoreEventSpace::NoteEnd(e)) => note_event!(NoteEnd, time, e),
            Some(CoreEventSpace::Midi(e)) => OutEvent::Midi { time, port: e.port_index(), data: e.data() },
            Some(CoreEventSpace::Midi2(e)) => OutEvent::Midi2 { time, port: e.port_index(), data: e.data() },
            Some(CoreEventSpace::MidiSysEx(e)) => {
                OutEvent::MidiSysEx { time, port: e.port_index(), len: e.buffer_size() }
            }
            Some(CoreEventSpace::ParamValue(e)) => {
                OutEvent::ParamValue { time, param_id: pid(e.param_id()), value: e.value() }
            }
            Some(CoreEventSpace::ParamGestureBegin(e)) => {
                OutEvent::ParamGestureBegin { time, param_id: pid(e.param_id()) }
            }
            Some(CoreEventSpace::ParamGestureEnd(e)) => OutEvent::ParamGestureEnd { time, param_id: pid(e.param_id()) },
            _ => OutEvent::Other { time, space_id: header.as_raw().space_id, type_id: header.type_id() },
        }
    }
}

/// Result of one [`ClapHost::process`] call.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessOutput {
    /// Status returned by `clap_plugin.process`.
    pub status: ProcessStatus,
    /// Every event from the output event list, in the order the plugin pushed them.
    pub events: Vec<OutEvent>,
}

impl ProcessOutput {
    /// Only the note on/off/choke/end and MIDI events.
    pub fn note_events(&self) -> impl Iterator<Item = &OutEvent> {
        self.events.iter().filter(|e| {
            matches!(
                e,
                OutEvent::NoteOn { .. }
                    | OutEvent::NoteOff { .. }
                    | OutEvent::NoteChoke { .. }
                    | OutEvent::NoteEnd { .. }
                    | OutEvent::Midi { .. }
                    | OutEvent::Midi2 { .. }
                    | OutEvent::MidiSysEx { .. }
            )
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Host-side callback handlers (what the plugin sees through clap_host)
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Counters {
    callback: AtomicU32,
    process: AtomicU32,
    restart: AtomicU32,
    params_rescan: AtomicU32,
    params_clear: AtomicU32,
    params_flush: AtomicU32,
    state_dirty: AtomicU32,
    latency_changed: AtomicU32,
    audio_ports_rescan: AtomicU32,
    note_ports_rescan: AtomicU32,
    timers_registered: AtomicU32,
    fds_registered: AtomicU32,
}

fn bump(counter: &AtomicU32) {
    counter.fetch_add(1, Ordering::Relaxed);
}

struct TimerSlot {
    id: u32,
    period: Duration,
    next_due: Instant,
}

/// Everything the plugin can report to the host. Shared (through an `Arc`) between the clack
/// handler types and [`ClapHost`], so the latter can read it without clack's accessor closures.
struct Recorder {
    main_thread: ThreadId,
    in_audio: AtomicBool,
    echo_logs: AtomicBool,
    counters: Counters,
    // Pending flags, consumed by `pump_main_thread`.
    callback_pending: AtomicBool,
    restart_pending: AtomicBool,
    flush_pending: AtomicBool,
    logs: Mutex<Vec<LogMessage>>,
    timers: Mutex<Vec<TimerSlot>>,
    next_timer_id: AtomicU32,
    fds: Mutex<HashMap<i32, FdFlags>>,
    gui: Mutex<GuiRequests>,
}

/// Poison-tolerant lock (a panicking test must not cascade into the plugin's callbacks).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Recorder {
    fn new() -> Self {
        Self {
            main_thread: std::thread::current().id(),
            in_audio: AtomicBool::new(false),
            echo_logs: AtomicBool::new(true),
            counters: Counters::default(),
            callback_pending: AtomicBool::new(false),
            restart_pending: AtomicBool::new(false),
            flush_pending: AtomicBool::new(false),
            logs: Mutex::new(Vec::new()),
            timers: Mutex::new(Vec::new()),
            next_timer_id: AtomicU32::new(1),
            fds: Mutex::new(HashMap::new()),
            gui: Mutex::new(GuiRequests::default()),
        }
    }

    fn on_owner_thread(&self) -> bool {
        std::thread::current().id() == self.main_thread
    }
}

/// RAII guard marking the owner thread as the "audio thread" for `thread-check`.
struct AudioThreadScope<'a>(&'a Recorder);

impl<'a> AudioThreadScope<'a> {
    fn enter(rec: &'a Recorder) -> Self {
        rec.in_audio.store(true, Ordering::SeqCst);
        Self(rec)
    }
}

impl Drop for AudioThreadScope<'_> {
    fn drop(&mut self) {
        self.0.in_audio.store(false, Ordering::SeqCst);
    }
}

/// Marker type tying the handler types together.
struct TestHost;

/// `[thread-safe]` handler.
struct TestHostShared {
    rec: Arc<Recorder>,
}

/// `[main-thread]` handler. Holds nothing but a reference to the shared handler; all recording
/// goes through atomics/mutexes so it stays sound even if a plugin misbehaves thread-wise.
struct TestHostMainThread<'a> {
    shared: &'a TestHostShared,
}

impl HostHandlers for TestHost {
    type Shared<'a> = TestHostShared;
    type MainThread<'a> = TestHostMainThread<'a>;
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder
            .register::<HostLog>()
            .register::<HostThreadCheck>()
            .register::<HostParams>()
            .register::<HostState>()
            .register::<HostLatency>()
            .register::<HostAudioPorts>()
            .register::<HostNotePorts>()
            .register::<HostTimer>()
            .register::<HostPosixFd>()
            .register::<HostGui>();
    }
}

impl<'a> SharedHandler<'a> for TestHostShared {
    fn request_restart(&self) {
        bump(&self.rec.counters.restart);
        self.rec.restart_pending.store(true, Ordering::SeqCst);
    }

    fn request_process(&self) {
        // Headless host: we process only when the caller says so. Record it.
        bump(&self.rec.counters.process);
    }

    fn request_callback(&self) {
        bump(&self.rec.counters.callback);
        self.rec.callback_pending.store(true, Ordering::SeqCst);
    }
}

impl<'a> MainThreadHandler<'a> for TestHostMainThread<'a> {}

impl HostLogImpl for TestHostShared {
    fn log(&self, severity: LogSeverity, message: &str) {
        if self.rec.echo_logs.load(Ordering::Relaxed) && severity >= LogSeverity::Warning {
            eprintln!("[clap-plugin {severity}] {message}");
        }
        lock(&self.rec.logs).push(LogMessage { severity, message: message.to_owned() });
    }
}

impl HostThreadCheckImpl for TestHostShared {
    fn is_main_thread(&self) -> bool {
        self.rec.on_owner_thread() && !self.rec.in_audio.load(Ordering::SeqCst)
    }

    fn is_audio_thread(&self) -> bool {
        self.rec.on_owner_thread() && self.rec.in_audio.load(Ordering::SeqCst)
    }
}

impl HostParamsImplShared for TestHostShared {
    fn request_flush(&self) {
        bump(&self.rec.counters.params_flush);
        self.rec.flush_pending.store(true, Ordering::SeqCst);
    }
}

impl HostParamsImplMainThread for TestHostMainThread<'_> {
    fn rescan(&self, _flags: ParamRescanFlags) {
        bump(&self.shared.rec.counters.params_rescan);
    }

    fn clear(&self, _param_id: ClapId, _flags: ParamClearFlags) {
        bump(&self.shared.rec.counters.params_clear);
    }
}

impl HostStateImpl for TestHostMainThread<'_> {
    fn mark_dirty(&self) {
        bump(&self.shared.rec.counters.state_dirty);
    }
}

impl HostLatencyImpl for TestHostMainThread<'_> {
    fn changed(&self) {
        bump(&self.shared.rec.counters.latency_changed);
    }
}

impl HostAudioPortsImpl for TestHostMainThread<'_> {
    fn is_rescan_flag_supported(&self, _flag: AudioPortRescanFlags) -> bool {
        // Ports are re-read on every activation, which is enough for a test host.
        true
    }

    fn rescan(&self, _flags: AudioPortRescanFlags) {
        bump(&self.shared.rec.counters.audio_ports_rescan);
    }
}

impl HostNotePortsImpl for TestHostMainThread<'_> {
    fn supported_dialects(&self) -> NoteDialects {
        NoteDialects::CLAP | NoteDialects::MIDI
    }

    fn rescan(&self, _flags: NotePortRescanFlags) {
        bump(&self.shared.rec.counters.note_ports_rescan);
    }
}

impl HostTimerImpl for TestHostMainThread<'_> {
    fn register_timer(&self, period_ms: u32) -> Result<TimerId, clack_host::host::HostError> {
        let rec = &self.shared.rec;
        bump(&rec.counters.timers_registered);
        let id = rec.next_timer_id.fetch_add(1, Ordering::Relaxed);
        // CLAP lets hosts clamp tiny periods; 10 ms is plenty for tests.
        let period = Duration::from_millis(u64::from(period_ms.max(10)));
        lock(&rec.timers).push(TimerSlot { id, period, next_due: Instant::now() + period });
        Ok(TimerId(id))
    }

    fn unregister_timer(&self, timer_id: TimerId) -> Result<(), clack_host::host::HostError> {
        let mut timers = lock(&self.shared.rec.timers);
        let before = timers.len();
        timers.retain(|t| t.id != timer_id.0);
        if timers.len() == before { Err(clack_host::host::HostError::Message("unknown timer id")) } else { Ok(()) }
    }
}

/// POSIX fd support is a recording stub: registrations are accepted and remembered (see
/// [`ClapHost::registered_fds`]) but the host has no reactor, so `on_fd` is never called.
impl HostPosixFdImpl for TestHostMainThread<'_> {
    fn register_fd(&self, fd: i32, flags: FdFlags) -> Result<(), clack_host::host::HostError> {
        bump(&self.shared.rec.counters.fds_registered);
        lock(&self.shared.rec.fds).insert(fd, flags);
        Ok(())
    }

    fn modify_fd(&self, fd: i32, flags: FdFlags) -> Result<(), clack_host::host::HostError> {
        match lock(&self.shared.rec.fds).get_mut(&fd) {
            Some(f) => {
                *f = flags;
                Ok(())
            }
            None => Err(clack_host::host::HostError::Message("fd not registered")),
        }
    }

    fn unregister_fd(&self, fd: i32) -> Result<(), clack_host::host::HostError> {
        match lock(&self.shared.rec.fds).remove(&fd) {
            Some(_) => Ok(()),
            None => Err(clack_host::host::HostError::Message("fd not registered")),
        }
    }
}

/// `clap_host_gui` is `[thread-safe]` (baseview calls it from its window thread), so it lives on
/// the shared handler. Everything is accepted and recorded; nothing is acted upon.
impl HostGuiImpl for TestHostShared {
    fn resize_hints_changed(&self) {
        lock(&self.rec.gui).resize_hints_changed += 1;
    }

    fn request_resize(&self, new_size: GuiSize) -> Result<(), clack_host::host::HostError> {
        lock(&self.rec.gui).resizes.push((new_size.width, new_size.height));
        Ok(())
    }

    fn request_show(&self) -> Result<(), clack_host::host::HostError> {
        lock(&self.rec.gui).show += 1;
        Ok(())
    }

    fn request_hide(&self) -> Result<(), clack_host::host::HostError> {
        lock(&self.rec.gui).hide += 1;
        Ok(())
    }

    fn closed(&self, was_destroyed: bool) {
        lock(&self.rec.gui).closed.push(was_destroyed);
    }
}

// ---------------------------------------------------------------------------------------------
// ClapHost
// ---------------------------------------------------------------------------------------------

/// The plugin GUI created by [`ClapHost::gui_create`], until [`ClapHost::gui_destroy`].
struct OpenGui {
    /// The window API it was created for (`"x11"`, ...).
    api: CString,
    /// The parent window given to `set_parent`, if any.
    parent: Option<u64>,
}

/// State that only exists while the plugin is activated.
struct Active {
    processor: PluginAudioProcessor<TestHost>,
    config: PluginAudioConfiguration,
    in_layout: Vec<u32>,
    out_layout: Vec<u32>,
    in_ports: AudioPorts,
    out_ports: AudioPorts,
    /// Mutable copies of the inputs (clack's `InputChannel` wants `&mut`).
    in_scratch: PortBuffers,
}

/// A loaded, instantiated CLAP plugin plus a minimal headless host around it.
///
/// `!Send`: keep it on the thread that created it.
pub struct ClapHost {
    // NOTE: `Drop` deactivates explicitly before `instance` is dropped (destroy).
    active: Option<Active>,
    instance: PluginInstance<TestHost>,
    rec: Arc<Recorder>,
    summary: PluginSummary,
    bundle_path: PathBuf,
    in_events: EventBuffer,
    out_events: EventBuffer,
    steady_time: u64,
    gui: Option<OpenGui>,
}

fn cstr_to_string(s: Option<&CStr>) -> String {
    s.map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

fn bytes_to_string(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn load_entry(bundle_path: &Path) -> Result<PluginEntry, HostError> {
    // SAFETY: `PluginEntry::load` dlopens the file and runs its `clap_entry.init`, i.e. arbitrary
    // native code. That is the inherent contract of hosting a plugin: the caller chose this
    // bundle and trusts it to be a well-formed CLAP plugin. Clack keeps the library loaded for
    // as long as the entry or any instance created from it lives, so no dangling code pointers
    // can be reached through safe APIs afterwards.
    unsafe { PluginEntry::load(bundle_path) }.map_err(|e| HostError::Load(format!("{}: {e}", bundle_path.display())))
}

fn summaries(entry: &PluginEntry) -> Result<Vec<PluginSummary>, HostError> {
    let factory = entry.get_plugin_factory().ok_or(HostError::NoPluginFactory)?;
    Ok(factory
        .plugin_descriptors()
        .map(|d| PluginSummary {
            id: cstr_to_string(d.id()),
            name: cstr_to_string(d.name()),
            vendor: cstr_to_string(d.vendor()),
            version: cstr_to_string(d.version()),
            features: d.features().map(|f| f.to_string_lossy().into_owned()).collect(),
        })
        .collect())
}

impl ClapHost {
    /// Lists the plugins of a bundle without instantiating any of them.
    pub fn list_plugins(bundle_path: &Path) -> Result<Vec<PluginSummary>, HostError> {
        summaries(&load_entry(bundle_path)?)
    }

    /// Loads `bundle_path` (on Linux: the `.clap` shared object), picks the plugin with id
    /// `plugin_id` (or the first one), and instantiates it (`create_plugin` + `init`).
    pub fn load(bundle_path: &Path, plugin_id: Option<&str>) -> Result<ClapHost, HostError> {
        let entry = load_entry(bundle_path)?;
        let summaries = summaries(&entry)?;
        let summary = match plugin_id {
            Some(id) => summaries.iter().find(|s| s.id == id).cloned().ok_or_else(|| {
                HostError::PluginNotFound(format!(
                    "{id} (bundle has: {:?})",
                    summaries.iter().map(|s| &s.id).collect::<Vec<_>>()
                ))
            })?,
            None => summaries
                .first()
                .cloned()
                .ok_or_else(|| HostError::PluginNotFound("bundle contains no plugin".into()))?,
        };

        let host_info =
            HostInfo::new("hostlab", "hostlab", "https://github.com/free-audio/clap", env!("CARGO_PKG_VERSION"))
                .map_err(|e| HostError::Instantiate(e.to_string()))?;
        let c_id =
            CString::new(summary.id.clone()).map_err(|_| HostError::PluginNotFound("plugin id contains NUL".into()))?;

        let rec = Arc::new(Recorder::new());
        let rec_for_shared = rec.clone();
        let instance = PluginInstance::<TestHost>::new(
            move |_| TestHostShared { rec: rec_for_shared },
            |shared| TestHostMainThread { shared },
            &entry,
            &c_id,
            &host_info,
        )
        .map_err(|e| HostError::Instantiate(e.to_string()))?;

        Ok(ClapHost {
            active: None,
            instance,
            rec,
            summary,
            bundle_path: bundle_path.to_owned(),
            in_events: EventBuffer::with_capacity(64),
            out_events: EventBuffer::with_capacity(64),
            steady_time: 0,
            gui: None,
        })
    }

    /// Descriptor of the loaded plugin.
    pub fn plugin(&self) -> &PluginSummary {
        &self.summary
    }

    /// Path the plugin was loaded from.
    pub fn bundle_path(&self) -> &Path {
        &self.bundle_path
    }

    // ---- lifecycle -------------------------------------------------------------------------

    /// Whether the plugin is activated.
    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// Whether `start_processing` has been called (and not stopped since).
    pub fn is_processing(&self) -> bool {
        self.active.as_ref().is_some_and(|a| a.processor.is_started())
    }

    /// `clap_plugin.activate`. Re-reads the audio port layout and allocates buffers.
    pub fn activate(&mut self, sample_rate: f64, min_frames: u32, max_frames: u32) -> Result<(), HostError> {
        if self.active.is_some() {
            return Err(HostError::AlreadyActive);
        }
        if min_frames == 0 || min_frames > max_frames || !sample_rate.is_finite() || sample_rate <= 0.0 {
            return Err(HostError::Activation(format!(
                "invalid configuration: sr={sample_rate} min={min_frames} max={max_frames}"
            )));
        }
        let config =
            PluginAudioConfiguration { sample_rate, min_frames_count: min_frames, max_frames_count: max_frames };
        let in_layout: Vec<u32> = self.audio_ports(true).iter().map(|p| p.channel_count).collect();
        let out_layout: Vec<u32> = self.audio_ports(false).iter().map(|p| p.channel_count).collect();

        let stopped = self.instance.activate(|_, _| (), config).map_err(|e| HostError::Activation(e.to_string()))?;

        // Exact capacities matter: clack 0.2's pointer fix-up after a reallocation of its
        // channel-pointer list is wrong for multi-port layouts, so never let it reallocate.
        let total = |l: &[u32]| l.iter().map(|&c| c as usize).sum::<usize>();
        let in_ports = AudioPorts::with_capacity(total(&in_layout), in_layout.len());
        let out_ports = AudioPorts::with_capacity(total(&out_layout), out_layout.len());
        let in_scratch = in_layout.iter().map(|&c| vec![vec![0.0f32; max_frames as usize]; c as usize]).collect();

        self.active =
            Some(Active { processor: stopped.into(), config, in_layout, out_layout, in_ports, out_ports, in_scratch });
        self.steady_time = 0;
        Ok(())
    }

    /// Stops processing if needed, then `clap_plugin.deactivate`. No-op if inactive.
    pub fn deactivate(&mut self) {
        if let Some(active) = self.active.take() {
            let stopped = {
                let _audio = AudioThreadScope::enter(&self.rec);
                active.processor.into_stopped()
            };
            self.instance.deactivate(stopped);
        }
    }

    /// `clap_plugin.start_processing` (audio thread). `process` also does this lazily.
    pub fn start_processing(&mut self) -> Result<(), HostError> {
        let active = self.active.as_mut().ok_or(HostError::NotActive)?;
        if active.processor.is_started() {
            return Ok(());
        }
        let _audio = AudioThreadScope::enter(&self.rec);
        active.processor.start_processing().map(|_| ()).map_err(|e| HostError::Process(e.to_string()))
    }

    /// `clap_plugin.stop_processing` (audio thread). No-op if not processing.
    pub fn stop_processing(&mut self) -> Result<(), HostError> {
        let active = self.active.as_mut().ok_or(HostError::NotActive)?;
        if active.processor.is_started() {
            let _audio = AudioThreadScope::enter(&self.rec);
            active.processor.stop_processing().map_err(|e| HostError::Process(e.to_string()))?;
        }
        Ok(())
    }

    /// `clap_plugin.reset` (audio thread): clears DSP state. Also resets `steady_time`.
    pub fn reset(&mut self) -> Result<(), HostError> {
        let active = self.active.as_mut().ok_or(HostError::NotActive)?;
        let _audio = AudioThreadScope::enter(&self.rec);
        active.processor.reset();
        self.steady_time = 0;
        Ok(())
    }

    /// Runs pending main-thread work: `on_main_thread` if a callback was requested, due timers,
    /// a requested restart (deactivate + activate with the same configuration), and a requested
    /// param flush while inactive.
    pub fn pump_main_thread(&mut self) -> Result<PumpReport, HostError> {
        let mut report = PumpReport::default();

        if self.rec.callback_pending.swap(false, Ordering::SeqCst) {
            self.instance.call_on_main_thread_callback();
            report.ran_callback = true;
        }

        let now = Instant::now();
        let due: Vec<u32> = lock(&self.rec.timers)
            .iter_mut()
            .filter(|t| t.next_due <= now)
            .map(|t| {
                t.next_due = now + t.period;
                t.id
            })
            .collect();
        if !due.is_empty() {
            let handle = self.instance.plugin_handle();
            if let Some(timer) = handle.get_extension::<PluginTimer>() {
                for id in due {
                    timer.on_timer(&handle, TimerId(id));
                    report.timers_fired += 1;
                }
            }
        }

        if self.rec.restart_pending.swap(false, Ordering::SeqCst)
            && let Some(config) = self.active.as_ref().map(|a| a.config)
        {
            let was_processing = self.is_processing();
            self.deactivate();
            self.activate(config.sample_rate, config.min_frames_count, config.max_frames_count)?;
            if was_processing {
                self.start_processing()?;
            }
            report.restarted = true;
        }

        if self.active.is_none() && self.rec.flush_pending.swap(false, Ordering::SeqCst) {
            self.flush_params(&[])?;
            report.flushed_params = true;
        }

        Ok(report)
    }

    /// Forces every registered timer to fire once now (handy in tests, no sleeping).
    pub fn fire_all_timers(&mut self) -> u32 {
        let ids: Vec<u32> = lock(&self.rec.timers).iter().map(|t| t.id).collect();
        let handle = self.instance.plugin_handle();
        let Some(timer) = handle.get_extension::<PluginTimer>() else {
            return 0;
        };
        let mut fired = 0;
        for id in ids {
            timer.on_timer(&handle, TimerId(id));
            fired += 1;
        }
        fired
    }

    // ---- host-side recordings ------------------------------------------------------------

    /// Snapshot of the callback counters.
    pub fn requests(&self) -> HostRequests {
        let c = &self.rec.counters;
        let g = |a: &AtomicU32| a.load(Ordering::Relaxed);
        HostRequests {
            callback: g(&c.callback),
            process: g(&c.process),
            restart: g(&c.restart),
            params_rescan: g(&c.params_rescan),
            params_clear: g(&c.params_clear),
            params_flush: g(&c.params_flush),
            state_dirty: g(&c.state_dirty),
            latency_changed: g(&c.latency_changed),
            audio_ports_rescan: g(&c.audio_ports_rescan),
            note_ports_rescan: g(&c.note_ports_rescan),
            timers_registered: g(&c.timers_registered),
            fds_registered: g(&c.fds_registered),
        }
    }

    /// All messages the plugin logged so far.
    pub fn logs(&self) -> Vec<LogMessage> {
        lock(&self.rec.logs).clone()
    }

    /// Echo plugin log messages of severity >= Warning to stderr (default: on).
    pub fn set_log_echo(&self, on: bool) {
        self.rec.echo_logs.store(on, Ordering::Relaxed);
    }

    /// Currently registered timers: `(timer id, period)`.
    pub fn registered_timers(&self) -> Vec<(u32, Duration)> {
        lock(&self.rec.timers).iter().map(|t| (t.id, t.period)).collect()
    }

    /// Currently registered file descriptors with their raw `clap_posix_fd_flags`.
    pub fn registered_fds(&self) -> Vec<(i32, u32)> {
        lock(&self.rec.fds).iter().map(|(&fd, f)| (fd, f.bits())).collect()
    }

    /// Snapshot of what the plugin asked through `clap_host_gui` so far.
    pub fn gui_requests(&self) -> GuiRequests {
        lock(&self.rec.gui).clone()
    }

    // ---- gui -----------------------------------------------------------------------------

    /// Whether the plugin implements `clap.gui`.
    pub fn has_gui(&mut self) -> bool {
        self.instance.plugin_handle().get_extension::<PluginGui>().is_some()
    }

    /// Whether a GUI is currently created ([`Self::gui_create`] without [`Self::gui_destroy`]).
    pub fn gui_is_created(&self) -> bool {
        self.gui.is_some()
    }

    /// `clap_plugin_gui.is_api_supported`. `false` if the plugin has no GUI extension or `api`
    /// contains a NUL byte.
    pub fn gui_is_api_supported(&mut self, api: &str, floating: bool) -> bool {
        let Ok(api) = CString::new(api) else {
            return false;
        };
        let handle = self.instance.plugin_handle();
        let Some(ext) = handle.get_extension::<PluginGui>() else {
            return false;
        };
        ext.is_api_supported(&handle, GuiConfiguration { api_type: GuiApiType(&api), is_floating: floating })
    }

    /// `clap_plugin_gui.get_preferred_api`: `(api, floating)`, or `None` if the plugin has no
    /// preference (or no GUI extension).
    pub fn gui_preferred_api(&mut self) -> Option<(String, bool)> {
        let handle = self.instance.plugin_handle();
        let ext = handle.get_extension::<PluginGui>()?;
        ext.get_preferred_api(&handle).map(|c| (c.api_type.0.to_string_lossy().into_owned(), c.is_floating))
    }

    /// `clap_plugin_gui.create` for `api` (`"x11"`, `"win32"`, `"cocoa"`, ...). With
    /// `floating == false` the plugin waits for [`Self::gui_set_parent`] to embed itself.
    /// Fails if a GUI is already created.
    pub fn gui_create(&mut self, api: &str, floating: bool) -> Result<(), HostError> {
        if self.gui.is_some() {
            return Err(HostError::Gui("a GUI is already created; destroy it first".into()));
        }
        let api = CString::new(api).map_err(|_| HostError::Gui("window API name contains NUL".into()))?;
        let handle = self.instance.plugin_handle();
        let ext = handle.get_extension::<PluginGui>().ok_or(HostError::MissingExtension("clap.gui"))?;
        ext.create(&handle, GuiConfiguration { api_type: GuiApiType(&api), is_floating: floating })
            .map_err(|e| HostError::Gui(format!("create({api:?}, floating={floating}): {e}")))?;
        self.gui = Some(OpenGui { api, parent: None });
        Ok(())
    }

    /// `clap_plugin_gui.set_scale` (absolute scale factor, e.g. `1.0` or `2.0`).
    pub fn gui_set_scale(&mut self, scale: f64) -> Result<(), HostError> {
        self.with_gui(|handle, ext| ext.set_scale(handle, scale).map_err(|e| format!("set_scale({scale}): {e}")))
    }

    /// `clap_plugin_gui.get_size`: `(width, height)` in the API's units (physical pixels for
    /// X11 and Win32, logical for Cocoa).
    pub fn gui_get_size(&mut self) -> Result<(u32, u32), HostError> {
        self.with_gui(|handle, ext| {
            ext.get_size(handle).map(|s| (s.width, s.height)).ok_or_else(|| "get_size failed".to_string())
        })
    }

    /// `clap_plugin_gui.can_resize`.
    pub fn gui_can_resize(&mut self) -> Result<bool, HostError> {
        self.with_gui(|handle, ext| Ok(ext.can_resize(handle)))
    }

    /// `clap_plugin_gui.set_parent` with an X11 window id. Only for a GUI created with the
    /// `"x11"` API. The window must outlive the GUI (until [`Self::gui_destroy`]).
    pub fn gui_set_parent(&mut self, x11_window: u64) -> Result<(), HostError> {
        let gui = self.gui.as_ref().ok_or_else(|| HostError::Gui("no GUI created".into()))?;
        if gui.api.as_c_str() != GuiApiType::X11.0 {
            return Err(HostError::Gui(format!("set_parent takes an X11 window, but the GUI uses {:?}", gui.api)));
        }
        let window = Window::from_x11_handle(x11_window as std::ffi::c_ulong);
        self.with_gui(|handle, ext| {
            // SAFETY: an X11 window handle is a plain integer id that the plugin resolves through
            // its own X connection: a stale or bogus id yields an X protocol error in the plugin,
            // never a dangling pointer. Keeping the window alive is the caller's documented duty.
            unsafe { ext.set_parent(handle, window) }.map_err(|e| format!("set_parent({x11_window:#x}): {e}"))
        })?;
        if let Some(gui) = self.gui.as_mut() {
            gui.parent = Some(x11_window);
        }
        Ok(())
    }

    /// The parent window last given to [`Self::gui_set_parent`], while the GUI exists.
    pub fn gui_parent(&self) -> Option<u64> {
        self.gui.as_ref().and_then(|g| g.parent)
    }

    /// `clap_plugin_gui.show`.
    pub fn gui_show(&mut self) -> Result<(), HostError> {
        self.with_gui(|handle, ext| ext.show(handle).map_err(|e| format!("show: {e}")))
    }

    /// `clap_plugin_gui.hide`.
    pub fn gui_hide(&mut self) -> Result<(), HostError> {
        self.with_gui(|handle, ext| ext.hide(handle).map_err(|e| format!("hide: {e}")))
    }

    /// `clap_plugin_gui.destroy`. No-op if no GUI is created. Also done on drop.
    pub fn gui_destroy(&mut self) {
        if self.gui.take().is_some() {
            let handle = self.instance.plugin_handle();
            if let Some(ext) = handle.get_extension::<PluginGui>() {
                ext.destroy(&handle);
            }
        }
    }

    /// Runs `f` with the plugin's GUI extension, requiring a created GUI.
    fn with_gui<T>(
        &mut self,
        f: impl FnOnce(&clack_host::prelude::PluginMainThreadHandle<'_>, &PluginGui) -> Result<T, String>,
    ) -> Result<T, HostError> {
        if self.gui.is_none() {
            return Err(HostError::Gui("no GUI created".into()));
        }
        let handle = self.instance.plugin_handle();
        let ext = handle.get_extension::<PluginGui>().ok_or(HostError::MissingExtension("clap.gui"))?;
        f(&handle, &ext).map_err(HostError::Gui)
    }

    // ---- ports ---------------------------------------------------------------------------

    /// Audio ports in one direction. Empty if the plugin lacks `clap.audio-ports`.
    pub fn audio_ports(&mut self, is_input: bool) -> Vec<AudioPortInfo> {
        let handle = self.instance.plugin_handle();
        let Some(ext) = handle.get_extension::<PluginAudioPorts>() else {
            return Vec::new();
        };
        let mut buf = AudioPortInfoBuffer::new();
        (0..ext.count(&handle, is_input))
            .filter_map(|i| {
                ext.get(&handle, i, is_input, &mut buf).map(|p| AudioPortInfo {
                    id: p.id.get(),
                    name: bytes_to_string(p.name),
                    channel_count: p.channel_count,
                    is_main: p.flags.contains(AudioPortFlags::IS_MAIN),
                    port_type: p.port_type.map(|t| t.0.to_string_lossy().into_owned()),
                    in_place_pair: p.in_place_pair.map(ClapId::get),
                })
            })
            .collect()
    }

    /// Input audio ports.
    pub fn input_ports(&mut self) -> Vec<AudioPortInfo> {
        self.audio_ports(true)
    }

    /// Output audio ports.
    pub fn output_ports(&mut self) -> Vec<AudioPortInfo> {
        self.audio_ports(false)
    }

    /// Note ports in one direction. Empty if the plugin lacks `clap.note-ports`.
    pub fn note_ports(&mut self, is_input: bool) -> Vec<NotePortInfo> {
        let handle = self.instance.plugin_handle();
        let Some(ext) = handle.get_extension::<PluginNotePorts>() else {
            return Vec::new();
        };
        let mut buf = NotePortInfoBuffer::new();
        (0..ext.count(&handle, is_input))
            .filter_map(|i| {
                ext.get(&handle, i, is_input, &mut buf).map(|p| NotePortInfo {
                    id: p.id.get(),
                    name: bytes_to_string(p.name),
                    supported_dialects: p.supported_dialects,
                    preferred_dialect: p.preferred_dialect,
                })
            })
            .collect()
    }

    /// Zero-filled buffers shaped like the input ports (as of the last activation, or queried
    /// now if inactive): `[port][channel][frame]`.
    pub fn make_input_buffers(&mut self, frames: usize) -> PortBuffers {
        let layout = match &self.active {
            Some(a) => a.in_layout.clone(),
            None => self.audio_ports(true).iter().map(|p| p.channel_count).collect(),
        };
        layout.iter().map(|&c| vec![vec![0.0; frames]; c as usize]).collect()
    }

    /// Zero-filled buffers shaped like the output ports: `[port][channel][frame]`.
    pub fn make_output_buffers(&mut self, frames: usize) -> PortBuffers {
        let layout = match &self.active {
            Some(a) => a.out_layout.clone(),
            None => self.audio_ports(false).iter().map(|p| p.channel_count).collect(),
        };
        layout.iter().map(|&c| vec![vec![0.0; frames]; c as usize]).collect()
    }

    // ---- latency -------------------------------------------------------------------------

    /// `clap_plugin_latency.get`. CLAP only allows this while active (or being activated).
    /// `Ok(None)` if the plugin has no latency extension (i.e. zero latency).
    pub fn latency(&mut self) -> Result<Option<u32>, HostError> {
        if self.active.is_none() {
            return Err(HostError::NotActive);
        }
        let handle = self.instance.plugin_handle();
        Ok(handle.get_extension::<PluginLatency>().map(|ext| ext.get(&handle)))
    }

    // ---- params --------------------------------------------------------------------------

    /// All parameters. Empty if the plugin lacks `clap.params`.
    pub fn params(&mut self) -> Vec<ParamInfo> {
        let handle = self.instance.plugin_handle();
        let Some(ext) = handle.get_extension::<PluginParams>() else {
            return Vec::new();
        };
        let mut buf = ParamInfoBuffer::new();
        (0..ext.count(&handle))
            .filter_map(|i| {
                ext.get_info(&handle, i, &mut buf).map(|p| ParamInfo {
                    id: p.id.get(),
                    name: bytes_to_string(p.name),
                    module: bytes_to_string(p.module),
                    min: p.min_value,
                    max: p.max_value,
                    default: p.default_value,
                    flags: p.flags,
                })
            })
            .collect()
    }

    /// Finds a parameter by exact name.
    pub fn param_by_name(&mut self, name: &str) -> Option<ParamInfo> {
        self.params().into_iter().find(|p| p.name == name)
    }

    /// `clap_plugin_params.get_value` (plain value). `None` if unknown id / no extension.
    pub fn param_value(&mut self, param_id: u32) -> Option<f64> {
        let id = ClapId::from_raw(param_id)?;
        let handle = self.instance.plugin_handle();
        let ext = handle.get_extension::<PluginParams>()?;
        ext.get_value(&handle, id)
    }

    /// `clap_plugin_params.value_to_text`.
    pub fn param_value_to_text(&mut self, param_id: u32, value: f64) -> Option<String> {
        let id = ClapId::from_raw(param_id)?;
        let handle = self.instance.plugin_handle();
        let ext = handle.get_extension::<PluginParams>()?;
        let mut buf = [0u8; 256];
        let text = ext.value_to_text(&handle, id, value, &mut buf).ok()?;
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        Some(bytes_to_string(&text[..end]))
    }

    /// Maps a normalised `0..=1` value onto the param's plain `min..=max` range.
    pub fn param_plain_from_normalized(&mut self, param_id: u32, normalized: f64) -> Option<f64> {
        let p = self.params().into_iter().find(|p| p.id == param_id)?;
        Some(p.min + normalized.clamp(0.0, 1.0) * (p.max - p.min))
    }

    /// `clap_plugin_params.flush`: applies param events outside of `process` and returns the
    /// events the plugin pushed back. Uses the audio-thread flavour when active. Only
    /// `ParamValue`/`ParamMod` events are meaningful here (times are ignored by CLAP).
    pub fn flush_params(&mut self, events: &[InEvent]) -> Result<Vec<OutEvent>, HostError> {
        self.in_events.clear();
        for e in events {
            e.push_into(&mut self.in_events)?;
        }
        self.out_events.clear();
        let input = self.in_events.as_input();
        let mut output = self.out_events.as_output();
        match self.active.as_mut() {
            Some(active) => {
                let _audio = AudioThreadScope::enter(&self.rec);
                let mut handle = active.processor.plugin_handle();
                let ext = handle.get_extension::<PluginParams>().ok_or(HostError::MissingExtension("clap.params"))?;
                ext.flush_active(&mut handle, &input, &mut output);
            }
            None => {
                let mut handle = self.instance.inactive_plugin_handle().ok_or(HostError::AlreadyActive)?;
                let ext = handle.get_extension::<PluginParams>().ok_or(HostError::MissingExtension("clap.params"))?;
                ext.flush(&mut handle, &input, &mut output);
            }
        }
        Ok(self.out_events.iter().map(OutEvent::from_unknown).collect())
    }

    // ---- state ---------------------------------------------------------------------------

    /// `clap_plugin_state.save`.
    pub fn save_state(&mut self) -> Result<Vec<u8>, HostError> {
        let handle = self.instance.plugin_handle();
        let ext = handle.get_extension::<PluginState>().ok_or(HostError::MissingExtension("clap.state"))?;
        let mut data = Vec::new();
        ext.save(&handle, &mut data).map_err(|e| HostError::State(e.to_string()))?;
        Ok(data)
    }

    /// `clap_plugin_state.load`.
    pub fn load_state(&mut self, data: &[u8]) -> Result<(), HostError> {
        let handle = self.instance.plugin_handle();
        let ext = handle.get_extension::<PluginState>().ok_or(HostError::MissingExtension("clap.state"))?;
        let mut reader = data;
        ext.load(&handle, &mut reader).map_err(|e| HostError::State(e.to_string()))
    }

    // ---- processing ----------------------------------------------------------------------

    /// Runs one `clap_plugin.process` block.
    ///
    /// * `inputs` / `outputs`: `[port][channel][frame]`, shaped exactly like the plugin's audio
    ///   ports (see [`ClapHost::make_input_buffers`]); every channel must have the same length,
    ///   which is the block's frame count and must be within the activated `min..=max`.
    /// * `transport`: `None` = free-running (no transport pointer).
    /// * `in_events`: any order; sorted (stably) by time before being passed to the plugin.
    ///
    /// Starts processing first if needed. `steady_time` advances by the frame count.
    ///
    /// Limitation (clack 0.2): `frames_count` is derived from the audio buffers, so a plugin
    /// with no audio channels at all (e.g. a pure note effect) cannot be processed: this returns
    /// [`HostError::BufferLayout`].
    pub fn process(
        &mut self,
        inputs: &[Vec<Vec<f32>>],
        outputs: &mut [Vec<Vec<f32>>],
        transport: Option<Transport>,
        in_events: &[InEvent],
    ) -> Result<ProcessOutput, HostError> {
        let active = self.active.as_mut().ok_or(HostError::NotActive)?;
        let frames = check_layout(active, inputs, outputs)?;

        self.in_events.clear();
        for e in in_events {
            if e.time() >= frames {
                return Err(HostError::EventOutOfRange { time: e.time(), frames });
            }
            e.push_into(&mut self.in_events)?;
        }
        // Stable by time (ties keep the caller's order), as CLAP requires.
        self.in_events.sort();
        self.out_events.clear();
        let transport = transport.map(Transport::to_clap);

        let n = frames as usize;
        for (scratch, port) in active.in_scratch.iter_mut().zip(inputs) {
            for (dst, src) in scratch.iter_mut().zip(port) {
                dst[..n].copy_from_slice(src);
            }
        }

        let _audio = AudioThreadScope::enter(&self.rec);
        let Active { processor, in_ports, out_ports, in_scratch, .. } = active;
        let started = processor.ensure_processing_started().map_err(|e| HostError::Process(e.to_string()))?;
        let audio_in = in_ports.with_input_buffers(in_scratch.iter_mut().map(|port| AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(
                port.iter_mut().map(|ch| InputChannel::variable(&mut ch[..n])),
            ),
        }));
        let mut audio_out = out_ports.with_output_buffers(outputs.iter_mut().map(|port| AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(port.iter_mut().map(|ch| ch.as_mut_slice())),
        }));
        let status = started
            .process(
                &audio_in,
                &mut audio_out,
                &self.in_events.as_input(),
                &mut self.out_events.as_output(),
                Some(self.steady_time),
                transport.as_ref(),
            )
            .map_err(|e| HostError::Process(e.to_string()))?;
        self.steady_time += u64::from(frames);

        Ok(ProcessOutput { status, events: self.out_events.iter().map(OutEvent::from_unknown).collect() })
    }
}

/// Validates `[port][channel][frame]` shapes against the activated layout; returns frames.
fn check_layout(active: &Active, inputs: &[Vec<Vec<f32>>], outputs: &[Vec<Vec<f32>>]) -> Result<u32, HostError> {
    let mut frames: Option<usize> = None;
    for (dir, layout, bufs) in [("input", &active.in_layout, inputs), ("output", &active.out_layout, outputs)] {
        if bufs.len() != layout.len() {
            return Err(HostError::BufferLayout(format!(
                "plugin has {} {dir} ports, got {}",
                layout.len(),
                bufs.len()
            )));
        }
        for (i, (port, &channels)) in bufs.iter().zip(layout.iter()).enumerate() {
            if port.len() != channels as usize {
                return Err(HostError::BufferLayout(format!(
                    "{dir} port {i} has {channels} channels, got {}",
                    port.len()
                )));
            }
            for ch in port {
                match frames {
                    None => frames = Some(ch.len()),
                    Some(f) if f != ch.len() => {
                        return Err(HostError::BufferLayout(format!("channel lengths differ ({f} vs {})", ch.len())));
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let frames = frames.unwrap_or(0);
    let cfg = &active.config;
    let frames_u32 = u32::try_from(frames).unwrap_or(u32::MAX);
    if frames_u32 < cfg.min_frames_count || frames_u32 > cfg.max_frames_count {
        return Err(HostError::BufferLayout(format!(
            "block of {frames} frames outside activated range {}..={}",
            cfg.min_frames_count, cfg.max_frames_count
        )));
    }
    Ok(frames_u32)
}

impl Drop for ClapHost {
    fn drop(&mut self) {
        // The GUI goes first: CLAP wants it destroyed before the plugin is.
        self.gui_destroy();
        // stop_processing + deactivate before the instance is destroyed; otherwise clack leaks
        // the instance (it refuses to destroy while an audio processor handle exists).
        self.deactivate();
        // `instance` is dropped next: `clap_plugin.destroy`, then the entry is released.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clack_host::events::event_types::{NoteEndEvent, ParamGestureBeginEvent};

    #[test]
    fn transport_advance_bars_and_loop() {
        let mut t = Transport::new(120.0, (3, 4));
        // 1 s at 120 BPM = 2 beats.
        t.advance(48_000, 48_000.0);
        assert!((t.song_pos_beats - 2.0).abs() < 1e-9);
        assert!((t.song_pos_seconds - 1.0).abs() < 1e-9);
        assert_eq!(t.bar_number, 0);
        t.advance(48_000, 48_000.0);
        assert_eq!(t.bar_number, 1);
        assert!((t.bar_start_beats - 3.0).abs() < 1e-9);

        let mut l = Transport::new(60.0, (4, 4));
        l.loop_active = true;
        l.loop_start_beats = 4.0;
        l.loop_end_beats = 8.0;
        l.seek_beats(7.5);
        l.advance(44_100, 44_100.0); // +1 beat -> 8.5 -> wraps to 4.5
        assert!((l.song_pos_beats - 4.5).abs() < 1e-9, "{}", l.song_pos_beats);
        assert_eq!(l.bar_number, 1);

        let mut stopped = Transport::new(100.0, (4, 4));
        stopped.playing = false;
        stopped.advance(1000, 48_000.0);
        assert_eq!(stopped.song_pos_beats, 0.0);

        let ev = l.to_clap();
        assert!(ev.flags.contains(TransportFlags::IS_LOOP_ACTIVE | TransportFlags::IS_PLAYING));
        assert_eq!(ev.loop_end_beats, BeatTime::from_float(8.0));
        assert_eq!(ev.loop_end_seconds, SecondsTime::from_float(8.0));
        assert_eq!(ev.bar_number, 1);
        assert_eq!((ev.time_signature_numerator, ev.time_signature_denominator), (4, 4));
    }

    #[test]
    fn in_and_out_events_roundtrip_through_event_buffer() {
        let mut buf = EventBuffer::new();
        for e in [
            InEvent::note_on(3, 2, 60, 0.5),
            InEvent::NoteOff { time: 7, port: 1, channel: 0, key: 61, velocity: 0.25, note_id: Some(42) },
            InEvent::Midi { time: 9, port: 0, data: [0x90, 64, 100] },
            InEvent::param(11, 5, 0.75),
        ] {
            e.push_into(&mut buf).unwrap();
        }
        buf.push(&NoteEndEvent::new(12, Pckn::new(0u16, 1u16, 62u16, Match::All)));
        buf.push(&ParamGestureBeginEvent::new(13, ClapId::new(9)));
        let out: Vec<OutEvent> = buf.iter().map(OutEvent::from_unknown).collect();
        assert_eq!(
            out,
            vec![
                OutEvent::NoteOn { time: 3, port: 0, channel: 2, key: 60, note_id: -1, velocity: 0.5 },
                OutEvent::NoteOff { time: 7, port: 1, channel: 0, key: 61, note_id: 42, velocity: 0.25 },
                OutEvent::Midi { time: 9, port: 0, data: [0x90, 64, 100] },
                OutEvent::ParamValue { time: 11, param_id: 5, value: 0.75 },
                OutEvent::NoteEnd { time: 12, port: 0, channel: 1, key: 62, note_id: -1 },
                OutEvent::ParamGestureBegin { time: 13, param_id: 9 },
            ]
        );
        assert_eq!(InEvent::param(0, u32::MAX, 0.0).push_into(&mut buf), Err(HostError::InvalidParamId(u32::MAX)));
    }
}
