pub fn x() {}
pub mod analysis;
pub mod audio_io;
pub mod packs;
pub mod runtime;
pub mod transcribe;
