//! The host `f64` vector kernels of L-BFGS and its line search: in parallel chunks, each
//! summed in eight lanes so that it vectorises, and merged in chunk order, so a result does
//! not depend on the number of threads.

use rayon::prelude::*;

/// Elements per parallel task.
const CHUNK: usize = 1 << 15;

/// `Σ aᵢ bᵢ`.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let partial = |(a, b): (&[f64], &[f64])| {
        let mut acc = [0.0f64; 8];
        let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
        let tail: f64 = ca
            .remainder()
            .iter()
            .zip(cb.remainder())
            .map(|(x, y)| x * y)
            .sum();
        for (x, y) in ca.zip(cb) {
            for ((acc, x), y) in acc.iter_mut().zip(x).zip(y) {
                *acc += x * y;
            }
        }
        acc.iter().sum::<f64>() + tail
    };
    let partials: Vec<f64> = a
        .par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .map(partial)
        .collect();
    partials.iter().sum()
}

/// `max |aᵢ|`.
pub(crate) fn max_abs(a: &[f64]) -> f64 {
    a.par_chunks(CHUNK)
        .map(|a| a.iter().fold(0.0f64, |m, x| m.max(x.abs())))
        .reduce(|| 0.0, f64::max)
}

/// `y ← y + α x`.
pub(crate) fn axpy(y: &mut [f64], alpha: f64, x: &[f64]) {
    y.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(y, x)| {
            for (y, x) in y.iter_mut().zip(x) {
                *y += alpha * x;
            }
        });
}

/// `v ← α v`.
pub(crate) fn scale(v: &mut [f64], alpha: f64) {
    v.par_chunks_mut(CHUNK)
        .for_each(|v| v.iter_mut().for_each(|x| *x *= alpha));
}

/// `f(aᵢ, bᵢ)` for each `i`, as a new vector.
pub(crate) fn zip_map(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64 + Sync) -> Vec<f64> {
    a.par_iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn kernels_match_the_sequential_loops() {
        let a: Vec<f64> = (0..100_003)
            .map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0)
            .collect();
        let b: Vec<f64> = (0..100_003)
            .map(|i| ((i * 11 % 53) as f64 - 26.0) / 3.0)
            .collect();
        let seq: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((super::dot(&a, &b) - seq).abs() <= 1e-9 * seq.abs().max(1.0));
        assert_eq!(
            super::max_abs(&a),
            a.iter().fold(0.0f64, |m, x| m.max(x.abs()))
        );
        let mut y = b.clone();
        super::axpy(&mut y, 0.5, &a);
        assert!(
            y.iter()
                .zip(&a)
                .zip(&b)
                .all(|((y, a), b)| *y == b + 0.5 * a)
        );
        let mut s = a.clone();
        super::scale(&mut s, 3.0);
        assert!(s.iter().zip(&a).all(|(s, a)| *s == 3.0 * a));
        let d = super::zip_map(&a, &b, |x, y| x - y);
        assert!(d.iter().zip(&a).zip(&b).all(|((d, a), b)| *d == a - b));
    }
}
