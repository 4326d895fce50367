//! Waveform summaries for the editor: min/max pairs over fixed-size chunks, computed off the GUI
//! thread and shared behind `Arc`.

/// Min and max of each chunk of `frames_per_peak` frames.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Peaks {
    /// Song sample of the first frame summarised.
    pub start: i64,
    /// Frames per min/max pair.
    pub frames_per_peak: usize,
    /// The sample rate of the summarised audio.
    pub sample_rate: f64,
    /// Lowest sample of each chunk.
    pub min: Vec<f32>,
    /// Highest sample of each chunk.
    pub max: Vec<f32>,
}

impl Peaks {
    /// Summarises `samples` (non-finite samples count as silence).
    pub fn of(samples: &[f32], frames_per_peak: usize, start: i64, sample_rate: f64) -> Self {
        let frames_per_peak = frames_per_peak.max(1);
        let (min, max) = samples
            .chunks(frames_per_peak)
            .map(|chunk| {
                chunk.iter().filter(|v| v.is_finite()).fold((0.0f32, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)))
            })
            .unzip();
        Peaks { start, frames_per_peak, sample_rate, min, max }
    }

    /// Sets chunk `index` to the extremes of `samples` (every channel's frames of that chunk),
    /// growing the summary with silent chunks when it lies past the end.
    pub fn set_chunk(&mut self, index: usize, samples: &[f32]) {
        if index >= self.min.len() {
            self.min.resize(index + 1, 0.0);
            self.max.resize(index + 1, 0.0);
        }
        let (lo, hi) =
            samples.iter().filter(|v| v.is_finite()).fold((0.0f32, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        self.min[index] = lo;
        self.max[index] = hi;
    }

    /// Seconds of audio summarised.
    pub fn seconds(&self) -> f64 {
        (self.min.len() * self.frames_per_peak) as f64 / self.sample_rate.max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_hold_each_chunks_extremes_and_ignore_nan() {
        let samples = [0.1, -0.5, 0.3, f32::NAN, 0.9, -0.2, 0.0];
        let p = Peaks::of(&samples, 3, 100, 48_000.0);
        assert_eq!(p.min, vec![-0.5, -0.2, 0.0]);
        assert_eq!(p.max, vec![0.3, 0.9, 0.0]);
        assert_eq!(p.start, 100);
    }

    #[test]
    fn a_chunk_can_be_replaced_or_added_past_the_end() {
        let mut p = Peaks::of(&[0.1, -0.5, 0.3], 3, 0, 48_000.0);
        p.set_chunk(0, &[0.2, 0.4, f32::INFINITY]);
        p.set_chunk(2, &[-0.7, 0.1]);
        assert_eq!(p.min, vec![0.0, 0.0, -0.7]);
        assert_eq!(p.max, vec![0.4, 0.0, 0.1]);
    }
}
