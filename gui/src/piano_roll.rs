//! Painting a stem's notes into a mesh: one rectangle per note, and notes of one key that fall
//! on the same pixels merged, so a dense five-minute part costs about one rectangle per pixel.

use egui::{Color32, Mesh, Pos2, Rect};

use crate::summaries::NoteSummary;
use crate::timeline::BeatMap;

/// Adds the notes sounding inside `rect` to `mesh`.
pub fn paint(mesh: &mut Mesh, rect: Rect, map: &BeatMap, roll: &NoteSummary, colour: Color32) {
    if roll.notes.is_empty() {
        return;
    }
    let low = roll.low.saturating_sub(1) as f32;
    let span = (roll.high as f32 + 2.0 - low).max(12.0);
    let row = (rect.height() / span).max(1.5);
    let y = |key: u8| rect.bottom() - (key as f32 - low + 1.0) / span * rect.height();
    // Per key, the rectangle still growing: (left, right).
    let mut open: [Option<(f32, f32)>; 128] = [None; 128];
    let flush = |mesh: &mut Mesh, key: usize, (a, b): (f32, f32)| {
        let top = y(key as u8);
        mesh.add_colored_rect(Rect::from_min_max(Pos2::new(a, top), Pos2::new(b.max(a + 1.0), top + row)), colour);
    };
    for note in roll.sounding(map.beat(rect.left()), map.beat(rect.right())) {
        let key = note.key as usize;
        let a = map.x(note.start).max(rect.left());
        let b = map.x(note.end()).min(rect.right());
        match &mut open[key] {
            Some((_, right)) if a <= *right + 1.0 => *right = right.max(b),
            slot => {
                if let Some(done) = slot.replace((a, b)) {
                    flush(mesh, key, done);
                }
            }
        }
    }
    for (key, span) in open.iter().enumerate() {
        if let Some(span) = span {
            flush(mesh, key, *span);
        }
    }
}
