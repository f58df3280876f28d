//! The fused pass of the element-wise losses (MSE, BCE-with-logits, sigmoid focal): one sweep
//! over an input and a target computing the loss sum, the scaled gradient and the input
//! checks, the loss's formula on eight AVX lanes where the processor has AVX (the choice of
//! [`crate::zip::simd`]), four SSE lanes otherwise.
//!
//! ```text
//! for each vector (x, y):  (ℓ, d) = rule(x, y);  Σℓ (f32 over 512 elements, then f64);
//!                          g = s·d;  checks: Σ 0·x + 0·y (NaN if any is not finite), min y, max y
//! ```

use crate::num::Num;
use crate::zip::{Simd, Vector};

/// A per-element loss `ℓ(x, y)` with its derivative in `x`, written once over [`Num`].
pub trait PointRule: Sync {
    /// `(ℓ, ∂ℓ/∂x)` for each lane.
    fn eval<T: Num + Copy>(&self, x: T, y: T) -> (T, T);
}

/// What one pass saw: the loss sum and the input checks.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    /// `Σ ℓ(x_i, y_i)`.
    pub loss: f64,
    /// NaN when an input or target element was not finite, 0 otherwise.
    pub nonfinite: f32,
    /// The smallest target element (`+∞` for none).
    pub lo: f32,
    /// The largest target element (`−∞` for none).
    pub hi: f32,
}

impl Seen {
    /// Nothing seen.
    pub fn none() -> Self {
        Self {
            loss: 0.0,
            nonfinite: 0.0,
            lo: f32::INFINITY,
            hi: f32::NEG_INFINITY,
        }
    }

    /// Both passes' results.
    pub fn merge(a: Self, b: Self) -> Self {
        Self {
            loss: a.loss + b.loss,
            nonfinite: a.nonfinite + b.nonfinite,
            lo: a.lo.min(b.lo),
            hi: a.hi.max(b.hi),
        }
    }
}

/// Elements summed in `f32` before the partial sum is added in `f64`.
const BLOCK: usize = 512;

/// One pass of `rule` over `x` and `y` (same length): the loss sum, `g = s · ∂ℓ/∂x` written to
/// `g` when given (same length), and the checks.
pub fn sweep<K: PointRule>(rule: &K, x: &[f32], y: &[f32], g: Option<&mut [f32]>, s: f32) -> Seen {
    sweep_on(crate::zip::simd(), rule, x, y, g, s)
}

/// [`sweep`] on the given lanes (SSE where AVX is asked for and missing).
pub fn sweep_on<K: PointRule>(
    simd: Simd,
    rule: &K,
    x: &[f32],
    y: &[f32],
    g: Option<&mut [f32]>,
    s: f32,
) -> Seen {
    assert_eq!(x.len(), y.len(), "input and target lengths");
    if let Some(g) = &g {
        assert_eq!(g.len(), x.len(), "gradient length");
    }
    #[cfg(target_arch = "x86_64")]
    if simd == Simd::Avx && crate::zip::avx_available() {
        // SAFETY: the processor has AVX (checked just above).
        return unsafe { sweep_avx(rule, x, y, g, s) };
    }
    lanes::<wide::f32x4, K>(rule, x, y, g, s)
}

/// [`lanes`] on eight AVX lanes, compiled for AVX.
///
/// # Safety
/// The processor must have AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn sweep_avx<K: PointRule>(
    rule: &K,
    x: &[f32],
    y: &[f32],
    g: Option<&mut [f32]>,
    s: f32,
) -> Seen {
    lanes::<crate::avx::F32x8, K>(rule, x, y, g, s)
}

#[inline(always)]
fn splat<V: Vector>(v: f32) -> V {
    V::load(&[v; 16][..V::WIDTH])
}

#[inline(always)]
fn sum<V: Vector>(v: V) -> f64 {
    let mut a = [0.0f32; 16];
    v.store(&mut a[..V::WIDTH]);
    a[..V::WIDTH].iter().map(|&l| f64::from(l)).sum()
}

#[inline(always)]
fn fold<V: Vector>(v: V, f: fn(f32, f32) -> f32, start: f32) -> f32 {
    let mut a = [0.0f32; 16];
    v.store(&mut a[..V::WIDTH]);
    a[..V::WIDTH].iter().copied().fold(start, f)
}

