//! The job queue: every queued or running job with its stage, progress bar and cancel button,
//! and what happened to the recent ones, failures in words with what to do about them.

use std::collections::HashMap;

use counterpart_engine::job::{Event, JobId};
use counterpart_engine::status::JobState;
use egui::RichText;

use crate::commands::Commands;
use crate::theme;

/// Finished jobs kept in the list.
const RECENT: usize = 40;
/// Height of one queued job's row.
const ROW_HEIGHT: f32 = 44.0;

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It did what it was asked.
    Done(String),
    /// It failed: the engine's message and, when known, what to do.
    Failed {
        /// The engine's sentence.
        message: String,
        /// What the producer can do about it.
        advice: Option<&'static str>,
    },
    /// It was cancelled.
    Cancelled,
}

/// A finished job in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The job.
    pub id: JobId,
    /// What it was.
    pub title: String,
    /// How it ended.
    pub outcome: Outcome,
}

/// The queue panel's memory: titles of jobs seen in the queue and the recent outcomes.
#[derive(Debug, Default)]
pub struct JobsView {
    titles: HashMap<JobId, String>,
    /// Newest first.
    pub recent: Vec<Finished>,
}

/// What to do about a failure, from the words of the engine's message.
pub fn advice(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    let rules: [(&[&str], &str); 5] = [
        (
            &["runtime", "onnx", "libonnxruntime"],
            "Install the model runtime: run `cargo xtask setup`, or reinstall the plugin bundle (it ships the runtime).",
        ),
        (
            &["pack", "manifest", "sha-256", "digest"],
            "Reinstall the model packs (`cargo xtask fetch-models`) or choose a models folder on the Settings page.",
        ),
        (
            &["press play", "nothing was captured", "nothing captured", "silent", "silence"],
            "Route the song to the sidechain, press play in your DAW for the bars you want, then run the job again.",
        ),
        (&["slots are full", "slot"], "Delete a stem or a take to free a slot, then run the job again."),
        (
            &["cannot create", "permission", "read-only", "no space"],
            "Choose another export folder that you can write to.",
        ),
    ];
    rules.iter().find(|(words, _)| words.iter().any(|w| m.contains(w))).map(|(_, advice)| *advice)
}

impl JobsView {
    /// Remembers what the queue calls its jobs, so finished ones keep their titles.
    pub fn note_queue(&mut self, queue: &[JobState]) {
        for job in queue {
            self.titles.entry(job.id).or_insert_with(|| job.title.clone());
        }
    }

    /// Records how a job ended, from a worker event; other events are ignored.
    pub fn on_event(&mut self, event: &Event) {
        let (id, outcome) = match event {
            Event::StemReady { id, slot } => (*id, Outcome::Done(format!("placed in slot {}", slot + 1))),
            Event::TakeReady { id, slot, take } => {
                (*id, Outcome::Done(format!("take {} ready in slot {}", take_letter(*take), slot + 1)))
            }
            Event::Exported { id, files } => {
                let names: Vec<String> = files
                    .iter()
                    .map(|f| f.file_name().map_or_else(String::new, |n| n.to_string_lossy().into()))
                    .collect();
                let folder =
                    files.first().and_then(|f| f.parent()).map_or_else(String::new, |d| d.display().to_string());
                (*id, Outcome::Done(format!("wrote {} to {folder}", names.join(", "))))
            }
            Event::Failed { id, message } => {
                (*id, Outcome::Failed { message: message.clone(), advice: advice(message) })
            }
            Event::Cancelled { id } => (*id, Outcome::Cancelled),
            Event::Notice { id, message } => (*id, Outcome::Done(format!("note: {message}"))),
            _ => return,
        };
        // One job can report several takes: keep each line, newest first.
        let title = self.titles.get(&id).cloned().unwrap_or_else(|| format!("job {}", id & 0xffff));
        self.recent.insert(0, Finished { id, title, outcome });
        self.recent.truncate(RECENT);
        if self.titles.len() > 4 * RECENT {
            let keep: std::collections::HashSet<JobId> = self.recent.iter().map(|f| f.id).collect();
            self.titles.retain(|id, _| keep.contains(id));
        }
    }

