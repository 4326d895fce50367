//! Drums from an authored groove library (no drum corpus to learn from): General MIDI drum notes
//! for a style, a density variant and a bar range, with fills at phrase ends and a crash after
//! them. The grooves are data ([`patterns.toml`](./patterns.toml)); the seed varies ghost notes,
//! velocities and the choice of fills, reproducibly.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::OnceLock;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

use crate::stem::Note;

/// The groove library, compiled in.
const LIBRARY: &str = include_str!("patterns.toml");
/// Bars per phrase: a short fill ends every one, a longer one every second one.
pub const PHRASE_BARS: usize = 4;

/// General MIDI drum keys (channel 10) used by the library.
pub mod keys {
    /// Bass Drum 1.
    pub const KICK: u8 = 36;
    /// Side Stick.
    pub const RIM: u8 = 37;
    /// Acoustic Snare.
    pub const SNARE: u8 = 38;
    /// Hand Clap.
    pub const CLAP: u8 = 39;
    /// Low Floor Tom.
    pub const FLOOR: u8 = 41;
    /// Closed Hi-Hat.
    pub const HAT: u8 = 42;
    /// Pedal Hi-Hat.
    pub const PEDAL: u8 = 44;
    /// Low Tom.
    pub const TOM_LOW: u8 = 45;
    /// Open Hi-Hat.
    pub const OPEN: u8 = 46;
    /// Low-Mid Tom.
    pub const TOM_MID: u8 = 47;
    /// Crash Cymbal 1.
    pub const CRASH: u8 = 49;
    /// High Tom.
    pub const TOM_HI: u8 = 50;
    /// Ride Cymbal 1.
    pub const RIDE: u8 = 51;
    /// Ride Bell.
    pub const BELL: u8 = 53;
    /// Tambourine.
    pub const TAMB: u8 = 54;
    /// Cowbell.
    pub const COWBELL: u8 = 56;
    /// Maracas (a shaker).
    pub const SHAKER: u8 = 70;

    /// The General MIDI key of a lane name in `patterns.toml`.
    pub fn of_lane(lane: &str) -> Option<u8> {
        Some(match lane {
            "kick" => KICK,
            "rim" => RIM,
            "snare" => SNARE,
            "clap" => CLAP,
            "floor" => FLOOR,
            "hat" => HAT,
            "pedal" => PEDAL,
            "tom_low" => TOM_LOW,
            "open" => OPEN,
            "tom_mid" => TOM_MID,
            "crash" => CRASH,
            "tom_hi" => TOM_HI,
            "ride" => RIDE,
            "bell" => BELL,
            "tamb" => TAMB,
            "cowbell" => COWBELL,
            "shaker" => SHAKER,
            _ => return None,
        })
    }
}

/// A groove style of the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DrumStyle {
    /// Eighth-note hats, snare on 2 and 4.
    Rock,
    /// Like rock, lighter, with tambourine.
    Pop,
    /// Sixteenth hats, syncopated kick, ghost notes.
    Funk,
    /// Swung boom-bap.
    HipHop,
    /// Four on the floor, off-beat open hats.
    House,
    /// Snare on beat 3 only.
    HalfTime,
    /// Triplet shuffle on the ride.
    Shuffle,
    /// Side stick and soft hats.
    Ballad,
}

impl DrumStyle {
    /// Every style, in library order.
    pub const ALL: [DrumStyle; 8] = [
        DrumStyle::Rock,
        DrumStyle::Pop,
        DrumStyle::Funk,
        DrumStyle::HipHop,
        DrumStyle::House,
        DrumStyle::HalfTime,
        DrumStyle::Shuffle,
        DrumStyle::Ballad,
    ];

