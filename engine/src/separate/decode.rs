//! Any audio file symphonia reads (WAV, FLAC, MP3, Ogg Vorbis) as [`StereoAudio`]: separation needs
//! both channels, where [`crate::audio_io`] downmixes. Mono files are duplicated; channels past the
//! second are dropped; NaN and infinite samples become silence. [`StereoStream`] reads a file a
//! piece at a time (what `counterpart edit` does with long inputs); [`load_stereo`] reads it whole.

use std::fs::File;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::stem::StereoAudio;

/// Decodes the whole of `path`; errors name the file.
pub fn load_stereo(path: &Path) -> Result<StereoAudio, String> {
    let mut stream = StereoStream::open(path)?;
    let mut audio = StereoAudio { sample_rate: stream.sample_rate(), ..StereoAudio::default() };
    while stream.read(usize::MAX, &mut audio)? > 0 {}
    if audio.frames() == 0 {
        return Err(format!("{}: no audio decoded", path.display()));
    }
    Ok(audio)
}

/// A file decoded packet by packet into stereo frames.
pub struct StereoStream {
    /// The file, for messages.
    name: String,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    sample_rate: u32,
    /// Frames in the file, when its header says.
    declared_frames: Option<u64>,
    /// Decoded frames not yet handed out.
    left_over: StereoAudio,
    /// Interleaved scratch of the last packet.
    buf: Option<SampleBuffer<f32>>,
    /// Frames decoded so far.
    decoded: usize,
    /// Whether the file has ended.
    ended: bool,
    /// NaN or infinite samples read as silence so far.
    non_finite: u64,
}

impl StereoStream {
    /// Opens and probes `path`; errors name the file.
    pub fn open(path: &Path) -> Result<StereoStream, String> {
        let name = path.display().to_string();
        let fail = |reason: String| format!("{name}: {reason}");
        let file = File::open(path).map_err(|e| fail(e.to_string()))?;
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let probed = symphonia::default::get_probe()
            .format(&hint, mss, &FormatOptions::default(), &MetadataOptions::default())
            .map_err(|e| fail(format!("not a readable audio file ({e})")))?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| fail("no audio track".into()))?;
        let (track_id, params) = (track.id, track.codec_params.clone());
        let sample_rate =
            params.sample_rate.filter(|r| (1..=768_000).contains(r)).ok_or_else(|| fail("bad sample rate".into()))?;
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| fail(e.to_string()))?;
        Ok(StereoStream {
            name,
            format,
            decoder,
            track_id,
            sample_rate,
            declared_frames: params.n_frames,
            left_over: StereoAudio { sample_rate, ..StereoAudio::default() },
            buf: None,
            decoded: 0,
            ended: false,
            non_finite: 0,
        })
    }

    /// The file's sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Length in frames as the file's header states it (absent for some formats, and a truncated
    /// file delivers fewer).
    pub fn declared_frames(&self) -> Option<u64> {
        self.declared_frames
    }

    /// NaN or infinite samples (of the channels kept) read as silence so far.
    pub fn non_finite_samples(&self) -> u64 {
        self.non_finite
    }

    /// Appends up to `max` frames to `into` (which must have this stream's rate); returns how many
    /// were appended, 0 at the end of the file. A broken tail ends the stream; an unreadable start
    /// is an error naming the file.
    pub fn read(&mut self, max: usize, into: &mut StereoAudio) -> Result<usize, String> {
        let mut appended = 0;
        while appended < max {
            if self.left_over.frames() == 0 && !self.decode_packet()? {
                break;
            }
            let take = self.left_over.frames().min(max - appended);
            into.left.extend(self.left_over.left.drain(..take));
            into.right.extend(self.left_over.right.drain(..take));
            appended += take;
        }
        Ok(appended)
    }

    /// Decodes the next packet of the track into `left_over`; false at the end of the file.
    fn decode_packet(&mut self) -> Result<bool, String> {
        while !self.ended {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(SymError::ResetRequired) => break,
                Err(e) if self.decoded == 0 => return Err(format!("{}: {e}", self.name)),
                Err(_) => break, // a broken tail ends the stream
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => continue,
                Err(e) => return Err(format!("{}: {e}", self.name)),
            };
            let spec = *decoded.spec();
            let channels = spec.channels.count().max(1);
            if self.buf.as_ref().is_none_or(|b| b.capacity() < decoded.capacity() * channels) {
                self.buf = Some(SampleBuffer::new(decoded.capacity() as u64, spec));
            }
            let b = self.buf.as_mut().expect("set above");
            b.copy_interleaved_ref(decoded);
            let mut non_finite = 0;
            let mut clean = |v: f32| {
                non_finite += u64::from(!v.is_finite());
                if v.is_finite() { v } else { 0.0 }
            };
            for frame in b.samples().chunks_exact(channels) {
                let left = clean(frame[0]);
                self.left_over.left.push(left);
                self.left_over.right.push(if channels == 1 { left } else { clean(frame[1]) });
            }
            self.non_finite += non_finite;
            self.decoded += self.left_over.frames();
            if self.left_over.frames() > 0 {
                return Ok(true);
            }
        }
        self.ended = true;
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_add_up_to_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mono.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..20_011i32 {
            w.write_sample(((i * 37) % 2000 - 1000) as i16).unwrap();
        }
        w.finalize().unwrap();
        let whole = load_stereo(&path).unwrap();
        assert_eq!((whole.sample_rate, whole.frames()), (8000, 20_011));
        assert_eq!(whole.left, whole.right, "mono is duplicated");
        let mut stream = StereoStream::open(&path).unwrap();
        assert_eq!(stream.declared_frames(), Some(20_011));
        let mut pieces = StereoAudio { sample_rate: 8000, ..StereoAudio::default() };
        let mut sizes = Vec::new();
        loop {
            let n = stream.read(3000, &mut pieces).unwrap();
            if n == 0 {
                break;
            }
            sizes.push(n);
        }
        assert_eq!(pieces.left, whole.left);
        assert!(sizes.iter().rev().skip(1).all(|&n| n == 3000), "{sizes:?}");
    }
}
