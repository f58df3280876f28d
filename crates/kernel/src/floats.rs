//! The fused loop over half-precision buffers: `f16` and `bf16` parameters, gradients and state
//! computed in `f32`, widened and narrowed in blocks that stay in the L1 cache.
//!
//! ```text
//! for each block of BLOCK elements (in parallel chunks):
//!     widen θ, g and each slot to f32        (f16: F16C where the CPU has it; bf16: a shift)
//!     θ ← rule(θ, g, s) on f32 lanes         (zip::update's loop, AVX or SSE)
//!     narrow θ and each slot to its dtype    (round to nearest even, as a cast does)
//! ```
//!
//! Each element gets exactly what casting the tensors to `f32`, updating them and casting back
//! gives, so the fused and the tensor path give the same bits, and memory moves at the buffers'
//! own width (a bf16 parameter and gradient: 2 bytes each).

use crate::team;
use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};

use crate::zip::{LaneRule, Simd, Split, simd, tasks, update_on};

/// Elements widened at a time: with five buffers of 512 `f32` (10 KiB) the block stays in L1.
const BLOCK: usize = 512;

/// A read-only buffer of `f32`, `f16` or `bf16` elements.
#[derive(Clone, Copy, Debug)]
pub enum Floats<'a> {
    /// Single precision.
    F32(&'a [f32]),
    /// IEEE half precision.
    F16(&'a [f16]),
    /// bfloat16.
    Bf16(&'a [bf16]),
}

/// A writable buffer of `f32`, `f16` or `bf16` elements.
#[derive(Debug)]
pub enum FloatsMut<'a> {
    /// Single precision.
    F32(&'a mut [f32]),
    /// IEEE half precision.
    F16(&'a mut [f16]),
    /// bfloat16.
    Bf16(&'a mut [bf16]),
}

impl Split for Floats<'_> {
    fn len(&self) -> usize {
        Floats::len(self)
    }

    fn split_at(self, n: usize) -> (Self, Self) {
        Floats::split_at(self, n)
    }
}

impl Split for FloatsMut<'_> {
    fn len(&self) -> usize {
        FloatsMut::len(self)
    }

    fn split_at(self, n: usize) -> (Self, Self) {
        FloatsMut::split_at(self, n)
    }
}

impl Floats<'_> {
    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            Floats::F32(x) => x.len(),
            Floats::F16(x) => x.len(),
            Floats::Bf16(x) => x.len(),
        }
    }

    /// Whether there is no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn split_at(self, n: usize) -> (Self, Self) {
        match self {
            Floats::F32(x) => {
                let (a, b) = x.split_at(n);
                (Floats::F32(a), Floats::F32(b))
            }
            Floats::F16(x) => {
                let (a, b) = x.split_at(n);
                (Floats::F16(a), Floats::F16(b))
            }
            Floats::Bf16(x) => {
                let (a, b) = x.split_at(n);
                (Floats::Bf16(a), Floats::Bf16(b))
            }
        }
    }

    /// `dst ← self[at..at + dst.len()]` as `f32` (exact).
    fn widen(&self, at: usize, dst: &mut [f32]) {
        let r = at..at + dst.len();
        match self {
            Floats::F32(x) => dst.copy_from_slice(&x[r]),
            Floats::F16(x) => x[r].convert_to_f32_slice(dst),
            Floats::Bf16(x) => bf16_to_f32(&x[r], dst),
        }
    }
}

