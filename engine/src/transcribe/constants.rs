//! basic-pitch's constants (`basic_pitch/constants.py`, `inference.py`, `note_creation.py` 0.4.0).

/// Model input sample rate.
pub const SAMPLE_RATE: u32 = 22050;
/// Hop between posteriorgram frames, in samples.
pub const FFT_HOP: usize = 256;
/// Frames per second as the reference computes it (`22050 // 256`).
pub const ANNOTATIONS_FPS: usize = SAMPLE_RATE as usize / FFT_HOP;
/// Frames the model outputs per window (2 s at 86 fps).
pub const ANNOT_N_FRAMES: usize = ANNOTATIONS_FPS * 2;
/// Samples per model window (2 s minus one hop).
pub const AUDIO_N_SAMPLES: usize = SAMPLE_RATE as usize * 2 - FFT_HOP;
/// Frames shared by consecutive windows.
pub const N_OVERLAPPING_FRAMES: usize = 30;
/// Samples shared by consecutive windows.
pub const OVERLAP_LEN: usize = N_OVERLAPPING_FRAMES * FFT_HOP;
/// Window hop in samples.
pub const HOP_SIZE: usize = AUDIO_N_SAMPLES - OVERLAP_LEN;
/// Frames dropped from each side of every window's output when stitching.
pub const N_OLAP: usize = N_OVERLAPPING_FRAMES / 2;
/// Frames each window contributes after stitching.
pub const FRAMES_PER_WINDOW: usize = ANNOT_N_FRAMES - 2 * N_OLAP;
/// Pitch bins of the onset and note outputs (piano keys).
pub const N_NOTES: usize = 88;
/// Pitch bins of the contour output (3 per semitone).
pub const N_CONTOUR: usize = 264;
/// Contour bins per semitone.
pub const CONTOURS_BINS_PER_SEMITONE: usize = 3;
/// MIDI number of the lowest bin (A0).
pub const MIDI_OFFSET: u8 = 21;
/// Highest pitch bin index.
pub const MAX_FREQ_IDX: usize = 87;
/// Frequency of the lowest bin in Hz.
pub const BASE_FREQUENCY: f64 = 27.5;

/// Model input name.
pub const INPUT: &str = "serving_default_input_2:0";
/// Onset output name, `[b, 172, 88]`.
pub const OUTPUT_ONSET: &str = "StatefulPartitionedCall:2";
/// Note (frame) output name, `[b, 172, 88]`.
pub const OUTPUT_NOTE: &str = "StatefulPartitionedCall:1";
/// Contour output name, `[b, 172, 264]`.
pub const OUTPUT_CONTOUR: &str = "StatefulPartitionedCall:0";

/// Default onset threshold.
pub const ONSET_THRESHOLD: f64 = 0.5;
/// Default frame threshold.
pub const FRAME_THRESHOLD: f64 = 0.3;
/// Default minimum note length in milliseconds.
pub const MINIMUM_NOTE_LENGTH_MS: f64 = 127.70;
/// Frames below threshold tolerated inside a note.
pub const ENERGY_TOLERANCE: usize = 11;
/// Pitch bend search half-width in contour bins.
pub const PITCH_BEND_TOLERANCE: usize = 25;
