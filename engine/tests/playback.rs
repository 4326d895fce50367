//! The player against a simulated transport: audio lands on the exact song sample and notes
//! start and stop on the exact sample, for every block size, through loops, seeks and stops.

use std::sync::Arc;

use counterpart_engine::playback::{BlockTransport, MidiEvent, Player, SlotMix};
use counterpart_engine::stem::{Note, PlayableStem, SLOTS, StemOutput, StereoAudio};

const RATE: f64 = 48_000.0;
const TEMPO: f64 = 120.0; // 24_000 samples per beat

fn ramp_stem(start_sample: i64, frames: usize) -> PlayableStem {
    let left: Vec<f32> = (0..frames).map(|i| 1.0 + i as f32).collect();
    let right = left.iter().map(|v| -v).collect();
    let audio = StereoAudio { sample_rate: RATE as u32, left, right };
    PlayableStem {
        start_sample,
        audio: Some(Arc::new(audio)),
        notes: Vec::new(),
        output: StemOutput::Audio,
        ..PlayableStem::default()
    }
}

fn note_stem(notes: Vec<Note>) -> PlayableStem {
    PlayableStem { start_sample: 0, audio: None, notes, output: StemOutput::Midi, ..PlayableStem::default() }
}

fn mix_all() -> [SlotMix; SLOTS] {
    [SlotMix { gain: 1.0, audio: true, midi: true }; SLOTS]
}

fn transport(pos: i64, playing: bool, loop_range: Option<(i64, i64)>) -> BlockTransport {
    let spb = RATE * 60.0 / TEMPO;
    BlockTransport {
        playing,
        pos_samples: pos,
        pos_beats: pos as f64 / spb,
        tempo: TEMPO,
        sample_rate: RATE,
        loop_range: loop_range.map(|(a, b)| ((a, b), (a as f64 / spb, b as f64 / spb))),
    }
}

/// Runs the player over `total` samples from `start` like a host would, returning the left
/// output and every MIDI event with its absolute output sample.
fn run(
    player: &mut Player,
    start: i64,
    total: usize,
    block: usize,
    loop_range: Option<(i64, i64)>,
) -> (Vec<f32>, Vec<(usize, MidiEvent)>) {
    let mut left = vec![0.0; total];
    let mut right = vec![0.0; total];
    let mut events = Vec::new();
    let mut pos = start;
    let mut done = 0;
    // Warm the gain ramps up so the test reads exact samples.
    let warm = player.plan_block(&transport(pos, false, None), 1, &mix_all());
    for slot in 0..SLOTS {
        player.mix_slot(slot, &warm, &mix_all()[slot], &mut [&mut [0.0][..], &mut [0.0][..]]);
    }
    while done < total {
        let n = block.min(total - done);
        let plan = player.plan_block(&transport(pos, true, loop_range), n, &mix_all());
        let (l, r) = (&mut left[done..done + n], &mut right[done..done + n]);
        let mut out = [l, r];
        for slot in 0..SLOTS {
            player.mix_slot(slot, &plan, &mix_all()[slot], &mut out);
        }
        events.extend(player.midi_events().iter().map(|e| (done + e.timing as usize, *e)));
        // Advance like a host: wrap at the loop end.
        pos += n as i64;
        if let Some((a, b)) = loop_range
            && pos >= b
        {
            pos = a + (pos - b);
        }
        done += n;
    }
    (left, events)
}

#[test]
fn audio_plays_at_the_exact_song_sample_for_every_block_size() {
    for block in [1, 7, 64, 480, 4096, 8192] {
        let mut player = Player::default();
        player.swap(0, Some(Arc::new(ramp_stem(10_000, 5_000))));
        let (left, _) = run(&mut player, 9_000, 8_000, block, None);
        for (i, v) in left.iter().enumerate() {
            let song = 9_000 + i as i64;
            let expected = if (10_000..15_000).contains(&song) { 1.0 + (song - 10_000) as f32 } else { 0.0 };
            assert_eq!(*v, expected, "block {block}, song sample {song}");
        }
    }
}

#[test]
fn loops_wrap_inside_a_block_sample_accurately() {
    // Loop samples 20_000..30_000 with a stem spanning it; block 4096 does not divide the loop.
    for block in [64, 480, 4096] {
        let mut player = Player::default();
        player.swap(3, Some(Arc::new(ramp_stem(0, 40_000))));
        let (left, _) = run(&mut player, 18_000, 30_000, block, Some((20_000, 30_000)));
        let mut song = 18_000i64;
        for (i, v) in left.iter().enumerate() {
            assert_eq!(*v, 1.0 + song as f32, "block {block}, output sample {i}");
            song += 1;
            if song == 30_000 {
                song = 20_000;
            }
        }
    }
}

