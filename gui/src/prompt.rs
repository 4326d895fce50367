//! The prompt: a text box with history and examples, the part and attribute controls, and a live
//! preview of the structured job the planner made of it (planned on the engine, debounced).

use std::time::{Duration, Instant};

use counterpart_engine::job::JobId;
use counterpart_engine::plan::{CONCEPTS, Meaning, PlannedJob, Role};
use egui::{Key, Modifiers, RichText};

use crate::commands::Commands;
use crate::theme;

/// How long typing must pause before the prompt is planned again.
const DEBOUNCE: Duration = Duration::from_millis(250);
/// Prompts kept in the history.
const HISTORY: usize = 50;
/// Most takes one job may ask for.
pub const MAX_TAKES: usize = 8;
/// Example prompts offered under the box.
pub const EXAMPLES: [&str; 4] = [
    "add a bass line under bars 9-16",
    "a busier counter-melody, higher",
    "arpeggio for the whole song, sparser",
    "add a melody, legato",
];
/// The parts the picker offers (the arranger's learned roles).
const ROLES: [Role; 6] = [Role::Bass, Role::Melody, Role::CounterMelody, Role::Chords, Role::Arpeggio, Role::Drums];
/// The sixteen General MIDI families, eight programs each, that group the instrument picker.
const FAMILIES: [&str; 16] = [
    "Piano",
    "Chromatic Percussion",
    "Organ",
    "Guitar",
    "Bass",
    "Strings",
    "Ensemble",
    "Brass",
    "Reed",
    "Pipe",
    "Synth Lead",
    "Synth Pad",
    "Synth Effects",
    "Ethnic",
    "Percussive",
    "Sound Effects",
];

/// A General MIDI instrument the planner knows: its program, name and the word that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instrument {
    /// General MIDI program, 0-127.
    pub program: u8,
    /// The General MIDI name ("Acoustic Bass").
    pub name: &'static str,
    /// The planner's first word for it ("acoustic bass"), which the picker adds to the prompt.
    pub word: &'static str,
}

/// The instruments of the planner's vocabulary, in program order.
pub fn instruments() -> impl Iterator<Item = Instrument> {
    CONCEPTS.iter().filter_map(|c| match c.meaning {
        Meaning::Part { names_role: false, program: Some(program), name, .. } => {
            Some(Instrument { program, name, word: c.prototypes.first()? })
        }
        _ => None,
    })
}

/// The instrument with General MIDI `program`, if the planner knows it.
pub fn instrument(program: u8) -> Option<Instrument> {
    instruments().find(|i| i.program == program)
}

/// The prompt box and its controls between frames.
#[derive(Debug)]
pub struct Prompt {
    /// What the producer typed.
    pub text: String,
    /// The part chosen in the picker; `None` lets the prompt decide.
    pub role: Option<Role>,
    /// The General MIDI program chosen in the instrument picker; `None` lets the prompt decide.
    pub instrument: Option<u8>,
    /// -1 sparser, +1 busier, 0 as the prompt says.
    pub density: i8,
    /// -1 lower, +1 higher, 0 as the prompt says.
    pub register: i8,
    /// Takes to write.
    pub takes: usize,
    instrument_filter: String,
    history: Vec<String>,
    browsing: Option<usize>,
    preview: Option<(String, Box<PlannedJob>)>,
    asked: Option<(JobId, String)>,
    changed_at: Option<Instant>,
    pending: String,
    wants_focus: bool,
}

impl Default for Prompt {
    fn default() -> Self {
        Self {
            text: String::new(),
            role: None,
            instrument: None,
            density: 0,
            register: 0,
            takes: 2,
            instrument_filter: String::new(),
            history: Vec::new(),
            browsing: None,
            preview: None,
            asked: None,
            changed_at: None,
            pending: String::new(),
            wants_focus: true,
        }
    }
}

impl Prompt {
    /// The id of the text box (for focus).
    pub fn text_id() -> egui::Id {
        egui::Id::unique("counterpart-prompt")
    }

    /// Puts the keyboard focus in the box on the next frame.
    pub fn focus(&mut self) {
        self.wants_focus = true;
    }

