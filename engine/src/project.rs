//! What the DAW project stores for Counterpart: the stems, where they sit, and the song's
//! timeline metadata. Audio itself lives in the [`AudioCache`](crate::cache::AudioCache).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::capture::{Region, TempoPoint};
use crate::runtime::ExecutionProvider;
use crate::stem::{SLOTS, StemRecord};

/// The version of the stored format this build writes.
pub const PROJECT_VERSION: u32 = 1;

/// The persisted project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectState {
    /// Format version.
    pub version: u32,
    /// One record per occupied slot.
    pub stems: Vec<StemRecord>,
    /// The sample rate the captured regions are counted in.
    #[serde(default)]
    pub capture_rate: f64,
    /// Song regions captured so far.
    #[serde(default)]
    pub captured: Vec<Region>,
    /// Tempo and meter changes seen while capturing.
    #[serde(default)]
    pub tempo_map: Vec<TempoPoint>,
    /// The device the models run on.
    #[serde(default)]
    pub provider: ExecutionProvider,
}

impl Default for ProjectState {
    fn default() -> Self {
        Self {
            version: PROJECT_VERSION,
            stems: Vec::new(),
            capture_rate: 0.0,
            captured: Vec::new(),
            tempo_map: Vec::new(),
            provider: ExecutionProvider::Cpu,
        }
    }
}

impl ProjectState {
    /// Reads a stored project, keeping every part that makes sense and describing each part
    /// that does not, so a damaged project loads what it can.
    pub fn from_json_lenient(value: &Value) -> (Self, Vec<String>) {
        let mut lost = Vec::new();
        let mut state = Self::default();
        let Some(object) = value.as_object() else {
            if !value.is_null() {
                lost.push("the stored Counterpart state is not an object; starting empty".to_string());
            }
            return (state, lost);
        };
        if let Some(version) = object.get("version").and_then(Value::as_u64)
            && version > PROJECT_VERSION as u64
        {
            lost.push(format!(
                "the project was saved by a newer Counterpart (format {version}); reading what this version knows"
            ));
        }
        let mut taken = [false; SLOTS];
        for (index, entry) in object.get("stems").and_then(Value::as_array).into_iter().flatten().enumerate() {
            match serde_json::from_value::<StemRecord>(entry.clone()) {
                Ok(stem) if stem.slot >= SLOTS => {
                    lost.push(format!("stem {} names slot {} of {SLOTS}; dropped", index + 1, stem.slot + 1))
                }
                Ok(stem) if taken[stem.slot] => {
                    lost.push(format!("stem {} repeats slot {}; dropped", index + 1, stem.slot + 1))
                }
                Ok(stem)
                    if !(stem.start_beats.is_finite()
                        && stem.start_seconds.is_finite()
                        && stem.tempo.is_finite()
                        && stem.tempo > 0.0) =>
                {
                    lost.push(format!("stem {} has an impossible position or tempo; dropped", index + 1))
                }
                Ok(mut stem) => {
                    if !stem.takes.is_empty() && stem.active_take >= stem.takes.len() {
                        lost.push(format!(
                            "stem {} names take {} it does not have; take 1 plays",
                            index + 1,
                            stem.active_take + 1
                        ));
                        stem.activate_take(0);
                    }
                    taken[stem.slot] = true;
                    state.stems.push(stem);
                }
                Err(e) => lost.push(format!("stem {} could not be read ({e}); dropped", index + 1)),
            }
        }
        let field = |name: &str| object.get(name).cloned().unwrap_or(Value::Null);
        state.capture_rate = field("capture_rate").as_f64().unwrap_or(0.0);
        state.captured = serde_json::from_value(field("captured")).unwrap_or_default();
        state.tempo_map = serde_json::from_value(field("tempo_map")).unwrap_or_default();
        state.provider = serde_json::from_value(field("provider")).unwrap_or_default();
        (state, lost)
    }

    /// The record in `slot`, if any.
    pub fn stem(&self, slot: usize) -> Option<&StemRecord> {
        self.stems.iter().find(|s| s.slot == slot)
    }

    /// Puts `record` in its slot, replacing what was there.
    pub fn put(&mut self, record: StemRecord) {
        self.stems.retain(|s| s.slot != record.slot);
        self.stems.push(record);
        self.stems.sort_by_key(|s| s.slot);
    }

    /// Empties `slot`.
    pub fn remove(&mut self, slot: usize) {
        self.stems.retain(|s| s.slot != slot);
    }

