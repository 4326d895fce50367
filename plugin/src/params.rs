//! The plugin's parameters: host bypass, the A/B switch for edits of the main input and, per stem
//! slot, gain, mute, solo and routing.

use std::sync::Arc;

use counterpart_engine::Engine;
use counterpart_engine::stem::SLOTS;
use counterpart_gui::StemControls;
use nice_plug::prelude::*;

use crate::state::{ActivityField, ProjectField};

/// The loudest a stem can be set, in dB.
const MAX_GAIN_DB: f32 = 12.0;

/// Where a slot's audio goes.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The main output, mixed with the pass-through.
    #[name = "Main"]
    Main,
    /// The slot's group output (slots 1-4, 5-8, 9-12, 13-16), for its own mixer channel.
    #[name = "Group out"]
    Group,
}

/// What plays where an edit of the main input ("remove the vocals") replaces it.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditAb {
    /// The edit plays instead of the main input over its span.
    #[name = "Edited"]
    Edited,
    /// The main input passes through everywhere, to compare against.
    #[name = "Original"]
    Original,
}

/// The parameters of one stem slot.
#[derive(Params)]
pub struct SlotParams {
    /// Stem level.
    #[id = "gain"]
    pub gain: FloatParam,
    /// Silences the stem (audio and MIDI).
    #[id = "mute"]
    pub mute: BoolParam,
    /// Plays only the soloed stems.
    #[id = "solo"]
    pub solo: BoolParam,
    /// Main output or the group output.
    #[id = "route"]
    pub route: EnumParam<Route>,
}

impl SlotParams {
    fn new(slot: usize) -> Self {
        let n = slot + 1;
        Self {
            gain: FloatParam::new(
                format!("Stem {n} Gain"),
                util::db_to_gain(0.0),
                FloatRange::Skewed {
                    min: 0.0,
                    max: util::db_to_gain(MAX_GAIN_DB),
                    factor: FloatRange::gain_skew_factor(-80.0, MAX_GAIN_DB),
                },
            )
            .with_unit(" dB")
            .with_value_to_string(formatters::v2s_f32_gain_to_db(1))
            .with_string_to_value(formatters::s2v_f32_gain_to_db()),
            mute: BoolParam::new(format!("Stem {n} Mute"), false),
            solo: BoolParam::new(format!("Stem {n} Solo"), false),
            route: EnumParam::new(format!("Stem {n} Route"), Route::Main),
        }
    }
}

/// All parameters, plus the project that the DAW stores with them.
#[derive(Params)]
pub struct CounterpartParams {
    /// Host bypass: the input passes through untouched and stems fall silent.
    #[id = "bypass"]
    pub bypass: BoolParam,
    /// Hear the edits of the main input or the original (switched with a short ramp).
    #[id = "edit_ab"]
    pub edit_ab: EnumParam<EditAb>,
    /// One group per slot.
    #[nested(array, group = "Stem")]
    pub slots: [SlotParams; SLOTS],
    /// Stems, their placement and the timeline, saved with the DAW project.
    #[persist = "project"]
    pub project: ProjectField,
    /// What the engine was doing when the project was saved (write-only).
    #[persist = "activity"]
    pub activity: ActivityField,
}

impl CounterpartParams {
    /// Parameters whose persistent project (and saved activity) is `engine`'s.
    pub fn new(engine: &Arc<Engine>) -> Self {
        Self {
            bypass: BoolParam::new("Bypass", false).make_bypass(),
            edit_ab: EnumParam::new("Edit A/B", EditAb::Edited),
            slots: std::array::from_fn(SlotParams::new),
            project: ProjectField::new(engine.store()),
            activity: ActivityField::new(engine),
        }
    }

    /// Whether any slot is soloed.
    pub fn any_solo(&self) -> bool {
        self.slots.iter().any(|s| s.solo.value())
    }
}

impl StemControls for CounterpartParams {
    fn gain(&self, slot: usize) -> &FloatParam {
        &self.slots[slot].gain
    }
    fn mute(&self, slot: usize) -> &BoolParam {
        &self.slots[slot].mute
    }
    fn solo(&self, slot: usize) -> &BoolParam {
        &self.slots[slot].solo
    }
}

/// Brings every stored parameter value into its range before nice-plug applies it: nice-plug
/// stores plain values from a state as they are, so a damaged or hand-edited project could
/// otherwise play a stem at +40 dB, inverted, or send it to an output that does not exist.
pub fn sanitize_state(state: &mut PluginState) {
    use nice_plug::plugin::ParamValue;
    state.params.retain(|id, value| {
        let kind = id.split('_').next().unwrap_or_default();
        match (kind, value) {
            ("gain", ParamValue::F32(gain)) if gain.is_finite() => {
                *gain = gain.clamp(0.0, util::db_to_gain(MAX_GAIN_DB));
                true
            }
            ("route", ParamValue::I32(index)) => {
                *index = (*index).clamp(0, Route::variants().len() as i32 - 1);
                true
            }
            ("edit", ParamValue::I32(index)) => {
                *index = (*index).clamp(0, EditAb::variants().len() as i32 - 1);
                true
            }
            ("gain" | "route" | "edit", _) => false,
            _ => true,
        }
    });
}