    /// The instruction that runs: the text plus the words the controls add.
    pub fn effective(&self) -> String {
        let text = self.text.trim();
        let mut words: Vec<&str> = Vec::new();
        words.extend(self.role.map(Role::name));
        words.extend(self.instrument.and_then(instrument).map(|i| i.word));
        words.extend(match self.density.signum() {
            -1 => Some("sparser"),
            1 => Some("busier"),
            _ => None,
        });
        words.extend(match self.register.signum() {
            -1 => Some("lower"),
            1 => Some("higher"),
            _ => None,
        });
        match (text.is_empty(), words.is_empty()) {
            (_, true) => text.to_string(),
            (true, false) => format!("add {}", words.join(", ")),
            (false, false) => format!("{text}, {}", words.join(", ")),
        }
    }

    /// The planner's answer for the prompt as it is now, if it came.
    pub fn preview(&self) -> Option<&PlannedJob> {
        let effective = self.effective();
        self.preview.as_ref().filter(|(for_prompt, _)| *for_prompt == effective).map(|(_, job)| job.as_ref())
    }

    /// Takes in a planner answer; false when it was not for this prompt.
    pub fn on_planned(&mut self, id: JobId, job: Box<PlannedJob>) -> bool {
        match self.asked.take() {
            Some((asked, prompt)) if asked == id => {
                self.preview = Some((prompt, job));
                true
            }
            other => {
                self.asked = other;
                false
            }
        }
    }

    /// Asks the planner about the prompt once typing paused.
    pub fn tick(&mut self, commands: &Commands) {
        let effective = self.effective();
        let known = self.preview.as_ref().is_some_and(|(p, _)| *p == effective)
            || self.asked.as_ref().is_some_and(|(_, p)| *p == effective);
        if known || effective.is_empty() {
            self.changed_at = None;
            self.pending = effective;
            return;
        }
        // Each edit restarts the wait, so a burst of typing is planned once, when it pauses.
        if self.pending != effective {
            self.pending = effective;
            self.changed_at = Some(Instant::now());
            return;
        }
        if self.changed_at.is_some_and(|t| t.elapsed() >= DEBOUNCE) {
            self.asked = Some((commands.plan(&effective), effective));
            self.changed_at = None;
        }
    }

    /// Remembers a prompt that was run.
    fn remember(&mut self, prompt: String) {
        self.history.retain(|p| *p != prompt);
        self.history.push(prompt);
        let excess = self.history.len().saturating_sub(HISTORY);
        self.history.drain(..excess);
        self.browsing = None;
    }

