//! The editor's look: a dark theme with one accent colour, its spacing and text sizes.

use egui::{Color32, CornerRadius, FontId, Stroke, TextStyle, Theme, Visuals};

/// The one accent colour: selections, progress, the playing take.
pub const ACCENT: Color32 = Color32::from_rgb(72, 199, 170);
/// The accent, dimmed, for large areas (waveforms, selections).
pub const ACCENT_DIM: Color32 = Color32::from_rgb(38, 104, 90);
/// Window background.
pub const BACKGROUND: Color32 = Color32::from_rgb(21, 23, 28);
/// Panels and cards.
pub const PANEL: Color32 = Color32::from_rgb(29, 32, 39);
/// Lane bodies.
pub const LANE: Color32 = Color32::from_rgb(25, 28, 34);
/// Bar lines and borders.
pub const GRID: Color32 = Color32::from_rgb(48, 53, 63);
/// Body text.
pub const TEXT: Color32 = Color32::from_rgb(214, 218, 226);
/// Secondary text.
pub const WEAK: Color32 = Color32::from_rgb(135, 142, 158);
/// Something needs attention but nothing is broken.
pub const WARN: Color32 = Color32::from_rgb(232, 168, 72);
/// Something failed.
pub const ERROR: Color32 = Color32::from_rgb(232, 98, 98);
/// MIDI notes in the piano roll.
pub const NOTE: Color32 = Color32::from_rgb(150, 226, 206);
/// Solo, when on.
pub const SOLO: Color32 = Color32::from_rgb(226, 196, 80);
/// Mute, when on.
pub const MUTE: Color32 = Color32::from_rgb(214, 110, 92);
/// Corner radius of cards and buttons.
pub const RADIUS: u8 = 4;

/// Applies the theme, spacing and text sizes to `ctx` (both light and dark, so a host's
/// preference cannot switch it).
pub fn apply(ctx: &egui::Context) {
    let mut visuals = Visuals::dark();
    visuals.panel_fill = BACKGROUND;
    visuals.window_fill = PANEL;
    visuals.extreme_bg_color = Color32::from_rgb(16, 18, 22);
    visuals.faint_bg_color = PANEL;
    visuals.override_text_color = Some(TEXT);
    visuals.hyperlink_color = ACCENT;
    visuals.selection.bg_fill = ACCENT_DIM;
    visuals.selection.stroke = Stroke::new(1.0, ACCENT);
    visuals.warn_fg_color = WARN;
    visuals.error_fg_color = ERROR;
    let radius = CornerRadius::same(RADIUS);
    for (widget, fill) in [
        (&mut visuals.widgets.noninteractive, PANEL),
        (&mut visuals.widgets.inactive, Color32::from_rgb(40, 44, 53)),
        (&mut visuals.widgets.hovered, Color32::from_rgb(52, 57, 68)),
        (&mut visuals.widgets.active, Color32::from_rgb(60, 66, 78)),
        (&mut visuals.widgets.open, Color32::from_rgb(52, 57, 68)),
    ] {
        widget.corner_radius = radius;
        widget.bg_fill = fill;
        widget.weak_bg_fill = fill;
    }
    visuals.widgets.noninteractive.bg_stroke = Stroke::new(1.0, GRID);
    visuals.widgets.hovered.bg_stroke = Stroke::new(1.0, ACCENT_DIM);
    visuals.widgets.active.bg_stroke = Stroke::new(1.0, ACCENT);
    ctx.set_visuals_of(Theme::Dark, visuals.clone());
    ctx.set_visuals_of(Theme::Light, visuals);
    ctx.set_theme(egui::ThemePreference::Dark);
    ctx.all_styles_mut(|style| {
        style.spacing.item_spacing = egui::vec2(8.0, 6.0);
        style.spacing.button_padding = egui::vec2(8.0, 3.0);
        style.spacing.interact_size.y = 22.0;
        style.text_styles = [
            (TextStyle::Heading, FontId::proportional(17.0)),
            (TextStyle::Body, FontId::proportional(13.0)),
            (TextStyle::Button, FontId::proportional(13.0)),
            (TextStyle::Small, FontId::proportional(11.0)),
            (TextStyle::Monospace, FontId::monospace(12.0)),
        ]
        .into();
    });
}

/// A card: a panel-coloured frame with rounded corners around a group of controls.
pub fn card() -> egui::Frame {
    egui::Frame::NONE
        .fill(PANEL)
        .corner_radius(CornerRadius::same(RADIUS + 2))
        .inner_margin(egui::Margin::same(10))
        .stroke(Stroke::new(1.0, GRID))
}

/// A small heading above a group of controls.
pub fn section(ui: &mut egui::Ui, title: &str) {
    ui.label(egui::RichText::new(title.to_uppercase()).small().strong().color(WEAK));
}