impl<'a> FloatsMut<'a> {
    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            FloatsMut::F32(x) => x.len(),
            FloatsMut::F16(x) => x.len(),
            FloatsMut::Bf16(x) => x.len(),
        }
    }

    /// Whether there is no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn split_at(self, n: usize) -> (Self, Self) {
        match self {
            FloatsMut::F32(x) => {
                let (a, b) = x.split_at_mut(n);
                (FloatsMut::F32(a), FloatsMut::F32(b))
            }
            FloatsMut::F16(x) => {
                let (a, b) = x.split_at_mut(n);
                (FloatsMut::F16(a), FloatsMut::F16(b))
            }
            FloatsMut::Bf16(x) => {
                let (a, b) = x.split_at_mut(n);
                (FloatsMut::Bf16(a), FloatsMut::Bf16(b))
            }
        }
    }

    fn reborrow(&self) -> Floats<'_> {
        match self {
            FloatsMut::F32(x) => Floats::F32(x),
            FloatsMut::F16(x) => Floats::F16(x),
            FloatsMut::Bf16(x) => Floats::Bf16(x),
        }
    }

    /// `self[at..at + src.len()] ← src`, rounded to nearest even.
    fn narrow(&mut self, at: usize, src: &[f32]) {
        let r = at..at + src.len();
        match self {
            FloatsMut::F32(x) => x[r].copy_from_slice(src),
            FloatsMut::F16(x) => x[r].convert_from_f32_slice(src),
            FloatsMut::Bf16(x) => f32_to_bf16(src, &mut x[r]),
        }
    }
}

/// `dst ← src` widened: a bf16 is the upper half of an f32 (exact). A loop the compiler
/// vectorises, for AVX2 where the processor has it (`half`'s conversion is one element at a
/// time).
fn bf16_to_f32(src: &[bf16], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: the processor has AVX2.
        unsafe { bf16_to_f32_avx2(src, dst) };
        return;
    }
    bf16_to_f32_loop(src, dst);
}

/// `dst ← src` rounded to nearest even, NaN kept NaN (quietened): `bf16::from_f32`'s result,
/// in a loop the compiler vectorises (for AVX2 where the processor has it).
fn f32_to_bf16(src: &[f32], dst: &mut [bf16]) {
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: the processor has AVX2.
        unsafe { f32_to_bf16_avx2(src, dst) };
        return;
    }
    f32_to_bf16_loop(src, dst);
}

#[cfg(target_arch = "x86_64")]
fn avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// # Safety
/// The processor must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn bf16_to_f32_avx2(src: &[bf16], dst: &mut [f32]) {
    bf16_to_f32_loop(src, dst);
}

/// # Safety
/// The processor must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn f32_to_bf16_avx2(src: &[f32], dst: &mut [bf16]) {
    f32_to_bf16_loop(src, dst);
}

#[inline(always)]
fn bf16_to_f32_loop(src: &[bf16], dst: &mut [f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = f32::from_bits(u32::from(s.to_bits()) << 16);
    }
}

#[inline(always)]
fn f32_to_bf16_loop(src: &[f32], dst: &mut [bf16]) {
    for (d, s) in dst.iter_mut().zip(src) {
        let x = s.to_bits();
        let rounded = (x.wrapping_add(0x7FFF + ((x >> 16) & 1)) >> 16) as u16;
        let nan = ((x >> 16) as u16) | 0x0040;
        let is_nan = x & 0x7FFF_FFFF > 0x7F80_0000;
        *d = bf16::from_bits(if is_nan { nan } else { rounded });
    }
}

