//! Adafactor's fused CPU path: a step over the `f32` buffers of flex and ndarray in three
//! parallel passes (two for vectors), reading the gradient three times and writing the
//! parameter once, where the tensor path makes a dozen passes and temporaries of the
//! parameter's size. The per-element formulas are [`crate::adafactor`]'s, run on four lanes.
//! The passes run on descent's thread team (`descent_kernel::team`), their partial sums merged
//! in task order: the same bits whatever thread ran which task.

use descent_kernel::team;
use descent_kernel::zip::{CHUNK, Lanes};

use crate::adafactor::{factored, moved, scaled};
use crate::rule::lerp;

/// The constants of one step that do not depend on the element.
#[derive(Clone, Copy)]
pub(crate) struct StepConstants {
    /// `1 − β₂ₜ`, the weight of the new squared gradient.
    pub rest: f32,
    /// `ε₁` (the floor of the row factors' mean) and `ε₁²` (the floor of `V`).
    pub eps1: f32,
    pub eps1_sq: f32,
}

/// What the first pass measured: `Σθ²`, `ΣU²`, and whether every gradient was finite.
pub(crate) struct Sums {
    pub p_sq: f64,
    pub u_sq: f64,
    pub finite: bool,
}

/// `Σ x²` on four lanes.
fn sum_sq(x: &[f32]) -> f32 {
    let (heads, tail) = x.as_chunks::<4>();
    let mut acc = Lanes::ZERO;
    for h in heads {
        let v = Lanes::from(*h);
        acc += v * v;
    }
    acc.reduce_add() + tail.iter().map(|v| v * v).sum::<f32>()
}

/// Rows `[start, end)` of one matrix of a batch, as a parallel task.
#[derive(Clone, Copy)]
struct Rows {
    batch: usize,
    start: usize,
    end: usize,
}

/// Tasks of about [`CHUNK`] elements, never across two matrices of a batch.
fn tasks(batches: usize, rows: usize, cols: usize) -> Vec<Rows> {
    let per = (CHUNK / cols.max(1)).max(1);
    (0..batches)
        .flat_map(|batch| {
            (0..rows).step_by(per).map(move |start| Rows {
                batch,
                start,
                end: (start + per).min(rows),
            })
        })
        .collect()
}

/// `U` of one row (`g`, with row factor `r`, the batch's column factors `c` and mean `m`)
/// visited four lanes at a time: `f(lane index, U)`; the padded tail's extra lanes hold
/// `g = 0`, so their `U` is 0.
#[inline(always)]
fn row_updates(
    g: &[f32],
    r: f32,
    c: &[f32],
    m: f32,
    eps1_sq: f32,
    mut f: impl FnMut(usize, Lanes),
) {
    let (gh, gt) = g.as_chunks::<4>();
    let (ch, ct) = c.as_chunks::<4>();
    let (rl, ml) = (Lanes::splat(r), Lanes::splat(m));
    for (k, (g4, c4)) in gh.iter().zip(ch).enumerate() {
        let v = factored(rl, Lanes::from(*c4), ml);
        f(k, scaled(Lanes::from(*g4), v, eps1_sq));
    }
    if !gt.is_empty() {
        let (mut g4, mut c4) = ([0.0f32; 4], [1.0f32; 4]);
        g4[..gt.len()].copy_from_slice(gt);
        c4[..ct.len()].copy_from_slice(ct);
        let v = factored(rl, Lanes::from(c4), ml);
        f(gh.len(), scaled(Lanes::from(g4), v, eps1_sq));
    }
}

