//! The mapping between song beats and screen x that the overview, the ruler and every lane
//! share, and the view the producer zooms and scrolls.

use egui::Rect;

/// Bars the timeline shows at least, before anything is captured.
const MIN_BARS: f64 = 16.0;

/// Which part of the song is on screen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// Zoom: 1 shows the whole song.
    pub zoom: f64,
    /// First beat shown, when zoomed in.
    pub first: f64,
}

impl Default for View {
    fn default() -> Self {
        Self { zoom: 1.0, first: 0.0 }
    }
}

impl View {
    /// Zooms around `beat` by `factor` (ctrl + wheel) within a song of `song_beats`.
    pub fn zoom_at(&mut self, beat: f64, factor: f64, map: &BeatMap, song_beats: f64) {
        let zoom = (self.zoom * factor).clamp(1.0, 64.0);
        let span = song_beats / zoom;
        let fraction = ((beat - map.first) / (map.last - map.first).max(1e-9)).clamp(0.0, 1.0);
        self.first = (beat - fraction * span).clamp(0.0, (song_beats - span).max(0.0));
        self.zoom = zoom;
    }

    /// Scrolls by `pixels` (wheel) at the map's scale.
    pub fn scroll(&mut self, pixels: f32, map: &BeatMap, song_beats: f64) {
        let span = map.last - map.first;
        self.first = (self.first - pixels as f64 * map.beats_per_px()).clamp(0.0, (song_beats - span).max(0.0));
    }
}

/// Beats to pixels for one horizontal strip; all lanes use the same one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeatMap {
    /// Left edge of the strip.
    pub left: f32,
    /// Right edge of the strip.
    pub right: f32,
    /// Beat at the left edge.
    pub first: f64,
    /// Beat at the right edge.
    pub last: f64,
    /// Quarter-note beats per bar.
    pub bar_beats: f64,
}

impl BeatMap {
    /// The map for a song of `song_beats` shown in `view` across `left..right`.
    pub fn new(left: f32, right: f32, song_beats: f64, view: View, signature: (u16, u16)) -> Self {
        let bar_beats = signature.0.max(1) as f64 * 4.0 / signature.1.max(1) as f64;
        let song = song_beats.max(MIN_BARS * bar_beats);
        let span = song / view.zoom.max(1.0);
        let first = view.first.clamp(0.0, (song - span).max(0.0));
        Self { left, right: right.max(left + 1.0), first, last: first + span, bar_beats }
    }

    /// The same beats across another strip (a lane body, the ruler).
    pub fn across(&self, rect: Rect) -> Self {
        Self { left: rect.left(), right: rect.right().max(rect.left() + 1.0), ..*self }
    }

    /// Beats per pixel.
    pub fn beats_per_px(&self) -> f64 {
        (self.last - self.first) / (self.right - self.left) as f64
    }

    /// Screen x of a beat.
    pub fn x(&self, beat: f64) -> f32 {
        self.left + ((beat - self.first) / self.beats_per_px()) as f32
    }

    /// Beat at screen x.
    pub fn beat(&self, x: f32) -> f64 {
        self.first + (x - self.left) as f64 * self.beats_per_px()
    }

    /// The 1-based bar that contains screen x.
    pub fn bar_at(&self, x: f32) -> u32 {
        (self.beat(x) / self.bar_beats).floor().max(0.0) as u32 + 1
    }

    /// Every how many bars a bar number fits.
    pub fn label_every(&self) -> u32 {
        let bar_px = (self.bar_beats / self.beats_per_px()) as f32;
        [1, 2, 4, 8, 16, 32, 64, 128].into_iter().find(|&n| bar_px * n as f32 >= 28.0).unwrap_or(256)
    }

    /// Bars (1-based) whose start is on screen.
    pub fn bars(&self) -> std::ops::RangeInclusive<u32> {
        let first = (self.first / self.bar_beats).ceil().max(0.0) as u32;
        let last = (self.last / self.bar_beats).floor().max(0.0) as u32;
        first + 1..=last + 1
    }

    /// The screen span of bars `a..=b` (1-based).
    pub fn bar_span(&self, [a, b]: [u32; 2]) -> (f32, f32) {
        (self.x((a.max(1) - 1) as f64 * self.bar_beats), self.x(b.max(a) as f64 * self.bar_beats))
    }
}

/// Draws the bar lines of `map` in `rect` (every bar, stronger every `label_every`).
pub fn grid(painter: &egui::Painter, rect: Rect, map: &BeatMap) {
    let every = map.label_every();
    for bar in map.bars() {
        if every > 4 && (bar - 1) % (every / 4) != 0 {
            continue;
        }
        let x = map.x((bar - 1) as f64 * map.bar_beats);
        let colour = if (bar - 1) % every == 0 { crate::theme::GRID } else { crate::theme::PANEL };
        painter.vline(x, rect.y_range(), egui::Stroke::new(1.0, colour));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beats_and_pixels_round_trip_and_bars_count_from_one() {
        let map = BeatMap::new(100.0, 900.0, 128.0, View::default(), (4, 4));
        assert_eq!(map.x(0.0), 100.0);
        assert_eq!(map.x(128.0), 900.0);
        assert_eq!(map.bar_at(100.0), 1);
        assert_eq!(map.bar_at(map.x(8.5)), 3);
        assert_eq!(map.bar_span([9, 16]), (map.x(32.0), map.x(64.0)));
        let mut view = View::default();
        view.zoom_at(64.0, 4.0, &map, 128.0);
        let zoomed = BeatMap::new(100.0, 900.0, 128.0, view, (4, 4));
        assert!((zoomed.last - zoomed.first - 32.0).abs() < 1e-9);
        assert!(zoomed.first <= 64.0 && zoomed.last >= 64.0, "the beat under the pointer stays on screen");
    }
}
