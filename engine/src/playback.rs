//! The audio-thread side of stems: which stem sits in which slot, mixing their audio at the
//! host's song position and scheduling their notes as MIDI events. Nothing here allocates,
//! locks or frees: stems arrive as `Arc`s and leave through the retire queue.

use std::sync::Arc;

use crate::stem::{PlayableStem, SLOTS};
use crate::timeline::{Segment, split_at_loop};

/// Most notes one slot can hold down at once; further note-ons wait for a free place.
pub const MAX_HELD_NOTES: usize = 64;
/// Most MIDI events the player emits in one block.
pub const MAX_BLOCK_EVENTS: usize = 2048;

/// The host's transport for one block, reduced to what playback needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockTransport {
    /// Whether the host is playing.
    pub playing: bool,
    /// Song position of the block's first sample.
    pub pos_samples: i64,
    /// Song position of the block's first sample in quarter-note beats.
    pub pos_beats: f64,
    /// Tempo in BPM.
    pub tempo: f64,
    /// The sample rate.
    pub sample_rate: f64,
    /// The host's cycle, in samples and in beats, when it is on.
    pub loop_range: Option<((i64, i64), (f64, f64))>,
}

impl BlockTransport {
    /// Samples per quarter-note beat.
    fn samples_per_beat(&self) -> f64 {
        self.sample_rate * 60.0 / self.tempo.max(1.0)
    }
}

/// A MIDI event produced by playback, `velocity == 0` meaning note-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MidiEvent {
    /// Sample offset inside the block.
    pub timing: u32,
    /// MIDI channel (the slot index).
    pub channel: u8,
    /// MIDI key.
    pub key: u8,
    /// Velocity 1-127, or 0 for note-off.
    pub velocity: u8,
    /// Emission order, so events at the same sample keep their order after sorting.
    seq: u16,
}

/// A fixed-capacity list of the block's MIDI events, sorted by time once the block is planned.
pub struct MidiBuffer {
    events: Box<[MidiEvent; MAX_BLOCK_EVENTS]>,
    len: usize,
}

impl Default for MidiBuffer {
    fn default() -> Self {
        Self { events: Box::new([MidiEvent::default(); MAX_BLOCK_EVENTS]), len: 0 }
    }
}

impl MidiBuffer {
    /// The events of the current block, in time order.
    pub fn events(&self) -> &[MidiEvent] {
        &self.events[..self.len]
    }

    fn push(&mut self, timing: u32, channel: usize, key: u8, velocity: u8) {
        if self.len < MAX_BLOCK_EVENTS {
            let seq = self.len as u16;
            self.events[self.len] = MidiEvent { timing, channel: channel as u8, key, velocity, seq };
            self.len += 1;
        }
    }
}

/// What the plugin decided for one slot this block.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SlotMix {
    /// Linear gain after mute and solo.
    pub gain: f32,
    /// Whether the slot's audio is heard.
    pub audio: bool,
    /// Whether the slot's notes are sent.
    pub midi: bool,
}

/// A note a slot is holding, with the beat at which it ends.
#[derive(Debug, Clone, Copy, Default)]
struct HeldNote {
    key: u8,
    end: f64,
}

/// Notes held down by one slot.
#[derive(Debug, Clone, Copy)]
struct HeldNotes {
    notes: [HeldNote; MAX_HELD_NOTES],
    len: usize,
}

impl Default for HeldNotes {
    fn default() -> Self {
        Self { notes: [HeldNote::default(); MAX_HELD_NOTES], len: 0 }
    }
}

/// Where the beat grid sits: `beats` at song sample `pos`, moving at `tempo`. Note times are
/// computed from an anchor, never accumulated block by block, so every note lands on the same
/// sample whatever the block size, and a note on a block boundary is sent exactly once.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Anchor {
    pos: i64,
    beats: f64,
    samples_per_beat: f64,
}

impl Anchor {
    /// The song sample a beat falls on: the nearest one, halves rounding up.
    fn sample_of(&self, beat: f64) -> i64 {
        self.pos + ((beat - self.beats) * self.samples_per_beat + 0.5).floor() as i64
    }

    /// The beat at a song sample.
    fn beat_at(&self, pos: i64) -> f64 {
        self.beats + (pos - self.pos) as f64 / self.samples_per_beat
    }
}

