//! Instruction editing of audio (`counterpart edit`): a planned job ("remove the drums", "keep only
//! the bass", "make the vocals quieter", "replace the bass with something busier") becomes an
//! [`EditJob`]; the named part is separated with the method for its role ([`separate_role`]), the
//! remainder is exactly the input minus it, and the result is written with a report.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use super::byo::ByoSeparator;
use super::hpss::{self, HpssSettings};
use super::masking::minus;
use super::score_informed;
use crate::generate::{SongInput, StemRequest, arrange_song};
use crate::midi::encode_midi;
use crate::packs::{PackRegistry, TaskKind};
use crate::plan::{Action, PlannedJob, Role};
use crate::render::Renderer;
use crate::runtime::SessionSettings;
use crate::stem::StereoAudio;
use crate::transcribe;
use crate::wav::write_wav;

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
    pub method: &'static str,
    /// The model pack used, if any: `{ "pack": name, "version": version }`.
    pub model: Option<serde_json::Value>,
    /// Notes the part was built from (score-informed methods).
    pub notes: Option<usize>,
}

/// Separates the part of `audio` that plays `role`. Errors are sentences for the user: a silent
/// input, a role with no method yet, a part the song does not have.
pub fn separate_role(registry: &mut PackRegistry, role: Role, audio: &StereoAudio) -> Result<Separated, String> {
    if audio.frames() == 0 {
        return Err("the input has no audio".into());
    }
    let level = rms_dbfs(audio);
    if level < SILENCE_DBFS {
        return Err(format!("the input is silent ({level:.0} dBFS): there is nothing to separate"));
    }
    let byo = registry
        .packs()
        .iter()
        .find(|p| p.manifest.separator.as_ref().is_some_and(|s| s.stems.iter().any(|n| n == role.name())));
    if let Some(pack) = byo {
        let mut separator = ByoSeparator::load(pack, &SessionSettings::default())?;
        let stem = separator.separate(audio)?.into_iter().find(|s| s.name == role.name()).ok_or("stem vanished")?;
        return Ok(Separated {
            stem: stem.audio,
            method: "bring-your-own separator pack ([separator] in its model.toml)",
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
            let relative = rms_dbfs(&vocals) - level;
            if relative < NO_VOCALS_DB {
                return Err(format!(
                    "no vocals found: the separated vocals are {:.0} dB below the mix (under {NO_VOCALS_DB:.0} dB \
                     means an instrumental); nothing was changed",
                    relative
                ));
            }
            Ok(Separated {
                stem: vocals,
                method: "Spleeter 2stems U-Net ratio mask (STFT 4096/1024 at 44.1 kHz, no energy above 11 kHz)",
                model: Some(serde_json::json!({ "pack": pack.name, "version": pack.version, "license": pack.license })),
                notes: None,
            })
        }
        Role::Drums => Ok(Separated {
            stem: hpss::separate_drums(audio, &HpssSettings::default())?,
            method: "harmonic/percussive separation (median filters along time and frequency, Wiener masks) \
                     refined with spectral-flux onsets",
            model: None,
            notes: None,
        }),
        pitched => {
            let pack = registry.find(TaskKind::Transcriber).map_err(|e| e.to_string())?.name().to_string();
            let version = registry.find(TaskKind::Transcriber).map_err(|e| e.to_string())?.manifest.version.clone();
            let session = &mut registry.session(&pack, transcribe::MODEL_KEY).map_err(|e| e.to_string())?.session;
            let notes = score_informed::transcribe_mix(session, audio)?;
            let (target, others) = match pitched {
                Role::Bass => score_informed::lowest_line(&notes),
                other => {
                    return Err(format!(
                        "separating the {} is not supported yet: the vocals, drums and bass are",
                        other.name()
                    ));
                }
            };
            if target.is_empty() {
                return Err(format!("no {} notes found in the song; nothing was changed", pitched.name()));
            }
            Ok(Separated {
                stem: score_informed::separate_line(audio, &target, &others)?,
                method: "score-informed harmonic masks from the transcribed lowest line (basic-pitch), shared \
                         partials split by a 1/h spectral model, times the HPSS harmonic mask",
                model: Some(serde_json::json!({ "pack": pack, "version": version })),
                notes: Some(target.len()),
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
}

/// Runs the edit: writes `extracted.wav`, `remainder.wav`, `result.wav` for a level change,
/// `new.mid`, `new.wav` and `mix.wav` for a replacement, and `report.json`; returns the report.
pub fn run(
    registry: &mut PackRegistry,
    job: &PlannedJob,
    opts: &EditOptions,
    mut progress: impl FnMut(&str),
) -> Result<serde_json::Value, String> {
    let edit = edit_job(job, &opts.instruction)?;
    let t = Instant::now();
    let audio = super::decode::load_stereo(&opts.input)?;
    let decode = t.elapsed().as_secs_f64();
    progress(&format!("separating the {}", edit.role.name()));
    let t = Instant::now();
    let separated = separate_role(registry, edit.role, &audio)?;
    let separation = t.elapsed().as_secs_f64();
    let remainder = minus(&audio, &separated.stem);
    let out = &opts.out;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let t = Instant::now();
    write_wav(&out.join("extracted.wav"), &separated.stem)?;
    write_wav(&out.join("remainder.wav"), &remainder)?;
    let mut files = serde_json::json!({ "extracted": "extracted.wav", "remainder": "remainder.wav" });
    let result = match edit.action {
        EditAction::Extract => "extracted.wav",
        EditAction::Remove => "remainder.wav",
        EditAction::Gain(db) => {
            let g = 10f32.powf(db / 20.0);
            let mix = |r: &[f32], s: &[f32]| r.iter().zip(s).map(|(r, s)| r + g * s).collect();
            let changed = StereoAudio {
                sample_rate: audio.sample_rate,
                left: mix(&remainder.left, &separated.stem.left),
                right: mix(&remainder.right, &separated.stem.right),
            };
            write_wav(&out.join("result.wav"), &changed)?;
            files["result"] = "result.wav".into();
            "result.wav"
        }
        EditAction::Replace => {
            progress("writing the new part against the remainder");
            replace(registry, job, edit.role, &remainder, opts)?;
            files["new_midi"] = "new.mid".into();
            files["new"] = "new.wav".into();
            files["mix"] = "mix.wav".into();
            "mix.wav"
        }
    };
    let write = t.elapsed().as_secs_f64();
    let report = serde_json::json!({
        "instruction": opts.instruction,
        "job": { "edit": edit, "planned": job },
        "result": result,
        "files": files,
        "method": separated.method,
        "model": separated.model,
        "notes": separated.notes,
        "audio": { "path": opts.input, "sample_rate": audio.sample_rate, "seconds": audio.seconds() },
        "timings_s": { "decode": decode, "separate": separation, "write_and_generate": write },
        "separate_s_per_audio_minute": separation / audio.seconds().max(1e-9) * 60.0,
    });
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(out.join("report.json"), text).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(report)
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
    let pack = registry.find(TaskKind::Transcriber).map_err(|e| e.to_string())?.name().to_string();
    let session = &mut registry.session(&pack, transcribe::MODEL_KEY).map_err(|e| e.to_string())?.session;
    let heard = score_informed::transcribe_mix(session, remainder)?;
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
