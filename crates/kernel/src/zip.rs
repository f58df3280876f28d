//! The loop of the fused CPU path: a rule applied to the buffers of a parameter, its gradient
//! and its state, a vector of lanes at a time, in parallel chunks, in place.
//!
//! The lanes are chosen at run time: eight in one AVX register where the processor has AVX
//! (x86-64), four in one SSE register otherwise (`wide`'s `f32x4`, which is also what other
//! architectures run). Both give the same bits (see the crate's `avx` module);
//! `DESCENT_SIMD=sse` forces the four lanes, for comparisons.

use std::sync::atomic::{AtomicU8, Ordering};

use crate::team;
use wide::f32x4;

use crate::num::Num;

/// The four lanes of `wide` (one SSE register): the lanes of the fused passes that are not an
/// [`update`] (Adafactor's), and of [`update`] where the processor has no AVX. With eight of
/// these (two SSE registers each), an Adam step's slots and constants outnumber the registers
/// and spill on every iteration (measured: 13.6 instead of 9.7 instructions per element); with
/// AVX's sixteen 8-lane registers they do not.
pub type Lanes = f32x4;

/// Elements per parallel task: large enough that the task overhead is negligible.
pub const CHUNK: usize = 1 << 15;

/// An element-wise update of a parameter and its `N` state slots, written once for every kind
/// of lanes: `θ ← apply(θ, g, s)`, the slots `s` updated in place.
pub trait LaneRule<const N: usize>: Copy + Sync {
    /// One vector of lanes of the update.
    fn apply<T: Num + Copy>(&self, p: T, g: T, s: &mut [T; N]) -> T;
}

/// Which lanes [`update`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simd {
    /// Four lanes, SSE (or the architecture's 128-bit vectors).
    Sse,
    /// Eight lanes, AVX (x86-64, detected at run time).
    Avx,
}

/// The lanes [`update`] uses: AVX where the processor has it, unless the environment variable
/// `DESCENT_SIMD` is `sse` or [`set_simd`] chose otherwise. Decided once per process.
pub fn simd() -> Simd {
    match CHOICE.load(Ordering::Relaxed) {
        1 => Simd::Sse,
        2 => Simd::Avx,
        _ => {
            let forced_sse =
                std::env::var("DESCENT_SIMD").is_ok_and(|v| v.eq_ignore_ascii_case("sse"));
            let choice = if !forced_sse && avx_available() {
                Simd::Avx
            } else {
                Simd::Sse
            };
            set_simd(choice);
            choice
        }
    }
}

/// Makes [`update`] run on `simd` from now on, in every thread (for comparisons: both give
/// the same bits). AVX where the processor lacks it runs SSE.
pub fn set_simd(simd: Simd) {
    let code = match simd {
        Simd::Avx if avx_available() => 2,
        _ => 1,
    };
    CHOICE.store(code, Ordering::Relaxed);
}

/// 0: not decided yet, 1: SSE, 2: AVX.
static CHOICE: AtomicU8 = AtomicU8::new(0);

/// Whether the processor has AVX (x86-64, detected at run time).
pub(crate) fn avx_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Runs `rule` over every element of the parameter `p`, the gradient `g` and the `N` state
/// buffers `s`: `θ ← rule(θ, g, s)`, the states updated in place. Returns whether every
/// gradient element was finite.
///
/// The last `len % width` elements run as one padded vector whose padding lanes are
/// discarded. `rule` is `Copy`: each task works on its own copy, whose constants stay in
/// registers.
///
/// # Panics
/// If a buffer's length differs from the parameter's.
pub fn update<const N: usize, R: LaneRule<N>>(
    p: &mut [f32],
    g: &[f32],
    s: [&mut [f32]; N],
    rule: R,
) -> bool {
    update_on(simd(), p, g, s, rule)
}

/// [`update`] on the lanes `simd` (AVX falls back to SSE where the processor lacks it).
pub fn update_on<const N: usize, R: LaneRule<N>>(
    simd: Simd,
    p: &mut [f32],
    g: &[f32],
    s: [&mut [f32]; N],
    rule: R,
) -> bool {
    let simd = if simd == Simd::Avx && !avx_available() {
        Simd::Sse
    } else {
        simd
    };
    if p.len() <= CHUNK {
        check_lengths(&p, &g, &s);
        return chunk(simd, p, g, s, rule);
    }
    team::all(tasks(p, g, s), |(p, g, s)| chunk(simd, p, g, s, rule))
}

/// A buffer the fused loop can cut into parallel tasks.
pub(crate) trait Split: Sized + Send {
    /// The number of elements.
    fn len(&self) -> usize;
    /// The first `n` elements and the rest.
    fn split_at(self, n: usize) -> (Self, Self);
}