    /// The style's name in the library and in reports.
    pub const fn name(self) -> &'static str {
        match self {
            DrumStyle::Rock => "rock",
            DrumStyle::Pop => "pop",
            DrumStyle::Funk => "funk",
            DrumStyle::HipHop => "hip-hop",
            DrumStyle::House => "house",
            DrumStyle::HalfTime => "half-time",
            DrumStyle::Shuffle => "shuffle",
            DrumStyle::Ballad => "ballad",
        }
    }

    /// The style a prompt names: the first of its words (in prompt order) that is one of a
    /// style's `words`, else the first of the planner's style words that is. `None` when neither
    /// names a drum style.
    pub fn from_words(prompt: &str, planner_styles: &[String]) -> Option<DrumStyle> {
        let lib = library().ok()?;
        let find = |text: &str| {
            let text = format!("-{}-", dashed(text));
            lib.style
                .iter()
                .flat_map(|s| s.words.iter().map(move |w| (s, w)))
                .filter_map(|(s, w)| text.find(&format!("-{}-", dashed(w))).map(|at| (at, s)))
                .min_by_key(|(at, _)| *at)
                .and_then(|(_, s)| DrumStyle::ALL.into_iter().find(|d| d.name() == s.name))
        };
        find(prompt).or_else(|| planner_styles.iter().find_map(|s| find(s)))
    }

    /// A style for a context without style words, from its tempo and its 16-step onset pattern
    /// (share of bars with an onset on each sixteenth): slow songs get a ballad (or hip-hop when
    /// the context is syncopated), mid tempos pop or funk, dance tempos with steady quarter notes
    /// house, faster ones rock and very fast ones a half-time feel.
    pub fn from_context(bpm: f64, onset_pattern: &[f32; 16]) -> DrumStyle {
        let recurring = |s: usize| onset_pattern[s] >= 0.5;
        let syncopated = (1..16).step_by(2).any(recurring);
        let busy = (0..16).filter(|&s| recurring(s)).count();
        let quarters = (0..16).step_by(4).all(recurring) && busy <= 5;
        match bpm {
            b if b < 75.0 => {
                if syncopated {
                    DrumStyle::HipHop
                } else {
                    DrumStyle::Ballad
                }
            }
            b if b < 95.0 => {
                if syncopated || busy > 4 {
                    DrumStyle::HipHop
                } else {
                    DrumStyle::Ballad
                }
            }
            b if b < 116.0 => {
                if syncopated {
                    DrumStyle::Funk
                } else {
                    DrumStyle::Pop
                }
            }
            b if b < 136.0 => {
                if quarters {
                    DrumStyle::House
                } else {
                    DrumStyle::Rock
                }
            }
            b if b < 165.0 => DrumStyle::Rock,
            _ => DrumStyle::HalfTime,
        }
    }
}

/// What to write.
#[derive(Debug, Clone)]
pub struct DrumRequest {
    /// The groove style.
    pub style: DrumStyle,
    /// -1 sparse, 0 normal, +1 busy variant.
    pub density: i8,
    /// Bars to write, from 0; phrases (and fills) count from the range's first bar.
    pub bars: Range<usize>,
    /// Beats (quarter notes) per bar; a shorter bar plays the start of the 4/4 groove.
    pub bar_beats: f64,
    /// Seed for ghost notes, velocities and fill choice.
    pub seed: u64,
}

/// Velocity of a grid character before humanising; `None` for a rest.
fn velocity(c: char) -> Option<u8> {
    match c {
        'X' => Some(112),
        'x' => Some(92),
        'o' => Some(68),
        'g' => Some(40),
        _ => None,
    }
}

