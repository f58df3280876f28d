//! [`Num`] on eight `f32` lanes in one AVX register (x86-64), for the optimizers' fused loop
//! on processors that have AVX (checked at run time, see [`crate::zip`]).
//!
//! `wide`'s eight lanes pick their instructions when the crate is compiled, so a build without
//! `-C target-feature=+avx` runs them as two SSE halves. These lanes call the AVX intrinsics
//! directly; every method is `#[inline(always)]`, so that inlined into a function compiled with
//! `#[target_feature(enable = "avx")]` each is one instruction on a `ymm` register.
//!
//! Each operation is the IEEE single operation the SSE lanes and the tensor path use (`+ − × ÷
//! √`, `max` returning its second operand where either is NaN, ordered comparisons), so an
//! update gives the same bits on four lanes, eight lanes and whole tensors. `exp`, `ln` and
//! `ln_1p` are Cephes' polynomials in AVX instructions ([`crate::avx_math`], within 2 ulp).
//!
//! # Safety
//! Every method executes AVX instructions: a value of [`F32x8`] may only be made, and its
//! methods called, where AVX is available. The type is private to the crate and only created
//! inside the `#[target_feature(enable = "avx")]` loop of [`crate::zip`], after the run-time
//! check.

use core::arch::x86_64::{
    __m256, _CMP_EQ_OQ, _CMP_GE_OS, _CMP_GT_OS, _CMP_LT_OS, _mm256_add_ps, _mm256_and_ps,
    _mm256_andnot_ps, _mm256_blendv_ps, _mm256_cmp_ps, _mm256_div_ps, _mm256_loadu_ps,
    _mm256_max_ps, _mm256_movemask_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_setzero_ps,
    _mm256_sqrt_ps, _mm256_storeu_ps, _mm256_sub_ps, _mm256_xor_ps,
};
use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::num::Num;

/// Eight `f32` lanes in one AVX register.
#[derive(Clone, Copy, Debug)]
pub(crate) struct F32x8(__m256);

impl F32x8 {
    /// The width.
    pub(crate) const WIDTH: usize = 8;

    /// Eight copies of `v`.
    #[inline(always)]
    pub(crate) fn splat(v: f32) -> Self {
        // SAFETY: AVX is available wherever an `F32x8` is used (module docs).
        Self(unsafe { _mm256_set1_ps(v) })
    }

    /// The eight elements at `ptr`.
    ///
    /// # Safety
    /// `ptr` must be valid for reading eight `f32`; AVX must be available.
    #[inline(always)]
    pub(crate) unsafe fn load(ptr: *const f32) -> Self {
        // SAFETY: the caller's contract.
        Self(unsafe { _mm256_loadu_ps(ptr) })
    }

    /// Writes the eight lanes to `ptr`.
    ///
    /// # Safety
    /// `ptr` must be valid for writing eight `f32`; AVX must be available.
    #[inline(always)]
    pub(crate) unsafe fn store(self, ptr: *mut f32) {
        // SAFETY: the caller's contract.
        unsafe { _mm256_storeu_ps(ptr, self.0) }
    }

    /// The lanes of `v`.
    #[inline(always)]
    pub(crate) fn from_raw(v: __m256) -> Self {
        Self(v)
    }

    /// The register.
    #[inline(always)]
    pub(crate) fn raw(self) -> __m256 {
        self.0
    }

    /// The lanes as an array.
    #[inline(always)]
    pub(crate) fn to_array(self) -> [f32; 8] {
        let mut out = [0.0f32; 8];
        // SAFETY: `out` holds eight `f32`; AVX is available (module docs).
        unsafe { self.store(out.as_mut_ptr()) };
        out
    }

    #[inline(always)]
    fn cmp<const P: i32>(self, other: Self) -> Self {
        // SAFETY: AVX is available (module docs).
        Self(unsafe { _mm256_cmp_ps::<P>(self.0, other.0) })
    }
}

