//! Sentence embeddings: the MiniLM pack's tokenizer and encoder, mean pooling and L2 norm.
//!
//! The planner only needs "how close is this phrase to that one", so everything here ends in unit
//! vectors whose dot product is the cosine similarity.

use std::collections::HashMap;
use std::path::Path;

use ort::session::Session;
use ort::value::TensorRef;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::packs::{Pack, PackError, PackRegistry, TaskKind};
use crate::runtime::SessionSettings;

/// Model key of the encoder inside the embedder pack.
pub const ENCODER_KEY: &str = "encoder";
/// The tokenizer file inside the embedder pack.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// Width of one embedding (all-MiniLM-L6-v2).
pub const DIM: usize = 384;
/// Tokens per text, [CLS] and [SEP] included (the model was trained on 256).
pub const MAX_TOKENS: usize = 256;
/// Texts per encoder run.
const BATCH: usize = 64;
/// Cached phrase embeddings kept before the cache is cleared.
const CACHE_LIMIT: usize = 50_000;

/// Anything that turns phrases into unit vectors; the planner takes this so it can be tested
/// without a model.
pub trait Embed {
    /// Identifies the model, so cached prototype vectors are never mixed between models.
    fn model_id(&self) -> &str;
    /// One L2-normalised vector per text, in order.
    fn embed(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String>;
}

/// all-MiniLM-L6-v2 on ONNX Runtime, with a phrase cache.
pub struct Embedder {
    /// The encoder session (built and checked against the manifest by the pack).
    session: Session,
    /// WordPiece tokenizer with truncation at [`MAX_TOKENS`] and padding to the longest text.
    tokenizer: Tokenizer,
    /// `pack name@version:sha256` of the encoder.
    id: String,
    /// Vectors of phrases already seen.
    cache: HashMap<String, Vec<f32>>,
}

impl Embedder {
    /// The first installed "embedder" pack, with the registry's session settings.
    pub fn from_registry(reg: &PackRegistry, settings: &SessionSettings) -> Result<Self, PackError> {
        Self::from_pack(reg.find(TaskKind::Embedder)?, settings)
    }

    /// Builds the encoder session and reads the tokenizer from `pack`.
    pub fn from_pack(pack: &Pack, settings: &SessionSettings) -> Result<Self, PackError> {
        let built = pack.load_model(ENCODER_KEY, settings)?;
        let spec = pack.manifest.model(ENCODER_KEY).expect("load_model found it");
        let tokenizer = load_tokenizer(&pack.dir.join(TOKENIZER_FILE)).map_err(|reason| PackError::Model {
            pack: pack.name().into(),
            file: TOKENIZER_FILE.into(),
            reason,
        })?;
        Ok(Embedder {
            session: built.session,
            tokenizer,
            id: format!("{}@{}:{}", pack.name(), pack.manifest.version, spec.sha256),
            cache: HashMap::new(),
        })
    }

    /// Runs the encoder on texts that are not cached yet.
    fn encode(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        let encodings = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| e.to_string())?;
        let rows = encodings.len();
        let cols = encodings.iter().map(|e| e.get_ids().len()).max().unwrap_or(0);
        if rows == 0 || cols == 0 {
            return Ok(vec![vec![0.0; DIM]; rows]);
        }
        let mut ids = vec![0i64; rows * cols];
        let mut mask = vec![0i64; rows * cols];
        let mut types = vec![0i64; rows * cols];
        for (r, e) in encodings.iter().enumerate() {
            for (c, ((&i, &m), &t)) in e.get_ids().iter().zip(e.get_attention_mask()).zip(e.get_type_ids()).enumerate()
            {
                ids[r * cols + c] = i64::from(i);
                mask[r * cols + c] = i64::from(m);
                types[r * cols + c] = i64::from(t);
            }
        }
        let shape = [rows, cols];
        let outputs = self
            .session
            .run(ort::inputs![
                "input_ids" => TensorRef::from_array_view((shape, &ids[..])).map_err(|e| e.to_string())?,
                "attention_mask" => TensorRef::from_array_view((shape, &mask[..])).map_err(|e| e.to_string())?,
                "token_type_ids" => TensorRef::from_array_view((shape, &types[..])).map_err(|e| e.to_string())?,
            ])
            .map_err(|e| e.to_string())?;
        let hidden = outputs.get("last_hidden_state").ok_or("model output `last_hidden_state` missing")?;
        let (shape, data) = hidden.try_extract_tensor::<f32>().map_err(|e| e.to_string())?;
        let want = [rows as i64, cols as i64, DIM as i64];
        if shape[..] != want[..] {
            return Err(format!("`last_hidden_state` has shape {:?}, expected {want:?}", &shape[..]));
        }
        Ok((0..rows)
            .map(|r| mean_pool(&data[r * cols * DIM..(r + 1) * cols * DIM], &mask[r * cols..(r + 1) * cols]))
            .collect())
    }
}

impl Embed for Embedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn embed(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        let mut missing: Vec<&str> = texts.iter().copied().filter(|t| !self.cache.contains_key(*t)).collect();
        missing.sort_unstable();
        missing.dedup();
        if self.cache.len() + missing.len() > CACHE_LIMIT {
            self.cache.clear();
        }
        for chunk in missing.chunks(BATCH) {
            let vectors = self.encode(chunk)?;
            for (t, v) in chunk.iter().zip(vectors) {
                self.cache.insert((*t).to_string(), v);
            }
        }
        Ok(texts.iter().map(|t| self.cache[*t].clone()).collect())
    }
}

/// Reads `tokenizer.json` and replaces its fixed 128-token padding with "pad to the longest".
fn load_tokenizer(path: &Path) -> Result<Tokenizer, String> {
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    tokenizer
        .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
        .map_err(|e| e.to_string())?;
    tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..Default::default() }));
    Ok(tokenizer)
}

/// Averages the token vectors the mask keeps, then scales to unit length.
fn mean_pool(hidden: &[f32], mask: &[i64]) -> Vec<f32> {
    let mut sum = vec![0.0f32; DIM];
    let mut count = 0.0f32;
    for (token, &m) in hidden.chunks_exact(DIM).zip(mask) {
        if m != 0 {
            sum.iter_mut().zip(token).for_each(|(s, &x)| *s += x);
            count += 1.0;
        }
    }
    sum.iter_mut().for_each(|s| *s /= count.max(1.0));
    let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        sum.iter_mut().for_each(|s| *s /= norm);
    }
    sum
}

/// Dot product of two unit vectors: their cosine similarity.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
