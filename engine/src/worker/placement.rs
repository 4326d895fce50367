//! Where finished work goes: takes, edits, imports and transcriptions become stems in the
//! project's slots, and each placed record is built into what the audio thread plays.

use std::sync::Arc;

use super::{DEFAULT_TEMPO, Worker};
use crate::cache::AudioCache;
use crate::job::{CaptureSource, Event, ImportStem, JobId};
use crate::link::StemSwap;
use crate::midi::read_midi;
use crate::resample::resample;
use crate::runner::{EditStem, Edited, NewTakes};
use crate::stem::{AudioRef, EditPart, Note, PlayableStem, SLOTS, StemOutput, StemRecord, StereoAudio, TakeRecord};
use crate::wav::read_wav;

impl Worker {
    /// Adds new takes to the stem in the asked-for slot (or a new stem in the first free one);
    /// the first new take plays. Returns the slot.
    pub(super) fn place_takes(&mut self, id: JobId, slot: Option<usize>, new: NewTakes) -> Result<usize, String> {
        for audio in &new.audio {
            let hash = AudioCache::hash(audio);
            self.sources.insert((hash, audio.sample_rate), audio.clone());
        }
        let slot = self.target_slot(slot)?;
        let existing = self.project.read().unwrap_or_else(|e| e.into_inner()).stem(slot).cloned();
        let mut record = match existing {
            Some(mut record) => {
                // An imported or transcribed stem becomes the first take, so it can be A/B'd.
                if record.takes.is_empty() {
                    record.takes.push(TakeRecord {
                        label: "original".into(),
                        prompt: String::new(),
                        seed: 0,
                        audio: record.audio.clone(),
                        notes: record.notes.clone(),
                        program: None,
                        start_beats: record.start_beats,
                        start_seconds: record.start_seconds,
                        ..TakeRecord::default()
                    });
                }
                record
            }
            None => StemRecord { slot, name: new.name.clone(), output: StemOutput::Both, ..StemRecord::default() },
        };
        let first = record.takes.len();
        // New takes of a replacement's new part ("vary", "regenerate") stay part of its edit.
        let follows_edit = record.edit_part() == EditPart::NewPart;
        for (n, mut take) in new.takes.into_iter().enumerate() {
            take.label = format!("take {} · seed {}", first + n + 1, take.seed);
            if follows_edit {
                take.edit = EditPart::NewPart;
            }
            record.takes.push(take);
        }
        record.tempo = new.tempo;
        record.activate_take(first);
        let count = record.takes.len();
        self.place(record)?;
        for take in first..count {
            self.send(Event::TakeReady { id, slot, take });
        }
        Ok(slot)
    }

    /// Places an edit of the main input: the part and the remainder each become a new take of
    /// the stem an earlier edit of the same part made (else of a new stem in a free slot), and a
    /// replacement's new part is placed like generated takes (in `slot`, else a free one).
    /// Returns the slot of what the producer now hears: the new part, else the replacing stem.
    pub(super) fn place_edit(&mut self, id: JobId, slot: Option<usize>, edited: Edited) -> Result<usize, String> {
        let Edited { part, remainder, new_part } = edited;
        let project = self.project.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut chosen: Vec<usize> = Vec::new();
        for name in [&part.name, &remainder.name] {
            let earlier =
                project.stems.iter().find(|s| &s.name == name && s.takes.iter().any(|t| t.edit != EditPart::None));
            let free = (0..SLOTS).find(|s| project.stem(*s).is_none() && !chosen.contains(s));
            chosen.extend(earlier.map(|s| s.slot).or(free));
        }
        let spare = (0..SLOTS).any(|s| project.stem(s).is_none() && !chosen.contains(&s));
        if chosen.len() < 2 || (new_part.is_some() && slot.is_none() && !spare) {
            let count = if new_part.is_some() { "three" } else { "two" };
            return Err(format!(
                "an edit places {count} stems (the separated part, the rest of the song{}) and there is no room: \
                 clear a slot or two first",
                if new_part.is_some() { ", the new part" } else { "" }
            ));
        }
        // This edit is heard over every earlier one where their spans overlap.
        let layer = project.stems.iter().flat_map(|s| &s.takes).map(|t| t.layer).max().unwrap_or(0) + 1;
        let mut heard = chosen[1];
        for (mut stem, slot) in [part, remainder].into_iter().zip(chosen) {
            stem.take.layer = layer;
            if stem.take.edit == EditPart::ReplacesMain {
                heard = slot;
            }
            self.place_edit_take(id, slot, stem)?;
        }
        match new_part {
            Some(new) => self.place_takes(id, slot, new),
            None => Ok(heard),
        }
    }

