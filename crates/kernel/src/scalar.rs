//! [`Num`] for one `f32` or `f64`: the instantiation of per-row formulas on the host and of
//! loops the compiler vectorises itself.

use crate::num::Num;

macro_rules! scalar_num {
    ($t:ty) => {
        impl Num for $t {
            type Mask = bool;

            #[inline(always)]
            fn scale(self, k: f32) -> Self {
                self * k as $t
            }

            #[inline(always)]
            fn div_k(self, k: f32) -> Self {
                self / k as $t
            }

            #[inline(always)]
            fn shift(self, k: f32) -> Self {
                self + k as $t
            }

            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }

            #[inline(always)]
            fn recip(self) -> Self {
                1.0 / self
            }

            #[inline(always)]
            fn zeros_like(&self) -> Self {
                0.0
            }

            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }

            #[inline(always)]
            fn max(self, other: Self) -> Self {
                if other > self { other } else { self }
            }

            #[inline(always)]
            fn max_k(self, k: f32) -> Self {
                Num::max(self, k as $t)
            }

            #[inline(always)]
            fn signum(self) -> Self {
                if self > 0.0 {
                    1.0
                } else if self < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }

            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }

            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }

            #[inline(always)]
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }

            #[inline(always)]
            fn ge_k(&self, k: f32) -> Self::Mask {
                *self >= k as $t
            }

            #[inline(always)]
            fn gt_k(&self, k: f32) -> Self::Mask {
                *self > k as $t
            }

            #[inline(always)]
            fn eq_k(&self, k: f32) -> Self::Mask {
                *self == k as $t
            }

            #[inline(always)]
            fn select(mask: Self::Mask, yes: Self, no: Self) -> Self {
                if mask { yes } else { no }
            }

            #[inline(always)]
            fn may_hold(mask: &Self::Mask) -> bool {
                *mask
            }
        }
    };
}

scalar_num!(f32);
scalar_num!(f64);
