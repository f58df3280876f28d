//! A branch-free `f32` exponential for loops that the compiler vectorises, and the run-time
//! test for AVX2 that lets a kernel run a copy of itself compiled for it.
//!
//! `wide`'s SIMD `exp` is chosen when the crate is compiled (SSE2 for the baseline x86-64
//! target) and is not inlined; the softmax rows of cross-entropy spent 60% of their time in
//! it. [`exp`] is Cephes' `expf` written without branches or library calls, so a loop over a
//! slice vectorises to the widest instructions the enclosing function is compiled for.

/// `e^x` within about 2 ulp for `x` in `[-87.3, 88.3]`; `x` is clamped to that range first
/// (so `exp(-∞) ≈ 1.2e-38` rather than 0, and NaN gives `e^-87.3`: callers check finiteness).
///
/// ```text
/// n = round(x·log2 e),  r = x - n·ln 2   (|r| ≤ ln 2 / 2, ln 2 split in two parts)
/// e^x = 2^n · (1 + r + r²·P(r)),  P of degree 5 (Cephes expf)
/// ```
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    // 1.5·2^23: adding it rounds to an integer, which then sits in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.3);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    // 2^n from n's bits: the integer is the low bits of `shifted` (0x4B40_0000 is ROUND).
    let k = (shifted.to_bits() as i32).wrapping_sub(0x4B40_0000);
    y * f32::from_bits(((k + 127) << 23) as u32)
}

/// Whether the CPU has AVX2 and FMA, for the kernels that keep a copy compiled for them
/// (`#[target_feature(enable = "avx2,fma")]` over an `#[inline(always)]` body): their loops
/// over slices then vectorise eight lanes wide.
pub(crate) fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn exp_matches_the_library_within_2_ulp() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (ours, lib) = (super::exp(x) as f64, (x as f64).exp());
            worst = worst.max(((ours - lib) / lib).abs());
            x += 0.013;
        }
        assert!(worst < 2.5e-7, "worst relative error {worst}");
        assert_eq!(super::exp(0.0), 1.0);
        assert!(super::exp(f32::NEG_INFINITY) < 1.2e-37);
    }
}