    /// Adds one stem of an edit as a new take of the stem in `slot` (a new stem when it is empty).
    fn place_edit_take(&mut self, id: JobId, slot: usize, stem: EditStem) -> Result<(), String> {
        let EditStem { name, tempo, mut take, audio } = stem;
        self.sources.insert((AudioCache::hash(&audio), audio.sample_rate), audio);
        let mut record = self
            .project
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .stem(slot)
            .cloned()
            .unwrap_or_else(|| StemRecord { slot, name, output: StemOutput::Audio, ..StemRecord::default() });
        let index = record.takes.len();
        take.label = match take.edit {
            EditPart::ReplacesMain => format!("take {} · replaces the main input", index + 1),
            _ => format!("take {} · kept (not heard)", index + 1),
        };
        record.takes.push(take);
        record.tempo = tempo;
        record.activate_take(index);
        self.place(record)?;
        self.send(Event::TakeReady { id, slot, take: index });
        Ok(())
    }

    /// Makes another take of a stem play; the audio thread ramps between them.
    pub(super) fn select_take(&mut self, slot: usize, take: usize) -> Result<(), String> {
        let mut record = self.stem_record(slot)?;
        if !record.activate_take(take) {
            return Err(format!("slot {} has no take {}", slot + 1, take + 1));
        }
        self.place(record).map(|_| ())
    }

    /// Forgets a take; the slot empties when it was the last.
    pub(super) fn delete_take(&mut self, slot: usize, take: usize) -> Result<(), String> {
        let mut record = self.stem_record(slot)?;
        if take >= record.takes.len() {
            return Err(format!("slot {} has no take {}", slot + 1, take + 1));
        }
        record.takes.remove(take);
        if record.takes.is_empty() {
            self.project.write().unwrap_or_else(|e| e.into_inner()).remove(slot);
            self.pending.push_back(StemSwap { slot, stem: None });
            return Ok(());
        }
        let active = match record.active_take {
            active if active > take => active - 1,
            active => active.min(record.takes.len() - 1),
        };
        record.activate_take(active);
        self.place(record).map(|_| ())
    }

    /// Keeps the playing take and forgets the others.
    pub(super) fn keep_playing_take(&mut self, slot: usize) -> Result<(), String> {
        let mut record = self.stem_record(slot)?;
        let playing =
            record.takes.get(record.active_take).cloned().ok_or_else(|| format!("slot {} has no takes", slot + 1))?;
        record.takes = vec![playing];
        record.activate_take(0);
        self.place(record).map(|_| ())
    }

    /// A copy of the record in `slot`.
    fn stem_record(&self, slot: usize) -> Result<StemRecord, String> {
        self.project
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .stem(slot)
            .cloned()
            .ok_or_else(|| format!("slot {} is empty", slot + 1))
    }

    /// Places a WAV or MIDI file as a stem and returns its slot.
    pub(super) fn import(&mut self, job: ImportStem) -> Result<usize, String> {
        let slot = self.target_slot(job.slot)?;
        if !job.start_beats.is_finite() {
            return Err("the stem's start position is not a number".into());
        }
        self.send(Event::Progress { id: job.id, stage: "reading", fraction: 0.1 });
        let host_tempo = self.side.transport.tempo();
        let tempo = if host_tempo > 0.0 { host_tempo } else { DEFAULT_TEMPO };
        let name = job.path.file_stem().map_or_else(|| "stem".to_string(), |s| s.to_string_lossy().into_owned());
        let extension = job.path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        let mut record = StemRecord {
            slot,
            name,
            start_beats: job.start_beats,
            start_seconds: job.start_beats * 60.0 / tempo,
            tempo,
            audio: None,
            notes: Vec::new(),
            output: job.output,
            ..StemRecord::default()
        };
        match extension.as_str() {
            "wav" | "wave" => {
                let audio = read_wav(&job.path)?;
                self.send(Event::Progress { id: job.id, stage: "storing", fraction: 0.4 });
                let reference = self.cache.store(&audio)?;
                self.sources.insert((reference.hash.clone(), reference.sample_rate), Arc::new(audio));
                record.audio = Some(reference);
            }
            "mid" | "midi" | "smf" => {
                let (notes, _) = read_midi(&job.path)?;
                record.notes = notes
                    .into_iter()
                    .map(|mut n| {
                        n.start += job.start_beats;
                        n
                    })
                    .collect();
                if job.output == StemOutput::Audio {
                    record.output = StemOutput::Midi;
                }
            }
            _ => return Err(format!("{}: Counterpart imports .wav and .mid files", job.path.display())),
        }
        self.send(Event::Progress { id: job.id, stage: "placing", fraction: 0.8 });
        self.place(record)
    }

