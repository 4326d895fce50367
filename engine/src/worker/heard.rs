//! The main input as Counterpart plays it: the captured song with the edits of the main input
//! heard over it. A new edit works on this, so edits of different parts stack ("remove the
//! vocals", then "turn down the drums": both are heard), while a new edit of the same part is
//! another take of that edit and starts from the song without it.

use std::sync::Arc;

use super::Worker;
use crate::job::CapturedSong;
use crate::playback::{BlockTransport, Player, SlotMix};
use crate::stem::{EditPart, SLOTS, StemRecord};

/// Samples rendered at a time.
const BLOCK: usize = 4096;

impl Worker {
    /// The captured song with its main input as heard: every edit that replaces it, except the
    /// edits of `part`, played over it by the audio thread's own code (its edge crossfades, later
    /// edits over earlier ones), at unity gain with "Edit A/B" on the edits.
    pub(super) fn heard_song(&mut self, part: &str) -> CapturedSong {
        let mut song = self.captured_song();
        let edits: Vec<StemRecord> = {
            let project = self.project.read().unwrap_or_else(|e| e.into_inner());
            let of_other_parts = |r: &&StemRecord| r.playing_take().and_then(|t| t.edit_of.as_deref()) != Some(part);
            project
                .stems
                .iter()
                .filter(|r| r.edit_part() == EditPart::ReplacesMain)
                .filter(of_other_parts)
                .cloned()
                .collect()
        };
        let mut player = Player::default();
        let mut any = false;
        for record in &edits {
            // A stem whose audio is gone from the cache is not heard either.
            if let Ok(stem) = self.playable(record) {
                player.swap(record.slot, Some(Arc::new(stem)));
                any = true;
            }
        }
        if !any {
            return song;
        }
        let mix = [SlotMix { gain: 1.0, audio: true, midi: false }; SLOTS];
        let (mut left, mut right) = (std::mem::take(&mut song.channels[0]), std::mem::take(&mut song.channels[1]));
        let tempo = song.tempo_map.first().map_or(120.0, |p| p.tempo);
        let transport = |pos: i64, playing: bool| BlockTransport {
            playing,
            pos_samples: pos,
            pos_beats: song.beat_at(pos),
            tempo,
            sample_rate: song.sample_rate,
            loop_range: None,
        };
        // A stopped block first, so the edits are heard from the first sample instead of fading in.
        let plan = player.plan_block(&transport(song.start, false), 0, &mix);
        player.replace_main(&plan, &mix, &mut [&mut [], &mut []]);
        for (at, (l, r)) in left.chunks_mut(BLOCK).zip(right.chunks_mut(BLOCK)).enumerate() {
            let plan = player.plan_block(&transport(song.start + (at * BLOCK) as i64, true), l.len(), &mix);
            player.replace_main(&plan, &mix, &mut [l, r]);
        }
        [song.channels[0], song.channels[1]] = [left, right];
        song
    }
}
