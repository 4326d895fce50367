//! Long inputs in segments, so memory does not grow with the input's length: the input is read a
//! segment at a time, each segment is separated together with some context on either side (what
//! the method's filters, patches and notes need to see), and only the segment's own frames are
//! kept: the seams are trimmed, not cross-faded.
//!
//! Segment starts and context lengths are whole multiples of the method's natural unit (one block
//! of [`super::masking`] frames, one Spleeter patch), so inside a segment the frames, blocks and
//! patches fall where they fall when the whole file is processed at once; what differs at a seam
//! is only what the context's far edge reaches, and the result matches whole-file processing
//! within a small tolerance (measured in `engine/tests/separate_long.rs`).

use std::ops::Range;

use super::decode::StereoStream;
use super::hpss::{self, HpssSettings};
use crate::plan::Role;
use crate::stem::StereoAudio;

/// Segment length aimed at when none is asked for, seconds of input.
pub const DEFAULT_SEGMENT_S: f64 = 60.0;

/// How an input is cut: frames kept per segment and context frames on either side, at the
/// input's rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentPlan {
    /// Frames kept per segment (a whole number of units).
    pub length: usize,
    /// Context frames read on either side of a segment (a whole number of units).
    pub context: usize,
}

impl SegmentPlan {
    /// The plan for separating `role` from audio at `sample_rate`, with segments of about
    /// `segment_s` seconds (rounded to whole units, at least one).
    pub fn for_role(role: Role, sample_rate: u32, segment_s: f64) -> SegmentPlan {
        let unit = match role {
            // One Spleeter patch (512 frames of 1024 samples at 44.1 kHz) at the input's rate.
            Role::Vocals => (super::PATCH_FRAMES as f64 * super::stft::HOP as f64 * sample_rate as f64
                / super::SAMPLE_RATE as f64)
                .round() as usize,
            // One block of the masking pipeline (drums; pitched lines use the same STFT).
            _ => {
                let layout = hpss::layout(sample_rate, &HpssSettings::default());
                layout.block * layout.hop
            }
        };
        let units = (segment_s * sample_rate as f64 / unit as f64).round().max(1.0) as usize;
        SegmentPlan { length: units * unit, context: unit }
    }

    /// Seconds of input kept per segment at `sample_rate`.
    pub fn seconds(&self, sample_rate: u32) -> f64 {
        self.length as f64 / sample_rate.max(1) as f64
    }
}

/// Stereo frames read in order: a decoded file or audio already in memory.
pub trait FrameSource {
    /// The frames' sample rate.
    fn sample_rate(&self) -> u32;
    /// Appends up to `max` frames to `into`; returns how many, 0 at the end.
    fn read(&mut self, max: usize, into: &mut StereoAudio) -> Result<usize, String>;
}

impl FrameSource for StereoStream {
    fn sample_rate(&self) -> u32 {
        StereoStream::sample_rate(self)
    }

    fn read(&mut self, max: usize, into: &mut StereoAudio) -> Result<usize, String> {
        StereoStream::read(self, max, into)
    }
}

/// Audio in memory, read from its start.
pub struct InMemory<'a> {
    audio: &'a StereoAudio,
    at: usize,
}

impl<'a> InMemory<'a> {
    /// Reads `audio` from its first frame.
    pub fn new(audio: &'a StereoAudio) -> Self {
        Self { audio, at: 0 }
    }
}

impl FrameSource for InMemory<'_> {
    fn sample_rate(&self) -> u32 {
        self.audio.sample_rate
    }

    fn read(&mut self, max: usize, into: &mut StereoAudio) -> Result<usize, String> {
        let end = (self.at + max).min(self.audio.frames());
        into.left.extend_from_slice(&self.audio.left[self.at..end]);
        into.right.extend_from_slice(&self.audio.right[self.at..end]);
        let read = end - self.at;
        self.at = end;
        Ok(read)
    }
}

/// One segment handed to the separating function.
pub struct Segment<'a> {
    /// The segment with its context, at the input's rate.
    pub audio: &'a StereoAudio,
    /// The frames of `audio` that are the segment's own (the rest is context).
    pub keep: Range<usize>,
    /// Index in the whole input of `audio`'s first frame.
    pub first: usize,
}

/// Reads `stream` to its end and calls `each` on every segment in order; returns the input's
/// length in frames. A tail no longer than the context joins the last segment, so an input shorter
/// than a segment plus its context is one segment with no context (as if processed whole).
pub fn for_each_segment(
    stream: &mut impl FrameSource,
    plan: SegmentPlan,
    mut each: impl FnMut(Segment) -> Result<(), String>,
) -> Result<usize, String> {
    let (length, context) = (plan.length.max(1), plan.context);
    let mut window = StereoAudio { sample_rate: stream.sample_rate(), ..StereoAudio::default() };
    // Input index of the window's first frame, and of the next segment's first frame.
    let (mut first, mut start) = (0usize, 0usize);
    let mut ended = false;
    loop {
        // Up to the segment's end, its right context and one frame more: if that frame is there,
        // the tail is longer than the context and makes a segment of its own.
        let wanted = start + length + context + 1;
        while !ended && first + window.frames() < wanted {
            ended = stream.read(wanted - first - window.frames(), &mut window)? == 0;
        }
        let available = first + window.frames();
        if start >= available {
            return Ok(available);
        }
        let mut end = (start + length).min(available);
        if available - end <= context {
            end = available;
        }
        each(Segment { audio: &window, keep: start - first..end - first, first })?;
        start = end;
        // Keep the next segment's left context, drop the rest.
        let drop = start.saturating_sub(context).saturating_sub(first);
        window.left.drain(..drop);
        window.right.drain(..drop);
        first += drop;
    }
}
