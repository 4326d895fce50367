//! Drums by harmonic/percussive separation (Fitzgerald 2010, as librosa's `hpss`): on the magnitude
//! STFT a median along time keeps what is steady (harmonic), a median along frequency keeps what is
//! broadband (percussive), and soft Wiener masks `P² / (H² + P²)` split each cell. The percussive
//! mask is then refined with onsets: percussive-energy onsets are detected by spectral flux on the
//! percussive part and the mask is kept in full from just before each onset, decaying towards a
//! floor between hits, so sustained broadband sounds (breaths, bowing noise, reverb) stay out of
//! the drums.

use super::masking::{self, Block, Layout};
use crate::stem::StereoAudio;

/// Settings of the separation; [`Default`] is what `counterpart edit` uses.
#[derive(Debug, Clone, Copy)]
pub struct HpssSettings {
    /// Length of the median along time (harmonic), seconds.
    pub time_kernel_s: f64,
    /// Width of the median along frequency (percussive), Hz.
    pub freq_kernel_hz: f64,
    /// Exponent of the soft masks (2: Wiener).
    pub power: f32,
    /// Whether to refine the percussive mask with onsets.
    pub onsets: bool,
    /// The percussive mask's weight far from any onset (0..1).
    pub onset_floor: f32,
    /// Time constant of the weight's decay after an onset, seconds.
    pub onset_decay_s: f64,
}

impl Default for HpssSettings {
    fn default() -> Self {
        HpssSettings {
            time_kernel_s: 0.2,
            freq_kernel_hz: 400.0,
            power: 2.0,
            onsets: true,
            onset_floor: 0.5,
            onset_decay_s: 0.2,
        }
    }
}

/// Half-width of the onset detector's adaptive-threshold window, seconds.
const ONSET_WINDOW_S: f64 = 0.12;
/// A flux peak must exceed the local mean by this factor to count as an onset.
const ONSET_RATIO: f32 = 1.5;
/// ... and this fraction of the block's largest flux (silence and noise stay quiet).
const ONSET_FLOOR_OF_MAX: f32 = 0.1;
/// Log compression of magnitudes before the flux.
const FLUX_GAMMA: f32 = 100.0;
/// Tiny power added to mask denominators.
const EPS: f32 = 1e-12;

/// The drums of `audio` (the refined percussive part), at its rate and length.
pub fn separate_drums(audio: &StereoAudio, settings: &HpssSettings) -> Result<StereoAudio, String> {
    let layout = layout(audio.sample_rate, settings);
    masking::extract(audio, &layout, |block, out| {
        let (h, p) = medians(block, settings, &layout);
        percussive_mask(block, &h, &p, settings, out);
        Ok(())
    })
}

/// The blocking for `settings` at `sample_rate`: enough context for the time median and the onset
/// decay.
pub fn layout(sample_rate: u32, settings: &HpssSettings) -> Layout {
    let probe = Layout::for_rate(sample_rate, 0);
    let onset_reach = if settings.onsets { ONSET_WINDOW_S + 3.0 * settings.onset_decay_s } else { 0.0 };
    let reach = settings.time_kernel_s / 2.0 + onset_reach;
    Layout { context: probe.frames_in(reach, sample_rate) + 2, ..probe }
}

/// Median along time (harmonic, filled for the frames to mask only) and along frequency
/// (percussive, every row: the onset detector reads the context too) of `block.magnitude`, both
/// `rows × bins`.
pub fn medians(block: &Block, settings: &HpssSettings, layout: &Layout) -> (Vec<f32>, Vec<f32>) {
    let (rows, bins, mag) = (block.rows, block.bins, block.magnitude);
    let half_t = layout.frames_in(settings.time_kernel_s, block.sample_rate) / 2;
    let half_f = ((settings.freq_kernel_hz / block.bin_hz()).round() as usize / 2).max(1);
    let mut scratch = Vec::with_capacity(2 * half_t.max(half_f) + 1);
    let mut harmonic = vec![0.0f32; rows * bins];
    for k in 0..bins {
        for r in block.before..block.before + block.count {
            scratch.clear();
            scratch.extend((r.saturating_sub(half_t)..(r + half_t + 1).min(rows)).map(|q| mag[q * bins + k]));
            harmonic[r * bins + k] = median(&mut scratch);
        }
    }
    let mut percussive = vec![0.0f32; rows * bins];
    for r in 0..rows {
        let row = &mag[r * bins..(r + 1) * bins];
        for k in 0..bins {
            scratch.clear();
            scratch.extend_from_slice(&row[k.saturating_sub(half_f)..(k + half_f + 1).min(bins)]);
            percussive[r * bins + k] = median(&mut scratch);
        }
    }
    (harmonic, percussive)
}

