//! The element-wise update rules: each optimizer's step written once, over [`Num`], with the
//! pieces several optimizers share written once too.
//!
//! A rule maps one element's parameter `θ`, gradient `g` and state slots `s` to the new `θ`,
//! updating `s`. [`crate::step::Stepper`] runs it on eight lanes at a time over the buffers of
//! flex and ndarray tensors, or on whole tensors on any device; the rule does not know which.
//! Constants that depend on the step (learning rate, bias corrections) are computed once on
//! the host when the rule value is built for a step. A rule checks nothing: the stepper does.

use descent_kernel::Num;

/// An element-wise update rule (see the module documentation). A rule is a few constants,
/// `Copy`, so that the fused loop holds its own copy and keeps them in registers.
pub(crate) trait Rule: Copy + Sync {
    /// How many state slots the rule keeps per parameter (at most 4).
    fn slots(&self) -> usize;

    /// The value slot `slot` starts from, before the first step (0 unless overridden).
    fn initial(&self, _slot: usize) -> f32 {
        0.0
    }

    /// One step: the new `θ` from `θ`, `g` and the slots `s` (`slots()` of them), which it
    /// updates in place.
    fn apply<T: Num>(&self, p: T, g: T, s: &mut [T]) -> T;
}

/// The gradient an update follows: `±g + λθ`, negated when maximizing, with the coupled (L2)
/// weight decay `λ` that PyTorch adds to the gradient (`weight_decay` of SGD, Adam, ...).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Direction {
    negate: bool,
    l2: f32,
}

impl Direction {
    /// `±g + l2·θ`.
    pub fn new(maximize: bool, l2: f64) -> Self {
        Self {
            negate: maximize,
            l2: l2 as f32,
        }
    }

    /// The direction of `g` at `p`.
    #[inline(always)]
    pub fn of<T: Num>(&self, g: T, p: &T) -> T {
        let g = if self.negate { -g } else { g };
        if self.l2 != 0.0 {
            g + p.clone().scale(self.l2)
        } else {
            g
        }
    }
}

/// Decoupled weight decay `θ ← θ (1 − ηλ)` (AdamW, NAdamW, RAdamW): the factor `1 − ηλ`,
/// 1 for none.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Decay(f32);

impl Decay {
    /// No decay.
    pub const NONE: Decay = Decay(1.0);

    /// `1 − lr·λ` when `decoupled`, no decay otherwise.
    pub fn new(decoupled: bool, lr: f64, weight_decay: f64) -> Self {
        Self(if decoupled && weight_decay != 0.0 {
            (1.0 - lr * weight_decay) as f32
        } else {
            1.0
        })
    }

    /// `θ (1 − ηλ)`.
    #[inline(always)]
    pub fn of<T: Num>(&self, p: T) -> T {
        if self.0 != 1.0 { p.scale(self.0) } else { p }
    }
}

/// A weight decay of `λ` as the optimizers that offer both apply it: coupled (`±g + λθ`) or
/// decoupled (`θ (1 − ηλ)`), with `maximize`.
pub(crate) fn weight_decay(
    maximize: bool,
    weight_decay: f64,
    decoupled: bool,
    lr: f64,
) -> (Direction, Decay) {
    let coupled = if decoupled { 0.0 } else { weight_decay };
    (
        Direction::new(maximize, coupled),
        Decay::new(decoupled, lr, weight_decay),
    )
}

/// `1 − βᵗ`: the bias correction of a moment estimate after `t` steps.
pub(crate) fn bias_correction(beta: f64, t: u64) -> f64 {
    1.0 - beta.powi(t as i32)
}

/// `a + w (b − a)`, as `torch.lerp` rounds it (from `b`'s side when `w ≥ ½`, so that `w = 1`
/// gives `b` exactly).
#[inline(always)]
pub(crate) fn lerp<T: Num>(a: T, b: T, w: f32) -> T {
    if w < 0.5 {
        a.clone() + (b - a).scale(w)
    } else {
        b.clone() - (b - a).scale(1.0 - w)
    }
}
