//! The pipeline the signal-processing separators share ([`super::hpss`], [`super::score_informed`]):
//! an STFT at the input's own rate, cut into blocks of frames with context frames on both sides (so
//! filters along time see their neighbours), one mask per time-frequency cell from the method, and
//! overlap-add back. Besides the input and the extracted stem only one block of spectra is alive,
//! however long the input.

use realfft::num_complex::Complex32;

use super::stft::Stft;
use crate::stem::StereoAudio;

/// Window length aimed at, in seconds (2048 samples at 44.1 kHz).
const WINDOW_SECONDS: f64 = 0.046;
/// Frames masked per block.
const BLOCK_FRAMES: usize = 512;

/// STFT size and blocking for one sample rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// FFT and window length (a power of two near 46 ms).
    pub n_fft: usize,
    /// Hop (a quarter window).
    pub hop: usize,
    /// Frames masked per block.
    pub block: usize,
    /// Context frames on each side of a block.
    pub context: usize,
}

impl Layout {
    /// The layout for `sample_rate` with `context` frames either side of each block.
    pub fn for_rate(sample_rate: u32, context: usize) -> Layout {
        let target = (sample_rate as f64 * WINDOW_SECONDS).max(64.0);
        let up = (target as usize).next_power_of_two();
        let n_fft = if (up as f64 / target) > (target / (up / 2) as f64) { up / 2 } else { up };
        Layout { n_fft, hop: n_fft / 4, block: BLOCK_FRAMES, context }
    }

    /// Frames (at this layout's hop) in `seconds`, rounded, at least 1.
    pub fn frames_in(&self, seconds: f64, sample_rate: u32) -> usize {
        ((seconds * sample_rate as f64 / self.hop as f64).round() as usize).max(1)
    }
}

/// One block of frames handed to a mask function.
pub struct Block<'a> {
    /// Index in the whole signal of the first row of `magnitude`.
    pub first: usize,
    /// Rows before the frames to mask (context).
    pub before: usize,
    /// Frames to mask, starting at row `before`.
    pub count: usize,
    /// Rows in `magnitude`: context, frames to mask, context.
    pub rows: usize,
    /// Bins per row.
    pub bins: usize,
    /// Magnitude of the mid (mean of both channels' magnitudes), `rows × bins`, normalised so a
    /// full-scale sine peaks near 1.
    pub magnitude: &'a [f32],
    /// Sample rate of the signal.
    pub sample_rate: u32,
    /// Samples between frames.
    pub hop: usize,
    /// FFT length.
    pub n_fft: usize,
}

impl Block<'_> {
    /// Time in seconds of the centre of row `row`.
    pub fn seconds(&self, row: usize) -> f64 {
        ((self.first + row) * self.hop) as f64 / self.sample_rate as f64
    }

    /// Frequency in Hz of bin `k`.
    pub fn hz(&self, k: usize) -> f64 {
        k as f64 * self.sample_rate as f64 / self.n_fft as f64
    }

    /// Width of one bin in Hz.
    pub fn bin_hz(&self) -> f64 {
        self.sample_rate as f64 / self.n_fft as f64
    }
}

/// The stem `mask` selects from `audio`: the STFT of each channel times the mask (one value in 0..1
/// per cell, written by `mask` into `count × bins` for the block's frames to mask, shared by both
/// channels), overlap-added back at the input's rate and length.
pub fn extract(
    audio: &StereoAudio,
    layout: &Layout,
    mut mask: impl FnMut(&Block, &mut [f32]) -> Result<(), String>,
) -> Result<StereoAudio, String> {
    if audio.left.len() != audio.right.len() {
        return Err("the two channels differ in length".into());
    }
    let len = audio.frames();
    let mut out = StereoAudio { sample_rate: audio.sample_rate, left: vec![0.0; len], right: vec![0.0; len] };
    if len == 0 {
        return Ok(out);
    }
    let mut stft = Stft::with_size(layout.n_fft, layout.hop);
    let (bins, frames) = (stft.bins(), stft.frame_count(len));
    let max_rows = layout.block + 2 * layout.context;
    let mut spectra = vec![Complex32::default(); 2 * layout.block * bins];
    let mut magnitude = vec![0.0f32; max_rows * bins];
    let mut masks = vec![0.0f32; layout.block * bins];
    let mut masked = vec![Complex32::default(); bins];
    // Hann-windowed: a sine of amplitude A peaks at A · n_fft / 4.
    let scale = 4.0 / layout.n_fft as f32;
    for start in (0..frames).step_by(layout.block) {
        let count = layout.block.min(frames - start);
        let first = start.saturating_sub(layout.context);
        let end = (start + count + layout.context).min(frames);
        let rows = end - first;
        for row in 0..rows {
            let t = first + row;
            let inner = t >= start && t < start + count;
            let mags = &mut magnitude[row * bins..(row + 1) * bins];
            for (c, signal) in [&audio.left, &audio.right].into_iter().enumerate() {
                let spectrum = stft.analyse(signal, t);
                if inner {
                    let at = (c * layout.block + t - start) * bins;
                    spectra[at..at + bins].copy_from_slice(spectrum);
                }
                for (m, z) in mags.iter_mut().zip(spectrum) {
                    let v = 0.5 * scale * z.norm();
                    *m = if c == 0 { v } else { *m + v };
                }
            }
        }
        let block = Block {
            first,
            before: start - first,
            count,
            rows,
            bins,
            magnitude: &magnitude[..rows * bins],
            sample_rate: audio.sample_rate,
            hop: layout.hop,
            n_fft: layout.n_fft,
        };
        let cells = &mut masks[..count * bins];
        cells.fill(0.0);
        mask(&block, cells)?;
        for (c, channel) in [&mut out.left, &mut out.right].into_iter().enumerate() {
            for t in 0..count {
                let at = (c * layout.block + t) * bins;
                let row = &cells[t * bins..(t + 1) * bins];
                for ((z, x), k) in masked.iter_mut().zip(&spectra[at..at + bins]).zip(row) {
                    *z = x * k.clamp(0.0, 1.0);
                }
                stft.synthesise(&masked, start + t, channel);
            }
        }
    }
    for channel in [&mut out.left, &mut out.right] {
        for (i, x) in channel.iter_mut().enumerate() {
            *x /= stft.envelope(i, frames);
        }
    }
    Ok(out)
}

