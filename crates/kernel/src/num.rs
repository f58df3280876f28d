//! The arithmetic every update rule and fused loss of descent is written in, once.
//!
//! A rule written as `fn rule<T: Num>(..)` runs unchanged on:
//!
//! - eight `f32` lanes ([`wide::f32x8`]): the fused CPU path, one pass over the buffers of
//!   flex and ndarray tensors (see [`crate::zip`]);
//! - whole tensors ([`burn::tensor::Tensor`]): the generic path on every device, which Burn's
//!   fusion compiles into few kernels on wgpu;
//! - one `f32` or `f64`: per-row formulas on the host, loops the compiler vectorises.
//!
//! Further instantiations (f16/bf16 lanes widened to f32 in registers, a CubeCL kernel) are
//! further `impl Num` blocks, not copies of the rules. The operations are IEEE single
//! operations on both paths (`+ − × ÷ √`, comparisons, selections), so an optimizer step gives
//! the same bits on both; `exp` and `ln` are each implementation's own approximation.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// The arithmetic of a rule: values of one element (or eight lanes, or a whole tensor).
///
/// Scalars (`k`) are the step's constants, computed once on the host.
pub trait Num:
    Clone
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// The result of a comparison, consumed by [`Num::select`].
    type Mask: Clone;

    /// `self · k`.
    fn scale(self, k: f32) -> Self;
    /// `self / k`.
    fn div_k(self, k: f32) -> Self;
    /// `self + k`.
    fn shift(self, k: f32) -> Self;
    /// `√self`.
    fn sqrt(self) -> Self;
    /// `1 / self` (a division, not an approximation).
    fn recip(self) -> Self;
    /// Zeros shaped like `self`.
    fn zeros_like(&self) -> Self;
    /// `|self|`.
    fn abs(self) -> Self;
    /// The larger of `self` and `other` (where one is NaN, either may be returned).
    fn max(self, other: Self) -> Self;
    /// `max(self, k)`.
    fn max_k(self, k: f32) -> Self;
    /// `−1`, `0` or `+1` by the sign of `self` (0 at ±0, as `jnp.sign` and Burn's `sign`).
    fn signum(self) -> Self;
    /// `eˢᵉˡᶠ`.
    fn exp(self) -> Self;
    /// `ln self`.
    fn ln(self) -> Self;
    /// `ln(1 + self)`, accurate near 0.
    fn ln_1p(self) -> Self;
    /// `self ≥ k`.
    fn ge_k(&self, k: f32) -> Self::Mask;
    /// `self > k`.
    fn gt_k(&self, k: f32) -> Self::Mask;
    /// `self = k`.
    fn eq_k(&self, k: f32) -> Self::Mask;
    /// `yes` where `mask` holds, `no` elsewhere.
    fn select(mask: Self::Mask, yes: Self, no: Self) -> Self;
    /// Whether `mask` may hold anywhere: exact for lanes and scalars, `true` for tensors
    /// (where finding out would wait for the device). A rule skips work it can prove unneeded.
    fn may_hold(mask: &Self::Mask) -> bool;
    /// `self · self`.
    fn square(self) -> Self {
        self.clone() * self
    }
}

/// An exponential moving average, as every momentum and moment estimate of the optimizers
/// writes it: `β a + (1 − β) x`, with `β` and `1 − β` rounded to `f32` once, on the host.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ema {
    beta: f32,
    rest: f32,
}

impl Ema {
    /// The average of rate `β`.
    pub fn new(beta: f64) -> Self {
        Self {
            beta: beta as f32,
            rest: (1.0 - beta) as f32,
        }
    }

    /// `β a + (1 − β) x`.
    #[inline(always)]
    pub fn of<T: Num>(&self, avg: T, x: T) -> T {
        avg.scale(self.beta) + x.scale(self.rest)
    }
}
