//! The loop of the fused CPU path: a rule applied to the buffers of a parameter, its gradient
//! and its state, eight lanes at a time, in parallel chunks, in place.

use rayon::prelude::*;
use wide::f32x8;

/// Elements per parallel task: large enough that the task overhead is negligible.
pub const CHUNK: usize = 1 << 15;

/// Runs `rule(θ, g, s)` over every lane of the parameter `p`, the gradient `g` and the `N`
/// state buffers `s`: `θ ← rule(θ, g, s)`, the states updated in place. Returns whether every
/// gradient element was finite.
///
/// The last `len % 8` elements run as one padded vector whose padding lanes are discarded.
///
/// # Panics
/// If a buffer's length differs from the parameter's.
pub fn update<const N: usize, F>(p: &mut [f32], g: &[f32], s: [&mut [f32]; N], rule: F) -> bool
where
    F: Fn(f32x8, f32x8, &mut [f32x8; N]) -> f32x8 + Sync,
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
    F: Fn(f32x8, f32x8, &mut [f32x8; N]) -> f32x8,
{
    let (p8, p_tail) = p.as_chunks_mut::<8>();
    let (g8, g_tail) = g.as_chunks::<8>();
    let mut s8 = s.map(|s| s.as_chunks_mut::<8>());
    // `0 · g` summed: 0 while every gradient element is finite, NaN from the first that is not.
    let mut seen = f32x8::ZERO;
    for (i, (p, g)) in p8.iter_mut().zip(g8).enumerate() {
        let g = f32x8::from(*g);
        seen += g * f32x8::ZERO;
        let mut lanes: [f32x8; N] = std::array::from_fn(|k| f32x8::from(s8[k].0[i]));
        *p = rule(f32x8::from(*p), g, &mut lanes).to_array();
        for (s, v) in s8.iter_mut().zip(lanes) {
            s.0[i] = v.to_array();
        }
    }
    let m = p_tail.len();
    if m > 0 {
        let pad = |x: &[f32]| {
            let mut a = [0.0f32; 8];
            a[..m].copy_from_slice(x);
            f32x8::from(a)
        };
        let g = pad(g_tail);
        seen += g * f32x8::ZERO;
        let mut lanes: [f32x8; N] = std::array::from_fn(|k| pad(s8[k].1));
        let out = rule(pad(p_tail), g, &mut lanes);
        p_tail.copy_from_slice(&out.to_array()[..m]);
        for (s, v) in s8.iter_mut().zip(lanes) {
            s.1.copy_from_slice(&v.to_array()[..m]);
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