    /// The first empty slot.
    pub fn free_slot(&self) -> Option<usize> {
        (0..SLOTS).find(|&slot| self.stem(slot).is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stem::{EditPart, Note, StemOutput};

    fn record(slot: usize) -> StemRecord {
        StemRecord {
            slot,
            name: format!("stem {slot}"),
            start_beats: 4.0,
            start_seconds: 2.0,
            tempo: 120.0,
            audio: None,
            notes: vec![Note { start: 4.0, length: 1.0, key: 40, velocity: 99 }],
            output: StemOutput::Midi,
            ..StemRecord::default()
        }
    }

    #[test]
    fn a_saved_project_reads_back_whole() {
        let mut state = ProjectState::default();
        state.put(record(3));
        state.put(record(0));
        let json = serde_json::to_value(&state).unwrap();
        let (back, lost) = ProjectState::from_json_lenient(&json);
        assert!(lost.is_empty(), "{lost:?}");
        assert_eq!(back, state);
        assert_eq!(back.free_slot(), Some(1));
    }

    #[test]
    fn takes_and_the_playing_one_read_back() {
        let mut stem = record(5);
        for seed in [7, 8] {
            stem.takes.push(crate::stem::TakeRecord {
                label: format!("take · seed {seed}"),
                prompt: "add a bass line".into(),
                seed,
                audio: None,
                notes: vec![Note { start: seed as f64, length: 1.0, key: 36, velocity: 90 }],
                program: Some(33),
                start_beats: 4.0,
                start_seconds: 2.0,
                edit: if seed == 8 { EditPart::ReplacesMain } else { EditPart::None },
                edit_of: (seed == 8).then(|| "vocals".into()),
                layer: if seed == 8 { 3 } else { 0 },
            });
        }
        assert!(stem.activate_take(1));
        let mut state = ProjectState::default();
        state.put(stem.clone());
        let (back, lost) = ProjectState::from_json_lenient(&serde_json::to_value(&state).unwrap());
        assert!(lost.is_empty(), "{lost:?}");
        assert_eq!(back.stem(5), Some(&stem));
        assert_eq!(back.stem(5).unwrap().notes[0].start, 8.0, "the playing take's notes are the stem's");
        assert_eq!(back.stem(5).unwrap().edit_part(), EditPart::ReplacesMain, "an edit of the main input stays one");
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["stems"][0]["takes"][1]["edit"], "replaces_main");
        assert!(json["stems"][0]["takes"][0].get("edit").is_none(), "ordinary takes store no edit field");
        assert_eq!(
            (back.stem(5).unwrap().edit_layer(), json["stems"][0]["takes"][1]["edit_of"].as_str()),
            (3, Some("vocals"))
        );
        let ordinary = json["stems"][0]["takes"][0].as_object().unwrap();
        assert!(!ordinary.contains_key("edit_of") && !ordinary.contains_key("layer"), "nor edit_of and layer");

        // A take index past the end is reported and the first take plays.
        let mut json = serde_json::to_value(&state).unwrap();
        json["stems"][0]["active_take"] = serde_json::json!(9);
        let (back, lost) = ProjectState::from_json_lenient(&json);
        assert_eq!(lost.len(), 1, "{lost:?}");
        assert_eq!(back.stem(5).unwrap().active_take, 0);
        assert_eq!(back.stem(5).unwrap().notes[0].start, 7.0);
    }

    #[test]
    fn damaged_parts_are_reported_and_the_rest_is_kept() {
        let good = serde_json::to_value(record(2)).unwrap();
        let json = serde_json::json!({
            "version": 99,
            "stems": [good, {"slot": "two"}, serde_json::to_value(record(40)).unwrap(), serde_json::to_value(record(2)).unwrap()],
            "captured": "nonsense",
        });
        let (state, lost) = ProjectState::from_json_lenient(&json);
        assert_eq!(state.stems, vec![record(2)]);
        assert_eq!(lost.len(), 4, "{lost:?}");
        assert!(lost[0].contains("newer"));
        assert!(state.captured.is_empty());

        for garbage in [serde_json::json!(17), serde_json::json!("x"), serde_json::json!([1, 2])] {
            let (state, lost) = ProjectState::from_json_lenient(&garbage);
            assert!(state.stems.is_empty());
            assert_eq!(lost.len(), 1);
        }
    }
}
