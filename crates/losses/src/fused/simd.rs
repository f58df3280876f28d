//! The stable logistic pieces of the fused kernels, eight lanes at a time (`wide`'s SIMD
//! `exp`, `ln` and `ln_1p`), the `f32x8` counterparts of [`crate::stable`].

use wide::f32x8;

/// The logistic function of `x` and its logs, from `e = exp(-|x|)` so that nothing
/// overflows:
///
/// ```text
/// softplus(-x) = max(-x, 0) + log1p(e) = -log σ(x)
/// σ(x) = 1 / (1 + e) for x ≥ 0, e / (1 + e) otherwise;  σ(-x) = 1 - σ(x), computed alike
/// ```
pub(crate) struct Logistic {
    /// `softplus(-x) = -log σ(x)`.
    pub softplus_neg: f32x8,
    /// `softplus(x) = -log σ(-x) = x + softplus(-x)`.
    pub softplus_pos: f32x8,
    /// `p = σ(x)`.
    pub p: f32x8,
    /// `q = σ(-x) = 1 - p`, without cancellation.
    pub q: f32x8,
}

#[inline(always)]
pub(crate) fn logistic(x: f32x8) -> Logistic {
    let zero = f32x8::ZERO;
    let e = (-x.abs()).exp();
    let log1p_e = e.ln_1p();
    let r = f32x8::ONE / (f32x8::ONE + e);
    let er = e * r;
    let positive = x.simd_ge(zero);
    Logistic {
        softplus_neg: (-x).fast_max(zero) + log1p_e,
        softplus_pos: x.fast_max(zero) + log1p_e,
        p: positive.select(r, er),
        q: positive.select(er, r),
    }
}
