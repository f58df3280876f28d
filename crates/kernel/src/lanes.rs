//! [`Num`] for eight `f32` lanes: the instantiation of the fused CPU path.

use wide::f32x8;

use crate::num::Num;

impl Num for f32x8 {
    type Mask = f32x8;

    #[inline(always)]
    fn scale(self, k: f32) -> Self {
        self * f32x8::splat(k)
    }

    #[inline(always)]
    fn div_k(self, k: f32) -> Self {
        self / f32x8::splat(k)
    }

    #[inline(always)]
    fn shift(self, k: f32) -> Self {
        self + f32x8::splat(k)
    }

    #[inline(always)]
    fn sqrt(self) -> Self {
        f32x8::sqrt(self)
    }

    #[inline(always)]
    fn recip(self) -> Self {
        f32x8::ONE / self
    }

    #[inline(always)]
    fn zeros_like(&self) -> Self {
        f32x8::ZERO
    }

    #[inline(always)]
    fn abs(self) -> Self {
        f32x8::abs(self)
    }

    #[inline(always)]
    fn max(self, other: Self) -> Self {
        f32x8::fast_max(self, other)
    }

    #[inline(always)]
    fn max_k(self, k: f32) -> Self {
        f32x8::fast_max(self, f32x8::splat(k))
    }

    #[inline(always)]
    fn signum(self) -> Self {
        let zero = f32x8::ZERO;
        self.simd_gt(zero).select(f32x8::ONE, zero) - self.simd_lt(zero).select(f32x8::ONE, zero)
    }

    #[inline(always)]
    fn exp(self) -> Self {
        f32x8::exp(self)
    }

    #[inline(always)]
    fn ln(self) -> Self {
        f32x8::ln(self)
    }

    #[inline(always)]
    fn ln_1p(self) -> Self {
        f32x8::ln_1p(self)
    }

    #[inline(always)]
    fn ge_k(&self, k: f32) -> Self::Mask {
        self.simd_ge(f32x8::splat(k))
    }

    #[inline(always)]
    fn gt_k(&self, k: f32) -> Self::Mask {
        self.simd_gt(f32x8::splat(k))
    }

    #[inline(always)]
    fn eq_k(&self, k: f32) -> Self::Mask {
        self.simd_eq(f32x8::splat(k))
    }

    #[inline(always)]
    fn select(mask: Self::Mask, yes: Self, no: Self) -> Self {
        mask.select(yes, no)
    }

    #[inline(always)]
    fn may_hold(mask: &Self::Mask) -> bool {
        mask.any()
    }
}