    /// Draws the queue (only the rows on screen, so hundreds of jobs cost nothing) and the recent
    /// outcomes.
    pub fn show(&mut self, ui: &mut egui::Ui, queue: &[JobState], commands: &Commands) {
        theme::section(ui, &format!("Jobs ({} queued or running)", queue.len()));
        let queue_height = (queue.len() as f32 * (ROW_HEIGHT + ui.spacing().item_spacing.y)).clamp(28.0, 260.0);
        if queue.is_empty() {
            ui.label(RichText::new("Nothing running. Type a prompt and press Enter.").color(theme::WEAK));
        } else {
            egui::ScrollArea::vertical()
                .id_salt("queue")
                .max_height(queue_height)
                .auto_shrink([false, true])
                .show_rows(ui, ROW_HEIGHT, queue.len(), |ui, rows| {
                    for job in &queue[rows] {
                        queued_row(ui, job, commands);
                    }
                });
        }
        ui.add_space(6.0);
        theme::section(ui, "Recent");
        egui::ScrollArea::vertical().id_salt("recent").auto_shrink([false, false]).show(ui, |ui| {
            for finished in &self.recent {
                finished_row(ui, finished);
            }
        });
    }
}

fn queued_row(ui: &mut egui::Ui, job: &JobState, commands: &Commands) {
    ui.allocate_ui(egui::vec2(ui.available_width(), ROW_HEIGHT), |ui| {
        ui.vertical(|ui| {
            let title_row = egui::vec2(ui.available_width(), 20.0);
            ui.allocate_ui_with_layout(title_row, egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.small_button("Cancel").on_hover_text("Stop this job; nothing it made is kept").clicked() {
                    commands.cancel(job.id);
                }
                ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                    ui.add(egui::Label::new(RichText::new(&job.title).strong()).truncate()).on_hover_text(&job.title);
                });
            });
            let bar = egui::ProgressBar::new(job.fraction.clamp(0.0, 1.0))
                .desired_height(12.0)
                .fill(theme::ACCENT_DIM)
                .text(RichText::new(&job.stage).small());
            ui.add(bar);
        });
    });
}

fn finished_row(ui: &mut egui::Ui, finished: &Finished) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(&finished.title).small().strong());
        match &finished.outcome {
            Outcome::Done(what) => {
                ui.label(RichText::new(what).small().color(theme::ACCENT));
            }
            Outcome::Cancelled => {
                ui.label(RichText::new("cancelled").small().color(theme::WEAK));
            }
            Outcome::Failed { message, advice } => {
                ui.label(RichText::new(format!("failed: {message}")).small().color(theme::ERROR));
                if let Some(advice) = advice {
                    ui.label(RichText::new(*advice).small().color(theme::WARN));
                }
            }
        }
    });
}

/// "A", "B", ... for take 0, 1, ...
pub fn take_letter(take: usize) -> String {
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    match letters.get(take) {
        Some(&c) => (c as char).to_string(),
        None => format!("{}", take + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_come_with_what_to_do() {
        assert!(advice("No model runtime: libonnxruntime.so not found").unwrap().contains("runtime"));
        assert!(advice("model pack `arranger` is broken: sha-256 mismatch").unwrap().contains("packs"));
        assert!(advice("the captured Sidechain input is silent").unwrap().contains("press play"));
        assert_eq!(advice("something nobody expected"), None);
        let mut view = JobsView::default();
        view.note_queue(&[JobState { id: 7, title: "add · bass".into(), stage: "queued".into(), fraction: 0.0 }]);
        view.on_event(&Event::Cancelled { id: 7 });
        assert_eq!(view.recent[0], Finished { id: 7, title: "add · bass".into(), outcome: Outcome::Cancelled });
        assert_eq!((take_letter(0), take_letter(1), take_letter(30)), ("A".into(), "B".into(), "31".into()));
    }
}
