//! WAV reading and writing (`hound`), for imported stems and the audio cache.

use std::path::Path;

use crate::stem::StereoAudio;

/// Reads a WAV file of any bit depth into stereo `f32` (mono is duplicated, extra channels
/// beyond the first two are dropped, NaN and infinite samples become silence).
pub fn read_wav(path: &Path) -> Result<StereoAudio, String> {
    let reader =
        hound::WavReader::open(path).map_err(|e| format!("{}: not a readable WAV file ({e})", path.display()))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(format!(
            "{}: WAV header names {} channels at {} Hz",
            path.display(),
            spec.channels,
            spec.sample_rate
        ));
    }
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.into_samples::<f32>().collect::<Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader.into_samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<Result<_, _>>()
        }
    }
    .map_err(|e| format!("{}: WAV data is truncated or corrupt ({e})", path.display()))?;

    let channels = spec.channels as usize;
    let clean = |v: f32| if v.is_finite() { v } else { 0.0 };
    let left: Vec<f32> = samples.chunks_exact(channels).map(|f| clean(f[0])).collect();
    let right: Vec<f32> = samples.chunks_exact(channels).map(|f| clean(f[channels.min(2) - 1])).collect();
    Ok(StereoAudio { sample_rate: spec.sample_rate, left, right })
}

/// Writes stereo audio as a 32-bit float WAV file (lossless for our `f32` samples).
pub fn write_wav(path: &Path, audio: &StereoAudio) -> Result<(), String> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: audio.sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let fail = |e: hound::Error| format!("{}: cannot write WAV ({e})", path.display());
    let mut writer = hound::WavWriter::create(path, spec).map_err(fail)?;
    for (l, r) in audio.left.iter().zip(&audio.right) {
        writer.write_sample(*l).map_err(fail)?;
        writer.write_sample(*r).map_err(fail)?;
    }
    writer.finalize().map_err(fail)
}

/// A 32-bit float stereo WAV file written a piece at a time: samples go to `<path>.partial`, and
/// the file takes its real name only in [`StereoWavWriter::finish`]; dropped unfinished (an edit
/// that failed half way), the partial file is removed, so no truncated file is left behind.
pub struct StereoWavWriter {
    /// The final name.
    path: std::path::PathBuf,
    /// Where samples are written until [`StereoWavWriter::finish`].
    partial: std::path::PathBuf,
    /// The open writer; `None` once finished.
    writer: Option<hound::WavWriter<std::io::BufWriter<std::fs::File>>>,
}

impl StereoWavWriter {
    /// Starts `path` (written as `<path>.partial` until finished) at `sample_rate`.
    pub fn create(path: &Path, sample_rate: u32) -> Result<StereoWavWriter, String> {
        let spec =
            hound::WavSpec { channels: 2, sample_rate, bits_per_sample: 32, sample_format: hound::SampleFormat::Float };
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        let writer = hound::WavWriter::create(&partial, spec)
            .map_err(|e| format!("{}: cannot write WAV ({e})", path.display()))?;
        Ok(StereoWavWriter { path: path.to_path_buf(), partial, writer: Some(writer) })
    }

    /// Appends frames (pairs of `left` and `right` samples).
    pub fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), String> {
        let path = &self.path;
        let fail = |e: hound::Error| format!("{}: cannot write WAV ({e})", path.display());
        let writer = self.writer.as_mut().ok_or_else(|| format!("{}: already finished", path.display()))?;
        for (l, r) in left.iter().zip(right) {
            writer.write_sample(*l).map_err(fail)?;
            writer.write_sample(*r).map_err(fail)?;
        }
        Ok(())
    }

    /// Completes the header and gives the file its name.
    pub fn finish(mut self) -> Result<(), String> {
        let fail = |e: &dyn std::fmt::Display| format!("{}: cannot write WAV ({e})", self.path.display());
        if let Some(writer) = self.writer.take()
            && let Err(e) = writer.finalize()
        {
            let _ = std::fs::remove_file(&self.partial);
            return Err(fail(&e));
        }
        std::fs::rename(&self.partial, &self.path).map_err(|e| fail(&e))
    }
}

impl Drop for StereoWavWriter {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            drop(writer);
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}
