//! `eˣ` and `ln x` on eight lanes with AVX instructions only (no AVX2 integer operations): the
//! transcendental functions of [`crate::avx::F32x8`], so that the losses of logits
//! (BCE-with-logits, sigmoid focal) run their fused pass in `ymm` registers.
//!
//! Both are Cephes' single-precision polynomials (`expf`, `logf`, within about 2 ulp), written
//! without branches and evaluated by Estrin's scheme (short dependency chains); the exponent bits are built and read through float conversions instead
//! of integer shifts:
//!
//! ```text
//! exp:  n = round(x·log2 e),  r = x − n·ln 2,  eˣ = (1 + r + r²·P(r)) · 2^⌊n/2⌋ · 2^(n−⌊n/2⌋)
//!       2^k = bits((k + 127)·2²³)   (two factors: subnormal results and overflow to ∞ stay right)
//! ln:   x = m·2^e, m ∈ [√½, √2),  ln x = (m − 1) − (m − 1)²/2 + (m − 1)³·Q(m − 1) + e·ln 2
//!       e = float(bits(x) ∧ 0x7F800000)·2⁻²³ − 126
//! ```
//!
//! Special values are IEEE's: `exp(±∞) = ∞, 0`, `ln(0) = −∞`, `ln(∞) = ∞`, `ln(x < 0) = NaN`,
//! NaN in, NaN out; subnormal inputs of `ln` are scaled by 2²³ first.
//!
//! # Safety
//! Every function executes AVX instructions: call them only where AVX is available.

use core::arch::x86_64::{
    __m256, _CMP_EQ_OQ, _CMP_LT_OQ, _CMP_UNORD_Q, _MM_FROUND_NO_EXC, _MM_FROUND_TO_NEAREST_INT,
    _MM_FROUND_TO_NEG_INF, _mm256_add_ps, _mm256_and_ps, _mm256_blendv_ps, _mm256_castps_si256,
    _mm256_castsi256_ps, _mm256_cmp_ps, _mm256_cvtepi32_ps, _mm256_cvtps_epi32, _mm256_div_ps,
    _mm256_max_ps, _mm256_min_ps, _mm256_mul_ps, _mm256_or_ps, _mm256_round_ps, _mm256_set1_ps,
    _mm256_sub_ps,
};

#[inline(always)]
unsafe fn k(v: f32) -> __m256 {
    unsafe { _mm256_set1_ps(v) }
}

#[inline(always)]
unsafe fn bits(v: u32) -> __m256 {
    unsafe { k(f32::from_bits(v)) }
}

/// `a·b + c` as two roundings (the scalar and tensor paths do not fuse either).
#[inline(always)]
unsafe fn mad(a: __m256, b: __m256, c: __m256) -> __m256 {
    unsafe { _mm256_add_ps(_mm256_mul_ps(a, b), c) }
}

/// `2ᵏ` for integer-valued `k` in [−126, 127].
#[inline(always)]
unsafe fn pow2(k_: __m256) -> __m256 {
    unsafe {
        let biased = _mm256_mul_ps(_mm256_add_ps(k_, k(127.0)), k(8_388_608.0));
        _mm256_castsi256_ps(_mm256_cvtps_epi32(biased))
    }
}

/// `eˣ` on each lane (see the module documentation).
///
/// # Safety
/// AVX must be available.
#[inline(always)]
pub(crate) unsafe fn exp(x: __m256) -> __m256 {
    unsafe {
        // Beyond [−104, 89] the result is 0 or ∞ either way; clamping keeps n in range.
        let xc = _mm256_max_ps(_mm256_min_ps(x, k(89.0)), k(-104.0));
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(xc, k(std::f32::consts::LOG2_E)),
        );
        let r = _mm256_sub_ps(xc, _mm256_mul_ps(n, k(0.693_359_4)));
        let r = _mm256_sub_ps(r, _mm256_mul_ps(n, k(-2.121_944_4e-4)));
        // P(r) = b₀ + b₁r + … + b₅r⁵ by Estrin's scheme (pairs, then r², r⁴): a shorter
        // dependency chain than Horner's, so that several vectors are in flight at once.
        let r2 = _mm256_mul_ps(r, r);
        let r4 = _mm256_mul_ps(r2, r2);
        let q01 = mad(k(1.666_666_5e-1), r, k(0.5));
        let q23 = mad(k(8.333_452e-3), r, k(4.166_579_6e-2));
        let q45 = mad(k(1.987_569_1e-4), r, k(1.398_199_9e-3));
        let p = _mm256_add_ps(mad(q23, r2, q01), _mm256_mul_ps(q45, r4));
        let y = _mm256_add_ps(mad(p, r2, r), k(1.0));
        let half = _mm256_round_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
            n,
            k(0.5),
        ));
        let rest = _mm256_sub_ps(n, half);
        let out = _mm256_mul_ps(_mm256_mul_ps(y, pow2(half)), pow2(rest));
        // NaN in, NaN out (the clamp would have turned it into a number).
        let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x);
        _mm256_blendv_ps(out, x, nan)
    }
}

