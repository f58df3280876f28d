//! L-BFGS (`torch.optim.LBFGS`): a quasi-Newton method that rebuilds the inverse Hessian from
//! the last few steps, driven by a closure that re-evaluates the loss and its gradient.

use burn::config::Config;
use burn::module::Module;
use burn::optim::{GradientsParams, LearningRate};
use serde::{Deserialize, Serialize};

use crate::checks;
use crate::error::{OptimError, OptimResult, or_panic};
use crate::flat;
use crate::line_search::strong_wolfe;
use crate::vector::{axpy, dot, max_abs, negated, scale, sub_from};

const NAME: &str = "lbfgs";

/// The line search of [`Lbfgs`].
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum LineSearch {
    /// Fixed steps of size η (after a first step of `min(1, 1/‖g‖₁) η`).
    None,
    /// Steps satisfying the strong Wolfe conditions (PyTorch's `"strong_wolfe"`).
    StrongWolfe,
}

/// Configuration of [`Lbfgs`], with PyTorch's defaults.
#[derive(Config, Debug)]
pub struct LbfgsConfig {
    /// Most iterations per [`step`](Lbfgs::step) (default 20).
    #[config(default = 20)]
    pub max_iter: usize,
    /// Most loss evaluations per step (default `max_iter · 5 / 4`).
    #[config(default = "None")]
    pub max_eval: Option<usize>,
    /// Stop when `max |∇f| ≤ tolerance_grad` (default 1e-7).
    #[config(default = 1e-7)]
    pub tolerance_grad: f64,
    /// Stop when the step or the change of the loss is below this (default 1e-9).
    #[config(default = 1e-9)]
    pub tolerance_change: f64,
    /// Number of (s, y) pairs kept (default 100).
    #[config(default = 100)]
    pub history_size: usize,
    /// The line search (default none, as PyTorch).
    #[config(default = "LineSearch::None")]
    pub line_search: LineSearch,
    /// Check that the closure's loss and gradient are finite, and stop with an error naming
    /// the optimizer if not (default on).
    #[config(default = true)]
    pub checks: bool,
}

impl LbfgsConfig {
    /// Checks the hyperparameters and builds the optimizer.
    pub fn try_init(&self) -> OptimResult<Lbfgs> {
        if self.max_iter == 0 {
            return Err(OptimError::new(NAME, "max_iter", "must be >= 1, got 0"));
        }
        if self.history_size == 0 {
            return Err(OptimError::new(NAME, "history_size", "must be >= 1, got 0"));
        }
        if self.max_eval == Some(0) {
            return Err(OptimError::new(NAME, "max_eval", "must be >= 1, got 0"));
        }
        checks::non_negative(NAME, "tolerance_grad", self.tolerance_grad)?;
        checks::non_negative(NAME, "tolerance_change", self.tolerance_change)?;
        Ok(Lbfgs {
            max_iter: self.max_iter,
            max_eval: self.max_eval.unwrap_or(self.max_iter * 5 / 4),
            tolerance_grad: self.tolerance_grad,
            tolerance_change: self.tolerance_change,
            history_size: self.history_size,
            line_search: self.line_search,
            checks: self.checks,
            state: LbfgsState::default(),
            spare: Spare::default(),
        })
    }

    /// Builds the optimizer.
    ///
    /// # Panics
    /// When a hyperparameter is invalid, with a message naming it.
    pub fn init(&self) -> Lbfgs {
        or_panic(self.try_init())
    }
}

/// The state L-BFGS carries from one [`step`](Lbfgs::step) to the next (serde-serializable,
/// so training can resume).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LbfgsState {
    /// Last search direction `d`.
    pub d: Option<Vec<f64>>,
    /// Last step length `t`.
    pub t: f64,
    /// Gradient differences `yᵢ`, oldest first.
    pub old_dirs: Vec<Vec<f64>>,
    /// Steps `sᵢ`, oldest first.
    pub old_stps: Vec<Vec<f64>>,
    /// `1 / (yᵢ · sᵢ)`.
    pub ro: Vec<f64>,
    /// Initial inverse-Hessian scale `γ = s·y / y·y`.
    pub h_diag: f64,
    /// Gradient of the previous iteration.
    pub prev_flat_grad: Option<Vec<f64>>,
    /// Loss of the previous iteration.
    pub prev_loss: f64,
    /// Iterations over all steps.
    pub n_iter: u64,
    /// Loss evaluations over all steps.
    pub func_evals: u64,
}