    /// Places transcribed notes as a MIDI stem and returns its slot.
    pub(super) fn place_transcription(
        &mut self,
        slot: Option<usize>,
        source: CaptureSource,
        notes: Vec<Note>,
        tempo: f64,
    ) -> Result<usize, String> {
        let slot = self.target_slot(slot)?;
        let start_beats = notes.first().map_or(0.0, |n| n.start);
        let record = StemRecord {
            slot,
            name: format!("{source:?} transcribed"),
            start_beats,
            start_seconds: start_beats * 60.0 / tempo,
            tempo,
            audio: None,
            notes,
            output: StemOutput::Midi,
            ..StemRecord::default()
        };
        self.place(record)
    }

    /// Builds a record's stem, stores the record in the project and sends the stem to the audio
    /// thread; returns its slot.
    fn place(&mut self, record: StemRecord) -> Result<usize, String> {
        let slot = record.slot;
        let stem = self.playable(&record)?;
        self.project.write().unwrap_or_else(|e| e.into_inner()).put(record);
        self.pending.push_back(StemSwap { slot, stem: Some(Arc::new(stem)) });
        self.deliver();
        Ok(slot)
    }

    /// The slot a job asked for, or the first free one.
    pub(super) fn target_slot(&self, slot: Option<usize>) -> Result<usize, String> {
        match slot {
            Some(slot) if slot < SLOTS => Ok(slot),
            Some(slot) => Err(format!("there is no slot {}; Counterpart has {SLOTS}", slot + 1)),
            None => self
                .project
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .free_slot()
                .ok_or_else(|| "all 16 stem slots are full; clear one first".to_string()),
        }
    }

    /// Builds what the audio thread plays for `record` at the current sample rate.
    pub(super) fn playable(&mut self, record: &StemRecord) -> Result<PlayableStem, String> {
        let audio = match &record.audio {
            Some(reference) => Some(self.audio_at_rate(reference)?),
            None => None,
        };
        let mut notes = record.notes.clone();
        notes.retain(|n| n.start.is_finite() && n.length.is_finite() && n.length >= 0.0 && n.key < 128);
        notes.sort_by(|a, b| a.start.total_cmp(&b.start));
        let start_sample = (record.start_seconds * self.sample_rate).round() as i64;
        Ok(PlayableStem {
            start_sample,
            audio,
            notes,
            output: record.output,
            edit: record.edit_part(),
            layer: record.edit_layer(),
        })
    }

    /// The audio a reference names, at the current sample rate.
    fn audio_at_rate(&mut self, reference: &AudioRef) -> Result<Arc<StereoAudio>, String> {
        let rate = self.sample_rate.round() as u32;
        if let Some(audio) = self.sources.get(&(reference.hash.clone(), rate)) {
            return Ok(audio.clone());
        }
        let native_key = (reference.hash.clone(), reference.sample_rate);
        let native = match self.sources.get(&native_key) {
            Some(native) => native.clone(),
            None => {
                let loaded = Arc::new(self.cache.load(reference)?);
                self.sources.insert(native_key, loaded.clone());
                loaded
            }
        };
        let converted = Arc::new(resample(&native, rate)?);
        self.sources.insert((reference.hash.clone(), rate), converted.clone());
        Ok(converted)
    }

    /// Rebuilds every slot from the project (new sample rate, or a restored project).
    pub(super) fn rebuild_all(&mut self) {
        let project = self.project.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut kept = project.clone();
        for slot in 0..SLOTS {
            let stem = match project.stem(slot) {
                Some(record) => match self.playable(record) {
                    Ok(stem) => Some(Arc::new(stem)),
                    Err(message) => {
                        self.lost.push(format!("slot {} \"{}\": {message}", slot + 1, record.name));
                        kept.remove(slot);
                        None
                    }
                },
                None => None,
            };
            self.pending.push_back(StemSwap { slot, stem });
        }
        *self.project.write().unwrap_or_else(|e| e.into_inner()) = kept;
    }
}