/// Writes the drums: the style's variant bar after bar, a fill in the last beats of each phrase
/// (and of the range), a crash with the kick on the downbeat after a fill and at the start.
pub fn write(req: &DrumRequest) -> Result<Vec<Note>, String> {
    let lib = library()?;
    let spec = lib.style(req.style)?;
    let variant = match req.density.signum() {
        -1 => &spec.sparse,
        1 => &spec.busy,
        _ => &spec.normal,
    };
    let steps_per_beat = spec.steps / 4;
    let step_beats = 1.0 / steps_per_beat as f64;
    let bar_steps = ((req.bar_beats * steps_per_beat as f64).round() as usize).max(1);
    let ghosts = match req.density.signum() {
        -1 => 0.35,
        1 => 0.9,
        _ => 0.65,
    };
    let mut rng = StdRng::seed_from_u64(req.seed ^ 0xD2A5_5EED);
    let mut notes = Vec::new();
    let push = |notes: &mut Vec<Note>, rng: &mut StdRng, beat: f64, step: usize, key: u8, c: char| {
        let Some(v) = velocity(c) else { return };
        if c == 'g' && rng.random::<f64>() >= ghosts {
            return;
        }
        // Every second sixteenth moves towards the triplet position by the style's swing.
        let swing = if steps_per_beat == 4 && step % 2 == 1 { spec.swing * (1.0 / 3.0 - 0.25) } else { 0.0 };
        let length = if key == keys::OPEN || key == keys::CRASH { 2.0 * step_beats } else { step_beats };
        let jitter: i16 = rng.random_range(-6..=6);
        let velocity = (i16::from(v) + jitter).clamp(1, 127) as u8;
        notes.push(Note { start: beat + step as f64 * step_beats + swing, length, key, velocity });
    };
    let mut after_fill = true;
    for (i, bar) in req.bars.clone().enumerate() {
        let start = bar as f64 * req.bar_beats;
        let last = bar + 1 == req.bars.end;
        let phrase_end = (i + 1) % PHRASE_BARS == 0;
        let long_phrase_end = (i + 1) % (2 * PHRASE_BARS) == 0;
        // Sparse grooves fill every second phrase; longer fills for longer phrases and busier parts.
        let max_beats = match (req.density.signum(), long_phrase_end || last) {
            (-1, _) => 1,
            (0, false) => 1,
            (0, true) => 2,
            (_, false) => 2,
            (_, true) => 4,
        };
        let wants_fill = (phrase_end && (req.density >= 0 || long_phrase_end)) || last;
        let fill = if wants_fill { lib.pick_fill(spec, max_beats, req.bar_beats, &mut rng)? } else { None };
        let fill_from = fill.map_or(bar_steps, |f| bar_steps.saturating_sub(f.beats * steps_per_beat));
        if after_fill {
            push(&mut notes, &mut rng, start, 0, keys::CRASH, 'x');
            push(&mut notes, &mut rng, start, 0, keys::KICK, 'X');
        }
        for (lane, grid) in variant {
            let key = keys::of_lane(lane).ok_or_else(|| format!("drum lane `{lane}` is not a General MIDI sound"))?;
            let grid: Vec<char> = grid.chars().collect();
            for step in 0..fill_from {
                push(&mut notes, &mut rng, start, step, key, grid[(i * bar_steps + step) % grid.len()]);
            }
        }
        if let Some(fill) = fill {
            for (lane, grid) in &fill.lanes {
                let key =
                    keys::of_lane(lane).ok_or_else(|| format!("drum lane `{lane}` is not a General MIDI sound"))?;
                for (k, c) in grid.chars().enumerate() {
                    push(&mut notes, &mut rng, start, fill_from + k, key, c);
                }
            }
        }
        after_fill = fill.is_some();
    }
    notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.key.cmp(&b.key)));
    notes.dedup_by(|b, a| a.key == b.key && (a.start - b.start).abs() < 1e-9);
    Ok(notes)
}

/// The library's style names, for messages.
pub fn style_names() -> Vec<&'static str> {
    DrumStyle::ALL.iter().map(|s| s.name()).collect()
}

/// Checks the whole library (every lane a known sound, grid lengths, fills present and on the
/// style's grid); the unit tests run it, [`write`] relies on it.
pub fn check_library() -> Result<(), String> {
    let lib = library()?;
    for style in DrumStyle::ALL {
        let spec = lib.style(style)?;
        if spec.steps % 4 != 0 || spec.steps == 0 || !(0.0..=1.0).contains(&spec.swing) {
            return Err(format!("style {}: steps must be a multiple of 4 and swing 0..1", spec.name));
        }
        for (variant, lanes) in [("sparse", &spec.sparse), ("normal", &spec.normal), ("busy", &spec.busy)] {
            for (lane, grid) in lanes {
                keys::of_lane(lane).ok_or_else(|| format!("{}.{variant}: unknown lane `{lane}`", spec.name))?;
                if grid.is_empty() || grid.chars().count() % spec.steps != 0 {
                    return Err(format!("{}.{variant}.{lane}: length must be a multiple of {}", spec.name, spec.steps));
                }
                if let Some(c) = grid.chars().find(|c| *c != '.' && velocity(*c).is_none()) {
                    return Err(format!("{}.{variant}.{lane}: unknown character `{c}`", spec.name));
                }
            }
        }
        if !spec.fills.iter().any(|f| lib.fill(f).is_some_and(|f| f.beats == 1)) {
            return Err(format!("style {} needs a one-beat fill", spec.name));
        }
        for name in &spec.fills {
            let fill = lib.fill(name).ok_or_else(|| format!("style {}: no fill `{name}`", spec.name))?;
            if fill.steps_per_beat * 4 != spec.steps {
                return Err(format!("fill {name} is not on the grid of style {}", spec.name));
            }
            for (lane, grid) in &fill.lanes {
                keys::of_lane(lane).ok_or_else(|| format!("fill {name}: unknown lane `{lane}`"))?;
                if grid.chars().count() != fill.beats * fill.steps_per_beat {
                    return Err(format!("fill {name}.{lane}: length must be {}", fill.beats * fill.steps_per_beat));
                }
            }
        }
    }
    Ok(())
}

