//! The host `f64` vector kernels of L-BFGS and its line search: in parallel chunks, each
//! summed in eight lanes so that it vectorises, and merged in chunk order, so a result does
//! not depend on the number of threads. The chunks run on descent's thread team
//! (`descent_kernel::team`): an L-BFGS step is dozens of these passes back to back.

use descent_kernel::team;

/// Elements per parallel task; a shorter vector is handled on the calling thread (a parallel
/// pass costs more than a pass over it).
const CHUNK: usize = 1 << 15;

/// `f` over matching chunks of `y` and `x`, in parallel when there is more than one.
fn zip_chunks<T: Send, U: Sync>(y: &mut [T], x: &[U], f: impl Fn(&mut [T], &[U]) + Sync) {
    if y.len() <= CHUNK {
        f(y, x);
    } else {
        team::map(
            y.chunks_mut(CHUNK).zip(x.chunks(CHUNK)).collect(),
            |(y, x)| {
                f(y, x);
            },
        );
    }
}

/// `Σ aᵢ bᵢ`.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let partial = |a: &[f64], b: &[f64]| {
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
    if a.len() <= CHUNK {
        return partial(a, b);
    }
    let partials = team::map(a.chunks(CHUNK).zip(b.chunks(CHUNK)).collect(), |(a, b)| {
        partial(a, b)
    });
    partials.iter().sum()
}

/// `max |aᵢ|`, NaN when an element is NaN (as `abs().max()` in PyTorch).
pub(crate) fn max_abs(a: &[f64]) -> f64 {
    let partial = |a: &[f64]| {
        let (mut acc, mut nan) = ([0.0f64; 8], [false; 8]);
        let c = a.chunks_exact(8);
        let tail = c.remainder();
        for x in c {
            for ((m, n), x) in acc.iter_mut().zip(&mut nan).zip(x) {
                *m = m.max(x.abs());
                *n |= x.is_nan();
            }
        }
        let m = tail
            .iter()
            .fold(acc.iter().fold(0.0f64, |m, x| m.max(*x)), |m, x| {
                m.max(x.abs())
            });
        if nan.contains(&true) || tail.iter().any(|x| x.is_nan()) {
            f64::NAN
        } else {
            m
        }
    };
    let merge = |m: f64, x: f64| {
        if m.is_nan() || x.is_nan() {
            f64::NAN
        } else {
            m.max(x)
        }
    };
    if a.len() <= CHUNK {
        return partial(a);
    }
    team::map(a.chunks(CHUNK).collect(), partial)
        .into_iter()
        .fold(0.0, merge)
}

/// `y ← y + α x`.
pub(crate) fn axpy(y: &mut [f64], alpha: f64, x: &[f64]) {
    zip_chunks(y, x, |y, x| {
        for (y, x) in y.iter_mut().zip(x) {
            *y += alpha * x;
        }
    });
}

/// `v ← α v`.
pub(crate) fn scale(v: &mut [f64], alpha: f64) {
    let f = |v: &mut [f64]| v.iter_mut().for_each(|x| *x *= alpha);
    if v.len() <= CHUNK {
        f(v);
    } else {
        team::map(v.chunks_mut(CHUNK).collect(), f);
    }
}

/// `y ← g − y`.
pub(crate) fn sub_from(y: &mut [f64], g: &[f64]) {
    zip_chunks(y, g, |y, g| {
        for (y, g) in y.iter_mut().zip(g) {
            *y = g - *y;
        }
    });
}

/// `−g`, written into `buffer` (its memory reused when its length fits).
pub(crate) fn negated(g: &[f64], mut buffer: Vec<f64>) -> Vec<f64> {
    if buffer.len() != g.len() {
        // Zeroed by the allocator (fresh pages for a long vector), written once below.
        buffer = vec![0.0; g.len()];
    }
    zip_chunks(&mut buffer, g, |d, g| {
        for (d, g) in d.iter_mut().zip(g) {
            *d = -g;
        }
    });
    buffer
}

/// `dstᵢ ← srcᵢ` widened to `f64`.
pub(crate) fn widen(dst: &mut [f64], src: &[f32]) {
    zip_chunks(dst, src, |d, s| {
        d.iter_mut().zip(s).for_each(|(d, s)| *d = f64::from(*s))
    });
}

/// `dstᵢ ← srcᵢ` rounded to `f32`.
pub(crate) fn narrow(dst: &mut [f32], src: &[f64]) {
    zip_chunks(dst, src, |d, s| {
        d.iter_mut().zip(s).for_each(|(d, s)| *d = *s as f32)
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn kernels_match_the_sequential_loops() {
        // Parallel chunks, and one chunk on the calling thread.
        for n in [100_003, 1_001] {
            kernels_match_at(n);
        }
    }

    #[test]
    fn max_abs_propagates_nan() {
        for n in [100_003, 1_001, 5] {
            let mut a = vec![1.0; n];
            a[n / 2] = f64::NAN;
            assert!(super::max_abs(&a).is_nan(), "n = {n}");
            a[n / 2] = f64::NEG_INFINITY;
            assert_eq!(super::max_abs(&a), f64::INFINITY);
        }
    }

    fn kernels_match_at(n: usize) {
        let a: Vec<f64> = (0..n)
            .map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0)
            .collect();
        let b: Vec<f64> = (0..n)
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
        let mut y = b.clone();
        super::sub_from(&mut y, &a);
        assert!(y.iter().zip(&a).zip(&b).all(|((y, a), b)| *y == a - b));
        let minus: Vec<f64> = a.iter().map(|x| -x).collect();
        assert_eq!(super::negated(&a, Vec::new()), minus);
        assert_eq!(super::negated(&a, vec![7.0; a.len()]), minus);
        let mut narrow = vec![0.0f32; a.len()];
        super::narrow(&mut narrow, &a);
        assert!(narrow.iter().zip(&a).all(|(n, a)| *n == *a as f32));
        let mut wide = vec![0.0f64; a.len()];
        super::widen(&mut wide, &narrow);
        assert!(wide.iter().zip(&narrow).all(|(w, n)| *w == f64::from(*n)));
    }
}
