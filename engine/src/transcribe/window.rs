//! Windowing the 22050 Hz signal like `get_audio_input` and stitching the outputs like
//! `unwrap_output`, incrementally so long audio is never windowed all at once.

use super::constants::*;

/// Cuts a stream of samples into model windows: `OVERLAP_LEN / 2` zeros in front, windows of
/// `AUDIO_N_SAMPLES` every `HOP_SIZE`, the last ones zero-padded.
#[derive(Debug)]
pub struct Windower {
    /// Samples from the current window start onward (front padding included).
    buf: Vec<f32>,
    /// Real samples pushed so far.
    pushed: usize,
}

impl Default for Windower {
    fn default() -> Self {
        Self::new()
    }
}

impl Windower {
    /// A windower with the front padding already in place.
    pub fn new() -> Self {
        Windower { buf: vec![0.0; OVERLAP_LEN / 2], pushed: 0 }
    }

    /// Real (unpadded) samples pushed so far.
    pub fn pushed(&self) -> usize {
        self.pushed
    }

    /// Appends samples and hands every complete window to `emit`.
    pub fn push(&mut self, samples: &[f32], mut emit: impl FnMut(&[f32])) {
        self.pushed += samples.len();
        self.buf.extend_from_slice(samples);
        while self.buf.len() >= AUDIO_N_SAMPLES {
            emit(&self.buf[..AUDIO_N_SAMPLES]);
            self.advance();
        }
    }

    /// Emits the remaining windows (those starting before the end of the padded signal).
    pub fn finish(&mut self, mut emit: impl FnMut(&[f32])) {
        if self.pushed == 0 {
            return;
        }
        let mut window = vec![0.0f32; AUDIO_N_SAMPLES];
        while !self.buf.is_empty() {
            let n = self.buf.len().min(AUDIO_N_SAMPLES);
            window[..n].copy_from_slice(&self.buf[..n]);
            window[n..].fill(0.0);
            emit(&window);
            self.advance();
        }
    }

    /// Moves the window start on by one hop.
    fn advance(&mut self) {
        let drop = HOP_SIZE.min(self.buf.len());
        self.buf.drain(..drop);
    }
}

/// Number of frames the reference keeps for `n_samples` of audio: `floor(n * (86 / 22050))`.
pub fn n_output_frames(n_samples: usize) -> usize {
    (n_samples as f64 * (ANNOTATIONS_FPS as f64 / SAMPLE_RATE as f64)).floor() as usize
}

/// The stitched model outputs, `frames × bins`, row-major.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Posteriorgram {
    /// Number of frames (rows).
    pub frames: usize,
    /// Onset activations, `frames × 88`.
    pub onset: Vec<f32>,
    /// Note (frame) activations, `frames × 88`.
    pub note: Vec<f32>,
    /// Pitch contour, `frames × 264`; empty when pitch bends were not wanted.
    pub contour: Vec<f32>,
}

impl Posteriorgram {
    /// Appends one window's outputs (`172 × bins` each) minus `N_OLAP` frames at both ends.
    pub fn append_window(&mut self, onset: &[f32], note: &[f32], contour: Option<&[f32]>) {
        fn keep(x: &[f32], bins: usize) -> &[f32] {
            &x[N_OLAP * bins..(ANNOT_N_FRAMES - N_OLAP) * bins]
        }
        self.onset.extend_from_slice(keep(onset, N_NOTES));
        self.note.extend_from_slice(keep(note, N_NOTES));
        if let Some(c) = contour {
            self.contour.extend_from_slice(keep(c, N_CONTOUR));
        }
        self.frames += FRAMES_PER_WINDOW;
    }

    /// Cuts the stitched output to the reference's frame count for `n_samples` of audio.
    pub fn trim(&mut self, n_samples: usize) {
        let n = n_output_frames(n_samples).min(self.frames);
        self.frames = n;
        self.onset.truncate(n * N_NOTES);
        self.note.truncate(n * N_NOTES);
        if !self.contour.is_empty() {
            self.contour.truncate(n * N_CONTOUR);
        }
    }

    /// Whether contours were kept.
    pub fn has_contour(&self) -> bool {
        !self.contour.is_empty() || self.frames == 0
    }
}
