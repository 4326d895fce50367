//! Sample-rate conversion of whole stems (`rubato`), run off the audio thread.

use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Resampler};

use crate::stem::StereoAudio;

/// Returns `audio` at `sample_rate` (a copy when it already is).
pub fn resample(audio: &StereoAudio, sample_rate: u32) -> Result<StereoAudio, String> {
    if audio.sample_rate == sample_rate || audio.frames() == 0 {
        return Ok(StereoAudio { sample_rate, ..audio.clone() });
    }
    let fail = |e: &dyn std::fmt::Display| format!("cannot resample {} Hz to {sample_rate} Hz: {e}", audio.sample_rate);
    let mut resampler = Fft::<f32>::new(audio.sample_rate as usize, sample_rate as usize, 1024, 2, FixedSync::Input)
        .map_err(|e| fail(&e))?;
    let channels = [audio.left.clone(), audio.right.clone()];
    let input = SequentialSliceOfVecs::new(&channels, 2, audio.frames()).map_err(|e| fail(&e))?;
    let interleaved = resampler.process_all(&input, audio.frames(), None).map_err(|e| fail(&e))?.take_data();
    let (left, right) = interleaved.chunks_exact(2).map(|f| (f[0], f[1])).unzip();
    Ok(StereoAudio { sample_rate, left, right })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, seconds: f32) -> StereoAudio {
        let n = (rate as f32 * seconds) as usize;
        let left: Vec<f32> = (0..n).map(|i| (i as f32 / rate as f32 * hz * std::f32::consts::TAU).sin()).collect();
        StereoAudio { sample_rate: rate, right: left.clone(), left }
    }

    #[test]
    fn a_sine_keeps_its_pitch_length_and_level() {
        let src = sine(44_100, 440.0, 1.0);
        let out = resample(&src, 48_000).unwrap();
        assert!((out.frames() as i64 - 48_000).abs() <= 2, "{} frames", out.frames());
        // Compare with the ideal sine at the new rate, away from the edges.
        let ideal = sine(48_000, 440.0, 1.0);
        let err = (4800..43_200).map(|i| (out.left[i] - ideal.left[i]).abs()).fold(0.0, f32::max);
        assert!(err < 1e-2, "max error {err}");
        assert_eq!(out.left, out.right);
    }

    #[test]
    fn same_rate_and_empty_audio_pass_through() {
        let src = sine(48_000, 100.0, 0.1);
        assert_eq!(resample(&src, 48_000).unwrap(), src);
        let empty = StereoAudio { sample_rate: 22_050, ..Default::default() };
        assert_eq!(resample(&empty, 96_000).unwrap().frames(), 0);
    }
}
