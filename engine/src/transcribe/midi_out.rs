//! Standard MIDI file output (via `midly`), laid out like basic-pitch's `note_events_to_midi`:
//! one Electric Piano track at 120 BPM, pitch bends only on notes that overlap no other note.

use midly::num::{u4, u7, u14, u15, u24, u28};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, Track, TrackEvent, TrackEventKind};

use super::constants::CONTOURS_BINS_PER_SEMITONE;
use super::notes::Note;

/// Ticks per quarter note.
pub const PPQ: u16 = 480;
/// General MIDI program 5, "Electric Piano 1" (0-based 4), as the reference uses.
const PROGRAM: u8 = 4;

/// Encodes notes as a format-1 MIDI file at `bpm` (tempo track + one instrument track).
pub fn to_smf_bytes(notes: &[Note], bpm: f64) -> Vec<u8> {
    let bpm = if bpm.is_finite() && bpm > 0.0 { bpm } else { 120.0 };
    let ticks_per_s = PPQ as f64 * bpm / 60.0;
    let tick = |s: f64| (s.max(0.0) * ticks_per_s).round() as u64;
    let mut sorted: Vec<&Note> = notes.iter().collect();
    sorted.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.pitch.cmp(&b.pitch)));
    // (tick, order, message): note-offs sort before note-ons at the same tick.
    let mut events: Vec<(u64, u8, MidiMessage)> = Vec::new();
    for (i, n) in sorted.iter().enumerate() {
        let key = u7::new(n.pitch.min(127));
        let (on, off) = (tick(n.start), tick(n.end).max(tick(n.start) + 1));
        events.push((on, 2, MidiMessage::NoteOn { key, vel: u7::new(n.velocity().max(1)) }));
        events.push((off, 0, MidiMessage::NoteOff { key, vel: u7::new(0) }));
        let overlaps = sorted.iter().enumerate().any(|(j, m)| j != i && m.start < n.end && n.start < m.end);
        if let (Some(bends), false) = (&n.pitch_bends, overlaps) {
            for (k, &b) in bends.iter().enumerate() {
                let frac = if bends.len() > 1 { k as f64 / (bends.len() - 1) as f64 } else { 0.0 };
                let t = n.start + frac * (n.end - n.start);
                let v = (b as f64 * 4096.0 / CONTOURS_BINS_PER_SEMITONE as f64).round().clamp(-8192.0, 8191.0);
                events.push((
                    tick(t),
                    1,
                    MidiMessage::PitchBend { bend: midly::PitchBend(u14::new((v + 8192.0) as u16)) },
                ));
            }
            events.push((off, 1, MidiMessage::PitchBend { bend: midly::PitchBend(u14::new(8192)) }));
        }
    }
    events.sort_by_key(|e| (e.0, e.1));
    let tempo = (60_000_000.0 / bpm).round().clamp(1.0, 16_777_215.0) as u32;
    let meta = vec![
        TrackEvent { delta: u28::new(0), kind: TrackEventKind::Meta(MetaMessage::Tempo(u24::new(tempo))) },
        TrackEvent { delta: u28::new(0), kind: TrackEventKind::Meta(MetaMessage::EndOfTrack) },
    ];
    let channel = u4::new(0);
    let mut track: Track = vec![TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Midi { channel, message: MidiMessage::ProgramChange { program: u7::new(PROGRAM) } },
    }];
    let mut last = 0u64;
    for (t, _, message) in events {
        let delta = (t - last).min(u28::max_value().as_int() as u64) as u32;
        last = t;
        track.push(TrackEvent { delta: u28::new(delta), kind: TrackEventKind::Midi { channel, message } });
    }
    track.push(TrackEvent { delta: u28::new(0), kind: TrackEventKind::Meta(MetaMessage::EndOfTrack) });
    let smf = Smf { header: Header::new(Format::Parallel, Timing::Metrical(u15::new(PPQ))), tracks: vec![meta, track] };
    let mut out = Vec::new();
    smf.write_std(&mut out).expect("writing to a Vec cannot fail");
    out
}

/// Writes the MIDI file to `path`.
pub fn write(path: &std::path::Path, notes: &[Note], bpm: f64) -> std::io::Result<()> {
    std::fs::write(path, to_smf_bytes(notes, bpm))
}
