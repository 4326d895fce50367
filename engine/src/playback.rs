//! The audio-thread side of stems: which stem sits in which slot, mixing their audio at the
//! host's song position and scheduling their notes as MIDI events. Nothing here allocates,
//! locks or frees: stems arrive as `Arc`s and leave through the retire queue.

use std::sync::Arc;

use crate::stem::{EditPart, PlayableStem, SLOTS};
use crate::timeline::{Segment, split_at_loop};

/// Most notes one slot can hold down at once; further note-ons wait for a free place.
pub const MAX_HELD_NOTES: usize = 64;
/// Most MIDI events the player emits in one block.
pub const MAX_BLOCK_EVENTS: usize = 2048;
/// Length of the equal-gain crossfade between the main input and an edit at each edge of the
/// edit's span, in seconds.
pub const EDGE_RAMP_SECONDS: f64 = 0.005;
/// How long switching between an edit and the original (the "Edit A/B" parameter, mute, solo,
/// bypass) takes, in seconds.
pub const SWITCH_RAMP_SECONDS: f64 = 0.01;

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
    sample_rate: f64,
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

    /// How far the "Edit A/B" switch moves in one sample.
    fn switch_step(&self) -> f32 {
        (1.0 / (self.sample_rate * SWITCH_RAMP_SECONDS).max(1.0)) as f32
    }
}

/// `fade` moved `samples` steps of `step` toward `target`, stopping there.
fn ramp(fade: f32, target: f32, step: f32, samples: usize) -> f32 {
    let moved = step * samples as f32;
    if target > fade { (fade + moved).min(target) } else { (fade - moved).max(target) }
}