impl<T: Send> Split for &mut [T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }

    fn split_at(self, n: usize) -> (Self, Self) {
        self.split_at_mut(n)
    }
}

impl<T: Sync> Split for &[T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }

    fn split_at(self, n: usize) -> (Self, Self) {
        <[T]>::split_at(self, n)
    }
}

/// Panics unless the gradient and every state buffer have the parameter's length.
fn check_lengths<P: Split, G: Split, S: Split>(p: &P, g: &G, s: &[S]) {
    assert_eq!(
        p.len(),
        g.len(),
        "fused step: gradient and parameter differ in size"
    );
    for s in s {
        assert_eq!(
            s.len(),
            p.len(),
            "fused step: state and parameter differ in size"
        );
    }
}

/// An array of pairs as a pair of arrays (without a heap allocation).
fn unzip<A, B, const N: usize>(pairs: [(A, B); N]) -> ([A; N], [B; N]) {
    let mut pairs = pairs.into_iter();
    let mut seconds: [Option<B>; N] = std::array::from_fn(|_| None);
    let firsts = std::array::from_fn(|k| {
        let (a, b) = pairs.next().expect("N pairs");
        seconds[k] = Some(b);
        a
    });
    (firsts, seconds.map(|b| b.expect("N pairs")))
}

/// The buffers cut into tasks of [`CHUNK`] elements (the last shorter), after checking their
/// lengths.
///
/// # Panics
/// If a buffer's length differs from the parameter's.
pub(crate) fn tasks<P: Split, G: Split, S: Split, const N: usize>(
    p: P,
    g: G,
    s: [S; N],
) -> Vec<(P, G, [S; N])> {
    check_lengths(&p, &g, &s);
    let mut tasks = Vec::with_capacity(p.len().div_ceil(CHUNK));
    let (mut p_rest, mut g_rest, mut s_rest) = (p, g, s);
    while p_rest.len() > 0 {
        let n = CHUNK.min(p_rest.len());
        let (ph, pt) = p_rest.split_at(n);
        let (gh, gt) = g_rest.split_at(n);
        let (heads, tails) = unzip(s_rest.map(|s| s.split_at(n)));
        tasks.push((ph, gh, heads));
        (p_rest, g_rest, s_rest) = (pt, gt, tails);
    }
    tasks
}

