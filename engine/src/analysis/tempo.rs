//! Tempo and beat grid from note onsets: autocorrelation of an onset envelope with a prior around
//! 120 BPM, then the beat phase and the downbeat that collect the most (bass-weighted) onsets.

use std::str::FromStr;

use serde::Serialize;

use crate::transcribe::Note;

/// Envelope resolution in frames per second.
const ENV_RATE: f64 = 100.0;
/// Tempo search range in BPM.
const BPM_RANGE: (f64, f64) = (60.0, 200.0);
/// Downbeat bonus for the beat of the first onset, as a share of the best beat's onset score.
const START_BONUS: f64 = 0.35;
/// Longest clip the grid covers (four hours); a longer or absurd duration is cut to it.
const MAX_SECONDS: f64 = 60.0 * 60.0 * 4.0;

/// A time signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Meter {
    /// Beats per bar.
    pub beats: u32,
    /// Beat unit (4 = quarter).
    pub unit: u32,
}

impl Default for Meter {
    fn default() -> Self {
        Meter { beats: 4, unit: 4 }
    }
}

impl FromStr for Meter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("meter must look like 4/4 or 6/8, got `{s}`");
        let (b, u) = s.split_once('/').ok_or_else(bad)?;
        let beats: u32 = b.trim().parse().map_err(|_| bad())?;
        let unit: u32 = u.trim().parse().map_err(|_| bad())?;
        if !(1..=32).contains(&beats) || ![1, 2, 4, 8, 16, 32].contains(&unit) {
            return Err(bad());
        }
        Ok(Meter { beats, unit })
    }
}

/// Tempo as reported.
#[derive(Debug, Clone, Serialize)]
pub struct TempoOut {
    /// Beats per minute.
    pub bpm: f64,
    /// Whether it was estimated (false when given).
    pub estimated: bool,
    /// Time signature as text, e.g. "4/4".
    pub meter: String,
}

/// Beats and bars over the clip.
#[derive(Debug, Clone)]
pub struct BeatGrid {
    /// Tempo in BPM.
    pub bpm: f64,
    /// Whether the tempo was estimated.
    pub estimated: bool,
    /// Time signature.
    pub meter: Meter,
    /// Beat times in seconds (from the first downbeat, covering the clip).
    pub beats: Vec<f64>,
    /// Index into `beats` of the first downbeat.
    pub first_downbeat: usize,
}

impl BeatGrid {
    /// Seconds per beat.
    pub fn period(&self) -> f64 {
        60.0 / self.bpm
    }

    /// Downbeat times.
    pub fn downbeats(&self) -> Vec<f64> {
        self.beats.iter().skip(self.first_downbeat).step_by(self.meter.beats as usize).copied().collect()
    }

    /// Bars as (start, end) seconds.
    pub fn bars(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        let bar = self.period() * self.meter.beats as f64;
        self.downbeats().into_iter().map(move |d| (d, d + bar))
    }

    /// Position of `t` in beats from the first downbeat.
    pub fn beat_position(&self, t: f64) -> f64 {
        let origin = self.beats.get(self.first_downbeat).copied().unwrap_or(0.0);
        (t - origin) / self.period()
    }

    /// The report form.
    pub fn tempo_out(&self) -> TempoOut {
        TempoOut {
            bpm: self.bpm,
            estimated: self.estimated,
            meter: format!("{}/{}", self.meter.beats, self.meter.unit),
        }
    }
}

/// Builds the grid: the given or estimated tempo, best phase, best downbeat.
pub fn beat_grid(notes: &[Note], duration: f64, tempo: Option<f64>, meter: Meter) -> BeatGrid {
    // The grid covers the clip and every note in it, whatever duration a caller gave.
    let last_end = notes.iter().map(|n| n.end).filter(|e| e.is_finite()).fold(0.0, f64::max);
    let duration = if duration.is_finite() { duration } else { 0.0 }.max(last_end).clamp(0.0, MAX_SECONDS);
    let env = onset_envelope(notes, duration);
    let (bpm, estimated) = match tempo.filter(|t| t.is_finite() && *t > 0.0) {
        Some(t) => (t.clamp(20.0, 400.0), false),
        None => (estimate_bpm(&env), true),
    };
    let mut period = 60.0 / bpm;
    let mut phase = best_phase(&env, period);
    if estimated {
        // Refine the coarse (10 ms lag) estimate with a least-squares fit of onsets to the grid.
        if let Some(p) = refine_period(notes, phase, period) {
            period = p;
            phase = best_phase(&env, period);
        }
    }
    let bpm = if estimated { (600.0 / period).round() / 10.0 } else { bpm };
    let period = if estimated { 60.0 / bpm } else { period };
    let mut beats = Vec::new();
    let mut t = phase;
    while t < duration.max(period) {
        beats.push(t);
        t += period;
    }
    let first_downbeat = best_downbeat(notes, &beats, meter.beats as usize, period);
    // Let the grid start at a downbeat: prepend beats before the first one so bar 0 starts <= 0+phase.
    let mut grid = BeatGrid { bpm, estimated, meter, beats, first_downbeat };
    if grid.first_downbeat > 0 {
        let extra = meter.beats as usize - grid.first_downbeat;
        let start = grid.beats[0];
        let mut pre: Vec<f64> = (1..=extra).rev().map(|k| start - k as f64 * period).collect();
        pre.extend_from_slice(&grid.beats);
        grid.beats = pre;
        grid.first_downbeat = 0;
    }
    grid
}

