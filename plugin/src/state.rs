//! The project as a nice-plug persistent field: saved and loaded with the DAW project.

use std::sync::Arc;

use counterpart_engine::ProjectStore;
use nice_plug::params::persist::PersistentField;
use serde_json::Value;

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
