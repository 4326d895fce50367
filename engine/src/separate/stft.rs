//! Spleeter's short-time Fourier transform: periodic Hann 4096, hop 1024, centred with zero padding
//! (torch.stft `center=True, pad_mode="constant"`), and the matching overlap-add inverse
//! (torch.istft: window-weighted overlap-add divided by the summed squared window).

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// FFT length and window length.
pub const N_FFT: usize = 4096;
/// Hop between frames.
pub const HOP: usize = 1024;
/// Bins of a one-sided spectrum.
pub const SPECTRUM: usize = N_FFT / 2 + 1;

/// Forward and inverse transforms with their scratch space, planned once.
pub struct Stft {
    /// Periodic Hann window (`torch.hann_window(4096)`).
    window: Vec<f32>,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    frame: Vec<f32>,
    spectrum: Vec<Complex32>,
    scratch: Vec<Complex32>,
}

impl Default for Stft {
    fn default() -> Self {
        Self::new()
    }
}

impl Stft {
    /// Plans the transforms.
    pub fn new() -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(N_FFT);
        let inverse = planner.plan_fft_inverse(N_FFT);
        let scratch = vec![Complex32::default(); forward.get_scratch_len().max(inverse.get_scratch_len())];
        let window =
            (0..N_FFT).map(|n| (0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / N_FFT as f64).cos()) as f32).collect();
        Self {
            window,
            forward,
            inverse,
            frame: vec![0.0; N_FFT],
            spectrum: vec![Complex32::default(); SPECTRUM],
            scratch,
        }
    }

    /// Number of centred frames for `len` samples (torch: `1 + len / hop`).
    pub fn frames(len: usize) -> usize {
        1 + len / HOP
    }

    /// The one-sided spectrum of frame `t` of `signal` (centred at sample `t * HOP`, zeros outside).
    pub fn analyse(&mut self, signal: &[f32], t: usize) -> &[Complex32] {
        let start = (t * HOP) as isize - (N_FFT / 2) as isize;
        for (n, (x, w)) in self.frame.iter_mut().zip(&self.window).enumerate() {
            let i = start + n as isize;
            *x = if i >= 0 && (i as usize) < signal.len() { signal[i as usize] * w } else { 0.0 };
        }
        self.forward
            .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
            .expect("buffers sized by the plan");
        &self.spectrum
    }

    /// Adds the windowed inverse of `spectrum` (frame `t`) into `out`, which starts at sample 0 of
    /// the signal; samples outside `out` are dropped. Divide by [`Stft::envelope`] afterwards.
    pub fn synthesise(&mut self, spectrum: &[Complex32], t: usize, out: &mut [f32]) {
        self.spectrum.copy_from_slice(spectrum);
        // A real signal's DC and Nyquist bins are real; realfft insists.
        self.spectrum[0].im = 0.0;
        self.spectrum[SPECTRUM - 1].im = 0.0;
        self.inverse
            .process_with_scratch(&mut self.spectrum, &mut self.frame, &mut self.scratch)
            .expect("buffers sized by the plan");
        let start = (t * HOP) as isize - (N_FFT / 2) as isize;
        let scale = 1.0 / N_FFT as f32;
        for (n, (x, w)) in self.frame.iter().zip(&self.window).enumerate() {
            let i = start + n as isize;
            if i >= 0 && (i as usize) < out.len() {
                out[i as usize] += x * w * scale;
            }
        }
    }

    /// The summed squared window at sample `i` over the frames `0..frames`: what overlap-add
    /// divides by.
    pub fn envelope(&self, i: usize, frames: usize) -> f32 {
        let centre = i + N_FFT / 2;
        let last = (centre / HOP).min(frames.saturating_sub(1));
        let first = centre.saturating_sub(N_FFT - 1).div_ceil(HOP);
        (first..=last).map(|t| self.window[centre - t * HOP].powi(2)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_then_synthesis_gives_the_signal_back() {
        let len = 3 * N_FFT + 777;
        let signal: Vec<f32> = (0..len).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
        let mut stft = Stft::new();
        let frames = Stft::frames(len);
        let mut out = vec![0.0; len];
        for t in 0..frames {
            let spec = stft.analyse(&signal, t).to_vec();
            stft.synthesise(&spec, t, &mut out);
        }
        let worst = (0..len).map(|i| (out[i] / stft.envelope(i, frames) - signal[i]).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-4, "worst error {worst}");
    }

    #[test]
    fn the_window_is_periodic_hann() {
        let stft = Stft::new();
        assert_eq!(stft.window[0], 0.0);
        assert!((stft.window[N_FFT / 2] - 1.0).abs() < 1e-7);
        assert!((stft.window[1] - stft.window[N_FFT - 1]).abs() < 1e-7);
    }
}
