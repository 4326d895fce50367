//! Running the Spleeter 2stems graph on one patch of magnitudes.

use ort::session::Session;
use ort::value::TensorRef;

use super::{BINS, PATCH_FRAMES};

/// The pack's model key.
pub const MODEL_KEY: &str = "unet";
/// Graph input: |STFT| `[batch, 2, frames, 1024]`.
pub const INPUT: &str = "magnitude";
/// Graph output: the vocals' ratio mask, same shape.
pub const OUTPUT_VOCALS: &str = "vocals_mask";
/// Graph output: the accompaniment's ratio mask, same shape.
pub const OUTPUT_ACCOMPANIMENT: &str = "accompaniment_mask";

/// One patch's ratio masks, each `2 × PATCH_FRAMES × BINS`, row-major.
pub struct Masks {
    /// Vocals.
    pub vocals: Vec<f32>,
    /// Accompaniment.
    pub accompaniment: Vec<f32>,
}

/// Runs the graph on `magnitude` (`2 × PATCH_FRAMES × BINS`) and copies both masks out.
pub fn run(session: &mut Session, magnitude: &[f32]) -> Result<Masks, String> {
    let shape = [1usize, 2, PATCH_FRAMES, BINS];
    if magnitude.len() != shape.iter().product::<usize>() {
        return Err(format!("patch of {} values, expected {shape:?}", magnitude.len()));
    }
    let input = TensorRef::from_array_view((shape, magnitude)).map_err(|e| e.to_string())?;
    let outputs = session.run(ort::inputs![INPUT => input]).map_err(|e| e.to_string())?;
    let take = |name: &str| -> Result<Vec<f32>, String> {
        let value = outputs.get(name).ok_or_else(|| format!("model output `{name}` missing"))?;
        let (got, data) = value.try_extract_tensor::<f32>().map_err(|e| e.to_string())?;
        if got.iter().map(|&d| d as usize).ne(shape) {
            return Err(format!("model output `{name}` has shape {:?}, expected {shape:?}", &got[..]));
        }
        Ok(data.to_vec())
    };
    Ok(Masks { vocals: take(OUTPUT_VOCALS)?, accompaniment: take(OUTPUT_ACCOMPANIMENT)? })
}
