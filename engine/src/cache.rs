//! The audio cache: stem audio stored losslessly, named by the hash of its content, written
//! atomically so a crash never leaves a half-written file under a valid name.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::stem::{AudioRef, StereoAudio};
use crate::wav::{read_wav, write_wav};

/// Environment variable that overrides where the cache lives.
pub const CACHE_ENV: &str = "COUNTERPART_CACHE";

/// A folder of content-addressed WAV files.
#[derive(Debug, Clone)]
pub struct AudioCache {
    dir: PathBuf,
}

impl AudioCache {
    /// A cache in `dir` (created on first store).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The cache in `COUNTERPART_CACHE`, else in the user's data folder.
    pub fn default_location() -> Self {
        if let Some(dir) = std::env::var_os(CACHE_ENV) {
            return Self::new(dir);
        }
        let dir = directories::ProjectDirs::from("com", "Counterpart", "Counterpart")
            .map(|d| d.data_dir().join("audio"))
            .unwrap_or_else(|| std::env::temp_dir().join("counterpart-audio"));
        Self::new(dir)
    }

    /// The folder the cache writes to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The content hash of `audio`: SHA-256 over the sample rate and the raw samples.
    pub fn hash(audio: &StereoAudio) -> String {
        let mut hasher = Sha256::new();
        hasher.update(audio.sample_rate.to_le_bytes());
        for (l, r) in audio.left.iter().zip(&audio.right) {
            hasher.update(l.to_le_bytes());
            hasher.update(r.to_le_bytes());
        }
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Stores `audio` (a no-op when the same content is already there) and returns its reference.
    pub fn store(&self, audio: &StereoAudio) -> Result<AudioRef, String> {
        let hash = Self::hash(audio);
        let path = self.path_of(&hash);
        if !path.exists() {
            fs::create_dir_all(&self.dir)
                .map_err(|e| format!("cannot create the audio cache {}: {e}", self.dir.display()))?;
            // One temporary name per call: two instances in one host may store the same audio at once.
            static STORES: AtomicU64 = AtomicU64::new(0);
            let call = STORES.fetch_add(1, Ordering::Relaxed);
            let temp = self.dir.join(format!(".{hash}.{}.{call}.tmp", std::process::id()));
            write_wav(&temp, audio)?;
            if let Err(e) = fs::rename(&temp, &path) {
                let _ = fs::remove_file(&temp);
                if !path.exists() {
                    return Err(format!("cannot move {} into place: {e}", temp.display()));
                }
            }
        }
        Ok(AudioRef { hash, sample_rate: audio.sample_rate, frames: audio.frames() as u64 })
    }

    /// Loads the audio a reference names and checks that its content still has that hash.
    pub fn load(&self, audio: &AudioRef) -> Result<StereoAudio, String> {
        let path = self.path_of(&audio.hash);
        if !path.exists() {
            return Err(format!("audio {} is missing from the cache at {}", short(&audio.hash), self.dir.display()));
        }
        let loaded = read_wav(&path)?;
        if Self::hash(&loaded) != audio.hash {
            return Err(format!(
                "audio {} in the cache is damaged (its content no longer matches its hash)",
                short(&audio.hash)
            ));
        }
        Ok(loaded)
    }

    fn path_of(&self, hash: &str) -> PathBuf {
        // Only hex digits reach the file system, whatever a loaded state says.
        let safe: String = hash.chars().filter(char::is_ascii_hexdigit).take(64).collect();
        self.dir.join(format!("{safe}.wav"))
    }
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio() -> StereoAudio {
        let left: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).sin()).collect();
        let right = left.iter().map(|v| v * -0.5 + f32::EPSILON).collect();
        StereoAudio { sample_rate: 44_100, left, right }
    }

    #[test]
    fn store_and_load_are_bit_exact() {
        let dir = std::env::temp_dir().join(format!("cp-cache-{}", std::process::id()));
        let cache = AudioCache::new(&dir);
        let a = audio();
        let r = cache.store(&a).unwrap();
        assert_eq!(r.frames, 1000);
        assert_eq!(cache.store(&a).unwrap(), r, "storing twice gives the same reference");
        let back = cache.load(&r).unwrap();
        assert_eq!(back, a);
        assert!(fs::read_dir(&dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp")));

        // A damaged file is refused with a message, not loaded.
        let path = cache.path_of(&r.hash);
        let mut bytes = fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 3] ^= 0x40;
        fs::write(&path, bytes).unwrap();
        assert!(cache.load(&r).unwrap_err().contains("damaged"));
        fs::remove_file(&path).unwrap();
        assert!(cache.load(&r).unwrap_err().contains("missing"));
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_same_audio_stored_at_once_from_many_threads_lands_whole() {
        let dir = std::env::temp_dir().join(format!("cp-cache-race-{}", std::process::id()));
        let cache = AudioCache::new(&dir);
        let left: Vec<f32> = (0..200_000).map(|i| (i as f32 * 0.003).sin()).collect();
        let a = StereoAudio { sample_rate: 48_000, right: left.clone(), left };
        let start = std::sync::Barrier::new(8);
        let stored: Vec<Result<AudioRef, String>> = std::thread::scope(|s| {
            let store = || {
                start.wait();
                cache.store(&a)
            };
            let handles: Vec<_> = (0..8).map(|_| s.spawn(store)).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in &stored {
            assert_eq!(cache.load(r.as_ref().unwrap()).unwrap(), a);
        }
        let names: Vec<String> =
            fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names.len(), 1, "one file and no temporary ones left: {names:?}");
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn hostile_hashes_stay_inside_the_cache() {
        let cache = AudioCache::new("/tmp/cp-x");
        let path = cache.path_of("../../etc/passwd");
        assert_eq!(path.parent(), Some(Path::new("/tmp/cp-x")));
        assert_eq!(path.file_name().unwrap(), "ecad.wav");
    }
}
