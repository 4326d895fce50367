//! Instruction editing of audio (`counterpart edit`): a planned job ("remove the drums", "keep only
//! the bass", "make the vocals quieter", "replace the bass with something busier") becomes an
//! [`EditJob`]; the named part is separated with the method for its role ([`separate_role`]), the
//! remainder is exactly the input minus it, and the result is written with a report.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use super::byo::ByoSeparator;
use super::decode::StereoStream;
use super::hpss::{self, HpssSettings};
use super::masking::{add_scaled, db_gain};
use super::score_informed;
use super::segments::{self, DEFAULT_SEGMENT_S, InMemory, SegmentPlan};
use crate::generate::{SongInput, StemRequest, arrange_song};
use crate::midi::encode_midi;
use crate::packs::{PackRegistry, TaskKind};
use crate::plan::{Action, PlannedJob, Role};
use crate::render::Renderer;
use crate::runtime::SessionSettings;
use crate::stem::StereoAudio;
use crate::transcribe::{RegistrySessions, TranscribeOptions};
use crate::wav::{StereoWavWriter, write_wav};

/// Gain applied for "quieter" / "louder", dB.
pub const LEVEL_STEP_DB: f32 = 6.0;
/// An input quieter than this (RMS, dBFS) is silence: there is nothing to separate.
pub const SILENCE_DBFS: f64 = -80.0;
/// Separated vocals weaker than this relative to the input (dB) mean the song has none.
pub const NO_VOCALS_DB: f64 = -20.0;

/// What to do with the separated part.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EditAction {
    /// Keep only the part.
    Extract,
    /// Keep everything but the part.
    Remove,
    /// Change the part's level by this many dB.
    Gain(f32),
    /// Take the part out and write a new one against the rest.
    Replace,
}

/// A planned job the editor can carry out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EditJob {
    /// What to do.
    pub action: EditAction,
    /// The part it is done to.
    pub role: Role,
}

/// The edit `job` asks for; errors say what was missing.
pub fn edit_job(job: &PlannedJob, instruction: &str) -> Result<EditJob, String> {
    let role = match job.action {
        Some(Action::Replace) => job.replaces.as_ref().map(|p| p.role).or(job.role),
        _ => job.role,
    }
    .ok_or_else(|| {
        format!("`{instruction}` does not name a part (e.g. \"the drums\", \"the bass\", \"the vocals\")")
    })?;
    let action = match job.action {
        Some(Action::Extract) => EditAction::Extract,
        Some(Action::Remove) => EditAction::Remove,
        Some(Action::Replace) => EditAction::Replace,
        Some(Action::Vary) if job.level != 0 => EditAction::Gain(job.level as f32 * LEVEL_STEP_DB),
        _ => {
            return Err(format!(
                "`{instruction}` does not ask to remove, extract, replace or change the level of a part; try \
                 \"remove the drums\", \"keep only the bass\" or \"make the vocals quieter\""
            ));
        }
    };
    if action == EditAction::Replace && role == Role::Vocals {
        return Err("vocals cannot be written, so they cannot be replaced; try \"remove the vocals\"".into());
    }
    Ok(EditJob { action, role })
}

/// A separated part and how it was found.
#[derive(Debug, Clone)]
pub struct Separated {
    /// The part, at the input's rate and length.
    pub stem: StereoAudio,
    /// The method, in words.
    pub method: Cow<'static, str>,
    /// The model pack used, if any: `{ "pack": name, "version": version }`.
    pub model: Option<serde_json::Value>,
    /// Notes the part was built from (score-informed methods).
    pub notes: Option<usize>,
}

/// Separates the part of `audio` that plays `role`. Errors are sentences for the user: a silent
/// input, a role with no method yet, a part the song does not have.
pub fn separate_role(registry: &mut PackRegistry, role: Role, audio: &StereoAudio) -> Result<Separated, String> {
    separate_role_watched(registry, role, audio, DEFAULT_SEGMENT_S, &mut |_| true)
}

