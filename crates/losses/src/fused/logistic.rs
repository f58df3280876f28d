//! The logistic function and its logs from one exponential, over [`Num`]: the building block
//! of the losses of logits written once (BCE-with-logits, sigmoid focal), the counterpart of
//! [`crate::stable`] for them.

use descent_kernel::Num;

/// The logistic function of `x` and its logs, from `e = exp(-|x|)` so that nothing
/// overflows:
///
/// ```text
/// softplus(-x) = max(-x, 0) + log1p(e) = -log σ(x)
/// σ(x) = 1 / (1 + e) for x ≥ 0, e / (1 + e) otherwise;  σ(-x) = 1 - σ(x), computed alike
/// ```
pub(crate) struct Logistic<T> {
    /// `softplus(-x) = -log σ(x)`.
    pub softplus_neg: T,
    /// `softplus(x) = -log σ(-x) = x + softplus(-x)`.
    pub softplus_pos: T,
    /// `p = σ(x)`.
    pub p: T,
    /// `q = σ(-x) = 1 - p`, without cancellation.
    pub q: T,
}

#[inline(always)]
pub(crate) fn logistic<T: Num>(x: T) -> Logistic<T> {
    let e = (-x.clone().abs()).exp();
    let log1p_e = e.clone().ln_1p();
    let r = e.clone().shift(1.0).recip();
    let er = e * r.clone();
    let positive = x.ge_k(0.0);
    Logistic {
        softplus_neg: (-x.clone()).max_k(0.0) + log1p_e.clone(),
        softplus_pos: x.max_k(0.0) + log1p_e,
        p: T::select(positive.clone(), r.clone(), er.clone()),
        q: T::select(positive, er, r),
    }
}
