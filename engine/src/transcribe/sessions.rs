//! The model sessions a transcription runs on, and running a round of windows across them.
//!
//! One basic-pitch window is small (about 1 GFLOP), so ONNX Runtime's intra-op threads spend
//! much of their time waiting on each other. Running whole windows side by side on several
//! single-threaded sessions keeps every core busy instead; each window is computed by the same
//! kernels as on one session, so the output is bit-identical.

use std::sync::atomic::{AtomicUsize, Ordering};

use ort::session::Session;

use super::constants::AUDIO_N_SAMPLES;
use super::model::{self, BatchOutput};
use super::{MODEL_KEY, folded_graph};
use crate::packs::{Pack, PackError, verify};
use crate::runtime::{self, ExecutionProvider, SessionSettings, panic_message};

/// Most CPU sessions a transcription builds; more cores give each session more threads instead.
pub const MAX_CPU_SESSIONS: usize = 4;

/// Sessions and intra-op threads per session for `requested` sessions (0: one per core, up to
/// [`MAX_CPU_SESSIONS`]) on a machine with `cores` cores.
pub fn cpu_layout(requested: usize, cores: usize) -> (usize, usize) {
    let cores = cores.max(1);
    let sessions = if requested == 0 { cores.min(MAX_CPU_SESSIONS) } else { requested };
    (sessions, (cores / sessions).max(1))
}

/// Which form of the basic-pitch graph CPU sessions run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Graph {
    /// The pack's graph as it is: posteriorgrams bit-identical to the Python reference.
    Reference,
    /// The graph with its frequency-wide convolutions folded ([`folded_graph`]): about a quarter
    /// less CPU per window, posteriorgrams within 1e-6 of the reference, the same notes.
    #[default]
    Folded,
}

/// Builds the CPU sessions for `requested` side-by-side sessions (see [`cpu_layout`]) from the
/// transcriber `pack`, running its graph as it is.
pub fn cpu_sessions(pack: &Pack, requested: usize) -> Result<Vec<Session>, PackError> {
    Ok(cpu_sessions_with(pack, requested, Graph::Reference)?.0)
}

/// Builds the CPU sessions for `requested` side-by-side sessions running `graph`, and says which
/// graph they run: a pack whose graph the rewrite does not know runs as it is.
pub fn cpu_sessions_with(pack: &Pack, requested: usize, graph: Graph) -> Result<(Vec<Session>, Graph), PackError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (n, threads) = cpu_layout(requested, cores);
    let settings = SessionSettings { provider: ExecutionProvider::Cpu, intra_threads: threads };
    let reference = || -> Result<Vec<Session>, PackError> {
        (0..n).map(|_| pack.load_model(MODEL_KEY, &settings).map(|b| b.session)).collect()
    };
    if graph == Graph::Reference {
        return Ok((reference()?, Graph::Reference));
    }
    let spec = pack
        .manifest
        .model(MODEL_KEY)
        .ok_or_else(|| PackError::NoModel { pack: pack.name().into(), key: MODEL_KEY.into() })?;
    let folded =
        std::fs::read(pack.dir.join(&spec.file)).map_err(|e| e.to_string()).and_then(|m| folded_graph::fold(&m));
    let Ok(folded) = folded else {
        return Ok((reference()?, Graph::Reference));
    };
    if runtime::loaded().is_none() {
        runtime::init_default()?;
    }
    let model_error = |reason: String| PackError::Model { pack: pack.name().into(), file: spec.file.clone(), reason };
    let mut sessions = Vec::with_capacity(n);
    for _ in 0..n {
        let session = runtime::build_cpu_session_from_memory(&folded, &settings).map_err(model_error)?;
        verify::check_io(&session, spec).map_err(|reason| PackError::Graph {
            pack: pack.name().into(),
            file: spec.file.clone(),
            reason,
        })?;
        sessions.push(session);
    }
    Ok((sessions, Graph::Folded))
}

/// Runs `windows` (whole windows, flat) in batches of `batch` windows, spread over `sessions`
/// (each takes the next batch when it is free), and returns the outputs in window order: the
/// model calls alone, for measuring them (transcriptions stream through [`super::pipeline`]).
pub fn run_round(sessions: &mut [Session], windows: &[f32], batch: usize) -> Result<Vec<BatchOutput>, String> {
    let batches: Vec<&[f32]> = windows.chunks(batch.max(1) * AUDIO_N_SAMPLES).collect();
    let Some((first, others)) = sessions.split_first_mut() else {
        return Err("no model session to run the transcriber on".into());
    };
    if others.is_empty() || batches.len() == 1 {
        return batches.iter().map(|b| model::run(first, b)).collect();
    }
    let next = AtomicUsize::new(0);
    let work = |session: &mut Session| {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(b) = batches.get(i) else { return done };
            done.push((i, model::run(session, b)));
        }
    };
    let mut results = std::thread::scope(|scope| {
        let helpers: Vec<_> = others.iter_mut().map(|s| scope.spawn(|| work(s))).collect();
        let mut results = work(first);
        for h in helpers {
            // Joined by hand, so a panic in the model comes back as an error, not a panic.
            match h.join() {
                Ok(done) => results.extend(done),
                Err(panic) => results.push((0, Err(format!("model thread failed: {}", panic_message(&panic))))),
            }
        }
        results
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_uses_every_core_with_at_most_four_sessions() {
        assert_eq!(cpu_layout(0, 1), (1, 1));
        assert_eq!(cpu_layout(0, 2), (2, 1));
        assert_eq!(cpu_layout(0, 8), (4, 2));
        assert_eq!(cpu_layout(0, 16), (4, 4));
        assert_eq!(cpu_layout(1, 2), (1, 2));
        assert_eq!(cpu_layout(3, 2), (3, 1));
        assert_eq!(cpu_layout(0, 0), (1, 1));
    }
}