/// The soft harmonic mask `H^p / (H^p + P^p)` of the block's frames to mask (`count × bins`).
pub fn harmonic_mask(block: &Block, h: &[f32], p: &[f32], settings: &HpssSettings, out: &mut [f32]) {
    let at = block.before * block.bins;
    for ((m, &h), &p) in out.iter_mut().zip(&h[at..]).zip(&p[at..]) {
        let (hp, pp) = (pow(h, settings.power), pow(p, settings.power));
        *m = hp / (hp + pp + EPS);
    }
}

/// The percussive mask of the block's frames to mask (`count × bins`), refined with onsets when
/// `settings.onsets`.
pub fn percussive_mask(block: &Block, h: &[f32], p: &[f32], settings: &HpssSettings, out: &mut [f32]) {
    let at = block.before * block.bins;
    for ((m, &h), &p) in out.iter_mut().zip(&h[at..]).zip(&p[at..]) {
        let (hp, pp) = (pow(h, settings.power), pow(p, settings.power));
        *m = pp / (hp + pp + EPS);
    }
    if !settings.onsets {
        return;
    }
    let weights = onset_weights(block, p, settings);
    for (row, w) in out.chunks_exact_mut(block.bins).zip(&weights[block.before..block.before + block.count]) {
        row.iter_mut().for_each(|m| *m *= w);
    }
}

/// Rows of the block where percussive energy starts (spectral-flux peaks over an adaptive
/// threshold).
pub fn onsets(block: &Block, p: &[f32]) -> Vec<usize> {
    let (rows, bins) = (block.rows, block.bins);
    let compressed = |r: usize, k: usize| (1.0 + FLUX_GAMMA * p[r * bins + k]).ln();
    let flux: Vec<f32> = (0..rows)
        .map(|r| match r {
            0 => 0.0,
            r => (0..bins).map(|k| (compressed(r, k) - compressed(r - 1, k)).max(0.0)).sum::<f32>() / bins as f32,
        })
        .collect();
    let window = ((ONSET_WINDOW_S * block.sample_rate as f64 / block.hop as f64).round() as usize).max(2);
    let floor = (ONSET_FLOOR_OF_MAX * flux.iter().fold(0.0f32, |a, &b| a.max(b))).max(1e-4);
    (1..rows)
        .filter(|&r| {
            let near = r.saturating_sub(2)..(r + 3).min(rows);
            let local = r.saturating_sub(window)..(r + window + 1).min(rows);
            let mean = flux[local.clone()].iter().sum::<f32>() / local.len() as f32;
            flux[r] >= floor && flux[r] >= ONSET_RATIO * mean && near.clone().all(|q| flux[q] <= flux[r])
        })
        .collect()
}

/// A weight per row: 1 from one frame before an onset, decaying to `settings.onset_floor`.
fn onset_weights(block: &Block, p: &[f32], settings: &HpssSettings) -> Vec<f32> {
    let hits = onsets(block, p);
    let seconds_per_row = block.hop as f64 / block.sample_rate as f64;
    let floor = settings.onset_floor.clamp(0.0, 1.0);
    (0..block.rows)
        .map(|r| {
            let since = hits
                .iter()
                .filter(|&&o| o <= r + 1)
                .map(|&o| (r as f64 - o as f64).max(0.0) * seconds_per_row)
                .fold(f64::INFINITY, f64::min);
            let decay = (-since / settings.onset_decay_s.max(1e-3)).exp() as f32;
            floor + (1.0 - floor) * decay
        })
        .collect()
}

