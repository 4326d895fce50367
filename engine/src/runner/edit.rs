//! Edits of the captured main input inside the plugin ("remove the vocals", "keep only the
//! drums", "make the vocals quieter", "replace the bass with something busier"). The named part is
//! separated over the job's bars (or the whole captured song) with [`separate_role_watched`], a
//! minute at a time, so a cancel stops it between segments and a long song takes memory for one
//! segment; it works on the main input as heard (the earlier edits of other parts in it). Two
//! stems come back: the part and the rest. The rest is the remainder (`input - part`, so the two
//! sum back to what was heard), or for a level change the remainder plus the part at its new
//! level. The one the instruction asks to hear replaces the main input over its span (the rest for
//! remove, level changes and replace, the part for extract); the other is kept, silent. A
//! replacement also gets a new part, written by the arranger against the song as it now sounds,
//! which is heard only with the edit ("Edit A/B"). The worker adds each stem as a new take to the
//! stem an earlier edit of the same part made, so repeated edits keep their history.

use std::ops::Range;
use std::sync::Arc;

use super::{NewTakes, Outcome, Runner, Stop, seconds_at_beat, tempo_at_beat};
use crate::generate::StemRequest;
use crate::job::{CaptureSource, CapturedSong, GenerateStem};
use crate::plan::{Action, PlannedJob};
use crate::separate::edit::{EditAction, SILENCE_DBFS, edit_job, rms_dbfs, separate_role_watched};
use crate::separate::masking::{add_scaled, db_gain, minus};
use crate::separate::segments::DEFAULT_SEGMENT_S;
use crate::stem::{EditPart, Note, StereoAudio, TakeRecord};

/// Seconds of captured audio on each side of the span that the separator also hears, so its
/// windows and filters see the music around the edges; they are cut off again.
const CONTEXT_SECONDS: f64 = 1.0;

/// Whether the planner read the instruction as an edit of the existing song: removing, extracting
/// or replacing a part, or changing its level ("make the vocals quieter").
pub(super) fn is_edit(planned: &PlannedJob) -> bool {
    match planned.action {
        Some(Action::Remove | Action::Extract | Action::Replace) => true,
        Some(Action::Vary) => planned.level != 0 && planned.role.is_some(),
        _ => false,
    }
}

/// One stem an edit made: its name and its new take, with the take's audio.
#[derive(Debug)]
pub(crate) struct EditStem {
    /// The stem's name, which finds the stem an earlier edit of the same part made.
    pub(crate) name: String,
    /// The tempo at the start of the span.
    pub(crate) tempo: f64,
    /// The new take, its audio already in the cache.
    pub(crate) take: TakeRecord,
    /// The take's audio, so the worker need not read it back.
    pub(crate) audio: Arc<StereoAudio>,
}

/// What an edit of the main input made.
#[derive(Debug)]
pub(crate) struct Edited {
    /// The separated part ("vocals (from main)").
    pub(crate) part: EditStem,
    /// The main input without it ("main without vocals"), or with it at another level ("main
    /// with vocals -6 dB").
    pub(crate) remainder: EditStem,
    /// For a replacement: the new part's takes.
    pub(crate) new_part: Option<NewTakes>,
}

