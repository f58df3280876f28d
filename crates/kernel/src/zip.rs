//! The loop of the fused CPU path: a rule applied to the buffers of a parameter, its gradient
//! and its state, four lanes at a time, in parallel chunks, in place.

use rayon::prelude::*;
use wide::f32x4;

/// The lanes of the optimizers' fused loop: four `f32`, one SSE register. With eight, an
/// Adam step's slots and constants outnumber the registers and spill on every iteration
/// (measured: 13.6 instead of 9.7 instructions per element).
pub type Lanes = f32x4;

/// The width of [`Lanes`].
const W: usize = 4;

/// Elements per parallel task: large enough that the task overhead is negligible.
pub const CHUNK: usize = 1 << 15;

/// Runs `rule(θ, g, s)` over every lane of the parameter `p`, the gradient `g` and the `N`
/// state buffers `s`: `θ ← rule(θ, g, s)`, the states updated in place. Returns whether every
/// gradient element was finite.
///
/// The last `len % 4` elements run as one padded vector whose padding lanes are discarded.
/// `rule` is `Copy`: each task works on its own copy, whose constants stay in registers.
///
/// # Panics
/// If a buffer's length differs from the parameter's.
pub fn update<const N: usize, F>(p: &mut [f32], g: &[f32], s: [&mut [f32]; N], rule: F) -> bool
where
    F: Fn(Lanes, Lanes, &mut [Lanes; N]) -> Lanes + Sync + Copy,
{
    assert_eq!(
        p.len(),
        g.len(),
        "fused step: gradient and parameter differ in size"
    );
    for s in &s {
        assert_eq!(
            s.len(),
            p.len(),
            "fused step: state and parameter differ in size"
        );
    }
    if p.len() <= CHUNK {
        return chunk(p, g, s, &rule);
    }
    let mut tasks = Vec::with_capacity(p.len().div_ceil(CHUNK));
    let (mut p_rest, mut g_rest, mut s_rest) = (p, g, s);
    while !p_rest.is_empty() {
        let n = CHUNK.min(p_rest.len());
        let (ph, pt) = p_rest.split_at_mut(n);
        let (gh, gt) = g_rest.split_at(n);
        let mut split = s_rest.map(|s| s.split_at_mut(n));
        let heads: [&mut [f32]; N] = std::array::from_fn(|k| std::mem::take(&mut split[k].0));
        tasks.push((ph, gh, heads));
        (p_rest, g_rest) = (pt, gt);
        s_rest = split.map(|(_, t)| t);
    }
    tasks
        .into_par_iter()
        .map(|(p, g, s)| chunk(p, g, s, &rule))
        .reduce(|| true, |a, b| a && b)
}

/// One task's elements, on the calling thread.
#[inline(always)]
fn chunk<const N: usize, F>(p: &mut [f32], g: &[f32], s: [&mut [f32]; N], rule: &F) -> bool
where
    F: Fn(Lanes, Lanes, &mut [Lanes; N]) -> Lanes + Copy,
{
    let rule = *rule;
    let (pw, p_tail) = p.as_chunks_mut::<W>();
    let n = pw.len();
    // Every buffer cut to the same `n` vectors, so that the loop's indexing needs no checks.
    let (gw, g_tail) = g.as_chunks::<W>();
    let gw = &gw[..n];
    let mut split = s.map(|s| {
        let (heads, tail) = s.as_chunks_mut::<W>();
        (&mut heads[..n], tail)
    });
    let sw: [&mut [[f32; W]]; N] = std::array::from_fn(|k| std::mem::take(&mut split[k].0));
    let mut tails: [&mut [f32]; N] = split.map(|(_, t)| t);
    // `0 · g` summed: 0 while every gradient element is finite, NaN from the first that is not.
    let mut seen = Lanes::ZERO;
    for i in 0..n {
        let g = Lanes::from(gw[i]);
        seen += g * Lanes::ZERO;
        let mut lanes: [Lanes; N] = std::array::from_fn(|k| Lanes::from(sw[k][i]));
        pw[i] = rule(Lanes::from(pw[i]), g, &mut lanes).to_array();
        for k in 0..N {
            sw[k][i] = lanes[k].to_array();
        }
    }
    let m = p_tail.len();
    if m > 0 {
        let pad = |x: &[f32]| {
            let mut a = [0.0f32; W];
            a[..m].copy_from_slice(x);
            Lanes::from(a)
        };
        let g = pad(g_tail);
        seen += g * Lanes::ZERO;
        let mut lanes: [Lanes; N] = std::array::from_fn(|k| pad(tails[k]));
        let out = rule(pad(p_tail), g, &mut lanes);
        p_tail.copy_from_slice(&out.to_array()[..m]);
        for (s, v) in tails.iter_mut().zip(lanes) {
            s.copy_from_slice(&v.to_array()[..m]);
        }
    }
    seen.reduce_add() == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every element is visited once, in every chunk and in the padded tail, and a non-finite
    /// gradient anywhere is reported.
    #[test]
    fn update_visits_every_element_once_and_reports_non_finite_gradients() {
        for n in [0, 5, 8, 13, CHUNK + 3, 3 * CHUNK + 11] {
            let mut p: Vec<f32> = (0..n).map(|i| i as f32).collect();
            let g = vec![1.0f32; n];
            let mut s = vec![0.0f32; n];
            let finite = update(&mut p, &g, [&mut s], |p, g, [s]| {
                *s += g;
                p + g
            });
            assert!(finite, "n = {n}");
            assert!(
                p.iter().enumerate().all(|(i, &v)| v == i as f32 + 1.0),
                "n = {n}"
            );
            assert!(s.iter().all(|&v| v == 1.0), "n = {n}");
        }
        for bad in [f32::NAN, f32::INFINITY] {
            let n = 2 * CHUNK + 7;
            for at in [3, CHUNK + 1, n - 1] {
                let mut g = vec![0.5f32; n];
                g[at] = bad;
                let mut p = vec![0.0f32; n];
                assert!(!update(&mut p, &g, [], |p, g, []| p - g), "{bad} at {at}");
            }
        }
    }
}
