//! One lane per stem on the shared ruler: a header with its name, takes (A/B), mute, solo, gain,
//! how it is heard and what can be done with it; a body with its waveform and piano roll.

use counterpart_engine::stem::{SLOTS, StemOutput, StemRecord};
use std::sync::Arc;

use egui::{Mesh, Rect, RichText, Sense, Stroke};
use nice_plug::prelude::{BoolParam, ParamSetter};
use nice_plug_egui::widgets::ParamSlider;

use crate::StemControls;
use crate::jobs_view::take_letter;
use crate::summaries::{Entry, Summaries};
use crate::theme;
use crate::timeline::BeatMap;
use crate::waveform::PlacedWave;

/// Width of the lane headers (and of the overview's and ruler's label column).
pub const HEADER_WIDTH: f32 = 300.0;
/// Height of one lane.
pub const LANE_HEIGHT: f32 = 60.0;

/// Something the producer asked for in a lane.
#[derive(Debug, Clone, PartialEq)]
pub enum LaneAction {
    /// Play this take.
    SelectTake(usize, usize),
    /// Keep the playing take and delete the others.
    Keep(usize),
    /// Delete the playing take.
    DeleteTake(usize, usize),
    /// New takes like the playing one.
    Vary(usize),
    /// New takes of the selected bars.
    Regenerate(usize),
    /// Write the stem to the export folder.
    Export(usize),
    /// Play as audio, MIDI or both.
    Output(usize, StemOutput),
    /// Empty the slot.
    Clear(usize),
}

/// What every lane draws against.
pub struct LaneContext<'a> {
    /// Beats to pixels (its `left`/`right` are replaced by each lane body's).
    pub map: BeatMap,
    /// The slots' parameters.
    pub controls: &'a dyn StemControls,
    /// Sets them the way the host must hear it; `None` before the editor is attached.
    pub setter: Option<&'a ParamSetter<'a>>,
    /// The ruler's selection.
    pub selection: Option<[u32; 2]>,
    /// The host's beat while playing.
    pub playhead: Option<f64>,
    /// The host's tempo.
    pub host_tempo: f64,
}

/// Draws one lane per stem (only those on screen) and collects what was asked.
pub fn show(
    ui: &mut egui::Ui,
    stems: &[StemRecord],
    summaries: &mut Summaries,
    lane: &LaneContext,
    actions: &mut Vec<LaneAction>,
) {
    if stems.is_empty() {
        ui.add_space(16.0);
        ui.vertical_centered(|ui| {
            ui.label(RichText::new("No stems yet").heading().color(theme::WEAK));
            ui.label(
                RichText::new("Type what you want above and press Enter: new takes appear here.").color(theme::WEAK),
            );
        });
        return;
    }
    let row = LANE_HEIGHT + ui.spacing().item_spacing.y;
    egui::ScrollArea::vertical().id_salt("lanes").auto_shrink([false, false]).show_rows(
        ui,
        row - ui.spacing().item_spacing.y,
        stems.len(),
        |ui, rows| {
            for stem in &stems[rows] {
                show_lane(ui, stem, summaries, lane, actions);
            }
        },
    );
}

fn show_lane(
    ui: &mut egui::Ui,
    stem: &StemRecord,
    summaries: &mut Summaries,
    lane: &LaneContext,
    actions: &mut Vec<LaneAction>,
) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(ui.available_width(), LANE_HEIGHT), Sense::hover());
    let header = Rect::from_min_size(rect.min, egui::vec2(HEADER_WIDTH - 8.0, rect.height()));
    let body = Rect::from_min_max(egui::pos2(rect.left() + HEADER_WIDTH, rect.top()), rect.max);
    ui.painter().rect_filled(header, theme::RADIUS, theme::PANEL);
    ui.scope_builder(
        egui::UiBuilder::new().max_rect(header.shrink2(egui::vec2(8.0, 5.0))).id_salt(("lane", stem.slot)),
        |ui| {
            ui.spacing_mut().item_spacing = egui::vec2(5.0, 4.0);
            header_ui(ui, stem, lane, actions);
        },
    );
    body_ui(ui, body, stem, summaries, lane);
}