/// Stem slots as the audio thread sees them, plus the state needed to play them seamlessly.
pub struct Player {
    slots: [Option<Arc<PlayableStem>>; SLOTS],
    held: [HeldNotes; SLOTS],
    /// Slots whose stem was swapped since the last block: their held notes are released.
    swapped: [bool; SLOTS],
    gains: [f32; SLOTS],
    /// How far each slot's edit of the main input (or a replacement's new part) is heard (0: the
    /// original, 1: the edit).
    fades: [f32; SLOTS],
    /// Whether edits of the main input are heard ("Edit A/B" on "Edited").
    edited: bool,
    /// The slots from the lowest edit layer to the highest (slot order among equals): where
    /// edits overlap, the later one is heard.
    edit_order: [usize; SLOTS],
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
            fades: [0.0; SLOTS],
            edited: true,
            edit_order: std::array::from_fn(|slot| slot),
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
        let old = std::mem::replace(&mut self.slots[slot], stem);
        // In place, without allocating: (layer, slot) orders every slot uniquely.
        let slots = &self.slots;
        self.edit_order.sort_unstable_by_key(|&s| (slots[s].as_ref().map_or(0, |stem| stem.layer), s));
        old
    }

    /// Whether `slot` holds a stem.
    pub fn is_occupied(&self, slot: usize) -> bool {
        self.slots.get(slot).is_some_and(Option::is_some)
    }

    /// Whether `slot`'s stem plays its audio and whether it sends its notes.
    pub fn outputs(&self, slot: usize) -> (bool, bool) {
        self.slots[slot].as_ref().map_or((false, false), |s| (s.output.plays_audio(), s.output.sends_midi()))
    }

    /// Sets the "Edit A/B" switch for the coming blocks: `true` plays the edits of the main input
    /// (and the parts replacements wrote), `false` the original, each reached over
    /// [`SWITCH_RAMP_SECONDS`]. Call it before [`Self::plan_block`].
    pub fn set_edit_ab(&mut self, edited: bool) {
        self.edited = edited;
    }

    /// Whether `slot` sends its notes this block: a replacement's new part is silent while the
    /// original plays.
    fn sends_midi(&self, slot: usize, mix: &SlotMix) -> bool {
        mix.midi && (self.edited || self.slots[slot].as_ref().is_none_or(|s| s.edit != EditPart::NewPart))
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
        let midi: [bool; SLOTS] = std::array::from_fn(|slot| self.sends_midi(slot, &mix[slot]));
        let loop_samples = transport.loop_range.map(|(samples, _)| samples);
        let (segments, count) = split_at_loop(transport.pos_samples, len, loop_samples);
        let samples_per_beat = transport.samples_per_beat();

        let jumped = transport.playing && self.expected_pos != Some(transport.pos_samples);
        if !transport.playing || jumped {
            self.release_all(0);
        }
        for (slot, sends) in midi.into_iter().enumerate() {
            if !sends || std::mem::take(&mut self.swapped[slot]) {
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
        let plan = BlockPlan {
            segments,
            anchors: [anchor, wrapped],
            count,
            playing: transport.playing,
            sample_rate: transport.sample_rate,
        };

        for (index, segment) in plan.segments().iter().enumerate().filter(|(_, s)| s.len > 0) {
            if index > 0 {
                self.release_all(segment.offset as u32);
            }
            for (slot, sends) in midi.into_iter().enumerate() {
                if sends {
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
    /// previous block's value to `mix.gain`. Parts of edits are not mixed in: one that replaces
    /// the main input plays through [`Self::replace_main`], a kept one is silent. A replacement's
    /// new part follows the "Edit A/B" switch on the same ramp as the edit it belongs to.
    pub fn mix_slot(&mut self, slot: usize, plan: &BlockPlan, mix: &SlotMix, out: &mut [&mut [f32]]) {
        let edit = self.slots[slot].as_ref().map_or(EditPart::None, |s| s.edit);
        if edit == EditPart::ReplacesMain {
            return;
        }
        let target = if mix.audio { mix.gain } else { 0.0 };
        let from = self.gains[slot];
        self.gains[slot] = target;
        let block = out.first().map_or(0, |c| c.len());
        // How far the switch lets a new part be heard, at the block's start and toward where.
        let (fade, fade_to) = match edit {
            EditPart::NewPart => (self.fades[slot], if self.edited { 1.0 } else { 0.0 }),
            _ => (1.0, 1.0),
        };
        if edit == EditPart::NewPart {
            self.fades[slot] = if plan.playing { ramp(fade, fade_to, plan.switch_step(), block) } else { fade_to };
        }
        let Some(audio) = self.slots[slot]
            .as_ref()
            .filter(|s| matches!(s.edit, EditPart::None | EditPart::NewPart))
            .and_then(|s| s.audio.as_ref().map(|a| (s.start_sample, a)))
        else {
            return;
        };
        if (from == 0.0 && target == 0.0) || (fade == 0.0 && fade_to == 0.0) {
            return;
        }
        let (start_sample, audio) = audio;
        let block_len = block.max(1) as f32;
        let step = plan.switch_step();
        for segment in plan.segments() {
            // The part of this segment that overlaps the stem's audio.
            let first = (start_sample - segment.pos).clamp(0, segment.len as i64) as usize;
            let last = (start_sample + audio.frames() as i64 - segment.pos).clamp(0, segment.len as i64) as usize;
            for i in first..last {
                let at = segment.offset + i;
                let switch = ramp(fade, fade_to, step, at + 1);
                if switch <= 0.0 {
                    continue;
                }
                let gain = (from + (target - from) * (at as f32 / block_len)) * switch;
                let src = (segment.pos + i as i64 - start_sample) as usize;
                let sources = [&audio.left, &audio.right];
                for (channel, buffer) in out.iter_mut().enumerate().take(2) {
                    buffer[at] += sources[channel][src] * gain;
                }
            }
        }
    }

    /// Plays every stem that replaces the main input instead of the input in `main` (two
    /// channels) over its span, with an equal-gain crossfade of [`EDGE_RAMP_SECONDS`] inside each
    /// edge; outside the spans `main` is not touched. With "Edit A/B" on the original
    /// ([`Self::set_edit_ab`]) the original comes back over [`SWITCH_RAMP_SECONDS`] (so do mute,
    /// solo and bypass, through `mix`). Where spans overlap, the later edit (higher layer) is
    /// heard. Call it before the other stems are mixed into `main`.
    pub fn replace_main(&mut self, plan: &BlockPlan, mix: &[SlotMix; SLOTS], main: &mut [&mut [f32]]) {
        let edge = (plan.sample_rate * EDGE_RAMP_SECONDS).round().max(1.0) as f32;
        let step = plan.switch_step();
        let block_len = main.first().map_or(0, |c| c.len()).max(1) as f32;
        for slot in self.edit_order {
            let slot_mix = &mix[slot];
            let Some(stem) = self.slots[slot].as_ref().filter(|s| s.edit == EditPart::ReplacesMain) else {
                // A new part keeps its place on the switch's ramp (see `mix_slot`).
                if self.slots[slot].as_ref().is_none_or(|s| s.edit != EditPart::NewPart) {
                    self.fades[slot] = 0.0;
                }
                continue;
            };
            let target = if slot_mix.audio && self.edited { 1.0 } else { 0.0 };
            // A muted slot's gain reads 0: the fade takes the edit out, at the level it had.
            let gain_from = self.gains[slot];
            let gain_to = if slot_mix.audio { slot_mix.gain } else { gain_from };
            self.gains[slot] = gain_to;
            let mut fade = self.fades[slot];
            let Some(audio) = stem.audio.as_ref().filter(|_| plan.playing) else {
                // Stopped: nothing is replaced, and the next play starts where the switch points.
                self.fades[slot] = target;
                continue;
            };
            let toward = |fade: f32, samples: usize| ramp(fade, target, step, samples);
            let frames = audio.frames() as i64;
            for segment in plan.segments() {
                let first = (stem.start_sample - segment.pos).clamp(0, segment.len as i64) as usize;
                let last = (stem.start_sample + frames - segment.pos).clamp(0, segment.len as i64) as usize;
                fade = toward(fade, first);
                for i in first..last {
                    fade = toward(fade, 1);
                    let at = segment.offset + i;
                    let k = segment.pos + i as i64 - stem.start_sample;
                    let inside = ((k + 1) as f32 / (edge + 1.0)).min((frames - k) as f32 / (edge + 1.0)).min(1.0);
                    let w = inside * fade;
                    if w <= 0.0 {
                        continue;
                    }
                    let gain = gain_from + (gain_to - gain_from) * (at as f32 / block_len);
                    let sources = [&audio.left, &audio.right];
                    for (channel, buffer) in main.iter_mut().enumerate().take(2) {
                        let edit = sources[channel][k as usize] * gain;
                        buffer[at] = if w >= 1.0 { edit } else { buffer[at] * (1.0 - w) + edit * w };
                    }
                }
                fade = toward(fade, segment.len - last);
            }
            self.fades[slot] = fade;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stem::{StemOutput, StereoAudio};

    const RATE: f64 = 48_000.0;

    fn input(channel: usize, i: usize) -> f32 {
        ((i * 7 + channel * 3) % 101) as f32 / 101.0 - 0.5
    }

    /// A stem of constant -0.25 / 0.25 over `frames` from song sample `start`.
    fn edit_stem(start: i64, frames: usize, edit: EditPart) -> Arc<PlayableStem> {
        let audio = StereoAudio { sample_rate: RATE as u32, left: vec![-0.25; frames], right: vec![0.25; frames] };
        Arc::new(PlayableStem {
            start_sample: start,
            audio: Some(Arc::new(audio)),
            output: StemOutput::Audio,
            edit,
            ..PlayableStem::default()
        })
    }

    /// Plays `frames` from song sample 0 in blocks of `block`; `edited(i)` is the A/B switch at
    /// the block starting at sample `i`.
    fn play(player: &mut Player, frames: usize, block: usize, edited: impl Fn(usize) -> bool) -> [Vec<f32>; 2] {
        let mix = [SlotMix { gain: 1.0, audio: true, midi: false }; SLOTS];
        let mut out = [vec![0.0; frames], vec![0.0; frames]];
        for start in (0..frames).step_by(block) {
            let len = block.min(frames - start);
            let transport = BlockTransport {
                playing: true,
                pos_samples: start as i64,
                pos_beats: start as f64 / 24_000.0,
                tempo: 120.0,
                sample_rate: RATE,
                loop_range: None,
            };
            player.set_edit_ab(edited(start));
            let plan = player.plan_block(&transport, len, &mix);
            let (mut left, mut right): (Vec<f32>, Vec<f32>) = (
                (start..start + len).map(|i| input(0, i)).collect(),
                (start..start + len).map(|i| input(1, i)).collect(),
            );
            let mut main: [&mut [f32]; 2] = [&mut left, &mut right];
            player.replace_main(&plan, &mix, &mut main);
            for (slot, slot_mix) in mix.iter().enumerate() {
                player.mix_slot(slot, &plan, slot_mix, &mut main);
            }
            out[0][start..start + len].copy_from_slice(&left);
            out[1][start..start + len].copy_from_slice(&right);
        }
        out
    }

    #[test]
    fn an_edit_replaces_the_input_over_its_span_only_with_ramped_edges_at_any_block_size() {
        let (start, frames) = (10_000usize, 20_000usize);
        let edge = (RATE * EDGE_RAMP_SECONDS) as usize;
        let mut reference = None;
        for block in [1, 64, 480, 4096] {
            let mut player = Player::default();
            player.swap(3, Some(edit_stem(start as i64, frames, EditPart::ReplacesMain)));
            // The first block fades the new edit in; start it outside the span.
            let out = play(&mut player, 40_000, block, |_| true);
            for c in 0..2 {
                for (i, v) in out[c].iter().enumerate() {
                    if i < start || i >= start + frames {
                        assert_eq!(*v, input(c, i), "block {block}: outside the span the input is untouched ({i})");
                    } else if i >= start + edge && i < start + frames - edge {
                        assert_eq!(*v, [-0.25, 0.25][c], "block {block}: inside it the edit alone plays ({i})");
                    }
                }
                // Across each edge the output moves from one signal to the other in small steps.
                for i in (start - 1..start + edge + 1).chain(start + frames - edge - 1..start + frames + 1) {
                    let step = (out[c][i + 1] - out[c][i]).abs();
                    let carried = (input(c, i + 1) - input(c, i)).abs();
                    assert!(step <= carried + 0.75 / edge as f32 + 1e-6, "block {block}: jump {step} at {i}");
                }
            }
            match &reference {
                None => reference = Some(out),
                Some(first) => assert_eq!(first, &out, "block {block} sounds like block 1"),
            }
        }
    }

    #[test]
    fn where_edits_overlap_the_later_one_is_heard_whatever_its_slot() {
        // Slot 2 holds the earlier edit (layer 1), slot 5 an overlapping later one (layer 2) at
        // another level; then the later one moves to slot 0, below the earlier one.
        let level = |stem: Arc<PlayableStem>, gain: f32, layer: u64| {
            let audio = stem.audio.as_ref().unwrap();
            let scaled = StereoAudio {
                sample_rate: audio.sample_rate,
                left: audio.left.iter().map(|v| v * gain).collect(),
                right: audio.right.iter().map(|v| v * gain).collect(),
            };
            Arc::new(PlayableStem { audio: Some(Arc::new(scaled)), layer, ..(*stem).clone() })
        };
        let earlier = level(edit_stem(0, 30_000, EditPart::ReplacesMain), 1.0, 1);
        let later = level(edit_stem(10_000, 30_000, EditPart::ReplacesMain), 2.0, 2);
        for (earlier_slot, later_slot) in [(2, 5), (2, 0)] {
            let mut player = Player::default();
            player.swap(earlier_slot, Some(earlier.clone()));
            player.swap(later_slot, Some(later.clone()));
            let out = play(&mut player, 50_000, 480, |_| true);
            assert_eq!(out[0][5_000], -0.25, "the earlier edit alone ({earlier_slot}, {later_slot})");
            assert_eq!(out[0][20_000], -0.5, "the later edit where both play ({earlier_slot}, {later_slot})");
            assert_eq!(out[0][35_000], -0.5, "the later edit alone ({earlier_slot}, {later_slot})");
        }
    }

    #[test]
    fn the_ab_switch_brings_the_original_back_with_a_ramp_and_kept_parts_are_silent() {
        let mut player = Player::default();
        player.swap(0, Some(edit_stem(0, 48_000, EditPart::ReplacesMain)));
        player.swap(1, Some(edit_stem(0, 48_000, EditPart::Kept)));
        // Edited until sample 12 000, then the original.
        let out = play(&mut player, 30_000, 64, |i| i < 12_000);
        let ramp = (RATE * SWITCH_RAMP_SECONDS) as usize;
        assert_eq!(out[0][11_000], -0.25, "the kept part adds nothing to the edit");
        for (i, v) in out[0].iter().enumerate().skip(12_000 + ramp + 64) {
            assert_eq!(*v, input(0, i), "after the switch the original passes bit-exactly ({i})");
        }
        for i in 11_990..12_000 + ramp + 64 {
            let step = (out[0][i + 1] - out[0][i]).abs();
            assert!(step <= (input(0, i + 1) - input(0, i)).abs() + 1.5 / ramp as f32, "jump {step} at {i}");
        }
        let halfway = out[0][12_000 + ramp / 2];
        assert!(halfway != input(0, 12_000 + ramp / 2) && halfway != -0.25, "it crossfades: {halfway}");
    }

    #[test]
    fn a_replacements_new_part_follows_the_ab_switch_so_the_original_comes_back_exactly() {
        let ramp = (RATE * SWITCH_RAMP_SECONDS) as usize;
        for block in [1, 64, 480, 4096] {
            let mut player = Player::default();
            player.swap(0, Some(edit_stem(0, 48_000, EditPart::ReplacesMain)));
            let new_part = PlayableStem {
                notes: vec![crate::stem::Note { start: 0.25, length: 0.1, key: 40, velocity: 100 }],
                output: StemOutput::Both,
                ..(*edit_stem(0, 48_000, EditPart::NewPart)).clone()
            };
            player.swap(1, Some(Arc::new(new_part)));
            // The edit (the rest plus the new part) until 12 000, the original until 24 000, then the edit.
            let out = play(&mut player, 36_000, block, |i| !(12_000..24_000).contains(&i));
            for c in 0..2 {
                let edited = [-0.5, 0.5][c];
                for i in (ramp + block..12_000).chain(24_000 + ramp + block..36_000) {
                    assert_eq!(out[c][i], edited, "block {block}: the rest and the new part play at {i}");
                }
                for (i, v) in out[c].iter().enumerate().take(24_000).skip(12_000 + ramp + block) {
                    assert_eq!(*v, input(c, i), "block {block}: exactly the original at {i}");
                }
                // The rest and the new part leave together: the mix stays a crossfade of the two songs.
                for i in (12_000..12_000 + ramp + block).filter(|i| (edited - input(c, *i)).abs() > 1e-3) {
                    let w = (out[c][i] - input(c, i)) / (edited - input(c, i));
                    assert!((-1e-4..=1.0 + 1e-4).contains(&w), "block {block}: not a crossfade at {i} ({w})");
                }
            }
        }

        // The new part's notes leave the MIDI output with the original.
        let mix = [SlotMix { gain: 1.0, audio: true, midi: true }; SLOTS];
        let transport = BlockTransport {
            playing: true,
            pos_samples: 0,
            pos_beats: 0.0,
            tempo: 120.0,
            sample_rate: RATE,
            loop_range: None,
        };
        let mut player = Player::default();
        player.swap(
            1,
            Some(Arc::new(PlayableStem {
                notes: vec![crate::stem::Note { start: 0.25, length: 0.1, key: 40, velocity: 100 }],
                output: StemOutput::Midi,
                edit: EditPart::NewPart,
                ..PlayableStem::default()
            })),
        );
        player.set_edit_ab(false);
        player.plan_block(&transport, 12_000, &mix);
        assert!(player.midi_events().iter().all(|e| e.velocity == 0), "{:?}", player.midi_events());
        player.set_edit_ab(true);
        player.plan_block(&transport, 12_000, &mix);
        assert_eq!(player.midi_events().iter().filter(|e| e.velocity > 0).count(), 1, "heard with the edit");
    }
}
