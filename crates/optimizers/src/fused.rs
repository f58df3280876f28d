//! Fused optimizer steps for Burn's CPU devices (`flex` and `ndarray`): one pass over the
//! parameter, its gradient and its state, updated in place, in parallel.
//!
//! The generic path of each optimizer is a chain of tensor operations, each a pass over
//! memory with a fresh allocation; an Adam step over n parameters then moves many times the
//! 28 n bytes it needs (read θ, g, m, v; write θ, m, v). On the CPU devices the tensors'
//! buffers are reachable, so each optimizer's update runs as one loop over the buffers
//! instead. The loop computes the same f32 expressions as the generic path; other devices
//! (wgpu) keep the generic path.

use burn::tensor::Tensor;
use rayon::prelude::*;

/// Elements per parallel task: large enough that task overhead is negligible.
const CHUNK: usize = 1 << 15;

static FUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns the fused one-pass steps on the CPU devices on or off (on by default). Off, every
/// device takes the generic path of tensor operations (same numbers, slower).
pub fn set_fused_steps(enabled: bool) {
    FUSED.store(enabled, std::sync::atomic::Ordering::Relaxed);
}

/// Whether the fused steps are on.
pub fn fused_steps() -> bool {
    FUSED.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) use descent_cpu::{buffer, filled, slice, slice_mut, tensor, zeros};

/// Whether the step of `tensor` along `grad` can take the fused path.
pub(crate) fn eligible<const D: usize>(tensor: &Tensor<D>, grad: &Tensor<D>) -> bool {
    fused_steps()
        && descent_cpu::is_cpu_f32(tensor)
        && descent_cpu::is_cpu_f32(grad)
        && grad.device() == tensor.device()
}

/// Runs `kernel(θ, g, states)` over matching chunks of the parameter, the gradient and `N`
/// state buffers, in parallel; `kernel` returns whether its gradient chunk was finite.
/// Returns whether the whole gradient was finite.
pub(crate) fn run<const N: usize, F>(
    p: &mut [f32],
    g: &[f32],
    states: [&mut [f32]; N],
    kernel: F,
) -> bool
where
    F: Fn(&mut [f32], &[f32], [&mut [f32]; N]) -> bool + Sync,
{
    assert_eq!(
        p.len(),
        g.len(),
        "fused step: parameter and gradient differ in size"
    );
    for s in &states {
        assert_eq!(
            s.len(),
            p.len(),
            "fused step: state and parameter differ in size"
        );
    }
    if p.len() <= CHUNK {
        return kernel(p, g, states);
    }
    let mut tasks = Vec::with_capacity(p.len().div_ceil(CHUNK));
    let (mut p_rest, mut g_rest, mut s_rest) = (p, g, states);
    while !p_rest.is_empty() {
        let n = CHUNK.min(p_rest.len());
        let (ph, pt) = p_rest.split_at_mut(n);
        let (gh, gt) = g_rest.split_at(n);
        let mut heads = Vec::with_capacity(N);
        let mut tails = Vec::with_capacity(N);
        for s in s_rest {
            let (h, t) = s.split_at_mut(n);
            heads.push(h);
            tails.push(t);
        }
        let heads: [&mut [f32]; N] = heads.try_into().unwrap_or_else(|_| unreachable!());
        tasks.push((ph, gh, heads));
        p_rest = pt;
        g_rest = gt;
        s_rest = tails.try_into().unwrap_or_else(|_| unreachable!());
    }
    tasks
        .into_par_iter()
        .map(|(p, g, s)| kernel(p, g, s))
        .reduce(|| true, |a, b| a && b)
}

/// The loop of a fused kernel over one chunk: `$body` runs for each index `$i` of the
/// parameter `$p`, with the gradient `$g` and the states reborrowed to `$p`'s length (so the
/// compiler drops the bounds checks and vectorises the loop); evaluates to whether every
/// gradient element was finite. A macro rather than a function taking a closure: that
/// version lost the vectorisation (Adam at 10M went from 8–14 ms to 37.6 ms).
macro_rules! each {
    ($p:ident, $g:ident, [$($s:ident),*], |$i:ident| $body:block) => {{
        let n = $p.len();
        let $g = &$g[..n];
        $(let $s = &mut $s[..n];)*
        let mut ok = true;
        for $i in 0..n {
            ok &= $g[$i].is_finite();
            $body
        }
        ok
    }};
}
pub(crate) use each;

/// Panics (naming the optimizer) when the kernel saw a non-finite gradient and the checks
/// are on.
pub(crate) fn check(opt: &'static str, finite: bool) {
    if !finite && crate::checks::finite_checks() {
        panic!(
            "{opt}: grad must be finite, found NaN or inf (a GradScaler skips such steps; \
             otherwise check the loss)"
        );
    }
}

/// `±g + λθ`, the gradient an update follows (see `common::direction`).
#[inline(always)]
pub(crate) fn dir(g: f32, p: f32, sign: f32, wd: f32) -> f32 {
    sign * g + wd * p
}
