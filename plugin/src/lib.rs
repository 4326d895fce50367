//! Counterpart: an AI arrangement plugin. The song comes in on the main input and the
//! sidechain; stems play back in sync with the host transport as audio and as MIDI.
//!
//! The audio path is short on purpose: apply stem swaps, plan the block against the transport,
//! capture the inputs, mix the stems, send the notes. Everything heavy runs on the engine worker.

mod params;
mod state;

use std::num::NonZeroU32;
use std::sync::Arc;

use counterpart_engine::Engine;
use counterpart_engine::cache::AudioCache;
use counterpart_engine::capture::CaptureBlock;
use counterpart_engine::link::AudioSide;
use counterpart_engine::playback::{BlockTransport, MidiEvent, Player, SlotMix};
use counterpart_engine::stem::SLOTS;
use counterpart_engine::timeline::TimeSignature;
use nice_plug::midi::{Channel, Key, VoiceID};
use nice_plug::prelude::*;

pub use params::{CounterpartParams, EditAb, Route};

/// Stems per group output: slots 1-4 go to group 1, and so on.
const SLOTS_PER_GROUP: usize = 4;
const GROUPS: usize = SLOTS / SLOTS_PER_GROUP;
const STEREO: NonZeroU32 = new_nonzero_u32(2);

/// The plugin.
pub struct Counterpart {
    params: Arc<CounterpartParams>,
    /// The worker handle; dropping the plugin joins the worker.
    engine: Arc<Engine>,
    /// The audio thread's ends of the lock-free hand-off.
    audio: AudioSide,
    /// Stems as the audio thread plays them.
    player: Player,
    /// Preallocated block that captured input is cut into.
    capture_scratch: Box<CaptureBlock>,
    sample_rate: f32,
    editor_state: Arc<nice_plug_egui::EguiEditorState>,
}

impl Default for Counterpart {
    fn default() -> Self {
        let (engine, audio) = Engine::start(AudioCache::default_location());
        let engine = Arc::new(engine);
        Self {
            params: Arc::new(CounterpartParams::new(&engine)),
            engine,
            audio,
            player: Player::default(),
            capture_scratch: Box::default(),
            sample_rate: 48_000.0,
            editor_state: counterpart_gui::default_state(),
        }
    }
}

impl Plugin for Counterpart {
    const NAME: &'static str = "Counterpart";
    const VENDOR: &'static str = "Counterpart";
    const URL: &'static str = "https://counterpart.invalid";
    const EMAIL: &'static str = "dev@counterpart.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: Some(STEREO),
            main_output_channels: Some(STEREO),
            aux_input_ports: &[STEREO],
            aux_output_ports: &[STEREO; GROUPS],
            names: PortNames {
                layout: Some("Stereo with group outputs"),
                main_input: Some("Main"),
                main_output: Some("Main"),
                aux_inputs: &["Context"],
                aux_outputs: &["Stems 1-4", "Stems 5-8", "Stems 9-12", "Stems 13-16"],
            },
        },
        AudioIOLayout {
            main_input_channels: Some(STEREO),
            main_output_channels: Some(STEREO),
            aux_input_ports: &[STEREO],
            aux_output_ports: &[],
            names: PortNames {
                layout: Some("Stereo"),
                main_input: Some("Main"),
                main_output: Some("Main"),
                aux_inputs: &["Context"],
                aux_outputs: &[],
            },
        },
    ];

    const MIDI_OUTPUT: MidiConfig = MidiConfig::Basic;
    const SAMPLE_ACCURATE_AUTOMATION: bool = false;

    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    type Editor = nice_plug_egui::EguiEditor<counterpart_gui::EditorApp>;

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        counterpart_gui::create(
            self.editor_state.clone(),
            self.params.clone(),
            self.engine.clone(),
            AudioCache::default_location(),
        )
    }

    fn filter_state(state: &mut PluginState) {
        params::sanitize_state(state);
    }

    fn activate(
        &mut self,
        _layout: &AudioIOLayout,
        config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        self.sample_rate = config.sample_rate;
        self.engine.activate(config.sample_rate as f64);
        true
    }

    fn reset(&mut self) {
        self.player.reset();
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        self.audio.apply_swaps(&mut self.player);
        let host = context.transport();
        let transport = block_transport(host, self.sample_rate);
        let signature = TimeSignature {
            numerator: host.time_sig_numerator.unwrap_or(4).clamp(1, 64) as u16,
            denominator: host.time_sig_denominator.unwrap_or(4).clamp(1, 32) as u16,
        };
        self.audio.transport.publish(
            transport.tempo,
            transport.sample_rate,
            transport.pos_samples,
            transport.playing,
            (signature.numerator, signature.denominator),
        );
        self.audio.transport.publish_loop(transport.loop_range.map(|(_, beats)| beats));

        self.player.set_edit_ab(self.params.edit_ab.value() == EditAb::Edited);
        let mix = self.slot_mix();
        let len = buffer.samples();
        let plan = self.player.plan_block(&transport, len, &mix);

        // Capture the song before any stem is mixed into the main buffer.
        let side = aux.inputs.first_mut().map(|b| &*b.as_slice());
        for (index, segment) in plan.segments().iter().enumerate() {
            self.audio.capture(
                &mut self.capture_scratch,
                buffer.as_slice(),
                side,
                segment.offset,
                segment.pos,
                segment.len,
                plan.beats(index),
                transport.tempo,
                signature,
            );
        }

        for group in aux.outputs.iter_mut() {
            for channel in group.as_slice() {
                channel.fill(0.0);
            }
        }
        // Edits of the main input play instead of it over their spans, before stems are added.
        self.player.replace_main(&plan, &mix, buffer.as_slice());
        for (slot, slot_mix) in mix.iter().enumerate() {
            let route = self.params.slots[slot].route.value();
            match (route, aux.outputs.get_mut(slot / SLOTS_PER_GROUP)) {
                (Route::Group, Some(group)) => self.player.mix_slot(slot, &plan, slot_mix, group.as_slice()),
                _ => self.player.mix_slot(slot, &plan, slot_mix, buffer.as_slice()),
            }
        }

        flush_subnormals(buffer.as_slice());

        for event in self.player.midi_events() {
            // A full host event list drops the event; there is nothing better to do mid-block.
            let _ = context.try_send_event(note_event(event));
        }
        ProcessStatus::Normal
    }
}

