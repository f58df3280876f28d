//! bf16 buffers in the fused loop widened and narrowed in registers (x86-64 with AVX2): eight
//! bf16 are loaded into eight `f32` lanes, the rule runs on them, and the results are rounded
//! back and stored, in one pass over memory, as the all-`f32` loop runs. The block path of
//! [`crate::floats`] (widen a block into `f32` scratch, update it, narrow it back) takes three
//! passes and stalls on memory in each; it remains for f16, bf16 states, mixed dtypes and other
//! processors. The loop is generic over the state's element type ([`Lanes8`]); the step
//! dispatches only an `f32` state here (see `floats::update_floats`), the tests both.
//!
//! The conversions are the block path's, bit for bit:
//!
//! ```text
//! widen:  f32 bits = bf16 bits << 16                                   (exact)
//! narrow: bf16 bits = (x + 0x7FFF + ((x >> 16) & 1)) >> 16              (nearest even)
//!         bf16 bits = (x >> 16) | 0x0040        where x is a NaN          (quietened)
//! ```

use core::arch::x86_64::{
    _mm_loadu_si128, _mm_storeu_si128, _mm256_add_epi32, _mm256_and_si256, _mm256_blendv_epi8,
    _mm256_castps_si256, _mm256_castsi256_ps, _mm256_castsi256_si128, _mm256_cmpgt_epi32,
    _mm256_cvtepu16_epi32, _mm256_or_si256, _mm256_packus_epi32, _mm256_permute4x64_epi64,
    _mm256_set1_epi32, _mm256_slli_epi32, _mm256_srli_epi32,
};

use crate::team;
use half::bf16;

use crate::avx::F32x8;
use crate::floats::{Floats, FloatsMut, blocks};
use crate::zip::{LaneRule, Simd, tasks};

/// An element type the register loop loads as eight `f32` lanes and stores back.
pub(crate) trait Lanes8: Copy + Send + Sync {
    /// The eight elements at `ptr`, as `f32`.
    ///
    /// # Safety
    /// `ptr` must be valid for reading eight elements; AVX2 must be available.
    unsafe fn read8(ptr: *const Self) -> F32x8;

    /// `v` stored at `ptr`, rounded to this type.
    ///
    /// # Safety
    /// `ptr` must be valid for writing eight elements; AVX2 must be available.
    unsafe fn write8(v: F32x8, ptr: *mut Self);

    /// The slice as the block path's buffer (for the tail).
    fn floats_mut(x: &mut [Self]) -> FloatsMut<'_>;
}

impl Lanes8 for f32 {
    #[inline(always)]
    unsafe fn read8(ptr: *const Self) -> F32x8 {
        // SAFETY: the caller's contract.
        unsafe { F32x8::load(ptr) }
    }

    #[inline(always)]
    unsafe fn write8(v: F32x8, ptr: *mut Self) {
        // SAFETY: the caller's contract.
        unsafe { v.store(ptr) }
    }

    fn floats_mut(x: &mut [Self]) -> FloatsMut<'_> {
        FloatsMut::F32(x)
    }
}

impl Lanes8 for bf16 {
    #[inline(always)]
    unsafe fn read8(ptr: *const Self) -> F32x8 {
        // SAFETY: the caller's contract (eight bf16 are 128 bits; AVX2 is available).
        unsafe {
            let wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(ptr.cast()));
            F32x8::from_raw(_mm256_castsi256_ps(_mm256_slli_epi32::<16>(wide)))
        }
    }

    #[inline(always)]
    unsafe fn write8(v: F32x8, ptr: *mut Self) {
        // SAFETY: the caller's contract (AVX2 is available; eight bf16 are 128 bits).
        unsafe {
            let x = _mm256_castps_si256(v.raw());
            let high = _mm256_srli_epi32::<16>(x);
            let lsb = _mm256_and_si256(high, _mm256_set1_epi32(1));
            let bias = _mm256_add_epi32(_mm256_set1_epi32(0x7FFF), lsb);
            let rounded = _mm256_srli_epi32::<16>(_mm256_add_epi32(x, bias));
            let quiet = _mm256_or_si256(high, _mm256_set1_epi32(0x0040));
            let magnitude = _mm256_and_si256(x, _mm256_set1_epi32(0x7FFF_FFFF));
            let nan = _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(0x7F80_0000));
            let bits = _mm256_blendv_epi8(rounded, quiet, nan);
            // Every lane is below 2¹⁶: pack to 16 bits (per 128-bit half), then bring the two
            // halves' four elements together.
            let packed = _mm256_packus_epi32(bits, bits);
            let ordered = _mm256_permute4x64_epi64::<0b1000>(packed);
            _mm_storeu_si128(ptr.cast(), _mm256_castsi256_si128(ordered));
        }
    }

    fn floats_mut(x: &mut [Self]) -> FloatsMut<'_> {
        FloatsMut::Bf16(x)
    }
}

/// [`crate::floats::update_floats`] for bf16 parameters and gradients and a state of `S`
/// (`f32` or `bf16`), in registers, the tasks in parallel. Returns whether every gradient
/// element was finite.
///
/// # Safety
/// The processor must have AVX2.
pub(crate) unsafe fn update<S: Lanes8, const N: usize, R: LaneRule<N>>(
    p: &mut [bf16],
    g: &[bf16],
    s: [&mut [S]; N],
    rule: R,
) -> bool {
    // SAFETY: the caller's contract.
    team::all(tasks(p, g, s), |(p, g, s)| unsafe { sweep(p, g, s, rule) })
}

/// One task: eight elements at a time in registers, the tail (fewer than eight) by the block
/// path.
///
/// # Safety
/// The processor must have AVX2.
#[target_feature(enable = "avx2")]
unsafe fn sweep<S: Lanes8, const N: usize, R: LaneRule<N>>(
    p: &mut [bf16],
    g: &[bf16],
    mut s: [&mut [S]; N],
    rule: R,
) -> bool {
    let n = p.len() / F32x8::WIDTH * F32x8::WIDTH;
    // `0 · g` summed: 0 while every gradient element is finite, NaN from the first that is not.
    let zero = F32x8::splat(0.0);
    let mut seen = zero;
    let (pp, gp) = (p.as_mut_ptr(), g.as_ptr());
    let sp: [*mut S; N] = std::array::from_fn(|k| s[k].as_mut_ptr());
    let mut i = 0;
    while i < n {
        // SAFETY: `i + 8 <= n <= len` of every buffer (tasks checked the lengths); the buffers
        // are distinct (`&mut` borrows); AVX2 is available (the caller's contract).
        unsafe {
            let gv = bf16::read8(gp.add(i));
            seen = seen + gv * zero;
            let mut lanes: [F32x8; N] = std::array::from_fn(|k| S::read8(sp[k].add(i)));
            let out = rule.apply(bf16::read8(pp.add(i)), gv, &mut lanes);
            bf16::write8(out, pp.add(i));
            for k in 0..N {
                S::write8(lanes[k], sp[k].add(i));
            }
        }
        i += F32x8::WIDTH;
    }
    let mut finite = seen.to_array().iter().all(|v| *v == 0.0);
    if n < p.len() {
        let tails: [FloatsMut<'_>; N] = std::array::from_fn(|k| {
            let tail = std::mem::take(&mut s[k]);
            S::floats_mut(&mut tail[n..])
        });
        finite &= blocks(
            Simd::Avx,
            FloatsMut::Bf16(&mut p[n..]),
            Floats::Bf16(&g[n..]),
            tails,
            rule,
        );
    }
    finite
}