/// `x^power`, with the Wiener case (2) as a plain product.
fn pow(x: f32, power: f32) -> f32 {
    if power == 2.0 { x * x } else { x.powf(power) }
}

/// The median of `values` (reordered); the upper middle for even counts.
fn median(values: &mut [f32]) -> f32 {
    let mid = values.len() / 2;
    *values.select_nth_unstable_by(mid, f32::total_cmp).1
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 44_100;

    /// A 440 Hz tone (faded in and out over 50 ms) with a click (a 2 ms noise burst) every half
    /// second from 0.25 s.
    fn tone_and_clicks(seconds: f64) -> (StereoAudio, Vec<f32>, Vec<f32>) {
        let n = (seconds * RATE as f64) as usize;
        let fade = |i: usize| (i.min(n - i) as f64 / (0.05 * RATE as f64)).min(1.0);
        let tone: Vec<f32> = (0..n)
            .map(|i| (0.3 * fade(i) * (i as f64 / RATE as f64 * 440.0 * std::f64::consts::TAU).sin()) as f32)
            .collect();
        let mut state = 99u32;
        let mut clicks = vec![0.0f32; n];
        for start in (RATE as usize / 4..n).step_by(RATE as usize / 2) {
            for (j, c) in clicks[start..(start + 88).min(n)].iter_mut().enumerate() {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *c = ((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 1.6 * (1.0 - j as f32 / 88.0);
            }
        }
        let mix: Vec<f32> = tone.iter().zip(&clicks).map(|(a, b)| a + b).collect();
        (StereoAudio { sample_rate: RATE, left: mix.clone(), right: mix }, tone, clicks)
    }

    fn energy(x: &[f32]) -> f64 {
        x.iter().map(|&v| v as f64 * v as f64).sum()
    }

    fn sdr(reference: &[f32], estimate: &[f32]) -> f64 {
        let err: Vec<f32> = reference.iter().zip(estimate).map(|(a, b)| a - b).collect();
        10.0 * (energy(reference) / energy(&err).max(1e-20)).log10()
    }

    #[test]
    fn clicks_go_to_the_drums_and_the_tone_stays() {
        let (mix, tone, clicks) = tone_and_clicks(4.0);
        let drums = separate_drums(&mix, &HpssSettings::default()).unwrap();
        let rest: Vec<f32> = mix.left.iter().zip(&drums.left).map(|(a, b)| a - b).collect();
        let (d, r) = (sdr(&clicks, &drums.left), sdr(&tone, &rest));
        // The mix itself as either estimate scores about 0 dB.
        assert!(d > 6.0, "drums SDR {d:.1} dB");
        assert!(r > 10.0, "tone SDR {r:.1} dB");
    }

    #[test]
    fn onsets_are_found_at_the_clicks() {
        let (mix, ..) = tone_and_clicks(3.0);
        let layout = layout(RATE, &HpssSettings::default());
        let mut found = Vec::new();
        masking::extract(&mix, &layout, |b, out| {
            let (_, p) = medians(b, &HpssSettings::default(), &layout);
            for r in onsets(b, &p) {
                if r >= b.before && r < b.before + b.count {
                    found.push(b.seconds(r));
                }
            }
            out.fill(0.0);
            Ok(())
        })
        .unwrap();
        let expected: Vec<f64> = (0..6).map(|i| 0.25 + 0.5 * i as f64).collect();
        assert_eq!(found.len(), expected.len(), "onsets at {found:?}");
        for (f, e) in found.iter().zip(&expected) {
            assert!((f - e).abs() < 0.03, "onset at {f:.3} s, expected {e:.3} s");
        }
    }

    #[test]
    fn silence_gives_silence() {
        let quiet = StereoAudio { sample_rate: RATE, left: vec![0.0; 20_000], right: vec![0.0; 20_000] };
        let drums = separate_drums(&quiet, &HpssSettings::default()).unwrap();
        assert!(drums.left.iter().chain(&drums.right).all(|&x| x == 0.0));
    }
}
