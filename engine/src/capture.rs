//! Capture of the song: the audio thread cuts its inputs into fixed-size blocks stamped with
//! the song position, and the worker assembles them into a timeline keyed by that position.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::timeline::{TimeGrid, TimeSignature};

/// Frames in one capture block.
pub const CAPTURE_FRAMES: usize = 256;
/// Captured channels: main left/right, sidechain left/right.
pub const CAPTURE_CHANNELS: usize = 4;
/// Frames in one page of the assembled timeline.
const PAGE_FRAMES: usize = 1 << 16;
/// The longest song the timeline keeps, in seconds at the capture rate.
pub const MAX_CAPTURE_SECONDS: f64 = 30.0 * 60.0;

/// A block of captured input, written by the audio thread into a preallocated ring.
#[derive(Debug, Clone, Copy)]
pub struct CaptureBlock {
    /// Song position of the first frame, in samples.
    pub pos: i64,
    /// Song position of the first frame, in quarter-note beats.
    pub beats: f64,
    /// The host tempo.
    pub tempo: f64,
    /// The host meter.
    pub signature: TimeSignature,
    /// Valid frames in `frames`.
    pub len: usize,
    /// Interleaved frames: main L, main R, side L, side R.
    pub frames: [[f32; CAPTURE_CHANNELS]; CAPTURE_FRAMES],
}

impl Default for CaptureBlock {
    fn default() -> Self {
        Self {
            pos: 0,
            beats: 0.0,
            tempo: 120.0,
            signature: TimeSignature::default(),
            len: 0,
            frames: [[0.0; CAPTURE_CHANNELS]; CAPTURE_FRAMES],
        }
    }
}

/// A tempo and meter in force from a song position on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TempoPoint {
    /// Song sample where this tempo starts.
    pub pos: i64,
    /// Song beat at `pos`.
    pub beats: f64,
    /// BPM.
    pub tempo: f64,
    /// Meter.
    pub signature: TimeSignature,
}

/// The beat at song sample `pos` according to `tempo_map` (points sorted by position), or
/// `None` before the first point.
pub fn beat_at(tempo_map: &[TempoPoint], sample_rate: f64, pos: i64) -> Option<f64> {
    let at = tempo_map.partition_point(|p| p.pos <= pos);
    let point = tempo_map.get(at.checked_sub(1)?)?;
    Some(point.beats + (pos - point.pos) as f64 / sample_rate * point.tempo / 60.0)
}

/// A captured stretch of the song, in samples, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// First captured sample.
    pub start: i64,
    /// One past the last captured sample.
    pub end: i64,
}

/// The captured song: pages of frames keyed by song position, the regions they cover and the
/// tempo map seen while capturing. Writing the same position twice (a loop) overwrites it.
#[derive(Debug, Default)]
pub struct CaptureTimeline {
    sample_rate: f64,
    pages: BTreeMap<i64, Box<[[f32; CAPTURE_CHANNELS]]>>,
    regions: Vec<Region>,
    tempo_map: Vec<TempoPoint>,
    dropped_frames: u64,
}

impl CaptureTimeline {
    /// An empty timeline at `sample_rate`.
    pub fn new(sample_rate: f64) -> Self {
        Self { sample_rate, ..Self::default() }
    }

    /// The sample rate the timeline is captured at.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Forgets everything captured (the sample rate changed, or the producer cleared it).
    pub fn clear(&mut self, sample_rate: f64) {
        *self = Self::new(sample_rate);
    }

    /// The captured regions, sorted and merged.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Tempo and meter changes seen while capturing, in song order.
    pub fn tempo_map(&self) -> &[TempoPoint] {
        &self.tempo_map
    }

    /// Frames the timeline refused because they lay past [`MAX_CAPTURE_SECONDS`].
    pub fn dropped_frames(&self) -> u64 {
        self.dropped_frames
    }

    /// Total captured seconds.
    pub fn captured_seconds(&self) -> f64 {
        self.regions.iter().map(|r| (r.end - r.start) as f64).sum::<f64>() / self.sample_rate.max(1.0)
    }

    /// The song position in beats of song sample `pos`, from the tempo map captured around it.
    pub fn beat_at(&self, pos: i64) -> Option<f64> {
        beat_at(&self.tempo_map, self.sample_rate, pos)
    }

    /// The one-based bar and the beat inside it of song sample `pos`, in the meter captured there.
    pub fn bar_at(&self, pos: i64) -> Option<(i64, f64)> {
        let at = self.tempo_map.partition_point(|p| p.pos <= pos);
        let point = self.tempo_map.get(at.checked_sub(1)?)?;
        let grid = TimeGrid { tempo: point.tempo, sample_rate: self.sample_rate, signature: point.signature };
        let (bar, beat) = grid.bar_and_beat(self.beat_at(pos)?);
        Some((bar + 1, beat))
    }

    /// Writes one block at its song position.
    pub fn write(&mut self, block: &CaptureBlock) {
        let limit = (MAX_CAPTURE_SECONDS * self.sample_rate) as i64;
        let len = block.len.min(CAPTURE_FRAMES);
        // Frames before the song start (pre-roll) and past the limit are not kept.
        let skip = (-block.pos).clamp(0, len as i64) as usize;
        let keep_end = (limit - block.pos).clamp(skip as i64, len as i64) as usize;
        self.dropped_frames += (len - keep_end) as u64;
        if skip >= keep_end {
            return;
        }
        for (i, frame) in block.frames[skip..keep_end].iter().enumerate() {
            let pos = block.pos + (skip + i) as i64;
            let page = self
                .pages
                .entry(pos.div_euclid(PAGE_FRAMES as i64))
                .or_insert_with(|| vec![[0.0; CAPTURE_CHANNELS]; PAGE_FRAMES].into_boxed_slice());
            page[pos.rem_euclid(PAGE_FRAMES as i64) as usize] = *frame;
        }
        self.add_region(Region { start: block.pos + skip as i64, end: block.pos + keep_end as i64 });
        self.note_tempo(block);
    }