    /// Draws the box and controls; returns the instruction to run when the producer pressed
    /// Enter or Generate. `bars` is the ruler's selection, shown in the preview.
    pub fn show(&mut self, ui: &mut egui::Ui, bars: Option<[u32; 2]>) -> Option<String> {
        let mut submit = false;
        ui.horizontal(|ui| {
            let edit = egui::TextEdit::singleline(&mut self.text)
                .id(Self::text_id())
                .hint_text("Describe the part: \"add a bass line under bars 9-16\"")
                .desired_width(ui.available_width() - 110.0)
                .margin(egui::vec2(8.0, 6.0));
            // Focus before the box is drawn, so keys typed while the editor was opening (they
            // all arrive with its first frame on a busy machine) land in it instead of nowhere.
            if std::mem::take(&mut self.wants_focus) {
                ui.memory_mut(|m| m.request_focus(Self::text_id()));
            }
            let response = ui.add(edit);
            if response.has_focus() {
                self.browse_history(ui);
            }
            if response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
                submit = true;
            }
            let run = egui::Button::new(RichText::new("Generate").strong().color(theme::BACKGROUND))
                .fill(theme::ACCENT)
                .min_size(egui::vec2(100.0, 28.0));
            if ui.add(run).on_hover_text("Run the prompt (Enter)").clicked() {
                submit = true;
            }
        });
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Try:").small().color(theme::WEAK));
            for example in EXAMPLES {
                if ui.small_button(example).clicked() {
                    self.text = example.to_string();
                    self.focus();
                }
            }
        });
        self.controls(ui);
        self.preview_line(ui, bars);
        let effective = self.effective();
        if !submit || effective.is_empty() {
            return None;
        }
        self.remember(self.text.trim().to_string());
        self.focus();
        Some(effective)
    }

    fn browse_history(&mut self, ui: &mut egui::Ui) {
        let (up, down) = ui.input_mut(|i| {
            (i.consume_key(Modifiers::NONE, Key::ArrowUp), i.consume_key(Modifiers::NONE, Key::ArrowDown))
        });
        if self.history.is_empty() || !(up || down) {
            return;
        }
        let last = self.history.len() - 1;
        self.browsing = match (self.browsing, up) {
            (None, true) => Some(last),
            (Some(i), true) => Some(i.saturating_sub(1)),
            (Some(i), false) if i < last => Some(i + 1),
            _ => None,
        };
        self.text = self.browsing.map_or_else(String::new, |i| self.history[i].clone());
    }

    fn controls(&mut self, ui: &mut egui::Ui) {
        let understood = self.preview().cloned();
        ui.horizontal_wrapped(|ui| {
            let part = ui.label(RichText::new("Part").color(theme::WEAK)).id;
            let auto = match understood.as_ref().and_then(|j| j.role) {
                Some(role) => format!("Auto ({})", role.name()),
                None => "Auto".to_string(),
            };
            let shown = self.role.map_or(auto.clone(), |r| r.name().to_string());
            egui::ComboBox::from_id_salt("part")
                .selected_text(shown)
                .width(96.0)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.role, None, auto);
                    for role in ROLES {
                        ui.selectable_value(&mut self.role, Some(role), role.name());
                    }
                })
                .response
                .labelled_by(part);
            self.instrument_picker(ui, understood.as_ref());
            let parsed_density = understood.as_ref().map_or(0, |j| j.density);
            three_way(ui, "Density", &mut self.density, parsed_density, ["Sparser", "Auto", "Busier"]);
            let parsed_register = understood.as_ref().map_or(0, |j| j.register);
            three_way(ui, "Register", &mut self.register, parsed_register, ["Lower", "Auto", "Higher"]);
            let takes = ui.label(RichText::new("Takes").color(theme::WEAK)).id;
            ui.add(egui::DragValue::new(&mut self.takes).range(1..=MAX_TAKES)).labelled_by(takes);
        });
    }

    /// The instrument combo box: "Auto" (showing what the prompt named), then the planner's General
    /// MIDI instruments grouped by family, narrowed by a filter field.
    fn instrument_picker(&mut self, ui: &mut egui::Ui, understood: Option<&PlannedJob>) {
        let label = ui.label(RichText::new("Instrument").color(theme::WEAK)).id;
        let auto = match understood.and_then(|j| j.instrument.as_deref()) {
            Some(name) => format!("Auto ({name})"),
            None => "Auto".to_string(),
        };
        let shown = self.instrument.and_then(instrument).map_or(auto.clone(), |i| i.name.to_string());
        egui::ComboBox::from_id_salt("instrument")
            .selected_text(shown)
            .width(170.0)
            .height(320.0)
            .show_ui(ui, |ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut self.instrument_filter).hint_text("Search").desired_width(150.0),
                );
                ui.selectable_value(&mut self.instrument, None, auto);
                let filter = self.instrument_filter.trim().to_lowercase();
                let mut family = None;
                for i in instruments().filter(|i| filter.is_empty() || i.name.to_lowercase().contains(&filter)) {
                    let this = usize::from(i.program / 8);
                    if family != Some(this) {
                        family = Some(this);
                        ui.label(RichText::new(FAMILIES[this]).small().color(theme::WEAK));
                    }
                    ui.selectable_value(&mut self.instrument, Some(i.program), i.name);
                }
            })
            .response
            .labelled_by(label);
    }

    fn preview_line(&self, ui: &mut egui::Ui, bars: Option<[u32; 2]>) {
        let effective = self.effective();
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Will run:").color(theme::WEAK));
            match self.preview() {
                Some(job) => {
                    let mut shown = job.clone();
                    if bars.is_some() {
                        shown.bars = bars;
                        shown.section = None;
                    }
                    let takes = if self.takes == 1 { "1 take".to_string() } else { format!("{} takes", self.takes) };
                    ui.label(RichText::new(format!("{} · {takes}", shown.summary())).strong().color(theme::ACCENT));
                    for problem in job.errors.iter().chain(&job.warnings) {
                        ui.label(RichText::new(problem).small().color(theme::WARN));
                    }
                    if !job.unparsed.is_empty() {
                        let words = job.unparsed.join(", ");
                        ui.label(RichText::new(format!("not understood: {words}")).small().color(theme::WEAK));
                    }
                }
                None if effective.is_empty() => {
                    ui.label(RichText::new("type a prompt or pick a part").color(theme::WEAK));
                }
                None => {
                    ui.label(RichText::new("reading the prompt…").color(theme::WEAK));
                }
            }
        });
    }
}

