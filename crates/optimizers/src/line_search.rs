//! The strong-Wolfe line search of `torch.optim.LBFGS` (Nocedal & Wright, Algorithms 3.5–3.6,
//! with PyTorch's cubic interpolation and safeguards), on host vectors in f64.

use crate::vector::{dot, max_abs};

/// Minimiser of the cubic through `(x1, f1, g1)` and `(x2, f2, g2)`, clamped to `bounds`
/// (default: the interval between the points); the midpoint when the cubic has no minimum.
pub(crate) fn cubic_interpolate(
    (x1, f1, g1): (f64, f64, f64),
    (x2, f2, g2): (f64, f64, f64),
    bounds: Option<(f64, f64)>,
) -> f64 {
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        min_pos.max(lo).min(hi)
    } else {
        (lo + hi) / 2.0
    }
}

/// One point of the line search: step, loss, gradient, directional derivative.
#[derive(Clone)]
struct Point {
    t: f64,
    f: f64,
    g: Vec<f64>,
    gtd: f64,
}

/// The outcome of [`strong_wolfe`]: the loss and gradient at the accepted step, the step, and
/// the number of function evaluations spent.
pub(crate) struct LineSearch {
    pub loss: f64,
    pub grad: Vec<f64>,
    pub t: f64,
    pub evals: usize,
}

/// Finds a step `t` along `d` satisfying the strong Wolfe conditions
/// `f(x + t d) ≤ f(x) + c₁ t ∇f·d` and `|∇f(x + t d)·d| ≤ c₂ |∇f·d|` (c₁ = 1e-4, c₂ = 0.9,
/// at most 25 evaluations), starting from `t`. `eval(t)` returns the loss and gradient at
/// `x + t d`.
pub(crate) fn strong_wolfe(
    mut eval: impl FnMut(f64) -> (f64, Vec<f64>),
    t: f64,
    d: &[f64],
    f: f64,
    g: &[f64],
    gtd: f64,
) -> LineSearch {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    const TOLERANCE_CHANGE: f64 = 1e-9;
    const MAX_LS: usize = 25;

    let d_norm = max_abs(d);
    let mut t = t;
    let (f_new, g_new) = eval(t);
    let mut evals = 1;
    let mut new = Point {
        t,
        f: f_new,
        gtd: dot(&g_new, d),
        g: g_new,
    };
    let mut prev = Point {
        t: 0.0,
        f,
        g: g.to_vec(),
        gtd,
    };
    let mut done = false;
    let mut ls_iter = 0;
    let mut bracket: Vec<Point> = Vec::new();

    // Bracketing phase.
    while ls_iter < MAX_LS {
        if new.f > f + C1 * t * gtd || (ls_iter > 1 && new.f >= prev.f) {
            bracket = vec![prev.clone(), new.clone()];
            break;
        }
        if new.gtd.abs() <= -C2 * gtd {
            bracket = vec![new.clone()];
            done = true;
            break;
        }
        if new.gtd >= 0.0 {
            bracket = vec![prev.clone(), new.clone()];
            break;
        }
        let min_step = t + 0.01 * (t - prev.t);
        let max_step = t * 10.0;
        t = cubic_interpolate(
            (prev.t, prev.f, prev.gtd),
            (t, new.f, new.gtd),
            Some((min_step, max_step)),
        );
        prev = new;
        let (f_next, g_next) = eval(t);
        evals += 1;
        new = Point {
            t,
            f: f_next,
            gtd: dot(&g_next, d),
            g: g_next,
        };
        ls_iter += 1;
    }
    if ls_iter == MAX_LS {
        bracket = vec![
            Point {
                t: 0.0,
                f,
                g: g.to_vec(),
                gtd,
            },
            new,
        ];
    }

    // Zoom phase.
    let order = |b: &[Point]| {
        if b[0].f <= b[b.len() - 1].f {
            (0, 1)
        } else {
            (1, 0)
        }
    };
    let mut insuf_progress = false;
    let (mut low, mut high) = order(&bracket);
    while !done && ls_iter < MAX_LS {
        if (bracket[1].t - bracket[0].t).abs() * d_norm < TOLERANCE_CHANGE {
            break;
        }
        t = cubic_interpolate(
            (bracket[0].t, bracket[0].f, bracket[0].gtd),
            (bracket[1].t, bracket[1].f, bracket[1].gtd),
            None,
        );
        let b_max = bracket[0].t.max(bracket[1].t);
        let b_min = bracket[0].t.min(bracket[1].t);
        let eps = 0.1 * (b_max - b_min);
        if (b_max - t).min(t - b_min) < eps {
            if insuf_progress || t >= b_max || t <= b_min {
                t = if (t - b_max).abs() < (t - b_min).abs() {
                    b_max - eps
                } else {
                    b_min + eps
                };
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        let (f_next, g_next) = eval(t);
        evals += 1;
        let point = Point {
            t,
            f: f_next,
            gtd: dot(&g_next, d),
            g: g_next,
        };
        ls_iter += 1;
        if point.f > f + C1 * t * gtd || point.f >= bracket[low].f {
            bracket[high] = point;
            (low, high) = order(&bracket);
        } else {
            if point.gtd.abs() <= -C2 * gtd {
                done = true;
            } else if point.gtd * (bracket[high].t - bracket[low].t) >= 0.0 {
                bracket[high] = bracket[low].clone();
            }
            bracket[low] = point;
        }
    }
    let best = bracket.swap_remove(low);
    LineSearch {
        loss: best.f,
        grad: best.g,
        t: best.t,
        evals,
    }
}
