//! What the editor asks of the engine, in one place: each call queues a job on the engine's
//! channel and returns at once (with the job's id where there is one); nothing here waits.

use std::path::PathBuf;
use std::sync::Arc;

use counterpart_engine::Engine;
use counterpart_engine::job::{GenerateStem, Job, JobId};
use counterpart_engine::runtime::ExecutionProvider;
use counterpart_engine::stem::StemOutput;

/// Sends the editor's jobs to the engine worker.
pub struct Commands {
    engine: Arc<Engine>,
}

impl Commands {
    /// Commands for `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Asks the planner what an instruction means (answered by `Event::Planned`).
    pub fn plan(&self, prompt: &str) -> JobId {
        self.engine.plan(prompt)
    }

    /// Queues a new stem or new takes.
    pub fn generate(&self, job: GenerateStem) -> JobId {
        self.engine.generate(job)
    }

    /// Stops a queued or running job.
    pub fn cancel(&self, id: JobId) {
        self.engine.cancel(id);
    }

    /// Makes a take the one that plays.
    pub fn select_take(&self, slot: usize, take: usize) {
        self.engine.select_take(slot, take);
    }

    /// Forgets a take.
    pub fn delete_take(&self, slot: usize, take: usize) {
        self.engine.delete_take(slot, take);
    }

    /// Keeps the playing take of a slot and forgets the others.
    pub fn keep_playing_take(&self, slot: usize) {
        self.engine.keep_playing_take(slot);
    }

    /// Writes a slot's playing take as WAV and MIDI into `folder`.
    pub fn export(&self, slot: usize, folder: PathBuf) -> JobId {
        self.engine.export(slot, folder)
    }

    /// Empties a slot.
    pub fn clear_slot(&self, slot: usize) {
        self.engine.send(Job::ClearSlot { slot });
    }

    /// Plays a slot as audio, MIDI or both.
    pub fn set_output(&self, slot: usize, output: StemOutput) {
        self.engine.send(Job::SetOutput { slot, output });
    }

    /// Runs the models on another device; also finds the runtime and packs again.
    pub fn set_provider(&self, provider: ExecutionProvider) {
        self.engine.send(Job::SetProvider { provider });
    }
}
