//! The instruction preview: a small thread with its own prompt model that tells the editor what
//! an instruction means ("add · bass · bars 9-16 · busier") while the producer types, even while a
//! long job holds the job thread. Previews are not jobs: they never wait in the queue.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::job::JobId;
use crate::packs::Pack;
use crate::plan::{self, Embedder, PlannedJob, SongContext};
use crate::runner::Report;
use crate::runtime::SessionSettings;

/// What the preview thread is asked.
#[derive(Debug)]
pub(crate) enum Ask {
    /// The embedder pack the job thread found, or why there is none; sent on every model reload.
    Models(Result<Box<Pack>, String>),
    /// What does `prompt` mean in a song of `bars` bars?
    Plan { id: JobId, prompt: String, bars: Option<u32> },
}

/// The preview thread's handle: dropping the sender ends it.
pub(crate) struct Preview {
    asks: Sender<Ask>,
    thread: JoinHandle<()>,
}

impl Preview {
    /// Starts the thread; it answers on `reports` with [`Report::Preview`].
    pub(crate) fn start(reports: Sender<Report>) -> std::io::Result<Self> {
        let (asks, inbox) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("counterpart-preview".into())
            .spawn(move || Previewer { pack: None, embedder: None, waiting: Vec::new() }.run(&inbox, &reports))?;
        Ok(Self { asks, thread })
    }

    /// Hands a question over; false when the thread is gone.
    pub(crate) fn ask(&self, ask: Ask) -> bool {
        self.asks.send(ask).is_ok()
    }

    /// Hangs up and waits for the thread (at most one plan, a few milliseconds).
    pub(crate) fn stop(self) {
        drop(self.asks);
        let _ = self.thread.join();
    }
}

/// The thread's state: the embedder pack, its model once built, and plans asked before the job
/// thread said which pack to use.
struct Previewer {
    pack: Option<Result<Box<Pack>, String>>,
    embedder: Option<Embedder>,
    waiting: Vec<(JobId, String, Option<u32>)>,
}

impl Previewer {
    fn run(mut self, inbox: &Receiver<Ask>, reports: &Sender<Report>) {
        while let Ok(ask) = inbox.recv() {
            let answerable = match ask {
                Ask::Models(pack) => {
                    let same = matches!((&self.pack, &pack), (Some(Ok(a)), Ok(b)) if a.dir == b.dir);
                    if !same {
                        self.embedder = None;
                    }
                    self.pack = Some(pack);
                    std::mem::take(&mut self.waiting)
                }
                Ask::Plan { id, prompt, bars } if self.pack.is_none() => {
                    self.waiting.push((id, prompt, bars));
                    Vec::new()
                }
                Ask::Plan { id, prompt, bars } => vec![(id, prompt, bars)],
            };
            for (id, prompt, bars) in answerable {
                let planned = self.plan(&prompt, bars);
                if reports.send(Report::Preview { id, prompt, planned }).is_err() {
                    return;
                }
            }
        }
    }

    /// What the planner makes of `prompt`, building the prompt model on first use.
    fn plan(&mut self, prompt: &str, bars: Option<u32>) -> Result<Box<PlannedJob>, String> {
        if self.embedder.is_none() {
            let pack = self.pack.as_ref().ok_or("the prompt model has not been found yet")?.as_ref()?;
            // The prompt model is small: the CPU answers in milliseconds whatever device jobs use.
            let embedder = Embedder::from_pack(pack, &SessionSettings::default()).map_err(|e| e.to_string())?;
            self.embedder = Some(embedder);
        }
        let embedder = self.embedder.as_mut().ok_or("the prompt model could not be loaded")?;
        Ok(Box::new(plan::plan(prompt, &SongContext { bars, ..SongContext::default() }, embedder)))
    }
}
