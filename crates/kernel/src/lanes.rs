//! [`Num`] for `f32` lanes: the instantiations of the fused CPU path. Four lanes fill one
//! SSE register (the optimizers' loop, where a rule's constants and slots must all stay in
//! registers); eight lanes suit the losses, whose work per element is larger.

use wide::{f32x4, f32x8};

use crate::num::Num;

macro_rules! lanes_num {
    ($lanes:ident) => {
        impl Num for $lanes {
            type Mask = $lanes;

            #[inline(always)]
            fn scale(self, k: f32) -> Self {
                self * $lanes::splat(k)
            }

            #[inline(always)]
            fn div_k(self, k: f32) -> Self {
                self / $lanes::splat(k)
            }

            #[inline(always)]
            fn shift(self, k: f32) -> Self {
                self + $lanes::splat(k)
            }

            #[inline(always)]
            fn sqrt(self) -> Self {
                $lanes::sqrt(self)
            }

            #[inline(always)]
            fn recip(self) -> Self {
                $lanes::ONE / self
            }

            #[inline(always)]
            fn zeros_like(&self) -> Self {
                $lanes::ZERO
            }

            #[inline(always)]
            fn abs(self) -> Self {
                $lanes::abs(self)
            }

            #[inline(always)]
            fn max(self, other: Self) -> Self {
                $lanes::fast_max(self, other)
            }

            #[inline(always)]
            fn max_k(self, k: f32) -> Self {
                $lanes::fast_max(self, $lanes::splat(k))
            }

            #[inline(always)]
            fn signum(self) -> Self {
                let zero = $lanes::ZERO;
                self.simd_gt(zero).select($lanes::ONE, zero)
                    - self.simd_lt(zero).select($lanes::ONE, zero)
            }

            #[inline(always)]
            fn exp(self) -> Self {
                $lanes::exp(self)
            }

            #[inline(always)]
            fn ln(self) -> Self {
                $lanes::ln(self)
            }

            #[inline(always)]
            fn ln_1p(self) -> Self {
                $lanes::ln_1p(self)
            }

            #[inline(always)]
            fn ge_k(&self, k: f32) -> Self::Mask {
                self.simd_ge($lanes::splat(k))
            }

            #[inline(always)]
            fn gt_k(&self, k: f32) -> Self::Mask {
                self.simd_gt($lanes::splat(k))
            }

            #[inline(always)]
            fn eq_k(&self, k: f32) -> Self::Mask {
                self.simd_eq($lanes::splat(k))
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
    };
}

lanes_num!(f32x4);
lanes_num!(f32x8);
