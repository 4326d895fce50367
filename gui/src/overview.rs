//! The captured song at the top of the timeline: the context's waveform where it was heard, the
//! gaps still missing, and what to do when nothing was captured yet.

use counterpart_engine::link::HostTransport;
use counterpart_engine::status::Status;
use egui::{Align2, Color32, FontId, Mesh, Rect, Sense, Stroke};

use crate::theme;
use crate::timeline::BeatMap;
use crate::waveform::PlacedWave;

/// Height of the overview strip.
pub const HEIGHT: f32 = 44.0;

/// One line about the capture for the row's header.
pub fn capture_state(status: &Status, transport: &HostTransport) -> (String, Color32) {
    match (status.captured.is_empty(), transport.playing()) {
        (true, false) => ("Press play in your DAW so Counterpart hears the song".into(), theme::WARN),
        (true, true) => ("Listening…".into(), theme::ACCENT),
        (false, playing) => {
            let verb = if playing { "Listening" } else { "Heard" };
            let regions = status.captured.len();
            let plural = if regions == 1 { "" } else { "s" };
            (format!("{verb}: {:.1} s in {regions} part{plural}", status.captured_seconds), theme::TEXT)
        }
    }
}

/// Draws the context overview across `strip`.
pub fn show(ui: &mut egui::Ui, strip: Rect, map: &BeatMap, status: &Status, transport: &HostTransport) {
    ui.allocate_rect(strip, Sense::hover());
    let painter = ui.painter_at(strip);
    painter.rect_filled(strip, theme::RADIUS, theme::LANE);
    crate::timeline::grid(&painter, strip, map);
    let tempo = if transport.tempo() > 0.0 { transport.tempo() } else { 120.0 };
    let beats_per_second = tempo / 60.0;
    let rate = status.sample_rate.max(1.0);
    // Captured parts get a lighter band; what is between them was never heard.
    for region in &status.captured {
        let a = map.x(region.start as f64 / rate * beats_per_second).max(strip.left());
        let b = map.x(region.end as f64 / rate * beats_per_second).min(strip.right());
        if b > a {
            let band = Rect::from_x_y_ranges(a..=b, strip.y_range());
            painter.rect_filled(band, 0.0, Color32::from_rgb(30, 40, 42));
        }
    }
    let peaks = &status.context_peaks;
    let mut mesh = Mesh::default();
    PlacedWave {
        min: &peaks.min,
        max: &peaks.max,
        frames_per_peak: peaks.frames_per_peak,
        sample_rate: peaks.sample_rate.max(1.0),
        start_beat: peaks.start as f64 / peaks.sample_rate.max(1.0) * beats_per_second,
        beats_per_second,
    }
    .paint(&mut mesh, strip.shrink2(egui::vec2(0.0, 3.0)), map, theme::ACCENT_DIM);
    painter.add(mesh);
    if status.captured.is_empty() {
        painter.text(
            strip.center(),
            Align2::CENTER_CENTER,
            "Nothing heard yet: route the song to the sidechain and press play",
            FontId::proportional(12.0),
            theme::WEAK,
        );
    }
    painter.rect_stroke(strip, theme::RADIUS, Stroke::new(1.0, theme::GRID), egui::StrokeKind::Inside);
}