/// Three buttons for -1/0/+1; the one the prompt implies is outlined when nothing is chosen.
fn three_way(ui: &mut egui::Ui, label: &str, value: &mut i8, parsed: i8, names: [&str; 3]) {
    ui.label(RichText::new(label).color(theme::WEAK));
    for (v, name) in [-1i8, 0, 1].into_iter().zip(names) {
        let chosen = *value == v;
        let implied = *value == 0 && v != 0 && parsed == v;
        let mut text = RichText::new(name);
        if implied {
            text = text.color(theme::ACCENT);
        }
        if ui.selectable_label(chosen, text).clicked() {
            *value = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_add_their_words_to_the_prompt() {
        let mut prompt = Prompt { text: "add a bass line under bars 9-16".into(), ..Prompt::default() };
        assert_eq!(prompt.effective(), "add a bass line under bars 9-16");
        prompt.density = 1;
        prompt.register = -1;
        assert_eq!(prompt.effective(), "add a bass line under bars 9-16, busier, lower");
        let picked = Prompt { role: Some(Role::Arpeggio), ..Prompt::default() };
        assert_eq!(picked.effective(), "add arpeggio");
        let both = Prompt { text: "something sparse".into(), role: Some(Role::Bass), ..Prompt::default() };
        assert_eq!(both.effective(), "something sparse, bass");
        let drums = Prompt { role: Some(Role::Drums), ..Prompt::default() };
        assert_eq!(drums.effective(), "add drums");
        let cello = Prompt { text: "add a melody".into(), instrument: Some(42), ..Prompt::default() };
        assert_eq!(cello.effective(), "add a melody, cello");
    }

    #[test]
    fn the_picker_offers_the_planners_instruments_once_each_in_program_order() {
        let all: Vec<Instrument> = instruments().collect();
        assert!(all.len() >= 50, "{} instruments", all.len());
        assert!(all.windows(2).all(|w| w[0].program < w[1].program), "sorted, no program twice");
        assert_eq!(instrument(32).map(|i| i.name), Some("Acoustic Bass"));
        assert_eq!(instrument(127), None, "Gunshot is not in the vocabulary");
    }

    /// A new prompt panel drawn on its own.
    fn prompt_harness() -> egui_kittest::Harness<'static, Prompt> {
        egui_kittest::Harness::new_ui_state(
            |ui, prompt: &mut Prompt| {
                prompt.show(ui, None);
            },
            Prompt::default(),
        )
    }

    #[test]
    fn keys_that_arrive_with_the_frame_that_focuses_the_box_land_in_it() {
        let mut harness = prompt_harness();
        // Focus elsewhere, as before the editor opens; then the editor asks for the box in the
        // same frame that delivers the keys typed meanwhile (a slow first frame under load).
        harness.ctx.memory_mut(|m| m.surrender_focus(Prompt::text_id()));
        harness.step();
        harness.state_mut().focus();
        harness.event(egui::Event::Text("remove the vocals".into()));
        harness.step();
        assert_eq!(harness.state().text, "remove the vocals");
        harness.key_press(Key::Enter);
        harness.step();
        assert_eq!(harness.state().history, ["remove the vocals"], "Enter in the box runs it");
    }

    #[test]
    fn arrows_walk_the_history_and_examples_fill_the_box() {
        let mut harness = prompt_harness();
        harness.step();
        for typed in ["add a bass line", "add a melody", "add a bass line"] {
            harness.state_mut().text.clear();
            harness.event(egui::Event::Text(typed.into()));
            harness.key_press(Key::Enter);
            harness.step();
        }
        assert_eq!(harness.state().history, ["add a melody", "add a bass line"], "a repeat moves to the end");
        harness.state_mut().text = "half typed".into();
        let mut walk = Vec::new();
        for key in [Key::ArrowUp, Key::ArrowUp, Key::ArrowUp, Key::ArrowDown, Key::ArrowDown] {
            harness.key_press(key);
            harness.step();
            walk.push(harness.state().text.clone());
        }
        assert_eq!(walk, ["add a bass line", "add a melody", "add a melody", "add a bass line", ""]);
        use egui_kittest::kittest::Queryable;
        harness.get_by_label(EXAMPLES[2]).click();
        harness.step();
        assert_eq!(harness.state().text, EXAMPLES[2]);
        assert_eq!(harness.state().effective(), EXAMPLES[2], "an example runs as written");
    }
}
