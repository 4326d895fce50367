//! Per-track features for the arranger: range, density, and a 16-step onset pattern.

use serde::Serialize;

use super::tempo::BeatGrid;
use crate::transcribe::Note;

/// Steps in the onset pattern (16ths of a 4/4 bar; bars in other meters are split in 16 too).
pub const STEPS: usize = 16;
/// Longest polyphony grid: four hours of 10 ms frames.
const MAX_FRAMES: usize = 100 * 60 * 60 * 4;

/// Summary of one track's notes.
#[derive(Debug, Clone, Serialize, Default)]
pub struct TrackFeatures {
    /// Number of notes.
    pub note_count: usize,
    /// Lowest MIDI pitch (0 when no notes).
    pub pitch_min: u8,
    /// Highest MIDI pitch (0 when no notes).
    pub pitch_max: u8,
    /// Duration-weighted mean pitch.
    pub pitch_mean: f32,
    /// Notes per second.
    pub notes_per_second: f32,
    /// Notes per bar.
    pub notes_per_bar: f32,
    /// Mean number of notes sounding at once while anything sounds.
    pub polyphony: f32,
    /// Mean MIDI velocity.
    pub velocity_mean: f32,
    /// Share of bars with an onset on each of 16 steps, 0..1.
    pub onset_pattern: [f32; STEPS],
}

/// Computes the features of `notes` on `grid`.
pub fn track_features(notes: &[Note], grid: &BeatGrid) -> TrackFeatures {
    let mut f = TrackFeatures { note_count: notes.len(), ..Default::default() };
    if notes.is_empty() {
        return f;
    }
    f.pitch_min = notes.iter().map(|n| n.pitch).min().unwrap_or(0);
    f.pitch_max = notes.iter().map(|n| n.pitch).max().unwrap_or(0);
    let total_len: f64 = notes.iter().map(|n| (n.end - n.start).max(0.0)).sum();
    if total_len > 0.0 {
        f.pitch_mean =
            (notes.iter().map(|n| n.pitch as f64 * (n.end - n.start).max(0.0)).sum::<f64>() / total_len) as f32;
    }
    let first = notes.iter().map(|n| n.start).fold(f64::INFINITY, f64::min);
    let last = notes.iter().map(|n| n.end).fold(0.0, f64::max);
    let span = (last - first.min(last)).max(1e-3);
    f.notes_per_second = (notes.len() as f64 / span) as f32;
    f.velocity_mean = notes.iter().map(|n| n.velocity() as f32).sum::<f32>() / notes.len() as f32;
    // Polyphony: total sounding time over the time anything sounds (10 ms grid, at most 4 hours;
    // the cap comes before the `+ 1` so an absurd span cannot overflow).
    let frames = (span * 100.0).ceil().min(MAX_FRAMES as f64) as usize + 1;
    let mut count = vec![0u16; frames];
    for n in notes {
        let a = ((n.start - first) * 100.0) as usize;
        let b = (((n.end - first) * 100.0) as usize).min(count.len());
        for c in count.iter_mut().take(b).skip(a) {
            *c = c.saturating_add(1);
        }
    }
    let active = count.iter().filter(|&&c| c > 0).count();
    if active > 0 {
        f.polyphony = count.iter().map(|&c| c as f32).sum::<f32>() / active as f32;
    }
    let bar_len = grid.period() * grid.meter.beats as f64;
    let bars: Vec<(f64, f64)> = grid.bars().collect();
    if !bars.is_empty() && bar_len > 0.0 {
        f.notes_per_bar = notes.len() as f32 / bars.len() as f32;
        let mut hits = vec![[false; STEPS]; bars.len()];
        for n in notes {
            let pos = (n.start - bars[0].0) / bar_len;
            if pos < 0.0 {
                continue;
            }
            let bar = pos.floor() as usize;
            let step = (((pos - pos.floor()) * STEPS as f64).round() as usize) % STEPS;
            let bar = if step == 0 && pos - pos.floor() > 0.5 { bar + 1 } else { bar };
            if let Some(h) = hits.get_mut(bar) {
                h[step] = true;
            }
        }
        for h in &hits {
            for (s, &on) in h.iter().enumerate() {
                if on {
                    f.onset_pattern[s] += 1.0 / bars.len() as f32;
                }
            }
        }
    }
    f
}