/// L-BFGS (`torch.optim.LBFGS`), with PyTorch's iteration, stopping rules and strong-Wolfe
/// line search.
///
/// Each iteration computes `d = −H g` by the two-loop recursion over the stored pairs
/// `sᵢ = θᵢ₊₁ − θᵢ`, `yᵢ = gᵢ₊₁ − gᵢ` (a pair is kept when `y·s > 1e-10`), with `H₀ = γ I`,
/// `γ = s·y / y·y`; then `θ ← θ + t d`, `t` from the line search or fixed.
///
/// The two-loop recursion and the line search run on the host in f64 over the flattened
/// parameters: L-BFGS is meant for small full-batch problems, where this is exact and cheap.
#[derive(Clone, Debug)]
pub struct Lbfgs {
    max_iter: usize,
    max_eval: usize,
    tolerance_grad: f64,
    tolerance_change: f64,
    history_size: usize,
    line_search: LineSearch,
    state: LbfgsState,
    spare: Spare,
    checks: bool,
}

/// Host vectors of a parameter vector's length, kept between steps for reuse (fresh memory
/// costs a page fault per 4 KiB). Not part of the state: a clone starts without any.
#[derive(Default)]
struct Spare(Vec<Vec<f64>>);

impl Spare {
    /// The most vectors kept: a step in steady state needs two at its start.
    const KEEP: usize = 2;

    fn pop(&mut self) -> Vec<f64> {
        self.0.pop().unwrap_or_default()
    }

    fn push(&mut self, v: Vec<f64>) {
        if self.0.len() < Self::KEEP {
            self.0.push(v);
        }
    }
}

impl Clone for Spare {
    fn clone(&self) -> Self {
        Spare::default()
    }
}

impl std::fmt::Debug for Spare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} spare vectors", self.0.len())
    }
}

impl Lbfgs {
    /// The state carried between steps (save it to resume training).
    pub fn state(&self) -> &LbfgsState {
        &self.state
    }

    /// Replaces the state (to resume from a saved one).
    pub fn with_state(mut self, state: LbfgsState) -> Self {
        self.state = state;
        self
    }

    /// One `step(closure)` on a Burn module: `closure(module)` returns the loss and its
    /// gradients at the module's parameters; it may be called up to `max_eval` times. Returns
    /// the updated module and the loss at the start of the step.
    ///
    /// Parameters without a gradient are held fixed.
    pub fn step<M, F>(&mut self, lr: LearningRate, module: M, mut closure: F) -> (M, f64)
    where
        M: Module + Clone,
        F: FnMut(M) -> (f64, GradientsParams),
    {
        let mut x = self.spare.pop();
        flat::params_into(&module, &mut x);
        let template = module.clone();
        // The module of the last evaluation: the next one writes into its buffers.
        let mut last: Option<M> = None;
        let mut eval = |x: &[f64], mut grad: Vec<f64>| {
            let m = flat::set_params(last.take().unwrap_or_else(|| template.clone()), x);
            let (loss, grads) = closure(m.clone());
            flat::grads_into(&m, &grads, &mut grad);
            last = Some(m);
            (loss, grad)
        };
        let loss = self.step_recycling(lr, &mut x, &mut eval);
        let base = last.unwrap_or(module);
        let module = flat::set_params(base, &x);
        self.spare.push(x);
        (module, loss)
    }

    /// One step on a flat parameter vector `x` (updated in place): `eval(x)` returns the loss
    /// and gradient. Returns the loss at the start of the step.
    pub fn step_flat(
        &mut self,
        lr: LearningRate,
        x: &mut [f64],
        mut eval: impl FnMut(&[f64]) -> (f64, Vec<f64>),
    ) -> f64 {
        self.step_recycling(lr, x, |x, _| eval(x))
    }

