//! The bar/beat ruler over the lanes, from the host's tempo and meter; dragging on it selects the
//! bars the next job writes.

use egui::{Align2, FontId, Rect, Sense, Stroke};

use crate::theme;
use crate::timeline::BeatMap;

/// Height of the ruler strip.
pub const HEIGHT: f32 = 22.0;

/// The bars chosen on the ruler, and the drag that is choosing them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// First and last bar, 1-based inclusive.
    pub bars: Option<[u32; 2]>,
    drag_from: Option<u32>,
    /// The host loop last seen, in bars.
    host_loop: Option<[u32; 2]>,
}

impl Selection {
    /// Selects bars `a..=b` in any order.
    pub fn set(&mut self, a: u32, b: u32) {
        self.bars = Some([a.min(b).max(1), a.max(b).max(1)]);
    }

    /// Follows the host's loop: a loop that starts or moves selects its bars; a drag on the ruler
    /// wins until the loop changes again. `loop_beats` is the host's loop in beats.
    pub fn follow_host_loop(&mut self, loop_beats: Option<(f64, f64)>, bar_beats: f64) {
        let bars = loop_beats.filter(|_| bar_beats > 0.0).map(|(start, end)| {
            let first = (start / bar_beats + 1e-6).floor().max(0.0) as u32 + 1;
            let last = ((end / bar_beats - 1e-6).ceil().max(0.0) as u32).max(first);
            [first, last]
        });
        if bars != self.host_loop {
            self.host_loop = bars;
            if let Some([a, b]) = bars {
                self.set(a, b);
            }
        }
    }

    /// Forgets the selection.
    pub fn clear(&mut self) {
        self.bars = None;
        self.drag_from = None;
    }

    /// "bars 9-16", "bar 3" or "".
    pub fn describe(&self) -> String {
        describe(self.bars)
    }
}

/// "bars 9-16", "bar 3" or "" for a bar range.
pub fn describe(bars: Option<[u32; 2]>) -> String {
    match bars {
        Some([a, b]) if a == b => format!("bar {a}"),
        Some([a, b]) => format!("bars {a}-{b}"),
        None => String::new(),
    }
}

/// Draws the ruler across `strip` and handles drags on it; `playhead` is the host's beat.
pub fn show(ui: &mut egui::Ui, strip: Rect, map: &BeatMap, selection: &mut Selection, playhead: Option<f64>) {
    let response = ui.interact(strip, ui.scope_id().with("ruler"), Sense::click_and_drag());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "Bar ruler"));
    if let Some(pos) = response.interact_pointer_pos() {
        let bar = map.bar_at(pos.x.clamp(strip.left(), strip.right() - 1.0));
        if response.drag_started() {
            selection.drag_from = Some(bar);
        }
        if let Some(from) = selection.drag_from.filter(|_| response.dragged()) {
            selection.set(from, bar);
        }
    }
    if response.drag_stopped() {
        selection.drag_from = None;
    }
    if response.clicked()
        && let Some(pos) = response.interact_pointer_pos()
    {
        let bar = map.bar_at(pos.x);
        selection.set(bar, bar);
    }
    if response.double_clicked() {
        selection.clear();
    }
    let painter = ui.painter_at(strip);
    painter.rect_filled(strip, theme::RADIUS, theme::PANEL);
    if let Some(bars) = selection.bars {
        let (a, b) = map.bar_span(bars);
        painter.rect_filled(Rect::from_x_y_ranges(a..=b, strip.y_range()), 0.0, theme::ACCENT_DIM);
    }
    let every = map.label_every();
    let beat_px = (1.0 / map.beats_per_px()) as f32;
    for bar in map.bars() {
        let x = map.x((bar - 1) as f64 * map.bar_beats);
        if (bar - 1) % every == 0 {
            painter.vline(x, strip.y_range(), Stroke::new(1.0, theme::WEAK));
            painter.text(
                egui::pos2(x + 3.0, strip.center().y),
                Align2::LEFT_CENTER,
                bar.to_string(),
                FontId::proportional(11.0),
                theme::TEXT,
            );
        } else if every <= 4 {
            painter.vline(x, strip.bottom() - 7.0..=strip.bottom(), Stroke::new(1.0, theme::WEAK));
        }
        // Beat ticks once beats are far enough apart to read.
        if beat_px >= 10.0 {
            for beat in 1..map.bar_beats.ceil() as u32 {
                let bx = x + beat as f32 * beat_px;
                painter.vline(bx, strip.bottom() - 4.0..=strip.bottom(), Stroke::new(1.0, theme::GRID));
            }
        }
    }
    if let Some(beat) = playhead.filter(|b| *b >= map.first && *b <= map.last) {
        painter.vline(map.x(beat), strip.y_range(), Stroke::new(2.0, theme::ACCENT));
    }
    response.on_hover_text("Drag to choose the bars the next job writes; double-click to clear");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_loop_selects_its_bars_until_the_ruler_is_dragged_and_the_loop_moves_again() {
        let mut selection = Selection::default();
        selection.follow_host_loop(None, 4.0);
        assert_eq!(selection.bars, None);
        // Beats 16-32 in 4/4 are bars 5-8; a loop ending mid-bar takes that bar too.
        selection.follow_host_loop(Some((16.0, 32.0)), 4.0);
        assert_eq!(selection.bars, Some([5, 8]));
        selection.set(2, 3);
        selection.follow_host_loop(Some((16.0, 32.0)), 4.0);
        assert_eq!(selection.bars, Some([2, 3]), "a drag wins while the loop stays put");
        selection.follow_host_loop(Some((0.0, 13.0)), 4.0);
        assert_eq!(selection.bars, Some([1, 4]), "a moved loop selects again");
        // 3/4: bars of three beats.
        selection.follow_host_loop(Some((6.0, 12.0)), 3.0);
        assert_eq!(selection.bars, Some([3, 4]));
        selection.follow_host_loop(None, 3.0);
        assert_eq!(selection.bars, Some([3, 4]), "turning the loop off keeps the bars");
    }
}