#[inline(always)]
fn lanes<V: Vector, K: PointRule>(
    rule: &K,
    x: &[f32],
    y: &[f32],
    mut g: Option<&mut [f32]>,
    s: f32,
) -> Seen {
    let w = V::WIDTH;
    let zero: V = splat(0.0);
    let sv: V = splat(s);
    let (mut nonfinite, mut neg_lo, mut hi) = (
        zero,
        splat::<V>(f32::NEG_INFINITY),
        splat::<V>(f32::NEG_INFINITY),
    );
    let whole = x.len() / w * w;
    let mut loss = 0.0f64;
    let mut start = 0;
    while start < whole {
        let end = (start + BLOCK).min(whole);
        let mut acc = zero;
        let mut i = start;
        while i < end {
            // SAFETY: `i + w <= whole <= x.len() == y.len()` (asserted above).
            let (xv, yv) = unsafe { (V::read(x.as_ptr().add(i)), V::read(y.as_ptr().add(i))) };
            let (l, d) = rule.eval(xv, yv);
            acc = acc + l;
            nonfinite = nonfinite + xv * zero + yv * zero;
            neg_lo = neg_lo.max(-yv);
            hi = hi.max(yv);
            if let Some(g) = g.as_deref_mut() {
                (d * sv).store(&mut g[i..i + w]);
            }
            i += w;
        }
        loss += sum(acc);
        start = end;
    }
    let mut seen = Seen {
        loss,
        nonfinite: fold(nonfinite, |a, b| a + b, 0.0),
        lo: -fold(neg_lo, f32::max, f32::NEG_INFINITY),
        hi: fold(hi, f32::max, f32::NEG_INFINITY),
    };
    // The last few elements, one lane each (padding lanes are never read).
    for i in whole..x.len() {
        let (l, d) = rule.eval(splat::<V>(x[i]), splat::<V>(y[i]));
        let mut a = [0.0f32; 16];
        l.store(&mut a[..w]);
        seen.loss += f64::from(a[0]);
        seen.nonfinite += x[i] * 0.0 + y[i] * 0.0;
        seen.lo = seen.lo.min(y[i]);
        seen.hi = seen.hi.max(y[i]);
        if let Some(g) = g.as_deref_mut() {
            d.store(&mut a[..w]);
            g[i] = a[0] * s;
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Squared error and a logistic loss (exp and ln_1p), with a constant.
    struct Rule;

    impl PointRule for Rule {
        fn eval<T: Num + Copy>(&self, x: T, y: T) -> (T, T) {
            let e = (-x.abs()).exp();
            let l = (x - y).square().scale(0.5) + e.ln_1p() + x.max_k(0.0);
            (l, (x - y).shift(0.25))
        }
    }

    #[test]
    fn avx_and_sse_lanes_agree_with_the_scalar_formula() {
        let n = 1003; // a tail
        let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 30.0).collect();
        let y: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
        let want: f64 = x
            .iter()
            .zip(&y)
            .map(|(&a, &b)| f64::from(Rule.eval(a, b).0))
            .sum();
        let mut lo = f32::INFINITY;
        y.iter().for_each(|&v| lo = lo.min(v));
        for simd in [Simd::Sse, Simd::Avx] {
            let mut g = vec![0.0f32; n];
            let seen = sweep_on(simd, &Rule, &x, &y, Some(&mut g), 0.5);
            assert!(
                (seen.loss - want).abs() <= 1e-5 * want.abs(),
                "{simd:?}: {} against {want}",
                seen.loss
            );
            assert_eq!(seen.nonfinite, 0.0);
            assert_eq!(seen.lo, lo);
            for i in 0..n {
                assert_eq!(g[i], (x[i] - y[i] + 0.25) * 0.5, "{simd:?} g[{i}]");
            }
            let mut bad = y.clone();
            bad[n - 2] = f32::NAN;
            let nan = sweep_on(simd, &Rule, &x, &bad, None, 1.0).nonfinite;
            assert!(nan.is_nan(), "{simd:?}: a NaN in the tail");
            bad[n - 2] = 0.0;
            bad[5] = f32::INFINITY;
            let inf = sweep_on(simd, &Rule, &x, &bad, None, 1.0).nonfinite;
            assert!(inf.is_nan(), "{simd:?}: an ∞");
            let mut big = x.clone();
            big[7] = 3e38;
            let (mut yb, mut xb) = (y.clone(), big.clone());
            yb[7] = 3e38;
            xb[7] = 3e38;
            let seen = sweep_on(simd, &Rule, &xb, &yb, None, 1.0);
            assert_eq!(
                seen.nonfinite, 0.0,
                "{simd:?}: large finite inputs are finite"
            );
        }
    }
}
