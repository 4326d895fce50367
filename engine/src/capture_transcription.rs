//! Turns the captured song into notes with the transcriber pack, placed in beats on the song's
//! own tempo map, so they play back as a MIDI stem in sync with what was heard.

use crate::audio_io::MonoResampler;
use crate::job::{CaptureSource, CapturedSong};
use crate::models::Models;
use crate::stem::Note;
use crate::transcribe::{self, RegistrySessions, TranscribeOptions, constants::SAMPLE_RATE};

/// Transcribes `source` of the captured song into notes in beats from the song start; `watch`
/// hears the share done and stops the transcription by returning false.
pub fn transcribe_capture(
    models: &mut Models,
    song: &CapturedSong,
    source: CaptureSource,
    watch: &mut dyn FnMut(f32) -> bool,
) -> Result<Vec<Note>, String> {
    let heard = transcribe_capture_seconds(models, song, source, watch)?;
    let to_beats = |seconds: f64| song.beat_at(song.start + (seconds * song.sample_rate).round() as i64);
    let mut notes: Vec<Note> = heard
        .iter()
        .map(|n| {
            let start = to_beats(n.start);
            Note { start, length: (to_beats(n.end) - start).max(0.01), key: n.pitch, velocity: n.velocity().max(1) }
        })
        .collect();
    notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.key.cmp(&b.key)));
    Ok(notes)
}

/// Transcribes `source` of the captured song into the transcriber's notes, in seconds from the
/// first captured sample (`song.start`); `watch` as for [`transcribe_capture`].
pub fn transcribe_capture_seconds(
    models: &mut Models,
    song: &CapturedSong,
    source: CaptureSource,
    watch: &mut dyn FnMut(f32) -> bool,
) -> Result<Vec<transcribe::Note>, String> {
    if song.regions.is_empty() {
        return Err("nothing has been captured yet: press play in your DAW so Counterpart hears the song".into());
    }
    let channels: &[usize] = match source {
        CaptureSource::Main => &[0, 1],
        CaptureSource::Sidechain => &[2, 3],
    };
    let mono: Vec<f32> = (0..song.channels[0].len())
        .map(|i| channels.iter().map(|&c| song.channels[c][i]).sum::<f32>() / channels.len() as f32)
        .map(|v| if v.is_finite() { v } else { 0.0 })
        .collect();
    if mono.iter().all(|v| v.abs() < 1e-6) {
        return Err(format!("the captured {source:?} input is silent: route the tracks to it and play the song"));
    }
    let mut resampled = Vec::with_capacity(mono.len() / 2);
    let mut resampler = MonoResampler::new(song.sample_rate.round() as u32, SAMPLE_RATE).map_err(|e| e.to_string())?;
    resampler.push(&mono, &mut |s: &[f32]| resampled.extend_from_slice(s)).map_err(|e| e.to_string())?;
    resampler.finish(&mut |s: &[f32]| resampled.extend_from_slice(s)).map_err(|e| e.to_string())?;

    let opts = TranscribeOptions::default();
    let mut sessions = RegistrySessions::new(models.registry()?, &opts).map_err(|e| e.to_string())?;
    let transcription = transcribe::transcribe_samples_watched(sessions.as_mut_slice(), &resampled, &opts, watch)
        .map_err(|e| e.to_string())?;
    Ok(transcription.notes)
}