impl Runner {
    /// Separates the part `planned` names from the captured main input and returns the part and
    /// the remainder (and, for a replacement, a new part); see the module comment.
    pub(super) fn edit(
        &mut self,
        job: &GenerateStem,
        planned: &PlannedJob,
        sample_rate: f64,
        base: Option<Vec<Note>>,
    ) -> Result<Outcome, Stop> {
        let id = job.id;
        let edit = edit_job(planned, &job.prompt)?;
        // Edits of other parts made before are heard in what this one works on.
        let song = self.heard_snapshot(edit.role.name())?;
        if song.regions.is_empty() {
            return Err("nothing has been captured yet: press play in your DAW so Counterpart hears the song"
                .to_string()
                .into());
        }
        let bars = job.bars.or(planned.bars);
        let span = captured_span(&song, bars)?;
        let place = bars.map_or_else(String::new, |[a, b]| format!(" in bars {a}-{b}"));
        let region = slice(&song, span.clone());
        if rms_dbfs(&region) < SILENCE_DBFS {
            return Err(format!(
                "the captured main input is silent{place}: an edit changes the song that plays through \
                 Counterpart's main input, so put Counterpart on the song's track or bus and play it"
            )
            .into());
        }

        let role = edit.role.name();
        let doing = format!("separating the {role} from the main input");
        self.progress(id, "separating", doing.clone(), 0.1);
        let context = (CONTEXT_SECONDS * song.sample_rate) as usize;
        let heard = span.start.saturating_sub(context)..(span.end + context).min(song.channels[0].len());
        let mut watch = self.watch(id, "separating", doing, (0.1, 0.4));
        let input = slice(&song, heard.clone());
        let registry = self.models()?.registry()?;
        let separated =
            separate_role_watched(registry, edit.role, &input, DEFAULT_SEGMENT_S, &mut |done| watch.tell(done));
        watch.check()?;
        let separated = separated.map_err(|e| format!("{e} (the main input{place})"))?;
        let skip = span.start - heard.start;
        // The separators keep the input's length; a shorter answer is padded, never a panic.
        let cut = |c: &[f32]| (skip..skip + span.len()).map(|i| c.get(i).copied().unwrap_or(0.0)).collect();
        let part = StereoAudio {
            sample_rate: region.sample_rate,
            left: cut(&separated.stem.left),
            right: cut(&separated.stem.right),
        };
        let mut remainder = minus(&region, &part);
        let rest_name = match edit.action {
            EditAction::Gain(db) => {
                let gain = db_gain(db);
                add_scaled(&mut remainder.left, &part.left, gain);
                add_scaled(&mut remainder.right, &part.right, gain);
                format!("main with {role} {db:+.0} dB")
            }
            _ => format!("main without {role}"),
        };

        self.progress(id, "storing", "storing the separated stems".into(), 0.4);
        let pos = song.start + span.start as i64;
        let start_beats = song.beat_at(pos);
        let (heard_part, rest) = match edit.action {
            EditAction::Extract => (EditPart::ReplacesMain, EditPart::Kept),
            _ => (EditPart::Kept, EditPart::ReplacesMain),
        };
        let stem = |runner: &Runner, name: String, audio: StereoAudio, edit: EditPart| -> Result<EditStem, String> {
            let take = TakeRecord {
                label: String::new(),
                prompt: job.prompt.clone(),
                seed: 0,
                audio: Some(runner.cache.store(&audio)?),
                notes: Vec::new(),
                program: None,
                start_beats,
                start_seconds: seconds_at_beat(&song.tempo_map, song.sample_rate, start_beats),
                edit,
                edit_of: Some(role.to_string()),
                layer: 0,
            };
            Ok(EditStem { name, tempo: tempo_at_beat(&song.tempo_map, start_beats), take, audio: Arc::new(audio) })
        };
        let part = stem(self, format!("{role} (from main)"), part, heard_part)?;
        let remainder_stem = stem(self, rest_name, remainder, rest)?;
        self.check(id)?;

        let new_part = match edit.action {
            EditAction::Replace => {
                // The song as it sounds now, the remainder in place of the captured main input.
                let mut edited = song;
                edited.channels[0][span.clone()].copy_from_slice(&remainder_stem.audio.left);
                edited.channels[1][span].copy_from_slice(&remainder_stem.audio.right);
                let mut prompt = format!("add a {role}");
                prompt += match planned.density {
                    1 => " busier",
                    -1 => " sparser",
                    _ => "",
                };
                if let Some(instrument) = &planned.instrument {
                    prompt += &format!(" on {instrument}");
                }
                let request = StemRequest { prompt, bars, takes: job.takes.max(1), seed: job.seed };
                self.span = (0.45, 1.0);
                let mut new = self.write_takes(job, &edited, CaptureSource::Main, request, sample_rate, base)?;
                // Heard with the edit it belongs to, so "Edit A/B" gives back exactly the original.
                new.takes.iter_mut().for_each(|take| take.edit = EditPart::NewPart);
                Some(new)
            }
            _ => None,
        };
        Ok(Outcome::Edited(Box::new(Edited { part, remainder: remainder_stem, new_part })))
    }
}

