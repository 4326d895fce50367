//! The lock-free hand-off between the audio thread and the engine worker: stems in, retired
//! stems and captured blocks out, and the host transport published for everyone to read.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};

use rtrb::{Consumer, Producer, RingBuffer};

use crate::capture::{CAPTURE_FRAMES, CaptureBlock};
use crate::playback::Player;
use crate::stem::PlayableStem;
use crate::timeline::TimeSignature;

/// Stem swaps the audio thread can have waiting.
pub const SWAP_CAPACITY: usize = 64;
/// Captured blocks in flight: at 48 kHz, about 5 s of audio.
pub const CAPTURE_CAPACITY: usize = 1024;

/// Put `stem` (or nothing) into `slot`.
#[derive(Debug)]
pub struct StemSwap {
    /// The slot, 0-based.
    pub slot: usize,
    /// The new stem.
    pub stem: Option<Arc<PlayableStem>>,
}

/// The host's transport as the audio thread last saw it, for the GUI and the worker.
#[derive(Debug, Default)]
pub struct HostTransport {
    tempo_bits: AtomicU64,
    sample_rate_bits: AtomicU64,
    pos_samples: AtomicI64,
    playing: AtomicBool,
    signature: AtomicU32,
    /// The host's loop in beats (start, end), or the bits of NaN when no loop is on.
    loop_beats: [AtomicU64; 2],
    capture_overruns: AtomicU64,
}

impl HostTransport {
    /// Publishes one block's transport (audio thread).
    pub fn publish(&self, tempo: f64, sample_rate: f64, pos_samples: i64, playing: bool, signature: (u16, u16)) {
        self.tempo_bits.store(tempo.to_bits(), Relaxed);
        self.sample_rate_bits.store(sample_rate.to_bits(), Relaxed);
        self.pos_samples.store(pos_samples, Relaxed);
        self.playing.store(playing, Relaxed);
        self.signature.store((signature.0 as u32) << 16 | signature.1 as u32, Relaxed);
    }

    /// Publishes the host's loop range in beats, `None` when looping is off (audio thread).
    pub fn publish_loop(&self, beats: Option<(f64, f64)>) {
        let (start, end) = beats.unwrap_or((f64::NAN, f64::NAN));
        self.loop_beats[0].store(start.to_bits(), Relaxed);
        self.loop_beats[1].store(end.to_bits(), Relaxed);
    }

    /// The host's loop in beats while looping is on (the last block's; `None` before any block).
    pub fn loop_beats(&self) -> Option<(f64, f64)> {
        let [start, end] = [0, 1].map(|i| f64::from_bits(self.loop_beats[i].load(Relaxed)));
        // A fresh transport holds zero bits: no block has said there is a loop yet.
        (start.is_finite() && end.is_finite() && end > start).then_some((start, end))
    }

    /// The host tempo in BPM, or 0 before the first block.
    pub fn tempo(&self) -> f64 {
        f64::from_bits(self.tempo_bits.load(Relaxed))
    }

    /// The sample rate of the last block, or 0 before the first.
    pub fn sample_rate(&self) -> f64 {
        f64::from_bits(self.sample_rate_bits.load(Relaxed))
    }

    /// The song position of the last block.
    pub fn pos_samples(&self) -> i64 {
        self.pos_samples.load(Relaxed)
    }

    /// Whether the host was playing.
    pub fn playing(&self) -> bool {
        self.playing.load(Relaxed)
    }

    /// The host meter as (numerator, denominator).
    pub fn signature(&self) -> (u16, u16) {
        let packed = self.signature.load(Relaxed);
        ((packed >> 16) as u16, packed as u16)
    }

    /// Captured blocks the audio thread had to drop because the worker fell behind.
    pub fn capture_overruns(&self) -> u64 {
        self.capture_overruns.load(Relaxed)
    }
}

/// The audio thread's ends of the hand-off.
pub struct AudioSide {
    swaps: Consumer<StemSwap>,
    retire: Producer<Arc<PlayableStem>>,
    capture: Producer<CaptureBlock>,
    /// The transport, published every block.
    pub transport: Arc<HostTransport>,
}

/// The worker's ends of the hand-off.
pub struct WorkerSide {
    /// Swaps towards the audio thread.
    pub swaps: Producer<StemSwap>,
    /// Stems the audio thread is done with; dropping them here frees their memory.
    pub retire: Consumer<Arc<PlayableStem>>,
    /// Captured blocks.
    pub capture: Consumer<CaptureBlock>,
    /// The transport, as the audio thread publishes it.
    pub transport: Arc<HostTransport>,
}

/// Builds both ends, with every buffer allocated up front.
pub fn link() -> (AudioSide, WorkerSide) {
    let (swap_tx, swap_rx) = RingBuffer::new(SWAP_CAPACITY);
    // Room for every swap that can be waiting, so a swap never has to wait for room to retire.
    let (retire_tx, retire_rx) = RingBuffer::new(SWAP_CAPACITY);
    let (capture_tx, capture_rx) = RingBuffer::new(CAPTURE_CAPACITY);
    let transport = Arc::new(HostTransport::default());
    let audio = AudioSide { swaps: swap_rx, retire: retire_tx, capture: capture_tx, transport: transport.clone() };
    let worker = WorkerSide { swaps: swap_tx, retire: retire_rx, capture: capture_rx, transport };
    (audio, worker)
}

impl AudioSide {
    /// Applies waiting stem swaps to `player`, retiring the stems they replace.
    pub fn apply_swaps(&mut self, player: &mut Player) {
        while !self.retire.is_full() {
            let Ok(swap) = self.swaps.pop() else { break };
            if let Some(old) = player.swap(swap.slot, swap.stem) {
                // Cannot fail: we checked for room, and only this thread pushes.
                let _ = self.retire.push(old);
            }
        }
    }

    /// Cuts one segment of the inputs into capture blocks and queues them for the worker.
    /// `main` and `side` are the host's channel slices; `offset..offset + len` is the segment
    /// and `beats`/`tempo` the song position and tempo at its first sample.
    #[allow(clippy::too_many_arguments)]
    pub fn capture(
        &mut self,
        scratch: &mut CaptureBlock,
        main: &[&mut [f32]],
        side: Option<&[&mut [f32]]>,
        offset: usize,
        pos: i64,
        len: usize,
        beats: f64,
        tempo: f64,
        signature: TimeSignature,
    ) {
        let beats_per_sample = tempo / 60.0 / self.transport.sample_rate().max(1.0);
        let channel = |set: &[&mut [f32]], c: usize, i: usize| {
            set.get(c.min(set.len().saturating_sub(1))).map_or(0.0, |ch| ch[i])
        };
        let mut done = 0;
        while done < len {
            let n = (len - done).min(CAPTURE_FRAMES);
            scratch.pos = pos + done as i64;
            scratch.beats = beats + done as f64 * beats_per_sample;
            scratch.tempo = tempo;
            scratch.signature = signature;
            scratch.len = n;
            for (i, frame) in scratch.frames[..n].iter_mut().enumerate() {
                let at = offset + done + i;
                let side_l = side.map_or(0.0, |s| channel(s, 0, at));
                let side_r = side.map_or(0.0, |s| channel(s, 1, at));
                *frame = [channel(main, 0, at), channel(main, 1, at), side_l, side_r];
            }
            if self.capture.push(*scratch).is_err() {
                self.transport.capture_overruns.fetch_add(1, Relaxed);
            }
            done += n;
        }
    }
}
