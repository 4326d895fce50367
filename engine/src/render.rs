//! Notes to audio with a General MIDI SoundFont (`rustysynth`), so a stem written as MIDI also
//! plays, previews and exports as audio.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

use crate::runtime::locate;
use crate::stem::{Note, StereoAudio};

/// Environment variable naming the SoundFont file to use.
pub const SOUNDFONT_ENV: &str = "COUNTERPART_SOUNDFONT";
/// The default SoundFont: FluidR3 GM (MIT), from Debian's `fluid-soundfont-gm`.
pub const DEFAULT_SOUNDFONT: &str = "FluidR3_GM.sf2";
/// Where Debian installs it.
const SYSTEM_SOUNDFONTS: &str = "/usr/share/sounds/sf2";
/// The General MIDI percussion channel (10, zero-based 9).
const DRUM_CHANNEL: i32 = 9;
/// Hi-hat keys (closed, pedal, open). `rustysynth` 1.3.8 plays FluidR3's standard-kit hi-hats
/// (exclusive class 1) as silence, so they are rendered from the kit that sounds: the TR-808.
const HAT_KEYS: [u8; 3] = [42, 44, 46];
/// Drum-kit program (bank 128) the hi-hats are rendered with: FluidR3's "TR-808".
const HAT_KIT: i32 = 25;
/// Frames rendered per synthesizer call between events.
const CHUNK: usize = 1024;

/// Where the SoundFont is looked for: `COUNTERPART_SOUNDFONT`, the user data folder's
/// `soundfonts/`, `<workspace>/target/soundfonts` (from `cargo xtask setup`), `soundfonts/`
/// beside the plugin, and Debian's `/usr/share/sounds/sf2`.
pub fn soundfont_candidates() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::env::var_os(SOUNDFONT_ENV).map(PathBuf::from).into_iter().collect();
    let mut dirs: Vec<PathBuf> = locate::user_data_dir().map(|d| d.join("soundfonts")).into_iter().collect();
    dirs.extend(locate::dev_dirs("soundfonts"));
    dirs.extend(locate::module_dirs().into_iter().map(|d| d.join("soundfonts")));
    dirs.push(PathBuf::from(SYSTEM_SOUNDFONTS));
    files.extend(dirs.into_iter().map(|d| d.join(DEFAULT_SOUNDFONT)));
    files
}

/// A loaded SoundFont, ready to render notes.
pub struct Renderer {
    font: Arc<SoundFont>,
    source: PathBuf,
}

impl Renderer {
    /// Loads a SoundFont 2 file.
    pub fn open(path: &Path) -> Result<Self, String> {
        let mut file = File::open(path).map_err(|e| format!("cannot open the SoundFont {}: {e}", path.display()))?;
        let font =
            SoundFont::new(&mut file).map_err(|e| format!("{} is not a usable SoundFont ({e:?})", path.display()))?;
        Ok(Self { font: Arc::new(font), source: path.to_path_buf() })
    }

    /// Loads the first SoundFont found in [`soundfont_candidates`].
    pub fn open_default() -> Result<Self, String> {
        let candidates = soundfont_candidates();
        match candidates.iter().find(|p| p.is_file()) {
            Some(path) => Self::open(path),
            None => Err(format!(
                "no SoundFont found (looked for {}); run `cargo xtask setup`, install Debian's fluid-soundfont-gm, or set {SOUNDFONT_ENV}",
                candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// The file this SoundFont came from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Renders `notes` (beats) at `tempo` with General MIDI `program`, or the drum kit (channel
    /// 10, bank 128) when `None`. The audio starts at beat `origin` and runs `tail_seconds` past
    /// the last note-off.
    pub fn render(
        &self,
        notes: &[Note],
        program: Option<u8>,
        origin: f64,
        tempo: f64,
        sample_rate: u32,
        tail_seconds: f64,
    ) -> Result<StereoAudio, String> {
        let Some(program) = program else {
            let (hats, kit): (Vec<Note>, Vec<Note>) = notes.iter().partition(|n| HAT_KEYS.contains(&n.key));
            let kit = self.render_channel(&kit, DRUM_CHANNEL, 0, origin, tempo, sample_rate, tail_seconds)?;
            if hats.is_empty() {
                return Ok(kit);
            }
            let hats = self.render_channel(&hats, DRUM_CHANNEL, HAT_KIT, origin, tempo, sample_rate, tail_seconds)?;
            let frames = kit.frames().max(hats.frames());
            let at = |v: &[f32], i: usize| v.get(i).copied().unwrap_or(0.0);
            return Ok(StereoAudio {
                sample_rate,
                left: (0..frames).map(|i| at(&kit.left, i) + at(&hats.left, i)).collect(),
                right: (0..frames).map(|i| at(&kit.right, i) + at(&hats.right, i)).collect(),
            });
        };
        self.render_channel(notes, 0, i32::from(program.min(127)), origin, tempo, sample_rate, tail_seconds)
    }

    /// Renders `notes` on one synthesizer `channel` with `program` (a kit number on channel 10).
    #[allow(clippy::too_many_arguments)]
    fn render_channel(
        &self,
        notes: &[Note],
        channel: i32,
        program: i32,
        origin: f64,
        tempo: f64,
        sample_rate: u32,
        tail_seconds: f64,
    ) -> Result<StereoAudio, String> {
        let mut settings = SynthesizerSettings::new(sample_rate as i32);
        settings.enable_reverb_and_chorus = true;
        let mut synth =
            Synthesizer::new(&self.font, &settings).map_err(|e| format!("cannot start the synthesizer: {e:?}"))?;
        synth.process_midi_message(channel, 0xC0, program, 0);
        let samples_per_beat = sample_rate as f64 * 60.0 / tempo.max(1.0);
        let at = |beat: f64| ((beat - origin).max(0.0) * samples_per_beat).round() as usize;
        // (sample, is_on, key, velocity): offs before ons at the same sample.
        let mut events: Vec<(usize, bool, u8, u8)> = notes
            .iter()
            .filter(|n| n.start.is_finite() && n.length.is_finite() && n.key < 128)
            .flat_map(|n| {
                [(at(n.start), true, n.key, n.velocity.max(1)), (at(n.end()).max(at(n.start) + 1), false, n.key, 0)]
            })
            .collect();
        events.sort_by_key(|e| (e.0, e.1));
        let end = events.last().map_or(0, |e| e.0) + (tail_seconds.max(0.0) * sample_rate as f64) as usize;
        let mut audio = StereoAudio { sample_rate, left: vec![0.0; end], right: vec![0.0; end] };
        let mut done = 0;
        let mut next = events.iter().peekable();
        while done < end {
            while let Some(&&(sample, on, key, velocity)) = next.peek() {
                if sample > done {
                    break;
                }
                if on {
                    synth.note_on(channel, key as i32, velocity as i32);
                } else {
                    synth.note_off(channel, key as i32);
                }
                next.next();
            }
            let until = next.peek().map_or(end, |e| e.0).min(done + CHUNK).min(end);
            synth.render(&mut audio.left[done..until], &mut audio.right[done..until]);
            done = until;
        }
        Ok(audio)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_broken_soundfont_is_a_message() {
        assert!(Renderer::open(Path::new("/nonexistent/x.sf2")).err().unwrap().contains("cannot open"));
        let junk = std::env::temp_dir().join(format!("cp-junk-{}.sf2", std::process::id()));
        std::fs::write(&junk, b"RIFF\x04\x00\x00\x00sfbk").unwrap();
        assert!(Renderer::open(&junk).err().unwrap().contains("not a usable SoundFont"));
        std::fs::remove_file(junk).ok();
    }
}
