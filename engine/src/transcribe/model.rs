//! Running basic-pitch's `nmp.onnx` on a batch of windows.

use ort::session::Session;
use ort::value::TensorRef;

use super::constants::*;

/// One batch's outputs, each `batch × 172 × bins`, row-major.
#[derive(Debug, Default)]
pub struct BatchOutput {
    /// Onset activations.
    pub onset: Vec<f32>,
    /// Note activations.
    pub note: Vec<f32>,
    /// Contour activations.
    pub contour: Vec<f32>,
}

/// Runs the model on `windows` (`batch × AUDIO_N_SAMPLES` samples) and copies the outputs out.
pub fn run(session: &mut Session, windows: &[f32]) -> Result<BatchOutput, String> {
    let batch = windows.len() / AUDIO_N_SAMPLES;
    if batch == 0 || !windows.len().is_multiple_of(AUDIO_N_SAMPLES) {
        return Err(format!("input of {} samples is not a whole number of windows", windows.len()));
    }
    let input = TensorRef::from_array_view(([batch, AUDIO_N_SAMPLES, 1usize], windows)).map_err(|e| e.to_string())?;
    let outputs = session.run(ort::inputs![INPUT => input]).map_err(|e| e.to_string())?;
    let take = |name: &str, bins: usize| -> Result<Vec<f32>, String> {
        let value = outputs.get(name).ok_or_else(|| format!("model output `{name}` missing"))?;
        let (shape, data) = value.try_extract_tensor::<f32>().map_err(|e| e.to_string())?;
        let want = [batch as i64, ANNOT_N_FRAMES as i64, bins as i64];
        if shape[..] != want[..] {
            return Err(format!("model output `{name}` has shape {:?}, expected {want:?}", &shape[..]));
        }
        Ok(data.to_vec())
    };
    Ok(BatchOutput {
        onset: take(OUTPUT_ONSET, N_NOTES)?,
        note: take(OUTPUT_NOTE, N_NOTES)?,
        contour: take(OUTPUT_CONTOUR, N_CONTOUR)?,
    })
}
