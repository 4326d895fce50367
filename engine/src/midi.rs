//! Standard MIDI files (`midly`): notes in, notes out, in quarter-note beats.

use std::collections::HashMap;
use std::path::Path;

use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use crate::stem::Note;

/// Ticks per quarter note in the files we write.
const TICKS_PER_BEAT: u16 = 480;
/// The General MIDI percussion channel (10, zero-based 9).
pub const DRUM_CHANNEL: u8 = 9;

/// A MIDI file's notes split into pitched notes and drums (channel 10), with its first tempo and
/// first program change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MidiParts {
    /// Notes on every channel but 10, sorted by start.
    pub pitched: Vec<Note>,
    /// Notes on channel 10 (General MIDI drum keys), sorted by start.
    pub drums: Vec<Note>,
    /// The first tempo in BPM, if the file sets one.
    pub tempo: Option<f64>,
    /// The first program change outside channel 10, if any.
    pub program: Option<u8>,
}

/// The notes of a MIDI file, merged over tracks and channels, sorted by start, and the file's
/// first tempo if it has one.
pub fn read_midi(path: &Path) -> Result<(Vec<Note>, Option<f64>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read ({e})", path.display()))?;
    parse_midi(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses MIDI file bytes; see [`read_midi`].
pub fn parse_midi(bytes: &[u8]) -> Result<(Vec<Note>, Option<f64>), String> {
    let parts = parse_midi_parts(bytes)?;
    let mut notes = parts.pitched;
    notes.extend(parts.drums);
    sort_notes(&mut notes);
    Ok((notes, parts.tempo))
}

/// A MIDI file's notes with drums kept apart; see [`MidiParts`].
pub fn read_midi_parts(path: &Path) -> Result<MidiParts, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read ({e})", path.display()))?;
    parse_midi_parts(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Sorts by start, then key.
fn sort_notes(notes: &mut [Note]) {
    notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.key.cmp(&b.key)));
}

/// Parses MIDI file bytes; see [`read_midi_parts`].
pub fn parse_midi_parts(bytes: &[u8]) -> Result<MidiParts, String> {
    let smf = Smf::parse(bytes).map_err(|e| format!("not a valid MIDI file ({e})"))?;
    let ticks_per_beat = match smf.header.timing {
        Timing::Metrical(t) if t.as_int() > 0 => t.as_int() as f64,
        _ => return Err("MIDI files timed in SMPTE frames are not supported; export with bars and beats".into()),
    };
    let mut parts = MidiParts::default();
    let mut tempo = None;
    for track in &smf.tracks {
        let mut tick: u64 = 0;
        let mut open: HashMap<(u8, u8), Vec<(u64, u8)>> = HashMap::new();
        for event in track {
            tick += event.delta.as_int() as u64;
            match event.kind {
                TrackEventKind::Midi { channel, message } => {
                    let ch = channel.as_int();
                    match message {
                        MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                            open.entry((ch, key.as_int())).or_default().push((tick, vel.as_int()));
                        }
                        MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                            let starts = open.entry((ch, key.as_int())).or_default();
                            if !starts.is_empty() {
                                let (start, velocity) = starts.remove(0);
                                let notes = if ch == DRUM_CHANNEL { &mut parts.drums } else { &mut parts.pitched };
                                notes.push(Note {
                                    start: start as f64 / ticks_per_beat,
                                    length: (tick - start) as f64 / ticks_per_beat,
                                    key: key.as_int(),
                                    velocity,
                                });
                            }
                        }
                        MidiMessage::ProgramChange { program } if ch != DRUM_CHANNEL && parts.program.is_none() => {
                            parts.program = Some(program.as_int());
                        }
                        _ => {}
                    }
                }
                TrackEventKind::Meta(MetaMessage::Tempo(us)) if tempo.is_none() && us.as_int() > 0 => {
                    tempo = Some(60_000_000.0 / us.as_int() as f64);
                }
                _ => {}
            }
        }
    }
    sort_notes(&mut parts.pitched);
    sort_notes(&mut parts.drums);
    parts.tempo = tempo;
    Ok(parts)
}

