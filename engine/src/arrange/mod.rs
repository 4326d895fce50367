//! The arranger: any-subset inpainting of a four-voice piano roll (Coconet-style), so one model
//! fills a missing voice, regenerates a bar range or varies a take, conditioned on chords and key.
//!
//! The pack (`TaskKind::Arranger`, e.g. `models/arranger-chorale/`) holds one graph, `inpaint`,
//! that maps (known cells, mask, conditioning) to pitch logits for every cell of a fixed window,
//! and `arranger.json` with the grid and schedule it was trained with. [`Sampler::fill`] turns
//! notes into the roll ([`roll`]), runs annealed blocked Gibbs sampling over the requested cells
//! ([`gibbs`]) and turns the filled voice back into notes. Training and evaluation live in
//! `scripts/arranger/` (results in `scripts/arranger/RESULTS.md`).

pub mod attrs;
pub mod config;
pub mod drums;
pub mod gibbs;
pub mod names;
pub mod rhythm;
pub mod roll;
pub mod voicing;

use std::ops::Range;

use ort::session::Session;
use ort::value::TensorRef;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use attrs::Attributes;
pub use config::{ArrangerConfig, CONFIG_FILE};

use crate::packs::{Pack, PackError, PackRegistry, TaskKind};
use crate::runtime::SessionSettings;
use crate::stem::Note;

/// Model key of the inpainting graph inside the arranger pack.
pub const MODEL_KEY: &str = "inpaint";

/// A chord on the grid: root pitch class and a quality suffix of the pack's vocabulary (the same
/// names as [`crate::analysis::chords::ChordLabel`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chord {
    /// Root pitch class, C = 0.
    pub root: u8,
    /// "", "m", "7", "maj7", "m7", "dim", "aug" or "sus4".
    pub quality: &'static str,
}

impl From<&crate::analysis::chords::ChordLabel> for Chord {
    fn from(l: &crate::analysis::chords::ChordLabel) -> Self {
        Chord { root: l.root, quality: l.quality }
    }
}

/// The key the music is in (default C major).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeySig {
    /// Tonic pitch class, C = 0.
    pub tonic: u8,
    /// Minor (true) or major.
    pub minor: bool,
}

/// What to generate. Bars are 4/4 with bar 0 starting at beat 0.
#[derive(Debug, Clone)]
pub struct FillRequest {
    /// Notes of each voice (soprano, alto, tenor, bass), in beats. A voice with no notes at all
    /// is treated as unknown (left to the model), not as silence. The target voice's notes
    /// inside `bars` are replaced; outside they are context.
    pub voices: Vec<Vec<Note>>,
    /// One chord per grid step from beat 0 (`None`: no chord given); missing steps count as `None`.
    pub chords: Vec<Option<Chord>>,
    /// The key, when known.
    pub key: Option<KeySig>,
    /// Index of the voice to fill.
    pub voice: usize,
    /// Bars to fill, `start..end`.
    pub bars: Range<usize>,
    /// Lowest and highest MIDI key allowed; `None` uses the voice's training register.
    pub register: Option<(u8, u8)>,
    /// Seed: the same request and seed give the same notes.
    pub seed: u64,
    /// `None` replaces the voice over `bars`. `Some(share)` varies the take instead: each beat
    /// of the range is regenerated with probability `share` (0..1), the others keep their notes.
    pub vary: Option<f64>,
    /// Note density and register asked of the filled voice (ignored by a pack without controls).
    pub attributes: Attributes,
}

/// Why the arranger could not run.
#[derive(Debug, thiserror::Error)]
pub enum ArrangeError {
    /// The pack is missing, damaged or its graph does not match.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// `arranger.json` is missing or malformed.
    #[error("arranger pack `{pack}`: {reason}")]
    Config {
        /// Pack name.
        pack: String,
        /// What is wrong.
        reason: String,
    },
    /// The request cannot be served (bad voice, empty bar range, register outside the model).
    #[error("arranger request: {0}")]
    Request(String),
    /// ONNX Runtime failed while sampling.
    #[error("arranger model run failed: {0}")]
    Run(String),
}

