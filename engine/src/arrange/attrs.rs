//! Per-voice attribute controls (MuseCoco-style): the note density and register the model is
//! asked for, as the one-hot buckets of `arranger.json`'s `attr_layout` (see
//! `scripts/arranger/model.py::voice_attrs`). Each attribute may be left unknown.

use super::config::{ArrangerConfig, AttrLayout};
use crate::stem::Note;

/// What is asked of the filled voice over its window; `None` leaves an attribute to the model.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Attributes {
    /// Notes (onsets) per bar.
    pub notes_per_bar: Option<f64>,
    /// Mean MIDI key over the voice's sounding time.
    pub mean_key: Option<f64>,
}

impl Attributes {
    /// The attributes of `notes` spread over `bars` bars; `None` for both when there are none.
    pub fn of(notes: &[Note], bars: usize) -> Self {
        let time: f64 = notes.iter().map(|n| n.length).sum();
        if notes.is_empty() || bars == 0 || time <= 0.0 {
            return Attributes::default();
        }
        let mean = notes.iter().map(|n| f64::from(n.key) * n.length).sum::<f64>() / time;
        Attributes { notes_per_bar: Some(notes.len() as f64 / bars as f64), mean_key: Some(mean) }
    }
}

/// The `attr` input `[V * A]`: `target` for `voice`, every attribute of the other voices unknown.
pub fn features(layout: &AttrLayout, cfg: &ArrangerConfig, voice: usize, target: Attributes) -> Vec<f32> {
    let a = layout.channels();
    let mut f = vec![0.0; cfg.voices.len() * a];
    for v in 0..cfg.voices.len() {
        let want = if v == voice { target } else { Attributes::default() };
        let row = &mut f[v * a..(v + 1) * a];
        let dens = want.notes_per_bar.map_or(layout.density_unknown(), |x| layout.density_bucket(x));
        let reg = want.mean_key.map_or(layout.register_unknown(), |x| layout.register_bucket(x));
        row[layout.density[0] + dens] = 1.0;
        row[layout.register[0] + reg] = 1.0;
    }
    f
}
