//! Short-time Fourier transform with a periodic Hann window, centred with zero padding
//! (torch.stft `center=True, pad_mode="constant"`), and the matching overlap-add inverse
//! (torch.istft: window-weighted overlap-add divided by the summed squared window). [`Stft::new`]
//! is Spleeter's (4096, hop 1024); [`Stft::with_size`] any other power-of-two size.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Spleeter's FFT length and window length.
pub const N_FFT: usize = 4096;
/// Spleeter's hop between frames.
pub const HOP: usize = 1024;
/// Bins of Spleeter's one-sided spectrum.
pub const SPECTRUM: usize = N_FFT / 2 + 1;

/// Forward and inverse transforms with their scratch space, planned once.
pub struct Stft {
    /// FFT and window length.
    n_fft: usize,
    /// Hop between frames.
    hop: usize,
    /// Periodic Hann window (`torch.hann_window(n_fft)`).
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
    /// Plans Spleeter's transforms (4096, hop 1024).
    pub fn new() -> Self {
        Self::with_size(N_FFT, HOP)
    }

    /// Plans transforms of `n_fft` samples (even) with frames `hop` apart (at most `n_fft`).
    pub fn with_size(n_fft: usize, hop: usize) -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(n_fft);
        let inverse = planner.plan_fft_inverse(n_fft);
        let scratch = vec![Complex32::default(); forward.get_scratch_len().max(inverse.get_scratch_len())];
        let window =
            (0..n_fft).map(|n| (0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / n_fft as f64).cos()) as f32).collect();
        Self {
            n_fft,
            hop,
            window,
            forward,
            inverse,
            frame: vec![0.0; n_fft],
            spectrum: vec![Complex32::default(); n_fft / 2 + 1],
            scratch,
        }
    }

    /// Number of centred Spleeter frames for `len` samples (torch: `1 + len / hop`).
    pub fn frames(len: usize) -> usize {
        1 + len / HOP
    }

    /// Number of centred frames of this transform for `len` samples.
    pub fn frame_count(&self, len: usize) -> usize {
        1 + len / self.hop
    }

    /// Bins of the one-sided spectrum.
    pub fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Samples between frames.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// FFT length.
    pub fn n_fft(&self) -> usize {
        self.n_fft
    }

    /// The one-sided spectrum of frame `t` of `signal` (centred at sample `t * HOP`, zeros outside).
    pub fn analyse(&mut self, signal: &[f32], t: usize) -> &[Complex32] {
        let start = (t * self.hop) as isize - (self.n_fft / 2) as isize;
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
        let last = self.spectrum.len() - 1;
        self.spectrum[last].im = 0.0;
        self.inverse
            .process_with_scratch(&mut self.spectrum, &mut self.frame, &mut self.scratch)
            .expect("buffers sized by the plan");
        let start = (t * self.hop) as isize - (self.n_fft / 2) as isize;
        let scale = 1.0 / self.n_fft as f32;
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
        let centre = i + self.n_fft / 2;
        let last = (centre / self.hop).min(frames.saturating_sub(1));
        let first = centre.saturating_sub(self.n_fft - 1).div_ceil(self.hop);
        (first..=last).map(|t| self.window[centre - t * self.hop].powi(2)).sum()
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
    fn other_sizes_give_the_signal_back_too() {
        let len = 5000;
        let signal: Vec<f32> = (0..len).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
        let mut stft = Stft::with_size(512, 128);
        let frames = stft.frame_count(len);
        let mut out = vec![0.0; len];
        for t in 0..frames {
            let spec = stft.analyse(&signal, t).to_vec();
            assert_eq!(spec.len(), stft.bins());
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