/// One factored step of `p` (`batches` matrices of `rows × cols`, row-major) along `g`,
/// updating the row factors `row` (`batches·rows`) and column factors `col`
/// (`batches·cols`). `scale` turns the measured sums into the step: it gets `Σθ²` and `ΣU²`
/// and returns `(1 − ηλ, αₜ / max(1, RMS(U)/d))`, or `None` to leave `p` as it is.
pub(crate) fn factored_step(
    p: &mut [f32],
    g: &[f32],
    (batches, rows, cols): (usize, usize, usize),
    row: &mut [f32],
    col: &mut [f32],
    k: StepConstants,
    scale: impl FnOnce(&Sums) -> Option<(f32, f32)>,
) -> Sums {
    let tasks = tasks(batches, rows, cols);
    let at = |t: &Rows, i: usize| (t.batch * rows + i) * cols;
    // Pass 1: row and column sums of g², Σθ², finiteness.
    let firsts: Vec<(Vec<f32>, Vec<f32>, f64, bool)> =
        team::map(tasks.iter().collect(), |t: &Rows| {
            let mut row_sums = Vec::with_capacity(t.end - t.start);
            let mut col_sums = vec![0.0f32; cols];
            let (mut p_sq, mut seen, mut seen4) = (0.0f64, 0.0f32, Lanes::ZERO);
            for i in t.start..t.end {
                let g_row = &g[at(t, i)..at(t, i) + cols];
                row_sums.push(sum_sq(g_row));
                // Four columns at a time: `seen` summed as one scalar made the loop a chain of
                // dependent adds (measured: a fifth of the step at 10M). Each column's sum
                // takes the same additions in the same order either way.
                let (gh, gt) = g_row.as_chunks::<4>();
                let (sh, st) = col_sums.as_chunks_mut::<4>();
                for (s4, g4) in sh.iter_mut().zip(gh) {
                    let v = Lanes::from(*g4);
                    *s4 = (Lanes::from(*s4) + v * v).to_array();
                    seen4 += v * Lanes::ZERO;
                }
                for (s, v) in st.iter_mut().zip(gt) {
                    *s += v * v;
                    seen += v * 0.0;
                }
                p_sq += f64::from(sum_sq(&p[at(t, i)..at(t, i) + cols]));
            }
            let seen = seen + seen4.reduce_add();
            (row_sums, col_sums, p_sq, seen == 0.0)
        });
    let mut col_sums = vec![0.0f32; batches * cols];
    let (mut p_sq, mut finite) = (0.0, true);
    for (t, (row_sums, cs, ps, f)) in tasks.iter().zip(firsts) {
        for (i, s) in (t.start..t.end).zip(row_sums) {
            let r = &mut row[t.batch * rows + i];
            *r = lerp(*r, s / cols as f32, k.rest);
        }
        for (acc, s) in col_sums[t.batch * cols..][..cols].iter_mut().zip(cs) {
            *acc += s;
        }
        p_sq += ps;
        finite &= f;
    }
    for (c, s) in col.iter_mut().zip(col_sums) {
        *c = lerp(*c, s / rows as f32, k.rest);
    }
    // The floored mean of each matrix's row factors.
    let means: Vec<f32> = row
        .chunks(rows)
        .map(|r| (r.iter().sum::<f32>() / rows as f32).max(k.eps1))
        .collect();
    // Pass 2: ΣU².
    let (row, col) = (&*row, &*col);
    let u_sq: f64 = team::map(tasks.iter().collect(), |t: &Rows| {
        let c = &col[t.batch * cols..][..cols];
        let mut acc = 0.0f64;
        for i in t.start..t.end {
            let mut lanes = Lanes::ZERO;
            row_updates(
                &g[at(t, i)..at(t, i) + cols],
                row[t.batch * rows + i],
                c,
                means[t.batch],
                k.eps1_sq,
                |_, u| lanes += u * u,
            );
            acc += f64::from(lanes.reduce_add());
        }
        acc
    })
    .into_iter()
    .sum();
    let sums = Sums { p_sq, u_sq, finite };
    // Pass 3: θ ← θ (1 − ηλ) − k U.
    if let Some((shrink, step)) = scale(&sums) {
        let mut chunks: Vec<(Rows, &mut [f32])> = Vec::with_capacity(tasks.len());
        let mut rest = p;
        for t in &tasks {
            let (head, tail) = rest.split_at_mut((t.end - t.start) * cols);
            chunks.push((*t, head));
            rest = tail;
        }
        team::map(chunks, |(t, p_rows)| {
            let c = &col[t.batch * cols..][..cols];
            for (n, i) in (t.start..t.end).enumerate() {
                let p_row = &mut p_rows[n * cols..][..cols];
                row_updates(
                    &g[at(&t, i)..at(&t, i) + cols],
                    row[t.batch * rows + i],
                    c,
                    means[t.batch],
                    k.eps1_sq,
                    |q, u| {
                        let lo = 4 * q;
                        // Whole groups as fixed-size arrays: a copy of a slice whose length is
                        // known only at run time is a `memcpy` call (measured: a fifth of
                        // the step at 10M); the padded tail alone copies its lanes.
                        if let Some(p4) = p_row.get_mut(lo..lo + 4) {
                            let p4: &mut [f32; 4] = p4.try_into().expect("four lanes");
                            *p4 = moved(Lanes::from(*p4), u, shrink, step).to_array();
                        } else {
                            let m = cols - lo;
                            let mut p4 = [0.0f32; 4];
                            p4[..m].copy_from_slice(&p_row[lo..]);
                            let out = moved(Lanes::from(p4), u, shrink, step).to_array();
                            p_row[lo..].copy_from_slice(&out[..m]);
                        }
                    },
                );
            }
        });
    }
    sums
}

/// One unfactored step (vectors): `V` (`var`, updated) is kept whole.
pub(crate) fn vector_step(
    p: &mut [f32],
    g: &[f32],
    var: &mut [f32],
    k: StepConstants,
    scale: impl FnOnce(&Sums) -> Option<(f32, f32)>,
) -> Sums {
    // Pass 1: V = lerp(V, g², 1 − β₂ₜ), ΣU², Σθ², finiteness.
    let chunks = var
        .chunks_mut(CHUNK)
        .zip(g.chunks(CHUNK))
        .zip(p.chunks(CHUNK))
        .collect();
    let (p_sq, u_sq, seen) = team::map(chunks, |((v, g), p)| {
        let (mut u_sq, mut seen) = (0.0f32, 0.0f32);
        for (v, g) in v.iter_mut().zip(g) {
            *v = lerp(*v, g * g, k.rest);
            let u = scaled(*g, *v, k.eps1_sq);
            u_sq += u * u;
            seen += g * 0.0;
        }
        (f64::from(sum_sq(p)), f64::from(u_sq), seen)
    })
    .into_iter()
    .fold((0.0, 0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
    let sums = Sums {
        p_sq,
        u_sq,
        finite: seen == 0.0,
    };
    // Pass 2: θ ← θ (1 − ηλ) − k U.
    if let Some((shrink, step)) = scale(&sums) {
        let chunks = p
            .chunks_mut(CHUNK)
            .zip(g.chunks(CHUNK))
            .zip(var.chunks(CHUNK))
            .collect();
        team::map(chunks, |((p, g), v)| {
            for ((p, g), v) in p.iter_mut().zip(g).zip(v) {
                *p = moved(*p, scaled(*g, *v, k.eps1_sq), shrink, step);
            }
        });
    }
    sums
}