/// `ln x` on each lane (see the module documentation).
///
/// # Safety
/// AVX must be available.
#[inline(always)]
pub(crate) unsafe fn ln(x: __m256) -> __m256 {
    unsafe {
        // Subnormals: scaled into the normal range, 23 taken off the exponent below.
        let tiny = _mm256_cmp_ps::<_CMP_LT_OQ>(x, k(f32::MIN_POSITIVE));
        let xs = _mm256_blendv_ps(x, _mm256_mul_ps(x, k(8_388_608.0)), tiny);
        let offset = _mm256_and_ps(tiny, k(23.0));
        // x = m·2^e with m in [0.5, 1): the exponent field as an integer, read as a float.
        let field = _mm256_and_ps(xs, bits(0x7F80_0000));
        let e = _mm256_sub_ps(
            _mm256_mul_ps(
                _mm256_cvtepi32_ps(_mm256_castps_si256(field)),
                k(1.0 / 8_388_608.0),
            ),
            _mm256_add_ps(k(126.0), offset),
        );
        let m = _mm256_or_ps(_mm256_and_ps(xs, bits(0x807F_FFFF)), bits(0x3F00_0000));
        // m < √½: use 2m − 1 and e − 1, so that the polynomial's argument is in [√½ − 1, √2 − 1).
        let low = _mm256_cmp_ps::<_CMP_LT_OQ>(m, k(std::f32::consts::FRAC_1_SQRT_2));
        let e = _mm256_sub_ps(e, _mm256_and_ps(low, k(1.0)));
        let m = _mm256_add_ps(m, _mm256_and_ps(low, m));
        let r = _mm256_sub_ps(m, k(1.0));
        let z = _mm256_mul_ps(r, r);
        // Q(r) = a₀ + a₁r + … + a₈r⁸ by Estrin's scheme (see exp).
        let z2 = _mm256_mul_ps(z, z);
        let p01 = mad(k(-2.499_999_4e-1), r, k(3.333_333e-1));
        let p23 = mad(k(-1.666_805_8e-1), r, k(2.000_071_4e-1));
        let p45 = mad(k(-1.242_014_1e-1), r, k(1.424_932_3e-1));
        let p67 = mad(k(-1.151_461e-1), r, k(1.167_699_9e-1));
        let p03 = mad(p23, z, p01);
        let p47 = mad(p67, z, p45);
        let q = _mm256_add_ps(
            mad(p47, z2, p03),
            _mm256_mul_ps(k(7.037_683_6e-2), _mm256_mul_ps(z2, z2)),
        );
        let mut y = _mm256_mul_ps(_mm256_mul_ps(q, r), z);
        y = mad(e, k(-2.121_944_4e-4), y);
        y = mad(z, k(-0.5), y);
        let out = mad(e, k(0.693_359_4), _mm256_add_ps(r, y));
        // ln 0 = −∞, ln ∞ = ∞, ln(x < 0) = NaN, NaN stays NaN.
        let out = _mm256_blendv_ps(
            out,
            k(f32::NEG_INFINITY),
            _mm256_cmp_ps::<_CMP_EQ_OQ>(x, k(0.0)),
        );
        let out = _mm256_blendv_ps(out, x, _mm256_cmp_ps::<_CMP_EQ_OQ>(x, k(f32::INFINITY)));
        let bad = _mm256_or_ps(
            _mm256_cmp_ps::<_CMP_LT_OQ>(x, k(0.0)),
            _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x),
        );
        _mm256_blendv_ps(out, k(f32::NAN), bad)
    }
}

/// `ln(1 + x)` on each lane, accurate near 0: `x · ln u / (u − 1)` with `u = 1 + x` (musl's
/// `log1pf` identity, as `wide` computes it), `x` itself where `u` rounds to 1, `ln u` where
/// `u` is infinite.
///
/// # Safety
/// AVX must be available.
#[inline(always)]
pub(crate) unsafe fn ln_1p(x: __m256) -> __m256 {
    unsafe {
        let one = k(1.0);
        let u = _mm256_add_ps(x, one);
        let ln_u = ln(u);
        let corrected = _mm256_mul_ps(x, _mm256_div_ps(ln_u, _mm256_sub_ps(u, one)));
        let out = _mm256_blendv_ps(corrected, x, _mm256_cmp_ps::<_CMP_EQ_OQ>(u, one));
        _mm256_blendv_ps(out, ln_u, _mm256_cmp_ps::<_CMP_EQ_OQ>(u, k(f32::INFINITY)))
    }
}