    /// Reads `len` frames of `channel` from song sample `start`; gaps read as silence.
    pub fn read(&self, channel: usize, start: i64, len: usize) -> Vec<f32> {
        (0..len as i64)
            .map(|i| {
                let pos = start + i;
                self.pages
                    .get(&pos.div_euclid(PAGE_FRAMES as i64))
                    .map_or(0.0, |page| page[pos.rem_euclid(PAGE_FRAMES as i64) as usize][channel])
            })
            .collect()
    }

    fn add_region(&mut self, new: Region) {
        let at = self.regions.partition_point(|r| r.end < new.start);
        let mut merged = new;
        let mut end_index = at;
        while end_index < self.regions.len() && self.regions[end_index].start <= merged.end {
            merged.start = merged.start.min(self.regions[end_index].start);
            merged.end = merged.end.max(self.regions[end_index].end);
            end_index += 1;
        }
        self.regions.splice(at..end_index, [merged]);
    }

    fn note_tempo(&mut self, block: &CaptureBlock) {
        let same = |p: &TempoPoint| p.tempo == block.tempo && p.signature == block.signature;
        // The tempo in force at this position is the last point at or before it.
        let at = self.tempo_map.partition_point(|p| p.pos <= block.pos);
        if at > 0 && same(&self.tempo_map[at - 1]) {
            return;
        }
        let point = TempoPoint { pos: block.pos, beats: block.beats, tempo: block.tempo, signature: block.signature };
        self.tempo_map.insert(at, point);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(pos: i64, len: usize, tempo: f64) -> CaptureBlock {
        let mut b = CaptureBlock { pos, len, tempo, beats: pos as f64 / 24_000.0, ..Default::default() };
        for (i, f) in b.frames[..len].iter_mut().enumerate() {
            let v = (pos + i as i64) as f32;
            *f = [v, -v, v * 0.5, -v * 0.5];
        }
        b
    }

    #[test]
    fn blocks_land_at_their_song_position() {
        let mut t = CaptureTimeline::new(48_000.0);
        for pos in (1000..1000 + 256 * 10).step_by(256) {
            t.write(&block(pos, 256, 120.0));
        }
        assert_eq!(t.regions(), &[Region { start: 1000, end: 1000 + 2560 }]);
        let main_left = t.read(0, 990, 30);
        assert_eq!(&main_left[..10], &[0.0; 10]);
        assert_eq!(main_left[10], 1000.0);
        assert_eq!(main_left[29], 1019.0);
        assert_eq!(t.read(3, 2000, 1), vec![-1000.0]);
    }

    #[test]
    fn loops_overwrite_instead_of_duplicating() {
        let mut t = CaptureTimeline::new(48_000.0);
        for _ in 0..3 {
            for pos in (0..1024).step_by(100) {
                t.write(&block(pos, 100.min(1024 - pos as usize), 120.0));
            }
        }
        assert_eq!(t.regions(), &[Region { start: 0, end: 1024 }]);
        assert_eq!(t.captured_seconds(), 1024.0 / 48_000.0);
    }

    #[test]
    fn seeks_make_separate_regions_that_merge_when_filled() {
        let mut t = CaptureTimeline::new(48_000.0);
        t.write(&block(0, 100, 120.0));
        t.write(&block(500, 100, 120.0));
        assert_eq!(t.regions().len(), 2);
        t.write(&block(100, 200, 120.0));
        t.write(&block(300, 200, 120.0));
        assert_eq!(t.regions(), &[Region { start: 0, end: 600 }]);
    }

    #[test]
    fn pre_roll_and_overlong_songs_are_cut() {
        let mut t = CaptureTimeline::new(1000.0);
        t.write(&block(-50, 100, 120.0));
        assert_eq!(t.regions(), &[Region { start: 0, end: 50 }]);
        let limit = (MAX_CAPTURE_SECONDS * 1000.0) as i64;
        t.write(&block(limit - 10, 100, 120.0));
        assert_eq!(t.dropped_frames(), 90);
    }

    #[test]
    fn tempo_changes_are_mapped() {
        let mut t = CaptureTimeline::new(48_000.0);
        t.write(&block(0, 256, 120.0));
        t.write(&block(256, 256, 120.0));
        t.write(&block(512, 256, 90.0));
        assert_eq!(t.tempo_map().len(), 2);
        assert_eq!(t.tempo_map()[1].pos, 512);
        assert_eq!(t.tempo_map()[1].tempo, 90.0);
    }

    #[test]
    fn captured_samples_know_their_bar_and_beat() {
        let mut t = CaptureTimeline::new(48_000.0);
        assert_eq!(t.bar_at(0), None, "nothing captured, nothing known");
        // 120 BPM in 4/4 from the start, then 3/4 at 60 BPM from beat 16 (sample 384_000).
        t.write(&block(0, 256, 120.0));
        let mut waltz = block(384_000, 256, 60.0);
        waltz.beats = 16.0;
        waltz.signature = TimeSignature { numerator: 3, denominator: 4 };
        t.write(&waltz);
        assert_eq!(t.bar_at(24_000 * 9), Some((3, 1.0)));
        assert_eq!(t.beat_at(384_000 + 48_000 * 2), Some(18.0));
        assert_eq!(t.bar_at(384_000 + 48_000 * 2), Some((7, 0.0)));
    }
}