/// [`separate_role`] in segments of about `segment_s` seconds ([`segments`]: a shorter input is
/// one piece, a longer one takes memory for a segment, not for all of it), telling `watch` the
/// share done after each segment; when it returns false the separation stops with [`STOPPED`].
pub fn separate_role_watched(
    registry: &mut PackRegistry,
    role: Role,
    audio: &StereoAudio,
    segment_s: f64,
    watch: &mut dyn FnMut(f32) -> bool,
) -> Result<Separated, String> {
    if audio.frames() == 0 {
        return Err("the input has no audio".into());
    }
    let level = rms_dbfs(audio);
    check_audible(level)?;
    let plan = SegmentPlan::for_role(role, audio.sample_rate, segment_s);
    let mut whole: Option<Separated> = None;
    segments::for_each_segment(&mut InMemory::new(audio), plan, |segment| {
        let keep = segment.keep.clone();
        let part = separate_part(registry, role, segment.audio, keep.clone())?;
        let whole = whole.get_or_insert_with(|| Separated {
            stem: StereoAudio { sample_rate: audio.sample_rate, ..StereoAudio::default() },
            method: part.method.clone(),
            model: part.model.clone(),
            notes: part.notes.map(|_| 0),
        });
        whole.stem.left.extend_from_slice(&part.stem.left[keep.clone()]);
        whole.stem.right.extend_from_slice(&part.stem.right[keep.clone()]);
        whole.notes = whole.notes.zip(part.notes).map(|(a, b)| a + b);
        if watch((segment.first + keep.end) as f32 / audio.frames() as f32) { Ok(()) } else { Err(STOPPED.into()) }
    })?;
    let separated = whole.ok_or("the input has no audio")?;
    check_found(role, level, rms_dbfs(&separated.stem), separated.notes)?;
    Ok(separated)
}

/// The error [`separate_role_watched`] stops with when its watch says so.
pub const STOPPED: &str = "the separation was stopped";

/// Refuses a silent input (RMS `level`, dBFS).
pub fn check_audible(level: f64) -> Result<(), String> {
    if level < SILENCE_DBFS {
        return Err(format!("the input is silent ({level:.0} dBFS): there is nothing to separate"));
    }
    Ok(())
}

/// Refuses a part the song does not have: vocals `part_level` dB (RMS) far below the input's
/// `level`, or a score-informed line with no notes.
pub fn check_found(role: Role, level: f64, part_level: f64, notes: Option<usize>) -> Result<(), String> {
    let relative = part_level - level;
    // NaN (no energy at all) counts as below.
    if role == Role::Vocals && relative.partial_cmp(&NO_VOCALS_DB) != Some(std::cmp::Ordering::Greater) {
        return Err(format!(
            "no vocals found: the separated vocals are {relative:.0} dB below the mix (under {NO_VOCALS_DB:.0} dB \
             means an instrumental); nothing was changed"
        ));
    }
    if notes == Some(0) {
        return Err(format!("no {} notes found in the song; nothing was changed", role.name()));
    }
    Ok(())
}

