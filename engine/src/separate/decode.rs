//! Any audio file symphonia reads (WAV, FLAC, MP3, Ogg Vorbis) as [`StereoAudio`]: separation needs
//! both channels, where [`crate::audio_io`] downmixes. Mono files are duplicated; channels past the
//! second are dropped.

use std::fs::File;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::stem::StereoAudio;

/// Decodes the whole of `path`; errors name the file.
pub fn load_stereo(path: &Path) -> Result<StereoAudio, String> {
    let fail = |reason: String| format!("{}: {reason}", path.display());
    let file = File::open(path).map_err(|e| fail(e.to_string()))?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &FormatOptions::default(), &MetadataOptions::default())
        .map_err(|e| fail(format!("not a readable audio file ({e})")))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| fail("no audio track".into()))?;
    let (track_id, params) = (track.id, track.codec_params.clone());
    let sample_rate =
        params.sample_rate.filter(|r| (1..=768_000).contains(r)).ok_or_else(|| fail("bad sample rate".into()))?;
    let mut decoder =
        symphonia::default::get_codecs().make(&params, &DecoderOptions::default()).map_err(|e| fail(e.to_string()))?;
    let mut audio = StereoAudio { sample_rate, left: Vec::new(), right: Vec::new() };
    let mut buf: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) if audio.frames() == 0 => return Err(fail(e.to_string())),
            Err(_) => break, // a broken tail ends the stream
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => continue,
            Err(e) => return Err(fail(e.to_string())),
        };
        let spec = *decoded.spec();
        let channels = spec.channels.count().max(1);
        if buf.as_ref().is_none_or(|b| b.capacity() < decoded.capacity() * channels) {
            buf = Some(SampleBuffer::new(decoded.capacity() as u64, spec));
        }
        let b = buf.as_mut().expect("set above");
        b.copy_interleaved_ref(decoded);
        let clean = |v: f32| if v.is_finite() { v } else { 0.0 };
        for frame in b.samples().chunks_exact(channels) {
            audio.left.push(clean(frame[0]));
            audio.right.push(clean(frame[channels.min(2) - 1]));
        }
    }
    if audio.frames() == 0 {
        return Err(fail("no audio decoded".into()));
    }
    Ok(audio)
}