#[test]
fn notes_start_and_stop_on_their_sample_and_never_hang() {
    let notes = vec![
        Note { start: 1.0, length: 0.5, key: 60, velocity: 100 },
        Note { start: 1.5, length: 2.0, key: 64, velocity: 90 },
        Note { start: 4.0, length: 0.25, key: 67, velocity: 80 },
    ];
    for block in [1, 64, 480, 4096] {
        let mut player = Player::default();
        player.swap(5, Some(Arc::new(note_stem(notes.clone()))));
        let (_, events) = run(&mut player, 0, 24_000 * 5, block, None);
        let got: Vec<(usize, u8, u8, bool)> =
            events.iter().map(|(t, e)| (*t, e.channel, e.key, e.velocity > 0)).collect();
        let expected = vec![
            (24_000, 5, 60, true),
            (36_000, 5, 60, false),
            (36_000, 5, 64, true),
            (84_000, 5, 64, false),
            (96_000, 5, 67, true),
            (102_000, 5, 67, false),
        ];
        assert_eq!(got, expected, "block {block}");
    }
}

#[test]
fn stop_seek_and_loop_wrap_release_held_notes() {
    let long = vec![Note { start: 0.5, length: 100.0, key: 48, velocity: 100 }];
    let mut player = Player::default();
    player.swap(0, Some(Arc::new(note_stem(long.clone()))));
    let mix = mix_all();
    // Play through the note-on.
    player.plan_block(&transport(0, true, None), 24_000, &mix);
    assert_eq!(player.midi_events().len(), 1);
    // Stop: note-off at sample 0 of the next block.
    player.plan_block(&transport(24_000, false, None), 64, &mix);
    assert_eq!(simple(player.midi_events()), vec![(0, 0, 48, 0)]);
    // Start again and seek away while the note is held.
    player.plan_block(&transport(0, true, None), 24_000, &mix);
    player.plan_block(&transport(500_000, true, None), 64, &mix);
    assert_eq!(simple(player.midi_events()), vec![(0, 0, 48, 0)]);
    // Loop wrap inside a block releases at the wrap sample, and the note starts again.
    let mut player = Player::default();
    player.swap(0, Some(Arc::new(note_stem(long))));
    player.plan_block(&transport(0, true, Some((0, 48_000))), 40_000, &mix);
    player.plan_block(&transport(40_000, true, Some((0, 48_000))), 24_000, &mix);
    // The wrap is at output sample 8_000; the note (beat 0.5 = sample 12_000) restarts after it.
    assert_eq!(simple(player.midi_events()), vec![(8_000, 0, 48, 0), (8_000 + 12_000, 0, 48, 100)]);
}

#[test]
fn swapping_or_muting_a_slot_releases_its_notes() {
    let long = vec![Note { start: 0.0, length: 100.0, key: 50, velocity: 100 }];
    let mut player = Player::default();
    player.swap(2, Some(Arc::new(note_stem(long.clone()))));
    let mut mix = mix_all();
    player.plan_block(&transport(0, true, None), 64, &mix);
    mix[2].midi = false;
    player.plan_block(&transport(64, true, None), 64, &mix);
    assert_eq!(simple(player.midi_events()), vec![(0, 2, 50, 0)]);
    mix[2].midi = true;
    player.plan_block(&transport(128, true, None), 64, &mix);
    assert!(player.midi_events().is_empty(), "no chase: the note started before the block");
    // A swap while a note is held releases it next block.
    player.plan_block(&transport(0, true, None), 64, &mix);
    let old = player.swap(2, None);
    assert!(old.is_some());
    player.plan_block(&transport(64, true, None), 64, &mix);
    assert_eq!(simple(player.midi_events()), vec![(0, 2, 50, 0)]);
}

#[test]
fn gain_changes_ramp_instead_of_clicking() {
    let mut player = Player::default();
    player.swap(0, Some(Arc::new(ramp_stem(0, 1_000))));
    let (mut l, mut r) = (vec![0.0; 100], vec![0.0; 100]);
    let half = SlotMix { gain: 0.5, audio: true, midi: false };
    let plan = player.plan_block(&transport(0, true, None), 100, &mix_all());
    player.mix_slot(0, &plan, &half, &mut [&mut l[..], &mut r[..]]);
    // From 0 (nothing before) towards 0.5: increasing, never above the target.
    assert_eq!(l[0], 0.0);
    let gains: Vec<f32> = l.iter().enumerate().map(|(i, v)| v / (1.0 + i as f32)).collect();
    assert!(gains.windows(2).all(|w| w[1] >= w[0]) && gains[99] <= 0.5 && gains[99] > 0.49);
}

/// Events as (timing, channel, key, velocity), velocity 0 meaning note-off.
fn simple(events: &[MidiEvent]) -> Vec<(u32, u8, u8, u8)> {
    events.iter().map(|e| (e.timing, e.channel, e.key, e.velocity)).collect()
}

#[test]
fn empty_blocks_are_harmless() {
    let mut player = Player::default();
    player.swap(0, Some(Arc::new(note_stem(vec![Note { start: 0.0, length: 1.0, key: 60, velocity: 100 }]))));
    player.swap(1, Some(Arc::new(ramp_stem(0, 100))));
    for pos in [0, 10, 10] {
        let plan = player.plan_block(&transport(pos, true, Some((0, 10))), 0, &mix_all());
        player.mix_slot(1, &plan, &mix_all()[1], &mut [&mut [][..], &mut [][..]]);
    }
    let plan = player.plan_block(&transport(10, true, None), 64, &mix_all());
    assert_eq!(plan.segments().len(), 1);
}