fn header_ui(ui: &mut egui::Ui, stem: &StemRecord, lane: &LaneContext, actions: &mut Vec<LaneAction>) {
    let slot = stem.slot;
    ui.allocate_ui_with_layout(
        egui::vec2(ui.available_width(), 20.0),
        egui::Layout::right_to_left(egui::Align::Center),
        |ui| {
            more_menu(ui, stem, lane, actions);
            if ui.small_button("Export").on_hover_text("Write WAV + MIDI into the export folder").clicked() {
                actions.push(LaneAction::Export(slot));
            }
            ui.add_space(4.0);
            for take in (0..stem.takes.len()).rev() {
                let playing = take == stem.active_take;
                let label = RichText::new(take_letter(take)).strong();
                let chip = egui::Button::selectable(playing, label).min_size(egui::vec2(20.0, 18.0));
                let hover = stem.takes[take].label.clone();
                if ui.add(chip).on_hover_text(hover).clicked() && !playing {
                    actions.push(LaneAction::SelectTake(slot, take));
                }
            }
            ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                ui.label(RichText::new(format!("{:>2}", slot + 1)).monospace().color(theme::ACCENT));
                ui.add(egui::Label::new(RichText::new(&stem.name).strong()).truncate().selectable(false));
            });
        },
    );
    ui.horizontal(|ui| {
        if slot < SLOTS {
            toggle(ui, "M", lane.controls.mute(slot), lane.setter, theme::MUTE, "Mute");
            toggle(ui, "S", lane.controls.solo(slot), lane.setter, theme::SOLO, "Solo");
            match lane.setter {
                Some(setter) => {
                    ui.add(ParamSlider::for_param(lane.controls.gain(slot), setter).with_width(70.0));
                }
                None => {
                    ui.label(RichText::new(format!("{:.2}", lane.controls.gain(slot).value())).small());
                }
            }
        }
        let mut output = stem.output;
        egui::ComboBox::new(("output", slot), "")
            .width(58.0)
            .selected_text(output_name(output))
            .show_ui(ui, |ui| {
                for choice in [StemOutput::Both, StemOutput::Audio, StemOutput::Midi] {
                    ui.selectable_value(&mut output, choice, output_name(choice));
                }
            })
            .response
            .on_hover_text("Play the stem as audio, send it as MIDI, or both")
            .widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, "Plays as"));
        if output != stem.output {
            actions.push(LaneAction::Output(slot, output));
        }
        if lane.host_tempo > 0.0 && stem.tempo_differs(lane.host_tempo) {
            let warning = RichText::new(format!("made at {:.0} BPM", stem.tempo)).small().color(theme::WARN);
            ui.label(warning).on_hover_text("The host tempo changed since this stem was made");
        }
    });
}

/// Secondary actions on a stem and its playing take.
fn more_menu(ui: &mut egui::Ui, stem: &StemRecord, lane: &LaneContext, actions: &mut Vec<LaneAction>) {
    let slot = stem.slot;
    ui.menu_button("More", |ui| {
        let has_takes = !stem.takes.is_empty();
        if ui.add_enabled(has_takes, egui::Button::new("Vary this take")).clicked() {
            actions.push(LaneAction::Vary(slot));
        }
        let regenerate = match lane.selection {
            Some(_) => format!("Regenerate {}", crate::ruler::describe(lane.selection)),
            None => "Regenerate bars (select them on the ruler)".to_string(),
        };
        if ui.add_enabled(has_takes && lane.selection.is_some(), egui::Button::new(regenerate)).clicked() {
            actions.push(LaneAction::Regenerate(slot));
        }
        ui.separator();
        if ui.add_enabled(stem.takes.len() > 1, egui::Button::new("Keep this take, delete the others")).clicked() {
            actions.push(LaneAction::Keep(slot));
        }
        if ui.add_enabled(has_takes, egui::Button::new("Delete this take")).clicked() {
            actions.push(LaneAction::DeleteTake(slot, stem.active_take));
        }
        if ui.button("Clear the slot").clicked() {
            actions.push(LaneAction::Clear(slot));
        }
    });
}

/// What a lane's mesh depends on: the summaries drawn, the stem's placement and output, and
/// where the lane is on screen.
fn mesh_key(
    stem: &StemRecord,
    body: Rect,
    map: &BeatMap,
    wave: Option<*const crate::summaries::WaveSummary>,
    roll: Option<*const crate::summaries::NoteSummary>,
) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (wave.map(|p| p as usize), roll.map(|p| p as usize), stem.output as u8).hash(&mut hasher);
    for v in [body.left(), body.top(), body.right(), body.bottom()] {
        v.to_bits().hash(&mut hasher);
    }
    for v in [map.first, map.last, stem.start_beats, stem.tempo] {
        v.to_bits().hash(&mut hasher);
    }
    hasher.finish()
}