/// The stretch of `song.channels` that `bars` (host bars, 1-based inclusive) cover, or all of
/// it; refused where it was not captured from end to end, since the edit would replace the
/// uncaptured part of the song with silence.
fn captured_span(song: &CapturedSong, bars: Option<[u32; 2]>) -> Result<Range<usize>, String> {
    let len = song.channels[0].len();
    let span = match bars {
        None => 0..len,
        Some([first, last]) => {
            let bar_beats = song.tempo_map.first().map_or(4.0, |p| p.signature.bar_beats());
            let at = |bar: u32| {
                let seconds = seconds_at_beat(&song.tempo_map, song.sample_rate, (bar.max(1) - 1) as f64 * bar_beats);
                ((seconds * song.sample_rate).round() as i64 - song.start).clamp(0, len as i64) as usize
            };
            at(first)..at(last.max(first) + 1)
        }
    };
    let (from, to) = (song.start + span.start as i64, song.start + span.end as i64);
    let covered: i64 = song.regions.iter().map(|r| (r.end.min(to) - r.start.max(from)).max(0)).sum();
    let (place, were) = bars.map_or(("the song".to_string(), "was"), |[a, b]| (format!("bars {a}-{b}"), "were"));
    if span.is_empty() {
        return Err(format!("{place} {were} not captured: play them through Counterpart, then ask again"));
    }
    if covered < to - from {
        return Err(format!(
            "{place} {were} only partly captured (the playback skipped): play it through Counterpart from start to \
             end, or name bars that were captured"
        ));
    }
    Ok(span)
}

/// The main input's channels over `span`.
fn slice(song: &CapturedSong, span: Range<usize>) -> StereoAudio {
    StereoAudio {
        sample_rate: song.sample_rate.round() as u32,
        left: song.channels[0][span.clone()].to_vec(),
        right: song.channels[1][span].to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Region, TempoPoint};
    use crate::timeline::TimeSignature;

    fn song(regions: Vec<Region>) -> CapturedSong {
        let signature = TimeSignature::default();
        CapturedSong {
            sample_rate: 48_000.0,
            start: 0,
            channels: std::array::from_fn(|_| vec![0.0; 8 * 96_000]),
            regions,
            tempo_map: vec![TempoPoint { pos: 0, beats: 0.0, tempo: 120.0, signature }],
        }
    }

    #[test]
    fn bars_map_to_captured_samples_and_gaps_are_refused() {
        let whole = song(vec![Region { start: 0, end: 8 * 96_000 }]);
        assert_eq!(captured_span(&whole, Some([2, 3])).unwrap(), 96_000..3 * 96_000);
        assert_eq!(captured_span(&whole, None).unwrap(), 0..8 * 96_000);
        assert_eq!(captured_span(&whole, Some([8, 12])).unwrap(), 7 * 96_000..8 * 96_000, "clipped to the capture");
        let message = captured_span(&whole, Some([10, 12])).unwrap_err();
        assert!(message.contains("bars 10-12 were not captured"), "{message}");

        let gappy = song(vec![Region { start: 0, end: 2 * 96_000 }, Region { start: 4 * 96_000, end: 8 * 96_000 }]);
        assert!(captured_span(&gappy, Some([5, 8])).is_ok());
        let message = captured_span(&gappy, Some([2, 5])).unwrap_err();
        assert!(message.contains("only partly captured"), "{message}");
        assert!(captured_span(&gappy, None).unwrap_err().contains("the song was only partly"));
    }
}