macro_rules! binary {
    ($trait:ident, $method:ident, $intrinsic:ident) => {
        impl $trait for F32x8 {
            type Output = Self;

            #[inline(always)]
            fn $method(self, rhs: Self) -> Self {
                // SAFETY: AVX is available (module docs).
                Self(unsafe { $intrinsic(self.0, rhs.0) })
            }
        }
    };
}

binary!(Add, add, _mm256_add_ps);
binary!(Sub, sub, _mm256_sub_ps);
binary!(Mul, mul, _mm256_mul_ps);
binary!(Div, div, _mm256_div_ps);

impl Neg for F32x8 {
    type Output = Self;

    #[inline(always)]
    fn neg(self) -> Self {
        // SAFETY: AVX is available (module docs).
        Self(unsafe { _mm256_xor_ps(self.0, _mm256_set1_ps(-0.0)) })
    }
}

impl Num for F32x8 {
    type Mask = F32x8;

    #[inline(always)]
    fn scale(self, k: f32) -> Self {
        self * Self::splat(k)
    }

    #[inline(always)]
    fn div_k(self, k: f32) -> Self {
        self / Self::splat(k)
    }

    #[inline(always)]
    fn shift(self, k: f32) -> Self {
        self + Self::splat(k)
    }

    #[inline(always)]
    fn sqrt(self) -> Self {
        // SAFETY: AVX is available (module docs).
        Self(unsafe { _mm256_sqrt_ps(self.0) })
    }

    #[inline(always)]
    fn recip(self) -> Self {
        Self::splat(1.0) / self
    }

    #[inline(always)]
    fn zeros_like(&self) -> Self {
        // SAFETY: AVX is available (module docs).
        Self(unsafe { _mm256_setzero_ps() })
    }

    #[inline(always)]
    fn abs(self) -> Self {
        // SAFETY: AVX is available (module docs).
        Self(unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0) })
    }

    #[inline(always)]
    fn max(self, other: Self) -> Self {
        // SAFETY: AVX is available (module docs).
        Self(unsafe { _mm256_max_ps(self.0, other.0) })
    }

    #[inline(always)]
    fn max_k(self, k: f32) -> Self {
        self.max(Self::splat(k))
    }

    #[inline(always)]
    fn signum(self) -> Self {
        let zero = self.zeros_like();
        let one = Self::splat(1.0);
        // SAFETY: AVX is available (module docs).
        let (pos, neg) = unsafe {
            (
                _mm256_and_ps(self.cmp::<_CMP_GT_OS>(zero).0, one.0),
                _mm256_and_ps(self.cmp::<_CMP_LT_OS>(zero).0, one.0),
            )
        };
        Self(pos) - Self(neg)
    }

    #[inline(always)]
    fn exp(self) -> Self {
        // SAFETY: AVX is available (module docs).
        Self(unsafe { crate::avx_math::exp(self.0) })
    }

    #[inline(always)]
    fn ln(self) -> Self {
        // SAFETY: AVX is available (module docs).
        Self(unsafe { crate::avx_math::ln(self.0) })
    }

    #[inline(always)]
    fn ln_1p(self) -> Self {
        // SAFETY: AVX is available (module docs).
        Self(unsafe { crate::avx_math::ln_1p(self.0) })
    }

    #[inline(always)]
    fn ge_k(&self, k: f32) -> Self::Mask {
        self.cmp::<_CMP_GE_OS>(Self::splat(k))
    }

    #[inline(always)]
    fn gt_k(&self, k: f32) -> Self::Mask {
        self.cmp::<_CMP_GT_OS>(Self::splat(k))
    }

    #[inline(always)]
    fn eq_k(&self, k: f32) -> Self::Mask {
        self.cmp::<_CMP_EQ_OQ>(Self::splat(k))
    }

    #[inline(always)]
    fn select(mask: Self::Mask, yes: Self, no: Self) -> Self {
        // SAFETY: AVX is available (module docs).
        Self(unsafe { _mm256_blendv_ps(no.0, yes.0, mask.0) })
    }

    #[inline(always)]
    fn may_hold(mask: &Self::Mask) -> bool {
        // SAFETY: AVX is available (module docs).
        unsafe { _mm256_movemask_ps(mask.0) != 0 }
    }
}
