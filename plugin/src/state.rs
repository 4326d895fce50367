//! What the plugin saves with the DAW project besides its parameters: the project (stems, takes,
//! capture) and, write-only, what the engine was doing at the time.

use std::sync::{Arc, Weak};

use counterpart_engine::status::JobOutcome;
use counterpart_engine::{Engine, ProjectStore};
use nice_plug::params::persist::PersistentField;
use serde_json::{Value, json};

/// Reads the engine's project on save and hands a loaded one back to the engine.
pub struct ProjectField {
    store: Arc<ProjectStore>,
}

impl ProjectField {
    /// A field backed by `store`.
    pub fn new(store: Arc<ProjectStore>) -> Self {
        Self { store }
    }
}

impl PersistentField<'_, Value> for ProjectField {
    fn set(&self, new_value: Value) {
        self.store.restore_json(&new_value);
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&Value) -> R,
    {
        f(&self.store.to_json())
    }
}

/// The engine's activity when the project was saved: jobs queued and running, how the recent ones
/// ended (failures in words), notices, the status line's error and what was captured. Saved for
/// support and for host tests, which only see the plugin through its state; never loaded back.
pub struct ActivityField {
    engine: Weak<Engine>,
}

impl ActivityField {
    /// A field that reads `engine`'s status without keeping the engine alive.
    pub fn new(engine: &Arc<Engine>) -> Self {
        Self { engine: Arc::downgrade(engine) }
    }

    /// The activity as JSON (`null` once the engine is gone).
    fn to_json(&self) -> Value {
        let Some(engine) = self.engine.upgrade() else { return Value::Null };
        let status = engine.status();
        let queue: Vec<Value> = status
            .queue
            .iter()
            .map(|j| json!({ "id": j.id, "title": j.title, "stage": j.stage, "fraction": j.fraction }))
            .collect();
        let recent: Vec<Value> = status
            .recent
            .iter()
            .map(|j| {
                let (outcome, message) = match &j.outcome {
                    JobOutcome::Done => ("done", None),
                    JobOutcome::Failed(message) => ("failed", Some(message)),
                    JobOutcome::Cancelled => ("cancelled", None),
                };
                json!({ "id": j.id, "title": j.title, "outcome": outcome, "message": message })
            })
            .collect();
        let captured: Vec<[i64; 2]> = status.captured.iter().map(|r| [r.start, r.end]).collect();
        json!({
            "queue": queue,
            "recent": recent,
            "notices": status.notices,
            "last_error": status.last_error,
            "jobs_done": status.jobs_done,
            "sample_rate": status.sample_rate,
            "captured": captured,
            "capture_overruns": engine.transport().capture_overruns(),
            "runtime": status.runtime,
        })
    }
}

impl PersistentField<'_, Value> for ActivityField {
    /// A loaded project's activity is history: nothing to restore.
    fn set(&self, _new_value: Value) {}

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&Value) -> R,
    {
        f(&self.to_json())
    }
}