/// [`separate_role`] without the checks on the whole input: what one segment of a long input goes
/// through (a segment may be silent, or have no vocals or no bass notes, where the song does).
/// `keep` is the range of frames that is the segment's own (the rest is context): notes are
/// counted there.
pub fn separate_part(
    registry: &mut PackRegistry,
    role: Role,
    audio: &StereoAudio,
    keep: std::ops::Range<usize>,
) -> Result<Separated, String> {
    let byo = registry
        .packs()
        .iter()
        .find(|p| p.manifest.separator.as_ref().is_some_and(|s| s.stems.iter().any(|n| n == role.name())));
    if let Some(pack) = byo {
        let mut separator = ByoSeparator::load(pack, &SessionSettings::default())?;
        let stem = separator.separate(audio)?.into_iter().find(|s| s.name == role.name()).ok_or("stem vanished")?;
        return Ok(Separated {
            stem: stem.audio,
            method: super::byo::method_text(&separator.spec),
            model: Some(
                serde_json::json!({ "pack": pack.manifest.name, "version": pack.manifest.version, "license": pack.manifest.license }),
            ),
            notes: None,
        });
    }
    match role {
        Role::Vocals => {
            let pack = super::spleeter_pack(registry)?.manifest.clone();
            let (vocals, _) = super::separate_vocals(registry, audio)?;
            Ok(Separated {
                stem: vocals,
                method: "Spleeter 2stems U-Net ratio mask (STFT 4096/1024 at 44.1 kHz, no energy above 11 kHz)".into(),
                model: Some(serde_json::json!({ "pack": pack.name, "version": pack.version, "license": pack.license })),
                notes: None,
            })
        }
        Role::Drums => Ok(Separated {
            stem: hpss::separate_drums(audio, &HpssSettings::default())?,
            method: "harmonic/percussive separation (median filters along time and frequency, Wiener masks) \
                     refined with spectral-flux onsets"
                .into(),
            model: None,
            notes: None,
        }),
        pitched => {
            let transcriber = registry.find(TaskKind::Transcriber).map_err(|e| e.to_string())?;
            let (pack, version) = (transcriber.name().to_string(), transcriber.manifest.version.clone());
            let mut sessions =
                RegistrySessions::new(registry, &TranscribeOptions::default()).map_err(|e| e.to_string())?;
            let notes = score_informed::transcribe_mix(sessions.as_mut_slice(), audio)?;
            // The method text names the line taken.
            let ((target, others), method) = match pitched {
                Role::Bass => (
                    score_informed::lowest_line(&notes),
                    "score-informed harmonic masks from the transcribed lowest line (basic-pitch), shared \
                     partials split by a 1/h spectral model, times the HPSS harmonic mask",
                ),
                Role::Melody => (
                    score_informed::highest_line(&notes),
                    "score-informed harmonic masks from the transcribed highest line above the bass (basic-pitch; \
                     quiet octave/twelfth partials of lower notes left out), shared partials split by a 1/h \
                     spectral model, times the HPSS harmonic mask",
                ),
                Role::CounterMelody => (
                    score_informed::second_highest_line(&notes),
                    "score-informed harmonic masks from the transcribed second-highest line (basic-pitch: the top \
                     line once the melody and the bass are taken out), shared partials split by a 1/h spectral \
                     model, times the HPSS harmonic mask",
                ),
                Role::Chords | Role::Arpeggio => (
                    score_informed::inner_voices(&notes),
                    "score-informed harmonic masks from the transcribed middle voices (basic-pitch: every note \
                     neither in the lowest nor in the highest line), shared partials split by a 1/h spectral \
                     model, times the HPSS harmonic mask",
                ),
                other => return Err(format!("the {} is not a pitched part", other.name())),
            };
            let stem = if target.is_empty() {
                StereoAudio {
                    sample_rate: audio.sample_rate,
                    left: vec![0.0; audio.frames()],
                    right: vec![0.0; audio.frames()],
                }
            } else {
                score_informed::separate_line(audio, &target, &others)?
            };
            let seconds = |frame: usize| frame as f64 / audio.sample_rate as f64;
            let kept = seconds(keep.start)..seconds(keep.end);
            Ok(Separated {
                stem,
                method: method.into(),
                model: Some(serde_json::json!({ "pack": pack, "version": version })),
                notes: Some(target.iter().filter(|n| kept.contains(&n.start)).count()),
            })
        }
    }
}

/// RMS of both channels in dBFS (-inf for silence).
pub fn rms_dbfs(audio: &StereoAudio) -> f64 {
    let sum: f64 = audio.left.iter().chain(&audio.right).map(|&x| x as f64 * x as f64).sum();
    10.0 * (sum / (2 * audio.frames()).max(1) as f64).log10()
}

/// What `counterpart edit` was asked.
#[derive(Debug, Clone)]
pub struct EditOptions {
    /// The audio file.
    pub input: PathBuf,
    /// The instruction.
    pub instruction: String,
    /// The tempo, when known (for `replace`).
    pub tempo: Option<f64>,
    /// Output folder.
    pub out: PathBuf,
    /// Seed of the new part (for `replace`).
    pub seed: u64,
    /// Length of the segments a long input is separated in, seconds (rounded to the method's
    /// unit); `None`: [`DEFAULT_SEGMENT_S`].
    pub segment_s: Option<f64>,
}

/// Longest input `replace` takes, seconds: the new part is written and rendered in one piece.
pub const REPLACE_MAX_S: f64 = 600.0;