/// The arranger model with its config; build once, call [`fill`](Self::fill) many times.
pub struct Sampler {
    /// The `inpaint` session (checked against the manifest by the pack).
    session: Session,
    /// Grid, range, voices and schedule from `arranger.json`.
    config: ArrangerConfig,
}

impl Sampler {
    /// The first installed arranger pack.
    pub fn from_registry(reg: &PackRegistry, settings: &SessionSettings) -> Result<Self, ArrangeError> {
        Self::from_pack(reg.find(TaskKind::Arranger)?, settings)
    }

    /// Builds the session and reads `arranger.json` from `pack`.
    pub fn from_pack(pack: &Pack, settings: &SessionSettings) -> Result<Self, ArrangeError> {
        let bad = |reason: String| ArrangeError::Config { pack: pack.name().into(), reason };
        let text = std::fs::read_to_string(pack.dir.join(CONFIG_FILE))
            .map_err(|e| bad(format!("cannot read {CONFIG_FILE}: {e}")))?;
        let config = ArrangerConfig::parse(&text).map_err(bad)?;
        let built = pack.load_model(MODEL_KEY, settings)?;
        Ok(Sampler { session: built.session, config })
    }

    /// The pack's constants.
    pub fn config(&self) -> &ArrangerConfig {
        &self.config
    }

    /// Fills `req.voice` over `req.bars` and returns its new notes (in beats, inside the bars).
    pub fn fill(&mut self, req: &FillRequest) -> Result<Vec<Note>, ArrangeError> {
        let cfg = self.config.clone();
        let voices = cfg.voices.len();
        if req.voices.len() != voices || req.voice >= voices {
            return Err(ArrangeError::Request(format!("need {voices} voices and a voice index below {voices}")));
        }
        if req.bars.is_empty() {
            return Err(ArrangeError::Request("the bar range is empty".into()));
        }
        let (lo, hi) = req.register.unwrap_or((cfg.voices[req.voice].low, cfg.voices[req.voice].high));
        let (lo, hi) = (lo.max(cfg.pitch_lo), hi.min(cfg.pitch_hi()));
        if lo > hi {
            return Err(ArrangeError::Request(format!(
                "register does not overlap the model's range {}-{}",
                cfg.pitch_lo,
                cfg.pitch_hi()
            )));
        }
        let quality = chord_qualities(&req.chords, &cfg)?;

        let w = cfg.window_steps;
        let (s0, s1) = (req.bars.start * cfg.steps_per_bar, req.bars.end * cfg.steps_per_bar);
        let spb = cfg.steps_per_beat as f64;
        let last_note = req.voices.iter().flatten().map(|n| (n.end() * spb).ceil() as usize).max().unwrap_or(0);
        let steps = s1.max(last_note).max(w) + w;
        let mut classes: Vec<Vec<usize>> = req.voices.iter().map(|n| roll::quantize(n, steps, &cfg)).collect();
        let mut rng = StdRng::seed_from_u64(req.seed);
        // Unknown cells: whole voices with no notes, and the cells of the target voice to draw:
        // the whole range, or the beats picked for a variation.
        let mut unknown: Vec<Vec<bool>> = req.voices.iter().map(|n| vec![n.is_empty(); steps]).collect();
        for beat in (s0..s1).step_by(cfg.steps_per_beat) {
            let redraw = req.vary.is_none_or(|share| rng.random::<f64>() < share);
            unknown[req.voice][beat..(beat + cfg.steps_per_beat).min(s1)].fill(redraw);
        }

        let mut allowed = vec![false; cfg.classes()];
        allowed[usize::from(lo - cfg.pitch_lo)..=usize::from(hi - cfg.pitch_lo)].fill(true);
        allowed[cfg.rest_class] = true;

        let attr = cfg.attr_layout.as_ref().map(|l| attrs::features(l, &cfg, req.voice, req.attributes));
        // The attribute-free features, for guidance; only when something is asked.
        let free = match &cfg.attr_layout {
            Some(l) if cfg.gibbs.guidance != 1.0 && req.attributes != Attributes::default() => {
                Some(attrs::features(l, &cfg, req.voice, Attributes::default()))
            }
            _ => None,
        };
        for (cs, ce, start) in chunks(s0, s1, w) {
            let cond = roll::cond_features(&req.chords, &quality, req.key, start, &cfg);
            let mut window = gibbs::Window {
                classes: classes.iter().map(|c| c[start..start + w].to_vec()).collect(),
                unknown: unknown.iter().map(|u| u[start..start + w].to_vec()).collect(),
                target: (0..voices)
                    .map(|v| {
                        (0..w)
                            .map(|t| v == req.voice && (cs..ce).contains(&(start + t)) && unknown[v][start + t])
                            .collect()
                    })
                    .collect(),
            };
            let session = &mut self.session;
            gibbs::sample(&mut window, &allowed, &cfg, &mut rng, |roll, mask| {
                let mut logits = run(session, roll, mask, &cond, attr.as_deref(), &cfg)?;
                if let Some(free) = &free {
                    let g = cfg.gibbs.guidance;
                    let base = run(session, roll, mask, &cond, Some(free), &cfg)?;
                    logits.iter_mut().zip(&base).for_each(|(x, b)| *x = b + g * (*x - b));
                }
                Ok(logits)
            })?;
            for t in 0..w {
                if window.target[req.voice][t] {
                    classes[req.voice][start + t] = window.classes[req.voice][t];
                    unknown[req.voice][start + t] = false;
                }
            }
        }
        Ok(roll::to_notes(&classes[req.voice], s0, s1, &cfg))
    }
}