    /// [`step_flat`](Self::step_flat) with `eval(x, buffer)` handed a spare vector it may
    /// write the gradient into (empty, or of a gradient's length), so that the host vectors
    /// are reused instead of allocated (see [`Spare`]).
    fn step_recycling(
        &mut self,
        lr: LearningRate,
        x: &mut [f64],
        mut eval: impl FnMut(&[f64], Vec<f64>) -> (f64, Vec<f64>),
    ) -> f64 {
        checks::learning_rate(NAME, lr);
        let spare = &mut self.spare;
        let (orig_loss, mut flat_grad) = eval(x, spare.pop());
        let mut loss = orig_loss;
        let mut current_evals = 1;
        let st = &mut self.state;
        st.func_evals += 1;
        let mut grad_max = max_abs(&flat_grad);
        if self.checks {
            check_finite(loss, grad_max, &flat_grad);
        }
        if grad_max <= self.tolerance_grad {
            spare.push(flat_grad);
            return orig_loss;
        }

        let mut d = st.d.take().unwrap_or_default();
        let mut t = st.t;
        let mut n_iter = 0;
        while n_iter < self.max_iter {
            n_iter += 1;
            st.n_iter += 1;
            // `prev_flat_grad` becomes this iteration's gradient when the next one replaces
            // it (or when the step ends), so that it is moved rather than copied.
            let prev = st.prev_flat_grad.take();
            if st.n_iter == 1 {
                d = negated(&flat_grad, d);
                prev.into_iter()
                    .chain(st.old_dirs.drain(..))
                    .chain(st.old_stps.drain(..))
                    .for_each(|v| spare.push(v));
                st.ro.clear();
                st.h_diag = 1.0;
            } else {
                // y = g − g_prev in the previous gradient's buffer, s = t d in d's.
                let mut y = prev.unwrap_or_else(|| vec![0.0; flat_grad.len()]);
                sub_from(&mut y, &flat_grad);
                let mut s = std::mem::take(&mut d);
                scale(&mut s, t);
                let ys = dot(&y, &s);
                if ys > 1e-10 {
                    if st.old_dirs.len() == self.history_size {
                        spare.push(st.old_dirs.remove(0));
                        spare.push(st.old_stps.remove(0));
                        st.ro.remove(0);
                    }
                    st.h_diag = ys / dot(&y, &y);
                    st.old_dirs.push(y);
                    st.old_stps.push(s);
                    st.ro.push(1.0 / ys);
                } else {
                    spare.push(y);
                    spare.push(s);
                }
                d = two_loop(st, &flat_grad, spare.pop());
            }
            st.prev_loss = loss;

            t = if st.n_iter == 1 {
                let l1: f64 = flat_grad.iter().map(|g| g.abs()).sum();
                (1.0f64).min(1.0 / l1) * lr
            } else {
                lr
            };
            let gtd = dot(&flat_grad, &d);
            if gtd > -self.tolerance_change {
                break;
            }

            let mut ls_evals = 0;
            let mut opt_cond = false;
            let new_grad = match self.line_search {
                LineSearch::StrongWolfe => {
                    let x_init = x.to_vec();
                    let mut probe = vec![0.0; x.len()];
                    let result = strong_wolfe(
                        |step| {
                            for ((p, x0), di) in probe.iter_mut().zip(&x_init).zip(&d) {
                                *p = x0 + step * di;
                            }
                            eval(&probe, Vec::new())
                        },
                        t,
                        &d,
                        loss,
                        &flat_grad,
                        gtd,
                    );
                    loss = result.loss;
                    t = result.t;
                    ls_evals = result.evals;
                    axpy(x, t, &d); // θ ← θ + t d
                    Some(result.grad)
                }
                LineSearch::None => {
                    axpy(x, t, &d); // θ ← θ + t d
                    if n_iter != self.max_iter {
                        let (l, g) = eval(x, spare.pop());
                        loss = l;
                        ls_evals = 1;
                        Some(g)
                    } else {
                        None
                    }
                }
            };
            if let Some(g) = new_grad {
                grad_max = max_abs(&g);
                opt_cond = grad_max <= self.tolerance_grad;
                st.prev_flat_grad = Some(std::mem::replace(&mut flat_grad, g));
            }
            if self.checks {
                check_finite(loss, grad_max, &flat_grad);
            }
            current_evals += ls_evals;
            st.func_evals += ls_evals as u64;

            if n_iter == self.max_iter
                || current_evals >= self.max_eval
                || opt_cond
                || max_abs(&d) * t.abs() <= self.tolerance_change
                || (loss - st.prev_loss).abs() < self.tolerance_change
            {
                break;
            }
        }
        // An iteration that ended without a new gradient leaves its own as the previous one.
        match st.prev_flat_grad {
            None => st.prev_flat_grad = Some(flat_grad),
            Some(_) => spare.push(flat_grad),
        }
        st.d = Some(d);
        st.t = t;
        orig_loss
    }
}

/// The two-loop recursion: `−H g` from the stored pairs and `H₀ = γ I`, written into
/// `buffer` (a spare vector, reused when its length fits).
fn two_loop(st: &LbfgsState, grad: &[f64], buffer: Vec<f64>) -> Vec<f64> {
    let n = st.old_dirs.len();
    let mut al = vec![0.0; n];
    let mut q = negated(grad, buffer);
    for i in (0..n).rev() {
        al[i] = dot(&st.old_stps[i], &q) * st.ro[i];
        axpy(&mut q, -al[i], &st.old_dirs[i]);
    }
    // r = γ q, in q's buffer.
    let mut r = q;
    scale(&mut r, st.h_diag);
    for (i, al_i) in al.iter().enumerate() {
        let be_i = dot(&st.old_dirs[i], &r) * st.ro[i];
        axpy(&mut r, al_i - be_i, &st.old_stps[i]);
    }
    r
}

/// The loss and gradient a closure returned are finite (`grad_max = max |gᵢ|`, NaN when one
/// is NaN), else a panic naming the optimizer.
fn check_finite(loss: f64, grad_max: f64, grad: &[f64]) {
    if !loss.is_finite() {
        panic!("{NAME}: loss must be finite, the closure returned {loss}");
    }
    if grad_max.is_finite() {
        return;
    }
    if let Some(i) = grad.iter().position(|g| !g.is_finite()) {
        panic!(
            "{NAME}: grad must be finite, the closure returned {} at flat index {i}",
            grad[i]
        );
    }
}