/// Lane name to grid string.
type Lanes = BTreeMap<String, String>;

/// One style of `patterns.toml`.
#[derive(Debug, Deserialize)]
struct StyleSpec {
    /// [`DrumStyle::name`].
    name: String,
    /// Prompt words that pick it.
    words: Vec<String>,
    /// Grid steps per 4/4 bar.
    steps: usize,
    /// 0 straight .. 1 triplet sixteenths.
    swing: f64,
    /// Fill names it may use.
    fills: Vec<String>,
    /// Variant for "sparser".
    sparse: Lanes,
    /// The default variant.
    normal: Lanes,
    /// Variant for "busier".
    busy: Lanes,
}

/// One fill of `patterns.toml`.
#[derive(Debug, Deserialize)]
struct FillSpec {
    /// Referenced by styles.
    name: String,
    /// Beats it replaces at the end of the bar.
    beats: usize,
    /// Grid resolution (4 sixteenths or 3 triplet eighths).
    steps_per_beat: usize,
    /// The lanes.
    #[serde(flatten)]
    lanes: Lanes,
}

/// The parsed `patterns.toml`.
#[derive(Debug, Deserialize)]
struct Library {
    /// Styles.
    style: Vec<StyleSpec>,
    /// Fills.
    fill: Vec<FillSpec>,
}

impl Library {
    /// The spec of `style`.
    fn style(&self, style: DrumStyle) -> Result<&StyleSpec, String> {
        self.style.iter().find(|s| s.name == style.name()).ok_or_else(|| format!("no drum style `{}`", style.name()))
    }

    /// The fill called `name`.
    fn fill(&self, name: &str) -> Option<&FillSpec> {
        self.fill.iter().find(|f| f.name == name)
    }

    /// A fill of the style no longer than `max_beats` (and the bar), chosen by the seed.
    fn pick_fill(
        &self,
        spec: &StyleSpec,
        max_beats: usize,
        bar_beats: f64,
        rng: &mut StdRng,
    ) -> Result<Option<&FillSpec>, String> {
        let fits: Vec<&FillSpec> = spec
            .fills
            .iter()
            .filter_map(|n| self.fill(n))
            .filter(|f| f.beats <= max_beats && f.beats as f64 <= bar_beats)
            .collect();
        if fits.is_empty() {
            return Ok(None);
        }
        Ok(Some(fits[rng.random_range(0..fits.len())]))
    }
}

/// The library, parsed once.
fn library() -> Result<&'static Library, String> {
    static LIB: OnceLock<Result<Library, String>> = OnceLock::new();
    LIB.get_or_init(|| toml::from_str(LIBRARY).map_err(|e| format!("drum library patterns.toml: {e}")))
        .as_ref()
        .map_err(Clone::clone)
}

/// Lower case, words joined by dashes ("Four on the floor" -> "four-on-the-floor").
fn dashed(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_is_complete_and_consistent() {
        check_library().unwrap();
    }

    #[test]
    fn styles_come_from_prompt_words_then_planner_styles() {
        let none: Vec<String> = Vec::new();
        assert_eq!(DrumStyle::from_words("add a four on the floor beat", &none), Some(DrumStyle::House));
        assert_eq!(DrumStyle::from_words("half time drums please", &none), Some(DrumStyle::HalfTime));
        assert_eq!(DrumStyle::from_words("a Hip Hop beat", &none), Some(DrumStyle::HipHop));
        assert_eq!(DrumStyle::from_words("add drums", &["funk".to_string()]), Some(DrumStyle::Funk));
        // The earliest style word wins; words inside other words do not count.
        assert_eq!(DrumStyle::from_words("shuffle, not rock", &none), Some(DrumStyle::Shuffle));
        assert_eq!(DrumStyle::from_words("add a drum part", &none), None);
        assert_eq!(DrumStyle::from_words("popular drums", &none), None);
    }
}