/// The song-time layout of one block: up to two contiguous segments (two when a loop wraps),
/// each with the beat grid that holds inside it.
#[derive(Debug, Clone, Copy)]
pub struct BlockPlan {
    segments: [Segment; 2],
    anchors: [Anchor; 2],
    count: usize,
    playing: bool,
}

impl BlockPlan {
    /// The song position in beats of the first sample of segment `index`.
    pub fn beats(&self, index: usize) -> f64 {
        let index = index.min(1);
        self.anchors[index].beat_at(self.segments[index].pos)
    }

    /// The contiguous runs of this block that play; empty when the transport is stopped.
    pub fn segments(&self) -> &[Segment] {
        if self.playing { &self.segments[..self.count] } else { &[] }
    }
}

/// Stem slots as the audio thread sees them, plus the state needed to play them seamlessly.
pub struct Player {
    slots: [Option<Arc<PlayableStem>>; SLOTS],
    held: [HeldNotes; SLOTS],
    /// Slots whose stem was swapped since the last block: their held notes are released.
    swapped: [bool; SLOTS],
    gains: [f32; SLOTS],
    expected_pos: Option<i64>,
    /// The beat grid of the last block, carried on while the transport plays on.
    anchor: Option<Anchor>,
    midi: MidiBuffer,
}

impl Default for Player {
    fn default() -> Self {
        Self {
            slots: Default::default(),
            held: [HeldNotes::default(); SLOTS],
            swapped: [false; SLOTS],
            gains: [0.0; SLOTS],
            expected_pos: None,
            anchor: None,
            midi: MidiBuffer::default(),
        }
    }
}

impl Player {
    /// Puts `stem` in `slot` and returns what was there, which the caller must retire off the
    /// audio thread. Notes the old stem was holding are released at the start of the next block.
    pub fn swap(&mut self, slot: usize, stem: Option<Arc<PlayableStem>>) -> Option<Arc<PlayableStem>> {
        let slot = slot.min(SLOTS - 1);
        self.swapped[slot] = true;
        std::mem::replace(&mut self.slots[slot], stem)
    }

    /// Whether `slot` holds a stem.
    pub fn is_occupied(&self, slot: usize) -> bool {
        self.slots.get(slot).is_some_and(Option::is_some)
    }

    /// Whether `slot`'s stem plays its audio and whether it sends its notes.
    pub fn outputs(&self, slot: usize) -> (bool, bool) {
        self.slots[slot].as_ref().map_or((false, false), |s| (s.output.plays_audio(), s.output.sends_midi()))
    }

    /// Forgets the transport (the host reset the plugin); held notes are released next block.
    pub fn reset(&mut self) {
        self.expected_pos = None;
        self.anchor = None;
        self.swapped = [true; SLOTS];
    }

    /// Plans a block of `len` samples: finds its song segments, releases notes on stop, seek
    /// and loop wrap, and schedules the notes of every slot whose `mix.midi` is on.
    pub fn plan_block(&mut self, transport: &BlockTransport, len: usize, mix: &[SlotMix; SLOTS]) -> BlockPlan {
        self.midi.len = 0;
        let loop_samples = transport.loop_range.map(|(samples, _)| samples);
        let (segments, count) = split_at_loop(transport.pos_samples, len, loop_samples);
        let samples_per_beat = transport.samples_per_beat();

        let jumped = transport.playing && self.expected_pos != Some(transport.pos_samples);
        if !transport.playing || jumped {
            self.release_all(0);
        }
        for (slot, slot_mix) in mix.iter().enumerate() {
            if !slot_mix.midi || std::mem::take(&mut self.swapped[slot]) {
                self.release_slot(slot, 0);
            }
        }

        // After a jump the host's beat position is the truth; while playing on, the grid
        // continues from the last block, re-anchored only where the tempo changes.
        let here = Anchor { pos: transport.pos_samples, beats: transport.pos_beats, samples_per_beat };
        let anchor = match self.anchor {
            Some(previous) if !jumped && previous.samples_per_beat == samples_per_beat => previous,
            Some(previous) if !jumped => Anchor { beats: previous.beat_at(transport.pos_samples), ..here },
            _ => here,
        };
        let wrapped = match transport.loop_range {
            Some(((start, _), (start_beats, _))) => Anchor { pos: start, beats: start_beats, samples_per_beat },
            None => anchor,
        };
        let plan = BlockPlan { segments, anchors: [anchor, wrapped], count, playing: transport.playing };

        for (index, segment) in plan.segments().iter().enumerate().filter(|(_, s)| s.len > 0) {
            if index > 0 {
                self.release_all(segment.offset as u32);
            }
            for (slot, slot_mix) in mix.iter().enumerate() {
                if slot_mix.midi {
                    self.schedule_slot(slot, segment, &plan.anchors[index]);
                }
            }
        }

        let last = plan.segments[count - 1];
        self.expected_pos = transport.playing.then_some(last.pos + last.len as i64);
        self.anchor = transport.playing.then_some(plan.anchors[count - 1]);
        self.midi.events[..self.midi.len].sort_unstable_by_key(|e| (e.timing, e.seq));
        plan
    }