impl Counterpart {
    /// Gain, mute, solo and bypass resolved into what each slot does this block.
    fn slot_mix(&self) -> [SlotMix; SLOTS] {
        let bypassed = self.params.bypass.value();
        let any_solo = self.params.any_solo();
        std::array::from_fn(|slot| {
            let p = &self.params.slots[slot];
            let audible = !bypassed && !p.mute.value() && (!any_solo || p.solo.value());
            let (audio, midi) = self.player.outputs(slot);
            SlotMix { gain: if audible { p.gain.value() } else { 0.0 }, audio: audible && audio, midi: audible && midi }
        })
    }
}

/// The host's transport reduced to what playback needs, with defaults for what it leaves out.
fn block_transport(host: &Transport, sample_rate: f32) -> BlockTransport {
    let sample_rate = sample_rate as f64;
    let tempo = host.tempo.filter(|t| t.is_finite() && *t > 0.0).unwrap_or(120.0);
    let pos_samples = host.pos_samples().unwrap_or(0);
    let pos_beats =
        host.pos_beats().filter(|b| b.is_finite()).unwrap_or(pos_samples as f64 / sample_rate * tempo / 60.0);
    let loop_range = match (host.loop_range_samples(), host.loop_range_beats()) {
        (Some(samples), Some(beats)) if samples.1 > samples.0 => Some((samples, beats)),
        _ => None,
    };
    BlockTransport { playing: host.playing, pos_samples, pos_beats, tempo, sample_rate, loop_range }
}

/// Replaces subnormal samples (which can arrive on the input and pass straight through) with
/// zero, so nothing downstream pays for denormal arithmetic.
fn flush_subnormals(channels: &mut [&mut [f32]]) {
    for sample in channels.iter_mut().flat_map(|c| c.iter_mut()) {
        if sample.is_subnormal() {
            *sample = 0.0;
        }
    }
}

/// A playback MIDI event as a nice-plug note event on the slot's channel.
fn note_event(event: &MidiEvent) -> PluginNoteEvent<Counterpart> {
    let (timing, channel, key) = (event.timing, Channel::Number(event.channel), Key::Number(event.key));
    let voice_id = VoiceID::Wildcard;
    if event.velocity > 0 {
        NoteEvent::NoteOn { timing, voice_id, channel, key, velocity: event.velocity as f32 / 127.0 }
    } else {
        NoteEvent::NoteOff { timing, voice_id, channel, key, velocity: 0.0 }
    }
}

impl ClapPlugin for Counterpart {
    const CLAP_ID: &'static str = "com.counterpart.counterpart";
    const CLAP_DESCRIPTION: Option<&'static str> = Some("Writes and plays new stems against your song");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] =
        &[ClapFeature::AudioEffect, ClapFeature::Stereo, ClapFeature::NoteEffect];
}

impl Vst3Plugin for Counterpart {
    const VST3_CLASS_ID: [u8; 16] = *b"CounterpartArrng";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[Vst3SubCategory::Fx, Vst3SubCategory::Generator];
}

nice_export_clap!(Counterpart);
nice_export_vst3!(Counterpart);