/// Pieces of `[s0, s1)` sampled one after the other, each with the window it runs in:
/// a range that fits is centred in one window (context on both sides); a longer one goes in
/// half-window chunks with a quarter window of already filled context before each.
fn chunks(s0: usize, s1: usize, w: usize) -> Vec<(usize, usize, usize)> {
    if s1 - s0 <= w {
        return vec![(s0, s1, s0.saturating_sub((w - (s1 - s0)) / 2))];
    }
    (s0..s1).step_by(w / 2).map(|cs| (cs, (cs + w / 2).min(s1), cs.saturating_sub(w / 4))).collect()
}

/// Each step's quality index in the pack's vocabulary; an unknown suffix is an error.
fn chord_qualities(chords: &[Option<Chord>], cfg: &ArrangerConfig) -> Result<Vec<Option<usize>>, ArrangeError> {
    chords
        .iter()
        .map(|c| match c {
            None => Ok(None),
            Some(c) => cfg.qualities.iter().position(|q| q.suffix == c.quality).map(Some).ok_or_else(|| {
                ArrangeError::Request(format!("chord quality `{}` is not in the vocabulary", c.quality))
            }),
        })
        .collect()
}

/// One model call: roll `[1, V, W, K]`, mask `[1, V, W]`, cond `[1, W, C]` and, for a pack with
/// controls, attr `[1, V, A]` -> logits `[V*W*K]`.
fn run(
    session: &mut Session,
    roll: &[f32],
    mask: &[f32],
    cond: &[f32],
    attr: Option<&[f32]>,
    cfg: &ArrangerConfig,
) -> Result<Vec<f32>, ArrangeError> {
    let (v, w, k, c) = (cfg.voices.len(), cfg.window_steps, cfg.classes(), cfg.cond_channels);
    let err = |e: ort::Error| ArrangeError::Run(e.to_string());
    let mut inputs = ort::inputs![
        "roll" => TensorRef::from_array_view(([1, v, w, k], roll)).map_err(err)?,
        "mask" => TensorRef::from_array_view(([1, v, w], mask)).map_err(err)?,
        "cond" => TensorRef::from_array_view(([1, w, c], cond)).map_err(err)?,
    ];
    if let Some(attr) = attr {
        let a = attr.len() / v;
        inputs.push(("attr".into(), TensorRef::from_array_view(([1, v, a], attr)).map_err(err)?.into()));
    }
    let outputs = session.run(inputs).map_err(err)?;
    let logits = outputs.get("logits").ok_or_else(|| ArrangeError::Run("output `logits` missing".into()))?;
    let (_, data) = logits.try_extract_tensor::<f32>().map_err(err)?;
    if data.len() != v * w * k {
        return Err(ArrangeError::Run(format!("`logits` has {} values, expected {}", data.len(), v * w * k)));
    }
    Ok(data.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed pack's config, read as text (no runtime needed).
    fn config() -> ArrangerConfig {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/arranger-chorale/arranger.json");
        ArrangerConfig::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn note(start: f64, length: f64, key: u8) -> Note {
        Note { start, length, key, velocity: roll::VELOCITY }
    }

    #[test]
    fn notes_survive_the_grid() {
        let cfg = config();
        let notes = vec![note(0.0, 1.0, 60), note(1.0, 0.5, 62), note(1.5, 0.5, 64), note(3.0, 1.0, 100)];
        let classes = roll::quantize(&notes, 8, &cfg);
        assert_eq!(classes[4..6], [cfg.rest_class, cfg.rest_class]);
        let back = roll::to_notes(&classes, 0, 8, &cfg);
        // The key 100 is folded by octaves into the model's range.
        assert_eq!(back[..3], notes[..3]);
        assert_eq!(back[3], note(3.0, 1.0, 100 - 24));
    }

    #[test]
    fn gibbs_draws_only_target_cells_and_allowed_classes() {
        use rand::SeedableRng;
        let cfg = config();
        let (v, w, k) = (cfg.voices.len(), cfg.window_steps, cfg.classes());
        let mut win = gibbs::Window {
            classes: vec![vec![3; w]; v],
            unknown: vec![vec![false; w]; v],
            target: vec![vec![false; w]; v],
        };
        win.unknown[1] = vec![true; w];
        win.target[1][10..20].fill(true);
        let mut allowed = vec![false; k];
        allowed[20..=22].fill(true);
        let mut calls = 0;
        // A flat model: every class equally likely; the register must still hold.
        let mut rng = StdRng::seed_from_u64(1);
        gibbs::sample(&mut win, &allowed, &cfg, &mut rng, |roll, mask| {
            calls += 1;
            assert_eq!((roll.len(), mask.len()), (v * w * k, v * w));
            // Voice 1 outside the target is unknown context: always hidden from the model.
            assert!(mask[w..w + 10].iter().chain(&mask[w + 20..2 * w]).all(|&m| m == 1.0));
            Ok(vec![0.0; v * w * k])
        })
        .unwrap();
        assert!(calls > 1 && calls <= cfg.gibbs.iterations + 1);
        assert!(win.classes[1][10..20].iter().all(|c| (20..=22).contains(c)));
        assert!(win.classes[1][..10].iter().chain(&win.classes[0]).all(|&c| c == 3), "context is untouched");
        assert!(gibbs::mask_share(0, 10, &cfg) > gibbs::mask_share(9, 10, &cfg));
    }

    #[test]
    fn short_ranges_are_centred_and_long_ones_chunked() {
        assert_eq!(chunks(16, 32, 64), vec![(16, 32, 0)]);
        assert_eq!(chunks(80, 96, 64), vec![(80, 96, 56)]);
        let long = chunks(0, 100, 64);
        assert_eq!(long, vec![(0, 32, 0), (32, 64, 16), (64, 96, 48), (96, 100, 80)]);
        assert!(long.iter().all(|&(cs, ce, start)| start <= cs && ce <= start + 64));
    }
}