/// `a - b` sample by sample at `a`'s rate and length, so `b + (a - b)` gives `a` back.
pub fn minus(a: &StereoAudio, b: &StereoAudio) -> StereoAudio {
    let sub = |x: &[f32], y: &[f32]| x.iter().enumerate().map(|(i, v)| v - y.get(i).copied().unwrap_or(0.0)).collect();
    StereoAudio { sample_rate: a.sample_rate, left: sub(&a.left, &b.left), right: sub(&a.right, &b.right) }
}

/// Adds `gain · part` to `into` sample by sample: the rest of a mix with the part back at another
/// level (a "quieter" / "louder" edit).
pub fn add_scaled(into: &mut [f32], part: &[f32], gain: f32) {
    into.iter_mut().zip(part).for_each(|(x, p)| *x += gain * p);
}

/// The linear gain of `db` decibels.
pub fn db_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(rate: u32, frames: usize) -> StereoAudio {
        let mut state = 12345u32;
        let mut next = move || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let left = (0..frames).map(|_| next()).collect();
        let right = (0..frames).map(|_| next()).collect();
        StereoAudio { sample_rate: rate, left, right }
    }

    #[test]
    fn layouts_follow_the_rate() {
        assert_eq!(Layout::for_rate(44_100, 8).n_fft, 2048);
        assert_eq!(Layout::for_rate(48_000, 8).n_fft, 2048);
        assert_eq!(Layout::for_rate(8_000, 8).n_fft, 512);
        assert_eq!(Layout::for_rate(192_000, 8).n_fft, 8192);
    }

    #[test]
    fn a_mask_of_ones_gives_the_input_back_across_blocks() {
        for rate in [8_000, 44_100] {
            let input = noise(rate, 3 * 256 * 512 + 77);
            let layout = Layout::for_rate(rate, 5);
            let mut seen = Vec::new();
            let out = extract(&input, &layout, |b, m| {
                assert_eq!(b.rows, b.before + b.count + (b.rows - b.before - b.count));
                assert_eq!(m.len(), b.count * b.bins);
                seen.push((b.first + b.before, b.count));
                m.fill(1.0);
                Ok(())
            })
            .unwrap();
            // Every frame masked exactly once, in order.
            let mut next = 0;
            for (start, count) in seen {
                assert_eq!(start, next);
                next += count;
            }
            assert_eq!(next, 1 + input.frames() / layout.hop);
            let worst =
                input.left.iter().zip(&out.left).chain(input.right.iter().zip(&out.right)).map(|(a, b)| (a - b).abs());
            let worst = worst.fold(0.0, f32::max);
            assert!(worst < 1e-4, "{rate} Hz: worst error {worst}");
        }
    }

    #[test]
    fn empty_and_uneven_inputs() {
        let empty = StereoAudio { sample_rate: 44_100, ..Default::default() };
        let out = extract(&empty, &Layout::for_rate(44_100, 4), |_, _| Ok(())).unwrap();
        assert_eq!(out.frames(), 0);
        let uneven = StereoAudio { sample_rate: 44_100, left: vec![0.0; 10], right: vec![0.0; 9] };
        assert!(extract(&uneven, &Layout::for_rate(44_100, 4), |_, _| Ok(())).is_err());
    }
}