/// Runs the edit: writes `extracted.wav`, `remainder.wav`, `result.wav` for a level change,
/// `new.mid`, `new.wav` and `mix.wav` for a replacement, and `report.json`; returns the report.
///
/// The input is read, separated and written a segment at a time ([`segments`]), so memory does
/// not grow with its length; the remainder is the input minus the extracted part sample by
/// sample. Outputs take their names only when the whole edit succeeded.
pub fn run(
    registry: &mut PackRegistry,
    job: &PlannedJob,
    opts: &EditOptions,
    mut progress: impl FnMut(&str),
) -> Result<serde_json::Value, String> {
    let edit = edit_job(job, &opts.instruction)?;
    let started = Instant::now();
    let mut input = StereoStream::open(&opts.input)?;
    let rate = input.sample_rate();
    let too_long = |seconds: f64| {
        format!(
            "the input is {:.1} minutes long; replace works on up to {:.0} minutes (the new part is written and \
             rendered in one piece): cut out the section to change (e.g. `ffmpeg -i song.wav -ss 60 -t 240 \
             part.wav`) and replace in that, or remove / extract / make quieter, which take any length",
            seconds / 60.0,
            REPLACE_MAX_S / 60.0
        )
    };
    let declared = input.declared_frames().map_or(0.0, |n| n as f64 / rate as f64);
    if edit.action == EditAction::Replace && declared > REPLACE_MAX_S {
        return Err(too_long(declared));
    }
    let plan = SegmentPlan::for_role(edit.role, rate, opts.segment_s.unwrap_or(DEFAULT_SEGMENT_S));
    let out = &opts.out;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut extracted = StereoWavWriter::create(&out.join("extracted.wav"), rate)?;
    let mut remainder = StereoWavWriter::create(&out.join("remainder.wav"), rate)?;
    let mut gain = match edit.action {
        EditAction::Gain(db) => Some((db_gain(db), StereoWavWriter::create(&out.join("result.wav"), rate)?)),
        _ => None,
    };
    let (mut separation, mut write) = (0.0, 0.0);
    let (mut input_energy, mut part_energy) = (0.0f64, 0.0f64);
    let (mut separated_once, mut notes, mut segments, mut longest) = (None, None::<usize>, 0usize, 0usize);
    let name = edit.role.name();
    let total = input.declared_frames().map(|n| format!(" of {}", clock(n as f64 / rate as f64))).unwrap_or_default();
    progress(&format!("separating the {name}"));
    let frames = segments::for_each_segment(&mut input, plan, |segment| {
        let keep = segment.keep.clone();
        if segments > 0 {
            progress(&format!("separating the {name}: {}{total}", clock(segment.first as f64 / rate as f64)));
        }
        let t = Instant::now();
        let part = separate_part(registry, edit.role, segment.audio, keep.clone())?;
        separation += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let (mix, stem) = (segment.audio, &part.stem);
        let mut rest = StereoAudio { sample_rate: rate, ..StereoAudio::default() };
        for (r, (m, s)) in [(&mut rest.left, (&mix.left, &stem.left)), (&mut rest.right, (&mix.right, &stem.right))] {
            r.extend(m[keep.clone()].iter().zip(&s[keep.clone()]).map(|(m, s)| m - s));
            input_energy += m[keep.clone()].iter().map(|&x| x as f64 * x as f64).sum::<f64>();
            part_energy += s[keep.clone()].iter().map(|&x| x as f64 * x as f64).sum::<f64>();
        }
        extracted.write(&stem.left[keep.clone()], &stem.right[keep.clone()])?;
        remainder.write(&rest.left, &rest.right)?;
        if let Some((g, result)) = gain.as_mut() {
            add_scaled(&mut rest.left, &stem.left[keep.clone()], *g);
            add_scaled(&mut rest.right, &stem.right[keep.clone()], *g);
            result.write(&rest.left, &rest.right)?;
        }
        write += t.elapsed().as_secs_f64();
        if let Some(n) = part.notes {
            notes = Some(notes.unwrap_or(0) + n);
        }
        segments += 1;
        longest = longest.max(segment.audio.frames());
        separated_once.get_or_insert((part.method, part.model));
        Ok(())
    })?;
    let seconds = frames as f64 / rate as f64;
    if frames == 0 {
        return Err(format!("{}: no audio decoded", opts.input.display()));
    }
    let non_finite = input.non_finite_samples();
    let mut notices = Vec::new();
    if non_finite > 0 {
        notices.push(format!("{non_finite} NaN or infinite samples in {} were read as silence", opts.input.display()));
        progress(&format!("notice: {}", notices[0]));
    }
    let level = 10.0 * (input_energy / (2 * frames) as f64).log10();
    check_audible(level)?;
    check_found(edit.role, level, 10.0 * (part_energy / (2 * frames) as f64).log10(), notes)?;
    if edit.action == EditAction::Replace && seconds > REPLACE_MAX_S {
        return Err(too_long(seconds));
    }
    let (method, model) = separated_once.ok_or("no segment was separated")?;
    let t = Instant::now();
    extracted.finish()?;
    remainder.finish()?;
    let mut files = serde_json::json!({ "extracted": "extracted.wav", "remainder": "remainder.wav" });
    let result = match edit.action {
        EditAction::Extract => "extracted.wav",
        EditAction::Remove => "remainder.wav",
        EditAction::Gain(_) => {
            gain.take().ok_or("no result writer")?.1.finish()?;
            files["result"] = "result.wav".into();
            "result.wav"
        }
        EditAction::Replace => {
            progress("writing the new part against the remainder");
            let rest = crate::wav::read_wav(&out.join("remainder.wav"))?;
            replace(registry, job, edit.role, &rest, opts)?;
            files["new_midi"] = "new.mid".into();
            files["new"] = "new.wav".into();
            files["mix"] = "mix.wav".into();
            "mix.wav"
        }
    };
    write += t.elapsed().as_secs_f64();
    let decode = (started.elapsed().as_secs_f64() - separation - write).max(0.0);
    let report = serde_json::json!({
        "instruction": opts.instruction,
        "job": { "edit": edit, "planned": job },
        "result": result,
        "files": files,
        "method": method,
        "model": model,
        "notes": notes,
        "audio": { "path": opts.input, "sample_rate": rate, "seconds": seconds, "non_finite_samples": non_finite },
        "notices": notices,
        "segments": {
            "count": segments,
            "seconds": plan.seconds(rate),
            "context_seconds": plan.context as f64 / rate as f64,
            "longest_with_context_seconds": longest as f64 / rate as f64,
        },
        "timings_s": { "decode": decode, "separate": separation, "write_and_generate": write },
        "separate_s_per_audio_minute": separation / seconds.max(1e-9) * 60.0,
        "peak_memory_mib": peak_memory_mib(),
    });
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(out.join("report.json"), text).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(report)
}