fn output_name(output: StemOutput) -> &'static str {
    match output {
        StemOutput::Both => "Both",
        StemOutput::Audio => "Audio",
        StemOutput::Midi => "MIDI",
    }
}

/// A small on/off button bound to a plugin parameter (begin, set, end, so hosts record it).
fn toggle(
    ui: &mut egui::Ui,
    text: &str,
    param: &BoolParam,
    setter: Option<&ParamSetter>,
    on: egui::Color32,
    what: &str,
) {
    let value = param.value();
    let label =
        if value { RichText::new(text).strong().color(theme::BACKGROUND) } else { RichText::new(text).strong() };
    let mut button = egui::Button::new(label).min_size(egui::vec2(22.0, 20.0));
    if value {
        button = button.fill(on);
    }
    let response = ui.add_enabled(setter.is_some(), button).on_hover_text(what);
    if response.clicked()
        && let Some(setter) = setter
    {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, !value);
        setter.end_set_parameter(param);
    }
}

fn body_ui(ui: &mut egui::Ui, body: Rect, stem: &StemRecord, summaries: &mut Summaries, lane: &LaneContext) {
    let painter = ui.painter_at(body);
    painter.rect_filled(body, theme::RADIUS, theme::LANE);
    let map = lane.map.across(body);
    crate::timeline::grid(&painter, body, &map);
    if let Some(bars) = lane.selection {
        let (a, b) = map.bar_span(bars);
        let band = Rect::from_x_y_ranges(a..=b, body.y_range());
        painter.rect_filled(band, 0.0, theme::ACCENT_DIM.gamma_multiply(0.35));
    }
    let wave = stem.audio.as_ref().map(|audio| summaries.wave(audio));
    let roll = (!stem.notes.is_empty()).then(|| summaries.notes_of(&stem.notes));
    let note = match &wave {
        Some(Entry::Pending) => Some(("drawing the waveform…".to_string(), theme::WEAK)),
        Some(Entry::Failed(message)) => Some((message.clone(), theme::ERROR)),
        _ => None,
    };
    let wave = match wave {
        Some(Entry::Ready(wave)) => Some(wave),
        _ => None,
    };
    let roll = match roll {
        Some(Entry::Ready(roll)) => Some(roll),
        _ => None,
    };
    // The lane's shapes are rebuilt only when what they show or where they are changes.
    let key = mesh_key(stem, body, &map, wave.as_ref().map(Arc::as_ptr), roll.as_ref().map(Arc::as_ptr));
    let mesh = summaries.mesh(stem.slot, key, || {
        let mut mesh = Mesh::default();
        if let Some(wave) = &wave {
            let beats_per_second = stem.tempo.max(1.0) / 60.0;
            let frames_per_px = PlacedWave::frames_per_px(&map, wave.sample_rate, beats_per_second);
            if let Some(level) = wave.level_for(frames_per_px) {
                let colour = if stem.output.plays_audio() { theme::ACCENT_DIM } else { theme::GRID };
                PlacedWave {
                    min: &level.min,
                    max: &level.max,
                    frames_per_peak: level.frames_per_peak,
                    sample_rate: wave.sample_rate,
                    start_beat: stem.start_beats,
                    beats_per_second,
                }
                .paint(&mut mesh, body.shrink2(egui::vec2(0.0, 4.0)), &map, colour);
            }
        }
        if let Some(roll) = &roll {
            let colour = if stem.output.sends_midi() { theme::NOTE } else { theme::WEAK };
            crate::piano_roll::paint(&mut mesh, body.shrink2(egui::vec2(0.0, 5.0)), &map, roll, colour);
        }
        mesh
    });
    painter.add(egui::Shape::Mesh(mesh));
    if let Some((text, colour)) = note {
        painter.text(
            body.left_center() + egui::vec2(8.0, 0.0),
            egui::Align2::LEFT_CENTER,
            text,
            egui::FontId::proportional(11.0),
            colour,
        );
    }
    if let Some(beat) = lane.playhead.filter(|b| *b >= map.first && *b <= map.last) {
        painter.vline(map.x(beat), body.y_range(), Stroke::new(1.5, theme::ACCENT));
    }
}
