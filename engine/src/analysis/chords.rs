//! Chord labels by template matching on a span's pitch-class profile, with the bass note's pitch
//! class weighted up so the root wins over inversions' upper notes; a bar's label is the chord its
//! beats vote for (see [`label_bar`]).

use super::{FLAT_NAMES, SHARP_NAMES};
use crate::transcribe::Note;

/// Chord qualities: suffix, intervals, and a small prior favouring simpler chords.
const QUALITIES: [(&str, &[u8], f32); 8] = [
    ("", &[0, 4, 7], 0.02),
    ("m", &[0, 3, 7], 0.02),
    ("7", &[0, 4, 7, 10], 0.0),
    ("maj7", &[0, 4, 7, 11], 0.0),
    ("m7", &[0, 3, 7, 10], 0.0),
    ("dim", &[0, 3, 6], 0.0),
    ("aug", &[0, 4, 8], -0.02),
    ("sus4", &[0, 5, 7], -0.01),
];

/// A matched chord.
#[derive(Debug, Clone, PartialEq)]
pub struct ChordLabel {
    /// Root pitch class (C = 0).
    pub root: u8,
    /// Quality suffix ("", "m", "7", "maj7", "m7", "dim", "aug", "sus4").
    pub quality: &'static str,
    /// Cosine similarity with the template, 0..1.
    pub score: f32,
}

impl ChordLabel {
    /// Name such as "Eb", "Cm", "Bb7", "F#dim", spelled with flats or sharps.
    pub fn name(&self, flats: bool) -> String {
        let names = if flats { FLAT_NAMES } else { SHARP_NAMES };
        format!("{}{}", names[self.root as usize], self.quality)
    }

    /// The pitch classes of the chord (root first).
    pub fn pitch_classes(&self) -> Vec<u8> {
        let intervals = QUALITIES.iter().find(|q| q.0 == self.quality).map_or(&[0u8, 4, 7][..], |q| q.1);
        intervals.iter().map(|i| (self.root + i) % 12).collect()
    }
}

/// The best chord for notes sounding in `[start, end)`, or `None` when nothing sounds.
pub fn label_span(notes: &[Note], start: f64, end: f64) -> Option<ChordLabel> {
    let mut pcp = super::pitch_class_profile(notes, start, end);
    let total: f32 = pcp.iter().sum();
    if total <= 0.0 {
        return None;
    }
    // Bass: the lowest note that carries at least half the weight of the heaviest note here, so a
    // faint spurious low note (a common transcription error) does not become the root.
    let weight = |n: &Note| (n.end.min(end) - n.start.max(start)).max(0.0) * (0.25 + n.amplitude as f64);
    let heaviest = notes.iter().map(weight).fold(0.0, f64::max);
    let bass =
        notes.iter().filter(|n| heaviest > 0.0 && weight(n) >= 0.5 * heaviest).map(|n| n.pitch).min().map(|p| p % 12);
    if let Some(b) = bass {
        pcp[b as usize] += 0.35 * total;
    }
    label_profile_with_bass(&pcp, bass)
}

/// The chord of a bar of `beats` beats: each beat's chord votes with its pitch weight, and the
/// whole bar's chord with the weight of an average beat. Harmony often moves within the bar
/// (chorales, hymns, turnarounds); a single profile over the bar then blends two or three chords
/// into a wrong one (an "aug" or "sus4" that never sounds), while the vote names the chord that
/// lasts longest. With one chord per bar all votes agree, and the whole-bar vote keeps sparse
/// figuration (one note per beat) from being decided beat by beat.
pub fn label_bar(notes: &[Note], start: f64, end: f64, beats: usize) -> Option<ChordLabel> {
    let whole = label_span(notes, start, end)?;
    if beats <= 1 {
        return Some(whole);
    }
    let mass = |a: f64, b: f64| super::pitch_class_profile(notes, a, b).iter().sum::<f32>();
    let step = (end - start) / beats as f64;
    // Labels with their votes; the whole bar's label comes first so it wins ties.
    let mut votes: Vec<(ChordLabel, f32)> = vec![(whole.clone(), mass(start, end) / beats as f32)];
    for k in 0..beats {
        let (a, b) = (start + k as f64 * step, start + (k + 1) as f64 * step);
        let Some(l) = label_span(notes, a, b) else {
            continue;
        };
        let w = mass(a, b);
        match votes.iter_mut().find(|(v, _)| v.root == l.root && v.quality == l.quality) {
            Some(v) => v.1 += w,
            None => votes.push((l, w)),
        }
    }
    let best = (0..votes.len()).fold(0, |b, i| if votes[i].1 > votes[b].1 { i } else { b });
    let mut label = votes.swap_remove(best).0;
    if (label.root, label.quality) != (whole.root, whole.quality) {
        // Report how well the winner fits the whole bar, as a single-profile label does.
        let pcp = super::pitch_class_profile(notes, start, end);
        label.score = template_cosine(&pcp, label.root, label.quality);
    }
    Some(label)
}