    /// The MIDI events of the block planned last, in time order.
    pub fn midi_events(&self) -> &[MidiEvent] {
        self.midi.events()
    }

    /// Mixes `slot`'s audio for `plan` into `out` (two channels), ramping its gain from the
    /// previous block's value to `mix.gain`.
    pub fn mix_slot(&mut self, slot: usize, plan: &BlockPlan, mix: &SlotMix, out: &mut [&mut [f32]]) {
        let target = if mix.audio { mix.gain } else { 0.0 };
        let from = self.gains[slot];
        self.gains[slot] = target;
        let Some(audio) = self.slots[slot].as_ref().and_then(|s| s.audio.as_ref().map(|a| (s.start_sample, a))) else {
            return;
        };
        if from == 0.0 && target == 0.0 {
            return;
        }
        let (start_sample, audio) = audio;
        let block_len = out.first().map_or(0, |c| c.len()).max(1) as f32;
        for segment in plan.segments() {
            // The part of this segment that overlaps the stem's audio.
            let first = (start_sample - segment.pos).clamp(0, segment.len as i64) as usize;
            let last = (start_sample + audio.frames() as i64 - segment.pos).clamp(0, segment.len as i64) as usize;
            for i in first..last {
                let at = segment.offset + i;
                let gain = from + (target - from) * (at as f32 / block_len);
                let src = (segment.pos + i as i64 - start_sample) as usize;
                let sources = [&audio.left, &audio.right];
                for (channel, buffer) in out.iter_mut().enumerate().take(2) {
                    buffer[at] += sources[channel][src] * gain;
                }
            }
        }
    }

    fn schedule_slot(&mut self, slot: usize, segment: &Segment, anchor: &Anchor) {
        let Some(stem) = self.slots[slot].as_ref() else { return };
        let end = segment.pos + segment.len as i64;
        let timing =
            |sample: i64| (segment.offset as i64 + (sample - segment.pos).clamp(0, segment.len as i64 - 1)) as u32;
        // Releases due inside this segment.
        let held = &mut self.held[slot];
        let mut i = 0;
        while i < held.len {
            let off = anchor.sample_of(held.notes[i].end);
            if off < end {
                self.midi.push(timing(off), slot, held.notes[i].key, 0);
                held.len -= 1;
                held.notes[i] = held.notes[held.len];
            } else {
                i += 1;
            }
        }
        // Notes whose first sample lies inside this segment.
        let first = stem.notes.partition_point(|n| anchor.sample_of(n.start) < segment.pos);
        for note in stem.notes[first..].iter().take_while(|n| anchor.sample_of(n.start) < end) {
            if held.len == MAX_HELD_NOTES {
                break;
            }
            self.midi.push(timing(anchor.sample_of(note.start)), slot, note.key, note.velocity.max(1));
            let off = anchor.sample_of(note.end());
            if off < end {
                self.midi.push(timing(off), slot, note.key, 0);
            } else {
                held.notes[held.len] = HeldNote { key: note.key, end: note.end() };
                held.len += 1;
            }
        }
    }

    fn release_slot(&mut self, slot: usize, timing: u32) {
        let held = &mut self.held[slot];
        for note in &held.notes[..held.len] {
            self.midi.push(timing, slot, note.key, 0);
        }
        held.len = 0;
    }

    fn release_all(&mut self, timing: u32) {
        for slot in 0..SLOTS {
            self.release_slot(slot, timing);
        }
    }
}