/// One task's elements, on the calling thread, on the lanes `simd`.
#[inline(always)]
fn chunk<const N: usize, R: LaneRule<N>>(
    simd: Simd,
    p: &mut [f32],
    g: &[f32],
    s: [&mut [f32]; N],
    rule: R,
) -> bool {
    match simd {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Simd::Avx` reaches here only where the processor has AVX (`update_on`).
        Simd::Avx => unsafe { chunk_avx(p, g, s, rule) },
        _ => sweep::<Lanes, N, R>(p, g, s, rule),
    }
}

/// [`sweep`] on eight AVX lanes, compiled for AVX.
///
/// # Safety
/// The processor must have AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn chunk_avx<const N: usize, R: LaneRule<N>>(
    p: &mut [f32],
    g: &[f32],
    s: [&mut [f32]; N],
    rule: R,
) -> bool {
    sweep::<crate::avx::F32x8, N, R>(p, g, s, rule)
}

/// Lanes [`sweep`] can load and store.
pub(crate) trait Vector: Num + Copy {
    const WIDTH: usize;
    /// Loads `WIDTH` elements; `x.len() == WIDTH`.
    fn load(x: &[f32]) -> Self;
    /// Stores `WIDTH` elements; `out.len() == WIDTH`.
    fn store(self, out: &mut [f32]);
    /// Whether every lane is zero.
    fn all_zero(self) -> bool;
    /// Loads `WIDTH` elements from `ptr`.
    ///
    /// # Safety
    /// `ptr` must be valid for reading `WIDTH` elements.
    unsafe fn read(ptr: *const f32) -> Self;
    /// Stores `WIDTH` elements at `ptr`.
    ///
    /// # Safety
    /// `ptr` must be valid for writing `WIDTH` elements.
    unsafe fn write(self, ptr: *mut f32);
}

impl Vector for f32x4 {
    const WIDTH: usize = 4;

    #[inline(always)]
    fn load(x: &[f32]) -> Self {
        let a: [f32; 4] = x.try_into().expect("four lanes");
        f32x4::from(a)
    }

    #[inline(always)]
    fn store(self, out: &mut [f32]) {
        out.copy_from_slice(&self.to_array());
    }

    #[inline(always)]
    fn all_zero(self) -> bool {
        self.to_array().iter().all(|&v| v == 0.0)
    }

    #[inline(always)]
    unsafe fn read(ptr: *const f32) -> Self {
        // SAFETY: the caller's contract.
        f32x4::from(unsafe { ptr.cast::<[f32; 4]>().read_unaligned() })
    }

    #[inline(always)]
    unsafe fn write(self, ptr: *mut f32) {
        // SAFETY: the caller's contract.
        unsafe { ptr.cast::<[f32; 4]>().write_unaligned(self.to_array()) }
    }
}

#[cfg(target_arch = "x86_64")]
impl Vector for crate::avx::F32x8 {
    const WIDTH: usize = Self::WIDTH;

    #[inline(always)]
    fn load(x: &[f32]) -> Self {
        assert!(x.len() == Self::WIDTH);
        // SAFETY: `x` holds eight `f32`; AVX is available (crate::avx's contract).
        unsafe { Self::load(x.as_ptr()) }
    }

    #[inline(always)]
    fn store(self, out: &mut [f32]) {
        assert!(out.len() == Self::WIDTH);
        // SAFETY: `out` holds eight `f32`; AVX is available.
        unsafe { Self::store(self, out.as_mut_ptr()) }
    }

    #[inline(always)]
    fn all_zero(self) -> bool {
        self.to_array().iter().all(|&v| v == 0.0)
    }

    #[inline(always)]
    unsafe fn read(ptr: *const f32) -> Self {
        // SAFETY: the caller's contract; AVX is available.
        unsafe { Self::load(ptr) }
    }

    #[inline(always)]
    unsafe fn write(self, ptr: *mut f32) {
        // SAFETY: the caller's contract; AVX is available.
        unsafe { self.store(ptr) }
    }
}

/// The rule over one task's elements, `V::WIDTH` at a time, then the padded tail.
#[inline(always)]
fn sweep<V: Vector, const N: usize, R: LaneRule<N>>(
    p: &mut [f32],
    g: &[f32],
    s: [&mut [f32]; N],
    rule: R,
) -> bool {
    let w = V::WIDTH;
    let whole = p.len() / w * w;
    let (pw, p_tail) = p.split_at_mut(whole);
    let n = pw.len();
    let (gw, g_tail) = g.split_at(n);
    let mut split = s.map(|s| s.split_at_mut(n));
    let sw: [&mut [f32]; N] = std::array::from_fn(|k| std::mem::take(&mut split[k].0));
    let mut tails: [&mut [f32]; N] = split.map(|(_, t)| t);
    // `0 · g` summed: 0 while every gradient element is finite, NaN from the first that is not.
    let mut seen = V::load(&[0.0; 16][..w]);
    let zero = seen;
    let (pp, gp) = (pw.as_mut_ptr(), gw.as_ptr());
    let sp: [*mut f32; N] = std::array::from_fn(|k| sw[k].as_mut_ptr());
    let mut i = 0;
    while i < n {
        // SAFETY: `i + w <= n` and every buffer here holds `n` elements (split above); the
        // buffers are distinct (`&mut` borrows).
        unsafe {
            let g = V::read(gp.add(i));
            seen = seen + g * zero;
            let mut lanes: [V; N] = std::array::from_fn(|k| V::read(sp[k].add(i)));
            rule.apply(V::read(pp.add(i)), g, &mut lanes)
                .write(pp.add(i));
            for k in 0..N {
                lanes[k].write(sp[k].add(i));
            }
        }
        i += w;
    }
    let m = p_tail.len();
    if m > 0 {
        let pad = |x: &[f32]| {
            let mut a = [0.0f32; 16];
            a[..m].copy_from_slice(x);
            V::load(&a[..w])
        };
        let unpad = |v: V, out: &mut [f32]| {
            let mut a = [0.0f32; 16];
            v.store(&mut a[..w]);
            out.copy_from_slice(&a[..m]);
        };
        let g = pad(g_tail);
        seen = seen + g * zero;
        let mut lanes: [V; N] = std::array::from_fn(|k| pad(tails[k]));
        let out = rule.apply(pad(p_tail), g, &mut lanes);
        unpad(out, p_tail);
        for (s, v) in tails.iter_mut().zip(lanes) {
            unpad(v, s);
        }
    }
    seen.all_zero()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy)]
    struct Count;

    impl LaneRule<1> for Count {
        fn apply<T: Num + Copy>(&self, p: T, g: T, [s]: &mut [T; 1]) -> T {
            *s = *s + g;
            p + g
        }
    }

    #[derive(Clone, Copy)]
    struct Descend;

    impl LaneRule<0> for Descend {
        fn apply<T: Num + Copy>(&self, p: T, g: T, _: &mut [T; 0]) -> T {
            p - g
        }
    }

    /// Every operation a rule may use: an Adam-like step with a clamp, a sign and a selection.
    #[derive(Clone, Copy)]
    struct Everything;

    impl LaneRule<2> for Everything {
        fn apply<T: Num + Copy>(&self, p: T, g: T, [m, v]: &mut [T; 2]) -> T {
            *m = m.scale(0.9) + g.scale(0.1);
            *v = v.scale(0.999) + g.square().scale(0.001);
            let den = v.sqrt().div_k(0.3).shift(1e-8);
            let step = (*m / den).max_k(-0.5).abs() * g.signum();
            let big = g.abs().ge_k(1.0);
            let other = (-p).recip().max(g) - g.div_k(3.0);
            p - T::select(big, other, step)
        }
    }

    fn both() -> Vec<Simd> {
        let mut all = vec![Simd::Sse];
        if avx_available() {
            all.push(Simd::Avx);
        } else {
            eprintln!("AVX lanes not tested: this processor has no AVX");
        }
        all
    }

    /// Every element is visited once, in every chunk and in the padded tail, and a non-finite
    /// gradient anywhere is reported, on each kind of lanes.
    #[test]
    fn update_visits_every_element_once_and_reports_non_finite_gradients() {
        for simd in both() {
            for n in [0, 5, 8, 13, 17, CHUNK + 3, 3 * CHUNK + 11] {
                let mut p: Vec<f32> = (0..n).map(|i| i as f32).collect();
                let g = vec![1.0f32; n];
                let mut s = vec![0.0f32; n];
                let finite = update_on(simd, &mut p, &g, [&mut s], Count);
                assert!(finite, "{simd:?} n = {n}");
                assert!(
                    p.iter().enumerate().all(|(i, &v)| v == i as f32 + 1.0),
                    "{simd:?} n = {n}"
                );
                assert!(s.iter().all(|&v| v == 1.0), "{simd:?} n = {n}");
            }
            for bad in [f32::NAN, f32::INFINITY] {
                let n = 2 * CHUNK + 7;
                for at in [3, CHUNK + 1, n - 1] {
                    let mut g = vec![0.5f32; n];
                    g[at] = bad;
                    let mut p = vec![0.0f32; n];
                    assert!(
                        !update_on(simd, &mut p, &g, [], Descend),
                        "{simd:?}: {bad} at {at}"
                    );
                }
            }
        }
    }

    /// Four SSE lanes and eight AVX lanes give the same bits, for every operation of [`Num`] an
    /// update uses (NaN, infinities and zeros of both signs included; `max` with a NaN is where
    /// one `f32` at a time may differ, so the reference is the SSE lanes, which the optimizers'
    /// equivalence tests hold to the tensor path). The scalar run checks the data is not trivial.
    #[test]
    fn sse_and_avx_lanes_give_the_same_bits() {
        let n = 1000 + 5;
        let special = [
            0.0,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            -f32::INFINITY,
            1e-30,
            -2.5,
        ];
        let value = |i: usize, k: u32| -> f32 {
            if i % 97 == 3 {
                return special[(i / 97 + k as usize) % special.len()];
            }
            let x = (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(k * 40_503);
            (x % 20_000) as f32 / 5_000.0 - 2.0
        };
        let init = |k: u32| -> Vec<f32> { (0..n).map(|i| value(i, k)).collect() };
        let g = init(1);
        let run = |simd: Simd| {
            let (mut p, mut m, mut v) = (init(2), init(3), init(4));
            update_on(simd, &mut p, &g, [&mut m, &mut v], Everything);
            [p, m, v].map(|x| x.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
        };
        let sse = run(Simd::Sse);
        let finite = sse[0]
            .iter()
            .filter(|b| f32::from_bits(**b).is_finite())
            .count();
        assert!(finite > n / 2, "only {finite} of {n} finite results");
        // The update moved the parameter (not an identity).
        let p0 = init(2);
        let moved = (0..n).filter(|&i| sse[0][i] != p0[i].to_bits()).count();
        assert!(moved > n / 2, "only {moved} of {n} elements moved");
        if !avx_available() {
            eprintln!("AVX lanes not tested: this processor has no AVX");
            return;
        }
        let avx = run(Simd::Avx);
        for (k, what) in ["parameter", "first slot", "second slot"]
            .iter()
            .enumerate()
        {
            if let Some(i) = (0..n).find(|&i| sse[k][i] != avx[k][i]) {
                panic!(
                    "{what} differs at {i}: SSE {} AVX {}",
                    f32::from_bits(sse[k][i]),
                    f32::from_bits(avx[k][i])
                );
            }
        }
    }
}