/// `m:ss` for a time in seconds.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// This process's peak resident memory so far in MiB (`VmHWM` in `/proc/self/status`; `None`
/// where there is no such file).
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Writes a new `role` part against `remainder` with the arranger: `new.mid`, `new.wav` (rendered
/// through the General MIDI SoundFont) and `mix.wav` (remainder + new part).
fn replace(
    registry: &mut PackRegistry,
    job: &PlannedJob,
    role: Role,
    remainder: &StereoAudio,
    opts: &EditOptions,
) -> Result<(), String> {
    let mut sessions = RegistrySessions::new(registry, &TranscribeOptions::default()).map_err(|e| e.to_string())?;
    let heard = score_informed::transcribe_mix(sessions.as_mut_slice(), remainder)?;
    let input = SongInput { heard, duration: remainder.seconds(), tempo: opts.tempo, ..SongInput::default() };
    // The arranger plans its own prompt: name the replaced role, the new instrument and the
    // density asked for.
    let mut prompt = format!("add a {}", role.name());
    prompt += match job.density {
        1 => " busier",
        -1 => " sparser",
        _ => "",
    };
    if let Some(instrument) = &job.instrument {
        prompt += &format!(" on {instrument}");
    }
    let request = StemRequest { prompt, bars: None, takes: 1, seed: opts.seed };
    let arrangement = arrange_song(registry, &input, &request, |_| {})?;
    let take = arrangement.takes.first().ok_or("the arranger wrote no take")?;
    let bpm = arrangement.analysis.tempo.bpm;
    let write = |name: &str, bytes: Vec<u8>| -> Result<(), String> {
        std::fs::write(opts.out.join(name), bytes).map_err(|e| format!("{name}: {e}"))
    };
    write("new.mid", encode_midi(&take.notes, bpm, 0, arrangement.program))?;
    let renderer = Renderer::open_default()?;
    let origin = -arrangement.origin / arrangement.seconds_per_beat();
    let new = renderer.render(&take.notes, arrangement.program, origin, bpm, remainder.sample_rate, 1.0)?;
    write_wav(&opts.out.join("new.wav"), &new)?;
    let frames = remainder.frames();
    let add = |a: &[f32], b: &[f32]| (0..frames).map(|i| a[i] + b.get(i).copied().unwrap_or(0.0)).collect();
    let mix = StereoAudio {
        sample_rate: remainder.sample_rate,
        left: add(&remainder.left, &new.left),
        right: add(&remainder.right, &new.right),
    };
    write_wav(&opts.out.join("mix.wav"), &mix)
}
