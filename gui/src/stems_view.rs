//! The transport line and the table of stems with their mixer controls.

use counterpart_engine::Engine;
use counterpart_engine::job::Job;
use counterpart_engine::link::HostTransport;
use counterpart_engine::runtime::ExecutionProvider;
use counterpart_engine::status::Status;
use counterpart_engine::stem::{SLOTS, StemOutput};
use nice_plug::prelude::ParamSetter;

use nice_plug_egui::widgets::ParamSlider;

use crate::StemControls;

/// Tempo, meter, position and how much of the song has been captured.
pub fn transport_line(ui: &mut egui::Ui, transport: &HostTransport, status: &Status) {
    let (num, den) = transport.signature();
    let tempo = transport.tempo();
    let rate = transport.sample_rate().max(1.0);
    let beats = transport.pos_samples() as f64 / rate * tempo / 60.0;
    let bar_beats = num.max(1) as f64 * 4.0 / den.max(1) as f64;
    ui.horizontal(|ui| {
        ui.label(if transport.playing() { "Playing" } else { "Stopped" });
        ui.label(format!("{tempo:.2} BPM  {num}/{den}"));
        ui.label(format!("bar {}", (beats / bar_beats).floor() as i64 + 1));
        if status.captured.is_empty() {
            ui.label("Nothing captured yet: press play in your DAW to let Counterpart hear the song.");
        } else {
            ui.label(format!("Captured {:.1} s in {} region(s)", status.captured_seconds, status.captured.len()));
        }
    });
    if transport.capture_overruns() > 0 {
        ui.colored_label(
            egui::Color32::YELLOW,
            format!("{} captured blocks were dropped: the computer was too busy", transport.capture_overruns()),
        );
    }
}

/// One row per occupied slot: name, kind, place, tempo warning and its mixer controls.
pub fn stem_table(
    ui: &mut egui::Ui,
    status: &Status,
    host_tempo: f64,
    controls: &dyn StemControls,
    setter: &ParamSetter,
) {
    if status.stems.is_empty() {
        ui.label("No stems yet.");
        return;
    }
    egui::Grid::new("stems").striped(true).num_columns(7).show(ui, |ui| {
        for header in ["Slot", "Stem", "Kind", "Starts", "Gain", "Mute", "Solo"] {
            ui.strong(header);
        }
        ui.end_row();
        for stem in status.stems.iter().filter(|s| s.slot < SLOTS) {
            ui.label(format!("{}", stem.slot + 1));
            ui.label(&stem.name);
            let kind = match (stem.audio.is_some(), stem.notes.is_empty(), stem.output) {
                (true, true, _) => "audio".to_string(),
                (false, false, _) => format!("MIDI, {} notes", stem.notes.len()),
                (_, _, StemOutput::Audio) => "audio (MIDI muted)".to_string(),
                (_, _, StemOutput::Midi) => "MIDI (audio muted)".to_string(),
                _ => "audio + MIDI".to_string(),
            };
            ui.label(kind);
            ui.horizontal(|ui| {
                ui.label(format!("beat {:.2}", stem.start_beats));
                if host_tempo > 0.0 && stem.tempo_differs(host_tempo) {
                    ui.colored_label(egui::Color32::YELLOW, format!("made at {:.1} BPM", stem.tempo));
                }
            });
            ui.add(ParamSlider::for_param(controls.gain(stem.slot), setter).with_width(120.0));
            toggle(ui, controls.mute(stem.slot), setter);
            toggle(ui, controls.solo(stem.slot), setter);
            ui.end_row();
        }
    });
}

fn toggle(ui: &mut egui::Ui, param: &nice_plug::prelude::BoolParam, setter: &ParamSetter) {
    let mut on = param.value();
    if ui.checkbox(&mut on, "").changed() {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, on);
        setter.end_set_parameter(param);
    }
}

/// The model runtime, the device the models run on and the installed packs, with what is wrong
/// and how to fix it.
pub fn models_panel(ui: &mut egui::Ui, status: &Status, engine: &Engine) {
    let warn = egui::Color32::from_rgb(230, 160, 60);
    if status.runtime.is_empty() {
        ui.label("Checking the model runtime and packs…");
        return;
    }
    if status.runtime.starts_with("No model runtime") {
        ui.colored_label(warn, &status.runtime);
    } else {
        ui.label(&status.runtime);
    }
    ui.horizontal(|ui| {
        ui.label("Run models on:");
        for provider in
            [ExecutionProvider::Cpu, ExecutionProvider::Cuda, ExecutionProvider::CoreMl, ExecutionProvider::DirectMl]
        {
            if ui.button(format!("{provider:?}")).clicked() {
                engine.send(Job::SetProvider { provider });
            }
        }
    });
    if status.provider.contains("CPU:") {
        ui.colored_label(warn, &status.provider);
    } else {
        ui.label(&status.provider);
    }
    if status.packs.is_empty() {
        ui.colored_label(
            warn,
            "No model packs installed: run `cargo xtask setup`, or put packs in COUNTERPART_MODELS.",
        );
    }
    for pack in &status.packs {
        ui.label(format!("Model pack: {pack}"));
    }
    for problem in &status.pack_problems {
        ui.colored_label(warn, format!("Model pack refused: {problem}"));
    }
}