#[cfg(test)]
mod tests {
    use core::arch::x86_64::{__m256, _mm256_loadu_ps, _mm256_storeu_ps};

    fn lanes(f: unsafe fn(__m256) -> __m256, x: [f32; 8]) -> [f32; 8] {
        let mut out = [0.0f32; 8];
        // SAFETY: the tests run only where AVX is (checked by the caller); the arrays hold eight.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), f(_mm256_loadu_ps(x.as_ptr()))) };
        out
    }

    /// The worst error in ulps of `f` against `reference` (computed in f64) over `xs`.
    fn worst(f: unsafe fn(__m256) -> __m256, reference: fn(f64) -> f64, xs: &[f32]) -> f64 {
        let mut worst = 0.0f64;
        for chunk in xs.chunks_exact(8) {
            let got = lanes(f, chunk.try_into().unwrap());
            for (x, g) in chunk.iter().zip(got) {
                let want = reference(f64::from(*x));
                let ulp =
                    f64::from((want as f32).abs().max(f32::MIN_POSITIVE)) * f64::from(f32::EPSILON);
                worst = worst.max((f64::from(g) - want).abs() / ulp);
            }
        }
        worst
    }

    fn avx() -> bool {
        crate::zip::avx_available()
    }

    #[test]
    fn exp_ln_and_ln_1p_are_within_2_ulp_over_their_ranges() {
        if !avx() {
            return;
        }
        let exp_xs: Vec<f32> = (0..80_000)
            .map(|i| -87.0 + i as f32 * 0.002_187_5)
            .collect();
        let ln_xs: Vec<f32> = (0..80_000)
            .map(|i| f32::from_bits(0x0080_0000 + i * 26_000))
            .collect();
        let ln_1p_xs: Vec<f32> = (0..80_000).map(|i| -0.999 + i as f32 * 1e-4).collect();
        let e = worst(super::exp, f64::exp, &exp_xs);
        let l = worst(super::ln, f64::ln, &ln_xs);
        let l1 = worst(super::ln_1p, f64::ln_1p, &ln_1p_xs);
        assert!(e <= 2.0, "exp: {e} ulp");
        assert!(l <= 2.0, "ln: {l} ulp");
        assert!(l1 <= 2.0, "ln_1p: {l1} ulp");
    }

    #[test]
    fn special_values_are_ieees() {
        if !avx() {
            return;
        }
        let inf = f32::INFINITY;
        let e = lanes(
            super::exp,
            [inf, -inf, f32::NAN, 0.0, -0.0, 89.0, -95.0, -200.0],
        );
        assert_eq!(e[0], inf);
        assert_eq!(e[1], 0.0);
        assert!(e[2].is_nan());
        assert_eq!((e[3], e[4]), (1.0, 1.0));
        assert_eq!(e[5], inf);
        assert!(
            ((e[6] as f64 - (-95f64).exp()).abs() / (-95f64).exp()) < 1e-3,
            "{}",
            e[6]
        );
        assert_eq!(e[7], 0.0);
        let l = lanes(
            super::ln,
            [0.0, -0.0, inf, -1.0, f32::NAN, 1.0, 1e-40, f32::MAX],
        );
        assert_eq!((l[0], l[1], l[2]), (-inf, -inf, inf));
        assert!(l[3].is_nan() && l[4].is_nan());
        assert_eq!(l[5], 0.0);
        assert!(((l[6] as f64) - (1e-40f64).ln()).abs() < 1e-4, "{}", l[6]);
        assert!(
            ((l[7] as f64) - (f32::MAX as f64).ln()).abs() < 1e-4,
            "{}",
            l[7]
        );
        let l1 = lanes(
            super::ln_1p,
            [0.0, -0.0, 1e-30, -1.0, inf, -2.0, f32::NAN, f32::MAX],
        );
        assert_eq!(l1[0].to_bits(), 0.0f32.to_bits());
        assert_eq!(l1[1].to_bits(), (-0.0f32).to_bits());
        assert_eq!(l1[2], 1e-30);
        assert_eq!((l1[3], l1[4]), (-inf, inf));
        assert!(l1[5].is_nan() && l1[6].is_nan());
        assert!(
            ((l1[7] as f64) - (f32::MAX as f64).ln()).abs() < 1e-4,
            "{}",
            l1[7]
        );
    }
}