/// Cosine similarity of a profile with the template of `root` + `quality`, 0..1.
fn template_cosine(pcp: &[f32; 12], root: u8, quality: &str) -> f32 {
    let norm = pcp.iter().map(|x| x * x).sum::<f32>().sqrt();
    let Some(&(_, intervals, _)) = QUALITIES.iter().find(|q| q.0 == quality) else {
        return 0.0;
    };
    if norm <= 0.0 {
        return 0.0;
    }
    let dot: f32 = intervals.iter().map(|&i| pcp[((root + i) % 12) as usize]).sum();
    (dot / (norm * (intervals.len() as f32).sqrt())).clamp(0.0, 1.0)
}

/// The best template for a 12-bin profile, with no bass information.
pub fn label_profile(pcp: &[f32; 12]) -> Option<ChordLabel> {
    label_profile_with_bass(pcp, None)
}

/// The best template for a 12-bin profile; a chord rooted on the bass pitch class gets a bonus.
pub fn label_profile_with_bass(pcp: &[f32; 12], bass: Option<u8>) -> Option<ChordLabel> {
    let norm = pcp.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm <= 0.0 {
        return None;
    }
    let mut best: Option<(f32, ChordLabel)> = None;
    for root in 0..12u8 {
        for &(quality, intervals, prior) in &QUALITIES {
            let dot: f32 = intervals.iter().map(|&i| pcp[((root + i) % 12) as usize]).sum();
            let cos = dot / (norm * (intervals.len() as f32).sqrt());
            let score = cos + prior + if bass == Some(root) { 0.1 } else { 0.0 };
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((score, ChordLabel { root, quality, score: cos.clamp(0.0, 1.0) }));
            }
        }
    }
    best.map(|(_, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(pcs: &[u8]) -> [f32; 12] {
        let mut p = [0.0; 12];
        for &pc in pcs {
            p[pc as usize] += 1.0;
        }
        p
    }

    #[test]
    fn names_common_chords() {
        assert_eq!(label_profile(&profile(&[3, 7, 10])).unwrap().name(true), "Eb");
        assert_eq!(label_profile(&profile(&[0, 3, 7])).unwrap().name(true), "Cm");
        assert_eq!(label_profile(&profile(&[10, 2, 5, 8])).unwrap().name(true), "Bb7");
        assert_eq!(label_profile(&profile(&[6, 9, 0])).unwrap().name(false), "F#dim");
    }

    fn note(start: f64, end: f64, pitch: u8) -> Note {
        Note { start, end, pitch, amplitude: 0.5, pitch_bends: None, start_frame: 0, end_frame: 0 }
    }

    #[test]
    fn bar_label_is_the_longest_chord() {
        // C for three beats, then G7 for one: the vote says C.
        let mut notes: Vec<Note> = [48, 64, 67, 72].iter().map(|&p| note(0.0, 3.0, p)).collect();
        notes.extend([43, 59, 62, 65].iter().map(|&p| note(3.0, 4.0, p)));
        assert_eq!(label_bar(&notes, 0.0, 4.0, 4).unwrap().name(false), "C");
        // One chord per bar, one note per beat: the same chord either way.
        let arp: Vec<Note> = [45, 60, 64, 69].iter().enumerate().map(|(i, &p)| note(i as f64, 4.0, p)).collect();
        assert_eq!(label_bar(&arp, 0.0, 4.0, 4).unwrap().name(false), label_span(&arp, 0.0, 4.0).unwrap().name(false));
    }
}
