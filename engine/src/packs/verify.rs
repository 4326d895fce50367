//! Checks a pack against reality: file digests, and the loaded graph's inputs and outputs.

use std::io::Read;
use std::path::Path;

use ort::session::Session;
use ort::value::{TensorElementType, ValueType};
use sha2::{Digest, Sha256};

use super::manifest::{DType, ModelSpec, TensorSpec};

/// Hex SHA-256 of a file, read in 1 MiB pieces. Digests are remembered for the life of the
/// process by path, length and modification time, so every plugin instance after the first
/// checks its packs without reading 100 MB of models again.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    type Key = (std::path::PathBuf, u64, Option<std::time::SystemTime>);
    static KNOWN: std::sync::Mutex<Vec<(Key, String)>> = std::sync::Mutex::new(Vec::new());
    let meta = std::fs::metadata(path)?;
    let key: Key = (path.to_path_buf(), meta.len(), meta.modified().ok());
    if let Some((_, digest)) = KNOWN.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(k, _)| *k == key) {
        return Ok(digest.clone());
    }
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest = hex::encode(hasher.finalize());
    KNOWN.lock().unwrap_or_else(|e| e.into_inner()).push((key, digest.clone()));
    Ok(digest)
}

/// Compares the session's real inputs and outputs with the manifest; returns every mismatch.
pub fn check_io(session: &Session, spec: &ModelSpec) -> Result<(), String> {
    let mut problems = Vec::new();
    let real_in: Vec<(String, &ValueType)> =
        session.inputs().iter().map(|o| (o.name().to_string(), o.dtype())).collect();
    let real_out: Vec<(String, &ValueType)> =
        session.outputs().iter().map(|o| (o.name().to_string(), o.dtype())).collect();
    compare("input", &spec.inputs, &real_in, &mut problems);
    compare("output", &spec.outputs, &real_out, &mut problems);
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

/// Compares one side (inputs or outputs), pushing a sentence per mismatch.
fn compare(side: &str, expected: &[TensorSpec], real: &[(String, &ValueType)], problems: &mut Vec<String>) {
    for spec in expected {
        let Some((_, ty)) = real.iter().find(|(n, _)| *n == spec.name) else {
            let names: Vec<&str> = real.iter().map(|(n, _)| n.as_str()).collect();
            problems.push(format!("{side} `{}` is not in the graph (graph has {names:?})", spec.name));
            continue;
        };
        let ValueType::Tensor { ty, shape, .. } = ty else {
            problems.push(format!("{side} `{}` is not a tensor in the graph", spec.name));
            continue;
        };
        if !dtype_matches(spec.dtype, *ty) {
            problems.push(format!("{side} `{}` is {ty:?} in the graph, manifest says {:?}", spec.name, spec.dtype));
        }
        let dims: Vec<i64> = shape.iter().copied().collect();
        let fits =
            dims.len() == spec.shape.len() && dims.iter().zip(&spec.shape).all(|(&g, &m)| m == -1 || g == -1 || g == m);
        if !fits {
            problems.push(format!(
                "{side} `{}` has shape {dims:?} in the graph, manifest says {:?}",
                spec.name, spec.shape
            ));
        }
    }
    for (name, _) in real {
        if !expected.iter().any(|s| &s.name == name) {
            problems.push(format!("graph {side} `{name}` is not listed in the manifest"));
        }
    }
}

/// Whether the manifest's element type names the graph's.
fn dtype_matches(m: DType, g: TensorElementType) -> bool {
    matches!(
        (m, g),
        (DType::F32, TensorElementType::Float32)
            | (DType::F16, TensorElementType::Float16)
            | (DType::I64, TensorElementType::Int64)
            | (DType::I32, TensorElementType::Int32)
            | (DType::I8, TensorElementType::Int8)
            | (DType::U8, TensorElementType::Uint8)
            | (DType::Bool, TensorElementType::Bool)
    )
}