/// Encodes notes as a single-track standard MIDI file at `tempo` BPM on `channel`, with a
/// General MIDI `program` (none for drums on channel 10).
pub fn encode_midi(notes: &[Note], tempo: f64, channel: u8, program: Option<u8>) -> Vec<u8> {
    let to_ticks = |beats: f64| (beats.max(0.0) * TICKS_PER_BEAT as f64).round() as u64;
    let channel = channel.min(15).into();
    // (tick, order, event): note-offs sort before note-ons at the same tick.
    let mut timed: Vec<(u64, u8, TrackEventKind)> = Vec::new();
    for n in notes {
        let key = n.key.min(127).into();
        let on = MidiMessage::NoteOn { key, vel: n.velocity.clamp(1, 127).into() };
        let off = MidiMessage::NoteOff { key, vel: 0.into() };
        timed.push((to_ticks(n.start), 1, TrackEventKind::Midi { channel, message: on }));
        timed.push((to_ticks(n.end()).max(to_ticks(n.start) + 1), 0, TrackEventKind::Midi { channel, message: off }));
    }
    timed.sort_by_key(|(tick, order, _)| (*tick, *order));

    let us_per_beat = (60_000_000.0 / tempo.clamp(1.0, 1000.0)).round() as u32;
    let mut track =
        vec![TrackEvent { delta: 0.into(), kind: TrackEventKind::Meta(MetaMessage::Tempo(us_per_beat.into())) }];
    if let Some(program) = program {
        let message = MidiMessage::ProgramChange { program: program.min(127).into() };
        track.push(TrackEvent { delta: 0.into(), kind: TrackEventKind::Midi { channel, message } });
    }
    let mut last = 0;
    for (tick, _, kind) in timed {
        track.push(TrackEvent { delta: ((tick - last) as u32).into(), kind });
        last = tick;
    }
    track.push(TrackEvent { delta: 0.into(), kind: TrackEventKind::Meta(MetaMessage::EndOfTrack) });

    let smf =
        Smf { header: Header::new(Format::SingleTrack, Timing::Metrical(TICKS_PER_BEAT.into())), tracks: vec![track] };
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).expect("writing to a Vec cannot fail");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_round_trip_through_a_file() {
        let notes = vec![
            Note { start: 0.0, length: 1.0, key: 36, velocity: 100 },
            Note { start: 0.0, length: 0.5, key: 60, velocity: 90 },
            Note { start: 1.0, length: 1.0, key: 36, velocity: 80 },
            Note { start: 2.5, length: 0.25, key: 64, velocity: 1 },
        ];
        let bytes = encode_midi(&notes, 97.0, 3, Some(33));
        let (back, tempo) = parse_midi(&bytes).unwrap();
        assert_eq!(back, notes);
        assert!((tempo.unwrap() - 97.0).abs() < 0.01);
    }

    #[test]
    fn drums_on_channel_10_come_apart_from_pitched_notes() {
        let kick = Note { start: 0.0, length: 0.25, key: 36, velocity: 100 };
        let bass = Note { start: 0.0, length: 1.0, key: 36, velocity: 90 };
        let drums = parse_midi_parts(&encode_midi(&[kick], 120.0, DRUM_CHANNEL, None)).unwrap();
        assert_eq!((drums.drums.as_slice(), drums.pitched.len(), drums.program), (&[kick][..], 0, None));
        let pitched = parse_midi_parts(&encode_midi(&[bass], 120.0, 0, Some(33))).unwrap();
        assert_eq!((pitched.pitched.as_slice(), pitched.drums.len(), pitched.program), (&[bass][..], 0, Some(33)));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_midi(b"").is_err());
        assert!(parse_midi(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01").is_err());
        assert!(parse_midi(&[0xff; 100]).is_err());
    }
}
