//! Annealed blocked Gibbs sampling (Coconet, Huang et al. 2017): draw every target cell from the
//! model at once, then repeatedly re-mask a shrinking random share of them and redraw those given
//! the rest. The model is a closure, so the schedule is testable without one; the same schedule
//! runs in `scripts/arranger/evaluate.py`.

use rand::Rng;

use super::ArrangeError;
use super::config::ArrangerConfig;

/// One window of the roll being sampled; all three are `[voice][step]`.
#[derive(Debug, Clone)]
pub struct Window {
    /// Current class of every cell (meaningless where `unknown` and not `target`).
    pub classes: Vec<Vec<usize>>,
    /// Cells the model must not see (unknown voices, target cells not yet drawn).
    pub unknown: Vec<Vec<bool>>,
    /// Cells to draw; a subset of `unknown` on entry.
    pub target: Vec<Vec<bool>>,
}

/// Mask share of round `i` of `n`: falls linearly from `mask_max` to `mask_min` over
/// `anneal_share` of the rounds, then stays.
pub fn mask_share(i: usize, n: usize, cfg: &ArrangerConfig) -> f64 {
    let g = cfg.gibbs;
    (g.mask_max - (g.mask_max - g.mask_min) * i as f64 / (g.anneal_share * n as f64).max(1e-9)).max(g.mask_min)
}

/// Samples the window's target cells in place. `model(roll, mask)` gets the one-hot roll
/// `[V*W*K]` (zero where masked) and the mask `[V*W]` and returns logits `[V*W*K]`;
/// `allowed[k]` says which classes the target cells may take (register and rest).
pub fn sample<R: Rng>(
    win: &mut Window,
    allowed: &[bool],
    cfg: &ArrangerConfig,
    rng: &mut R,
    mut model: impl FnMut(&[f32], &[f32]) -> Result<Vec<f32>, ArrangeError>,
) -> Result<(), ArrangeError> {
    let (voices, w) = (win.classes.len(), win.classes.first().map_or(0, Vec::len));
    let target = win.target.clone();
    let first: Vec<Vec<bool>> = target.clone();
    redraw(win, &first, allowed, cfg, rng, &mut model)?;
    let n = cfg.gibbs.iterations;
    for i in 0..n {
        let p = mask_share(i, n, cfg);
        let mut any = false;
        let mask: Vec<Vec<bool>> = (0..voices)
            .map(|v| {
                (0..w)
                    .map(|t| {
                        let m = target[v][t] && rng.random::<f64>() < p;
                        any |= m;
                        m
                    })
                    .collect()
            })
            .collect();
        if any {
            redraw(win, &mask, allowed, cfg, rng, &mut model)?;
        }
    }
    Ok(())
}

/// One model call: the `redraw` cells (plus the still unknown non-target ones) are masked, and
/// the `redraw` cells get new classes drawn from the tempered softmax over allowed classes.
fn redraw<R: Rng>(
    win: &mut Window,
    redraw: &[Vec<bool>],
    allowed: &[bool],
    cfg: &ArrangerConfig,
    rng: &mut R,
    model: &mut impl FnMut(&[f32], &[f32]) -> Result<Vec<f32>, ArrangeError>,
) -> Result<(), ArrangeError> {
    let (voices, w, k) = (win.classes.len(), win.classes[0].len(), cfg.classes());
    let mut roll = vec![0.0f32; voices * w * k];
    let mut mask = vec![0.0f32; voices * w];
    for v in 0..voices {
        for t in 0..w {
            // A target cell is known once drawn, unless it is being redrawn now.
            let hidden = redraw[v][t] || (win.unknown[v][t] && !win.target[v][t]);
            if hidden {
                mask[v * w + t] = 1.0;
            } else {
                roll[(v * w + t) * k + win.classes[v][t]] = 1.0;
            }
        }
    }
    let logits = model(&roll, &mask)?;
    let temp = cfg.gibbs.temperature.max(1e-3);
    let mut probs = vec![0.0f64; k];
    for v in 0..voices {
        for t in 0..w {
            if !redraw[v][t] {
                continue;
            }
            let row = &logits[(v * w + t) * k..(v * w + t + 1) * k];
            let top = row.iter().zip(allowed).filter(|(_, a)| **a).map(|(x, _)| *x).fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0;
            for c in 0..k {
                probs[c] = if allowed[c] { f64::from((row[c] - top) / temp).exp() } else { 0.0 };
                sum += probs[c];
            }
            let mut u = rng.random::<f64>() * sum;
            let mut pick = cfg.rest_class;
            for (c, &p) in probs.iter().enumerate() {
                if p > 0.0 {
                    pick = c;
                    if u < p {
                        break;
                    }
                    u -= p;
                }
            }
            win.classes[v][t] = pick;
        }
    }
    Ok(())
}