/// [`crate::zip::update`] over buffers of any of `f32`, `f16` and `bf16`: `θ ← rule(θ, g, s)`
/// computed in `f32`, each buffer read and written in its own dtype. Returns whether every
/// gradient element was finite. All-`f32` buffers take [`crate::zip::update`] itself.
///
/// # Panics
/// If a buffer's length differs from the parameter's.
pub fn update_floats<const N: usize, R: LaneRule<N>>(
    p: FloatsMut<'_>,
    g: Floats<'_>,
    s: [FloatsMut<'_>; N],
    rule: R,
) -> bool {
    let simd = simd();
    let all_f32 = matches!(p, FloatsMut::F32(_))
        && matches!(g, Floats::F32(_))
        && s.iter().all(|s| matches!(s, FloatsMut::F32(_)));
    if all_f32 {
        let (FloatsMut::F32(p32), Floats::F32(g32)) = (p, g) else {
            unreachable!("checked: f32")
        };
        let s32: [&mut [f32]; N] = s.map(|s| match s {
            FloatsMut::F32(x) => x,
            _ => unreachable!("checked: every slot is f32"),
        });
        return update_on(simd, p32, g32, s32, rule);
    }
    // bf16 parameters and gradients with an f32 state (the default `state_dtype`), on AVX
    // lanes where the processor has AVX2: the register loop (`crate::bf16_lanes`). A bf16
    // state takes the block path: in registers it was at best 10% faster, and its
    // instantiation for every rule cost 10 s of the main job's cold build.
    #[cfg(target_arch = "x86_64")]
    if simd == Simd::Avx
        && avx2()
        && matches!((&p, &g), (FloatsMut::Bf16(_), Floats::Bf16(_)))
        && s.iter().all(|s| matches!(s, FloatsMut::F32(_)))
    {
        let (FloatsMut::Bf16(p16), Floats::Bf16(g16)) = (p, g) else {
            unreachable!("checked: bf16")
        };
        let s32 = s.map(|s| match s {
            FloatsMut::F32(x) => x,
            _ => unreachable!("checked: f32"),
        });
        // SAFETY: the processor has AVX2 (checked above).
        return unsafe { crate::bf16_lanes::update(p16, g16, s32, rule) };
    }
    team::all(tasks(p, g, s), |(p, g, s)| blocks(simd, p, g, s, rule))
}

/// One task's elements, a block at a time. `f32` buffers are used in place; the others are
/// widened into blocks on the stack and narrowed back.
pub(crate) fn blocks<const N: usize, R: LaneRule<N>>(
    simd: Simd,
    mut p: FloatsMut<'_>,
    g: Floats<'_>,
    mut s: [FloatsMut<'_>; N],
    rule: R,
) -> bool {
    let mut pw = [0.0f32; BLOCK];
    let mut gw = [0.0f32; BLOCK];
    let mut sw = [[0.0f32; BLOCK]; N];
    let mut finite = true;
    let mut at = 0;
    let len = p.len();
    while at < len {
        let n = BLOCK.min(len - at);
        let r = at..at + n;
        let gs: &[f32] = match g {
            Floats::F32(x) => &x[r.clone()],
            other => {
                other.widen(at, &mut gw[..n]);
                &gw[..n]
            }
        };
        let mut pairs = s.iter_mut().zip(sw.iter_mut());
        let slots: [&mut [f32]; N] = std::array::from_fn(|_| {
            let (s, w) = pairs.next().expect("N slots");
            match s {
                FloatsMut::F32(x) => &mut x[r.clone()],
                other => {
                    other.reborrow().widen(at, &mut w[..n]);
                    &mut w[..n]
                }
            }
        });
        finite &= match &mut p {
            FloatsMut::F32(x) => update_on(simd, &mut x[r.clone()], gs, slots, rule),
            other => {
                other.reborrow().widen(at, &mut pw[..n]);
                let ok = update_on(simd, &mut pw[..n], gs, slots, rule);
                other.narrow(at, &pw[..n]);
                ok
            }
        };
        for (k, s) in s.iter_mut().enumerate() {
            if !matches!(s, FloatsMut::F32(_)) {
                s.narrow(at, &sw[k][..n]);
            }
        }
        at += n;
    }
    finite
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::Num;
    use crate::zip::CHUNK;

    /// Adam-like, with a clamp: every kind of operation.
    #[derive(Clone, Copy)]
    struct Step;

    impl LaneRule<2> for Step {
        fn apply<T: Num + Copy>(&self, p: T, g: T, [m, v]: &mut [T; 2]) -> T {
            *m = m.scale(0.9) + g.scale(0.1);
            *v = v.scale(0.999) + g.square().scale(0.001);
            p - (*m / v.sqrt().shift(1e-8)).max_k(-0.5).scale(1e-2)
        }
    }

    /// The vectorised bf16 conversions are `half`'s, bit for bit, on every class of f32: zeros,
    /// subnormals, ties, the largest finite values (which round to infinity), infinities, NaNs.
    #[test]
    fn bf16_conversions_match_half() {
        let mut xs: Vec<f32> = (0..200_000u32)
            .map(|i| f32::from_bits(i.wrapping_mul(2_654_435_761)))
            .collect();
        xs.extend([
            0.0,
            -0.0,
            f32::MIN_POSITIVE / 3.0,
            f32::MAX,
            -f32::MAX,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::from_bits(0x3F80_8000), // a tie, rounds to even (down)
            f32::from_bits(0x3F81_8000), // a tie, rounds to even (up)
            f32::from_bits(0x7F7F_FFFF),
        ]);
        let mut ours = vec![bf16::ZERO; xs.len()];
        f32_to_bf16(&xs, &mut ours);
        for (x, b) in xs.iter().zip(&ours) {
            let want = bf16::from_f32(*x);
            if x.is_nan() {
                assert!(b.is_nan(), "{x}: {b} should be NaN");
            } else {
                assert_eq!(b.to_bits(), want.to_bits(), "{x:e} ({:#x})", x.to_bits());
            }
        }
        let mut back = vec![0.0f32; xs.len()];
        bf16_to_f32(&ours, &mut back);
        for (b, w) in ours.iter().zip(&back) {
            assert_eq!(w.to_bits(), b.to_f32().to_bits());
        }
    }

    /// f16 and bf16 parameters, gradients and state give exactly f32's update of the widened
    /// values, rounded to each buffer's dtype; and a non-finite f16 gradient is reported.
    #[test]
    fn half_buffers_get_the_rounded_f32_update() {
        let n = CHUNK + BLOCK * 3 + 5;
        let value = |i: usize, k: u32| {
            let x = (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(k * 7919);
            (x % 2000) as f32 / 1000.0 - 1.0
        };
        let p0: Vec<f32> = (0..n).map(|i| value(i, 1)).collect();
        let g0: Vec<f32> = (0..n).map(|i| value(i, 2)).collect();
        let m0: Vec<f32> = (0..n).map(|i| value(i, 3) * 0.1).collect();
        let v0: Vec<f32> = (0..n).map(|i| value(i, 4).abs() * 0.1).collect();
        // bf16 parameter and gradient, f32 first slot, f16 second slot.
        let mut p: Vec<bf16> = p0.iter().map(|&x| bf16::from_f32(x)).collect();
        let g: Vec<bf16> = g0.iter().map(|&x| bf16::from_f32(x)).collect();
        let mut m = m0.clone();
        let mut v: Vec<f16> = v0.iter().map(|&x| f16::from_f32(x)).collect();
        // The reference: widen, update in f32, round.
        let mut rp: Vec<f32> = p.iter().map(|x| x.to_f32()).collect();
        let rg: Vec<f32> = g.iter().map(|x| x.to_f32()).collect();
        let mut rm = m0.clone();
        let mut rv: Vec<f32> = v.iter().map(|x| x.to_f32()).collect();
        assert!(update_on(Simd::Sse, &mut rp, &rg, [&mut rm, &mut rv], Step));
        let finite = update_floats(
            FloatsMut::Bf16(&mut p),
            Floats::Bf16(&g),
            [FloatsMut::F32(&mut m), FloatsMut::F16(&mut v)],
            Step,
        );
        assert!(finite);
        let moved = (0..n).filter(|&i| p[i] != bf16::from_f32(p0[i])).count();
        assert!(moved > n / 4, "only {moved} of {n} parameters moved");
        for i in 0..n {
            assert_eq!(p[i], bf16::from_f32(rp[i]), "parameter {i}");
            assert_eq!(m[i].to_bits(), rm[i].to_bits(), "first slot {i}");
            assert_eq!(v[i], f16::from_f32(rv[i]), "second slot {i}");
        }
        let mut g: Vec<f16> = g0.iter().map(|&x| f16::from_f32(x)).collect();
        g[CHUNK + 7] = f16::INFINITY;
        let mut p: Vec<f16> = p0.iter().map(|&x| f16::from_f32(x)).collect();
        let (mut m, mut v) = (m0, v0);
        assert!(!update_floats(
            FloatsMut::F16(&mut p),
            Floats::F16(&g),
            [FloatsMut::F32(&mut m), FloatsMut::F32(&mut v)],
            Step,
        ));
    }

    /// bf16 buffers in registers (eight lanes, `crate::bf16_lanes`) give the block path's bits,
    /// with an f32 and with a bf16 state, across ties, NaN, infinities, signed zeros and a tail
    /// shorter than the lanes; a non-finite gradient is reported by both.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn bf16_in_registers_matches_the_block_path() {
        if !avx2() {
            eprintln!("bf16 register loop not tested: this processor has no AVX2");
            return;
        }
        let n = CHUNK + BLOCK + 13;
        let value = |i: usize, k: u32| {
            let x = (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(k * 7919);
            (x % 4001) as f32 / 1000.0 - 2.0
        };
        let specials = [
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            1e-40,
            -1e38,
        ];
        let p0: Vec<bf16> = (0..n)
            .map(|i| {
                bf16::from_f32(if i % 97 == 3 {
                    specials[i % 7]
                } else {
                    value(i, 1)
                })
            })
            .collect();
        let g0: Vec<bf16> = (0..n).map(|i| bf16::from_f32(value(i, 2))).collect();
        let m0: Vec<f32> = (0..n).map(|i| value(i, 3) * 0.1).collect();
        let v0: Vec<f32> = (0..n).map(|i| value(i, 4).abs() * 0.1).collect();
        let bits = |x: &[bf16]| x.iter().map(|b| b.to_bits()).collect::<Vec<_>>();
        let bits32 = |x: &[f32]| x.iter().map(|b| b.to_bits()).collect::<Vec<_>>();

        // f32 state.
        let (mut p, mut m, mut v) = (p0.clone(), m0.clone(), v0.clone());
        // SAFETY: AVX2 checked above.
        let fin = unsafe { crate::bf16_lanes::update(&mut p, &g0, [&mut m, &mut v], Step) };
        let (mut bp, mut bm, mut bv) = (p0.clone(), m0.clone(), v0.clone());
        let bfin = blocks(
            Simd::Avx,
            FloatsMut::Bf16(&mut bp),
            Floats::Bf16(&g0),
            [FloatsMut::F32(&mut bm), FloatsMut::F32(&mut bv)],
            Step,
        );
        assert!(fin && bfin);
        let moved = (0..n).filter(|&i| p[i] != p0[i]).count();
        assert!(moved > n / 4, "only {moved} of {n} parameters moved");
        assert_eq!(bits(&p), bits(&bp), "parameters, f32 state");
        assert_eq!(bits32(&m), bits32(&bm), "first slot, f32 state");
        assert_eq!(bits32(&v), bits32(&bv), "second slot, f32 state");

        // bf16 state, and an infinite gradient in the register part.
        let m16: Vec<bf16> = m0.iter().map(|&x| bf16::from_f32(x)).collect();
        let v16: Vec<bf16> = v0.iter().map(|&x| bf16::from_f32(x)).collect();
        let mut g = g0.clone();
        g[CHUNK / 2] = bf16::INFINITY;
        let (mut p, mut m, mut v) = (p0.clone(), m16.clone(), v16.clone());
        // SAFETY: AVX2 checked above.
        let fin = unsafe { crate::bf16_lanes::update(&mut p, &g, [&mut m, &mut v], Step) };
        let (mut bp, mut bm, mut bv) = (p0.clone(), m16, v16);
        let bfin = blocks(
            Simd::Avx,
            FloatsMut::Bf16(&mut bp),
            Floats::Bf16(&g),
            [FloatsMut::Bf16(&mut bm), FloatsMut::Bf16(&mut bv)],
            Step,
        );
        assert!(!fin && !bfin, "the infinite gradient is reported");
        assert_eq!(bits(&p), bits(&bp), "parameters, bf16 state");
        assert_eq!(bits(&m), bits(&bm), "first slot, bf16 state");
        assert_eq!(bits(&v), bits(&bv), "second slot, bf16 state");
    }
}