/// Onset strength per 10 ms frame: velocity-weighted note starts.
fn onset_envelope(notes: &[Note], duration: f64) -> Vec<f32> {
    let n = (duration * ENV_RATE).ceil().min(MAX_SECONDS * ENV_RATE) as usize + 1;
    let mut env = vec![0.0f32; n];
    for note in notes {
        let i = (note.start * ENV_RATE).round();
        if i >= 0.0 && (i as usize) < env.len() {
            env[i as usize] += 0.3 + note.amplitude;
        }
    }
    // Spread each onset over ±20 ms so nearby onsets reinforce.
    let mut smooth = vec![0.0f32; env.len()];
    for (i, &v) in env.iter().enumerate().filter(|(_, v)| **v > 0.0) {
        for d in -2i64..=2 {
            let j = i as i64 + d;
            if j >= 0 && (j as usize) < smooth.len() {
                smooth[j as usize] += v * (1.0 - d.abs() as f32 * 0.3);
            }
        }
    }
    smooth
}

/// Autocorrelation tempo with a log-normal prior centred on 120 BPM; 120 when there is nothing.
fn estimate_bpm(env: &[f32]) -> f64 {
    let mut best = (0.0f64, 120.0f64);
    let lag_min = (60.0 / BPM_RANGE.1 * ENV_RATE).floor() as usize;
    let lag_max = ((60.0 / BPM_RANGE.0 * ENV_RATE).ceil() as usize).min(env.len().saturating_sub(1));
    for lag in lag_min.max(1)..=lag_max {
        let ac: f64 = env[lag..].iter().zip(env).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
        // Also reward the double period so the tactus (not the eighth) is preferred.
        let ac2: f64 = if 2 * lag < env.len() {
            env[2 * lag..].iter().zip(env).map(|(a, b)| (*a as f64) * (*b as f64)).sum()
        } else {
            0.0
        };
        let bpm = 60.0 * ENV_RATE / lag as f64;
        let prior = (-0.5 * ((bpm / 120.0).log2() / 0.9).powi(2)).exp();
        let score = (ac + 0.5 * ac2) * prior;
        if score > best.0 {
            best = (score, bpm);
        }
    }
    // Refine: parabolic interpolation is not worth it at 10 ms; round to 0.1 BPM.
    (best.1 * 10.0).round() / 10.0
}

/// Fits onset times to the nearest eighth-note positions of the grid (weighted least squares) and
/// returns the fitted beat period, when enough onsets agree.
fn refine_period(notes: &[Note], phase: f64, period: f64) -> Option<f64> {
    let sub = period / 2.0;
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for n in notes {
        let k = ((n.start - phase) / sub).round();
        if (n.start - (phase + k * sub)).abs() <= 0.2 * sub {
            pts.push((k, n.start));
        }
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts.dedup_by(|a, b| a.0 == b.0);
    if pts.len() < 4 {
        return None;
    }
    let m = pts.len() as f64;
    let (mx, my) = (pts.iter().map(|p| p.0).sum::<f64>() / m, pts.iter().map(|p| p.1).sum::<f64>() / m);
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let fitted = 2.0 * sxy / sxx;
    ((0.9 * period..=1.1 * period).contains(&fitted)).then_some(fitted)
}

/// Grid offset in [0, period) that collects the most onset strength.
fn best_phase(env: &[f32], period: f64) -> f64 {
    let steps = (period * ENV_RATE).round().max(1.0) as usize;
    let mut best = (f64::NEG_INFINITY, 0usize);
    for off in 0..steps {
        let mut s = 0.0f64;
        let mut k = 0usize;
        loop {
            let idx = (off as f64 + k as f64 * period * ENV_RATE).round() as usize;
            if idx >= env.len() {
                break;
            }
            s += env[idx] as f64;
            k += 1;
        }
        if s > best.0 + 1e-9 {
            best = (s, off);
        }
    }
    best.1 as f64 / ENV_RATE
}

/// Which of the first `beats_per_bar` beats is a downbeat: most onsets weighted toward low notes,
/// with a bonus for the beat the music starts on.
fn best_downbeat(notes: &[Note], beats: &[f64], beats_per_bar: usize, period: f64) -> usize {
    if beats_per_bar <= 1 || beats.is_empty() {
        return 0;
    }
    let mut score = vec![0.0f64; beats_per_bar];
    for n in notes {
        let k = ((n.start - beats[0]) / period).round();
        if k < 0.0 || (n.start - (beats[0] + k * period)).abs() > 0.1 * period {
            continue;
        }
        let bass = 1.0 + (72.0 - n.pitch as f64).max(0.0) / 24.0;
        let len = (n.end - n.start).min(2.0 * period) / period;
        score[(k as usize) % beats_per_bar] += bass * (0.5 + len) * (0.3 + n.amplitude as f64);
    }
    // Music mostly starts on a downbeat, and in steady four-part textures (chorales, pads) beats 1
    // and 3 collect about the same onsets, so the beat of the first onset gets a bonus: a pickup
    // still wins when the onsets elsewhere are clearly stronger.
    let first = notes.iter().map(|n| n.start).fold(f64::INFINITY, f64::min);
    let k = ((first - beats[0]) / period).round();
    if k >= 0.0 && (first - (beats[0] + k * period)).abs() <= 0.25 * period {
        let top = score.iter().copied().fold(0.0, f64::max);
        score[(k as usize) % beats_per_bar] += START_BONUS * top;
    }
    score.iter().enumerate().fold((0usize, f64::NEG_INFINITY), |b, (i, &s)| if s > b.1 + 1e-9 { (i, s) } else { b }).0
}
