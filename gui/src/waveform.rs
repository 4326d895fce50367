//! Painting a waveform envelope into a mesh: one column of pixels at a time, each the min/max of
//! the summary pairs under it, so the cost follows the screen width and not the audio length.

use egui::{Color32, Mesh, Pos2, Rect};

use crate::timeline::BeatMap;

/// A waveform placed on the song: pairs of `frames_per_peak` frames starting at `start_beat`.
pub struct PlacedWave<'a> {
    /// Lowest sample per pair.
    pub min: &'a [f32],
    /// Highest sample per pair.
    pub max: &'a [f32],
    /// Frames per pair.
    pub frames_per_peak: usize,
    /// Frames per second of the audio.
    pub sample_rate: f64,
    /// Beat of the first frame.
    pub start_beat: f64,
    /// Beats per second (tempo / 60).
    pub beats_per_second: f64,
}

impl PlacedWave<'_> {
    /// Frames of audio under one pixel of `map`.
    pub fn frames_per_px(map: &BeatMap, sample_rate: f64, beats_per_second: f64) -> f64 {
        map.beats_per_px() / beats_per_second.max(1e-9) * sample_rate
    }

    /// Adds the envelope to `mesh`, clipped to `rect`'s columns.
    pub fn paint(&self, mesh: &mut Mesh, rect: Rect, map: &BeatMap, colour: Color32) {
        let pairs = self.min.len().min(self.max.len());
        if pairs == 0 || self.frames_per_peak == 0 {
            return;
        }
        let peaks_per_beat = self.sample_rate / self.beats_per_second.max(1e-9) / self.frames_per_peak as f64;
        let end_beat = self.start_beat + pairs as f64 / peaks_per_beat;
        let from = map.x(self.start_beat).max(rect.left()).floor();
        let to = map.x(end_beat).min(rect.right()).ceil();
        let (mid, half) = (rect.center().y, rect.height() * 0.5 - 1.0);
        let mut x = from;
        while x < to {
            let a = ((map.beat(x) - self.start_beat) * peaks_per_beat).max(0.0) as usize;
            let b = (((map.beat(x + 1.0) - self.start_beat) * peaks_per_beat).ceil() as usize).clamp(a + 1, pairs);
            if a < pairs {
                let lo = self.min[a..b].iter().copied().fold(0.0f32, f32::min).max(-1.0);
                let hi = self.max[a..b].iter().copied().fold(0.0f32, f32::max).min(1.0);
                let (top, bottom) = (mid - hi * half, (mid - lo * half).max(mid - hi * half + 1.0));
                mesh.add_colored_rect(Rect::from_min_max(Pos2::new(x, top), Pos2::new(x + 1.0, bottom)), colour);
            }
            x += 1.0;
        }
    }
}
