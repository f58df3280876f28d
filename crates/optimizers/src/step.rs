//! How an element-wise optimizer's step runs: the per-instance settings (which kernel, which
//! checks) and the [`Stepper`] that takes a [`Rule`] from a model's tensors to a kernel.
//!
//! ```text
//! ModuleOptimizer::step ─> Optimizer::step (per tensor: θ, g, state)
//!   ─> the optimizer builds its Rule for this step (host constants: η, bias corrections)
//!   ─> Stepper::run: checks η and shapes, then
//!        fused:   flex/ndarray f32 buffers ─> zip::update (8 AVX or 4 SSE lanes, parallel chunks, in place)
//!        kernel:  f32 on a CubeCL device (wgpu) ─> the rule traced once (descent_kernel::trace)
//!                 ─> one CubeCL kernel per update (descent_kernel::cube)
//!        generic: Rule::apply on whole tensors (any device; wgpu: Burn's fusion compiles the chain)
//!      and the finite check of the gradient (in the fused pass; deferred off the CPU)
//! ```

use std::sync::{Arc, Mutex, PoisonError, Weak};

use burn::config::Config;
use burn::tensor::{DType, Tensor};
use descent_kernel::Kernel;
use descent_kernel::buffer::{self, Buffer};
use descent_kernel::floats::{Floats, FloatsMut, update_floats};
use descent_kernel::paths::{self, Path};
use descent_kernel::{Num, zip};

use crate::checks;
use crate::error::{OptimError, OptimResult};
use crate::rule::Rule;

/// Per-instance settings of an element-wise optimizer: a config field of each
/// (`AdamConfig::new().with_kernel(Kernel::Generic)`, `.with_checks(false)`).
#[derive(Config, Debug, Copy, PartialEq)]
pub struct StepSettings {
    /// Which implementation runs (default [`Kernel::Auto`]: fused on the CPU devices).
    #[config(default = "Kernel::Auto")]
    pub kernel: Kernel,
    /// Check that every gradient is finite and stop with an error naming the optimizer if not
    /// (default on). On the CPU devices every gradient is checked, at no measurable cost;
    /// elsewhere the check is deferred and sampled (see `check_interval`). Turn it off only
    /// where the gradients are known to be finite, e.g. behind a
    /// [`GradScaler`](crate::GradScaler), which skips steps with inf/NaN gradients.
    #[config(default = true)]
    pub checks: bool,
    /// Off the CPU devices, how the finite check samples the updates (default
    /// [`FINITE_CHECK_INTERVAL`]): `1` checks the gradient of every update (one reduction per
    /// tensor per step); `k > 1` checks the outputs of about one update in `k`, which a
    /// non-finite gradient leaves non-finite, at `1/k` of the cost and about `k` updates of
    /// the tensor later. The checked numbers are read back every [`DEFERRED_CHECKS`] updates
    /// and by [`check_pending_grads`].
    #[config(default = 64)]
    pub check_interval: u32,
    /// The dtype the optimizer keeps its state in (moments, accumulators, momentum buffers)
    /// when it creates it: `None` (default) is `f32` whatever the parameter's dtype;
    /// `Some(DType::BF16)` or `Some(DType::F16)` halve the state's memory, as Optax's
    /// `mu_dtype` does for the first moment. The update is computed in `f32` either way and the
    /// state rounded to its dtype after each step. State already held (or loaded from a record)
    /// keeps its dtype.
    #[config(default = "None")]
    pub state_dtype: Option<DType>,
}

/// Elements from which a parameter's new state buffers are placed apart from its own
/// buffers modulo 4096 (`buffer::apart`; a page more memory each): below it the step is short
/// and its buffers sit in the caches.
const APART_FROM: usize = 1 << 16;

/// The default sampling interval of the deferred finite check (see
/// [`StepSettings::check_interval`]).
pub const FINITE_CHECK_INTERVAL: u32 = 64;

/// Parameter updates of one optimizer after which its deferred finite checks are read back.
pub const DEFERRED_CHECKS: usize = 256;

/// Runs an optimizer's [`Rule`] with its [`StepSettings`]; holds the instance's deferred finite
/// check. Clones share it.
#[derive(Clone, Debug)]
pub(crate) struct Stepper {
    name: &'static str,
    settings: StepSettings,
    pending: Arc<Mutex<Pending>>,
}

impl Stepper {
    /// A stepper for optimizer `name`; the settings are checked.
    pub fn new(name: &'static str, settings: &StepSettings) -> OptimResult<Self> {
        if settings.check_interval == 0 {
            return Err(OptimError::new(
                name,
                "check_interval",
                "must be >= 1, got 0",
            ));
        }
        let pending = Arc::new(Mutex::new(Pending {
            name,
            ..Pending::default()
        }));
        register(&pending);
        Ok(Self {
            name,
            settings: *settings,
            pending,
        })
    }

    /// One update of `p` along `g` by `rule`, from the state `slots` (`None` before the first
    /// step: filled with the rule's initial values). Returns the new parameter and slots.
    ///
    /// # Panics
    /// On a negative or non-finite learning rate, a gradient or state of another shape than
    /// the parameter, or (with the checks on) a non-finite gradient, naming the optimizer.
    pub fn run<R: Rule, const D: usize>(
        &self,
        lr: f64,
        rule: &R,
        p: Tensor<D>,
        g: Tensor<D>,
        slots: Vec<Option<Tensor<D>>>,
    ) -> (Tensor<D>, Vec<Tensor<D>>) {
        checks::learning_rate(self.name, lr);
        assert_eq!(slots.len(), rule.slots(), "{}: state slots", self.name);
        self.check_shapes(&p, &g, &slots);
        if p.shape().num_elements() == 0 {
            // Nothing to update (and nothing to reduce for the checks).
            let slots = slots
                .into_iter()
                .map(|s| s.unwrap_or_else(|| p.zeros_like()))
                .collect();
            return (p, slots);
        }
        let state_dtype = self.settings.state_dtype.unwrap_or(DType::F32);
        if !matches!(state_dtype, DType::F32 | DType::F16 | DType::BF16) {
            panic!(
                "{}: state_dtype must be F32, F16 or BF16, got {state_dtype:?}",
                self.name
            );
        }
        // The fused loop reads and writes f32 buffers on flex and ndarray and f16/bf16 ones on
        // flex, each in its own dtype, computing in f32.
        let cpu = |t: &Tensor<D>| descent_kernel::buffer::is_cpu_float(t);
        let fused = self.settings.kernel == Kernel::Auto
            && cpu(&p)
            && cpu(&g)
            && g.device() == p.device()
            && slots.iter().flatten().all(cpu)
            && (state_dtype == DType::F32 || flex(&p));
        if fused {
            return self.fused(rule, p, g, slots, state_dtype);
        }
        if let Some(dtype) = descent_kernel::half(&p) {
            // f16/bf16 on the tensor path: computed in f32 (ε = 1e-8 and β₂ = 0.999 are not
            // representable in f16), the parameter returned in its dtype.
            let f32 = |t: Tensor<D>| t.cast(DType::F32);
            // (The slots are cast to f32 and back to their own dtype by `generic`.)
            let (p32, slots) = self.generic(rule, f32(p), f32(g), slots, state_dtype);
            return (p32.cast(dtype), slots);
        }
        self.generic(rule, p, g, slots, state_dtype)
    }

    /// Gradient and state must have the parameter's shape: a state loaded for another
    /// parameter would otherwise broadcast or be read out of bounds.
    fn check_shapes<const D: usize>(
        &self,
        p: &Tensor<D>,
        g: &Tensor<D>,
        slots: &[Option<Tensor<D>>],
    ) {
        let dims = p.dims();
        if g.dims() != dims {
            panic!(
                "{}: grad must have the parameter's shape {dims:?}, got {:?}",
                self.name,
                g.dims()
            );
        }
        if let Some(s) = slots.iter().flatten().find(|s| s.dims() != dims) {
            panic!(
                "{}: state must have the parameter's shape {dims:?}, got {:?} (a state saved \
                 for another parameter or model?)",
                self.name,
                s.dims()
            );
        }
    }

    fn fused<R: Rule, const D: usize>(
        &self,
        rule: &R,
        p: Tensor<D>,
        g: Tensor<D>,
        slots: Vec<Option<Tensor<D>>>,
        state_dtype: DType,
    ) -> (Tensor<D>, Vec<Tensor<D>>) {
        paths::record(Path::Fused);
        let mut pb = buffer::buffer(p);
        let gb = buffer::buffer(g);
        // New state buffers of a large tensor start far, modulo 4096, from the parameter's,
        // the gradient's and each other's (`buffer::apart`); none is new after the first step.
        let missing = slots.iter().filter(|s| s.is_none()).count();
        let mut places = if missing > 0 && buffer::slice_len(&pb) >= APART_FROM {
            let taken = [buffer::window_offset(&pb), buffer::window_offset(&gb)];
            buffer::apart(&taken, missing)
        } else {
            Vec::new()
        }
        .into_iter();
        let mut sb = initial(rule, slots, buffer::buffer, |v| {
            buffer::filled_at(&pb, state_dtype, v, places.next())
        });
        let (ps, gs) = (buffer::floats_mut(&mut pb), buffer::floats(&gb));
        let finite = match sb.len() {
            0 => lanes::<R, 0>(rule, ps, gs, &mut sb),
            1 => lanes::<R, 1>(rule, ps, gs, &mut sb),
            2 => lanes::<R, 2>(rule, ps, gs, &mut sb),
            3 => lanes::<R, 3>(rule, ps, gs, &mut sb),
            4 => lanes::<R, 4>(rule, ps, gs, &mut sb),
            n => unreachable!("{}: {n} state slots (at most 4)", self.name),
        };
        if !finite && self.settings.checks {
            panic!("{}", non_finite(self.name, "grad"));
        }
        (
            buffer::tensor(pb),
            sb.into_iter().map(buffer::tensor).collect(),
        )
    }

    fn generic<R: Rule, const D: usize>(
        &self,
        rule: &R,
        p: Tensor<D>,
        g: Tensor<D>,
        slots: Vec<Option<Tensor<D>>>,
        state_dtype: DType,
    ) -> (Tensor<D>, Vec<Tensor<D>>) {
        let kernel = self.settings.kernel == Kernel::Auto && on_cube(&p, &g, &slots, state_dtype);
        paths::record(if kernel { Path::Kernel } else { Path::Generic });
        let cpu = descent_kernel::is_cpu(&p.device());
        let (checks, sampled) = (self.settings.checks, self.settings.check_interval > 1);
        if checks && cpu {
            if !zeros(&g).into_scalar::<f64>().is_finite() {
                panic!("{}", non_finite(self.name, "grad"));
            }
        } else if checks && !sampled {
            self.defer("grad", zeros(&g));
        }
        // Each slot is computed in the parameter's dtype and kept in its own (new ones: in
        // `state_dtype`).
        let kept: Vec<DType> = slots
            .iter()
            .map(|s| s.as_ref().map_or(state_dtype, |s| s.dtype()))
            .collect();
        let dtype = p.dtype();
        let mut s = initial(
            rule,
            slots,
            |s| descent_kernel::as_dtype(s, dtype),
            |v| match v {
                0.0 => p.zeros_like(),
                v => p.zeros_like().add_scalar(v),
            },
        );
        let p = if kernel {
            traced(rule, p, g, &mut s)
        } else {
            rule.apply(p, g, &mut s)
        };
        if checks && !cpu {
            if sampled && self.lock().draw(self.settings.check_interval) {
                // A non-finite gradient leaves the parameter or a state slot non-finite.
                let sum = s.iter().fold(zeros(&p), |acc, t| acc + zeros(t));
                self.defer("parameter", sum);
            }
            let due = {
                let mut pending = self.lock();
                pending.updates += 1;
                pending.updates >= DEFERRED_CHECKS
            };
            if due {
                read_back(&self.pending);
            }
        }
        let s = s
            .into_iter()
            .zip(&kept)
            .map(|(t, &k)| descent_kernel::as_dtype(t, k))
            .collect();
        (p, s)
    }

    /// Adds `Σ 0·t` (0 when `t` is finite, NaN otherwise) to this instance's pending check.
    fn defer(&self, what: &'static str, zeros: Tensor<1>) {
        let zeros = zeros.inner();
        let other_device = self
            .lock()
            .sum
            .as_ref()
            .is_some_and(|sum| sum.device() != zeros.device());
        if other_device {
            read_back(&self.pending);
        }
        let mut pending = self.lock();
        pending.sum = Some(match pending.sum.take() {
            Some(sum) => sum + zeros,
            None => zeros,
        });
        if what == "grad" {
            pending.grad = true;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The fused pass with `N` slots: `zip::update` over the buffers, the rule on its lanes.
fn lanes<R: Rule, const N: usize>(
    rule: &R,
    p: FloatsMut<'_>,
    g: Floats<'_>,
    s: &mut [Buffer],
) -> bool {
    let slices: Vec<FloatsMut<'_>> = s.iter_mut().map(buffer::floats_mut).collect();
    let Ok(slices) = <[FloatsMut<'_>; N]>::try_from(slices) else {
        unreachable!("{N} state slots")
    };
    update_floats(p, g, slices, Each(*rule))
}

/// Whether descent's CubeCL kernel serves this update: `f32` parameter, gradient and state on
/// one CubeCL device (wgpu; the parameter not on autodiff, as `ModuleOptimizer` hands it).
#[cfg(feature = "wgpu")]
fn on_cube<const D: usize>(
    p: &Tensor<D>,
    g: &Tensor<D>,
    slots: &[Option<Tensor<D>>],
    state_dtype: DType,
) -> bool {
    let f32 = |t: &Tensor<D>| t.dtype() == DType::F32;
    descent_kernel::cube::is_cube(&p.device())
        && g.device().inner() == p.device()
        && f32(p)
        && f32(g)
        && state_dtype == DType::F32
        && slots.iter().flatten().all(f32)
}

/// Without a CubeCL device built in, never.
#[cfg(not(feature = "wgpu"))]
fn on_cube<const D: usize>(
    _: &Tensor<D>,
    _: &Tensor<D>,
    _: &[Option<Tensor<D>>],
    _: DType,
) -> bool {
    false
}

/// The rule as one CubeCL kernel: traced on `p, g, s…` (the program is the kernel's key, the
/// step's constants its arguments), run on the tensors; the slots are replaced by the new ones.
#[cfg(feature = "wgpu")]
fn traced<R: Rule, const D: usize>(
    rule: &R,
    p: Tensor<D>,
    g: Tensor<D>,
    s: &mut Vec<Tensor<D>>,
) -> Tensor<D> {
    use descent_kernel::trace::{Traced, trace};
    let (program, consts) = trace(2 + s.len(), |x| {
        let mut x = x.into_iter();
        let (p, g) = (x.next(), x.next());
        let (Some(p), Some(g)) = (p, g) else {
            unreachable!("two inputs and the slots")
        };
        let mut slots: Vec<Traced> = x.collect();
        let p = rule.apply(p, g, &mut slots);
        std::iter::once(p).chain(slots).collect()
    });
    // The gradient (and a state) may come on the autodiff device (untracked): the kernel reads
    // the values only.
    let inputs = [p, g]
        .into_iter()
        .chain(s.drain(..))
        .map(Tensor::inner)
        .collect();
    let mut out = descent_kernel::cube::run(&program, &consts, inputs).into_iter();
    let p = out.next().expect("the new parameter");
    s.extend(out);
    p
}

#[cfg(not(feature = "wgpu"))]
fn traced<R: Rule, const D: usize>(
    _: &R,
    _: Tensor<D>,
    _: Tensor<D>,
    _: &mut Vec<Tensor<D>>,
) -> Tensor<D> {
    unreachable!("on_cube is false without the wgpu feature")
}

/// Whether `t` lives on flex (autodiff or not).
fn flex<const D: usize>(t: &Tensor<D>) -> bool {
    let device = t.device();
    let device = if device.is_autodiff() {
        device.inner()
    } else {
        device
    };
    device == burn::tensor::Device::flex()
}

/// A [`Rule`] as the fused loop's [`zip::LaneRule`]: copied into each task, so that the task
/// holds its constants itself.
#[derive(Clone, Copy)]
struct Each<R>(R);

impl<R: Rule, const N: usize> zip::LaneRule<N> for Each<R> {
    #[inline(always)]
    fn apply<T: Num + Copy>(&self, p: T, g: T, s: &mut [T; N]) -> T {
        self.0.apply(p, g, &mut s[..])
    }
}

/// The slots as the path holds them (`have`), the missing ones (before the first step) made
/// from the rule's initial values (`make`).
fn initial<R: Rule, const D: usize, T>(
    rule: &R,
    slots: Vec<Option<Tensor<D>>>,
    have: impl Fn(Tensor<D>) -> T,
    mut make: impl FnMut(f32) -> T,
) -> Vec<T> {
    let start = |(i, s): (usize, Option<Tensor<D>>)| match s {
        Some(s) => have(s),
        None => make(rule.initial(i)),
    };
    slots.into_iter().enumerate().map(start).collect()
}

/// `Σ 0·t`: 0 when every element of `t` is finite, NaN otherwise (never an overflow).
fn zeros<const D: usize>(t: &Tensor<D>) -> Tensor<1> {
    // A full `sum`: on an H100 (wgpu) a `sum_dim` over one long axis took 70 ms at 10M.
    t.clone().mul_scalar(0.0).sum()
}

/// The deferred finite check of one optimizer instance.
#[derive(Debug, Default)]
struct Pending {
    /// The sum of the checked `Σ 0·t` since the last read-back: one device number, so that a
    /// read-back is one small transfer.
    sum: Option<Tensor<1>>,
    /// The optimizer's name.
    name: &'static str,
    /// Whether a gradient (rather than only outputs) was checked since the last read-back.
    grad: bool,
    /// Updates since the last read-back.
    updates: usize,
    /// Draws so far (see [`Pending::draw`]).
    draws: u64,
}

impl Pending {
    /// Whether this update is one of the `1/interval` that are checked: a hash of a counter,
    /// so that the draws do not lock onto a period of the model's tensors.
    fn draw(&mut self, interval: u32) -> bool {
        self.draws = self.draws.wrapping_add(1);
        // SplitMix64's finaliser.
        let mut z = self.draws.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        z.is_multiple_of(u64::from(interval))
    }
}

/// Reads one instance's pending check back; panics naming the optimizer when a checked
/// number was not finite.
fn read_back(pending: &Mutex<Pending>) {
    let (sum, name, grad) = {
        let mut p = pending.lock().unwrap_or_else(PoisonError::into_inner);
        p.updates = 0;
        (p.sum.take(), p.name, std::mem::take(&mut p.grad))
    };
    let Some(sum) = sum else { return };
    if !sum.into_scalar::<f64>().is_finite() {
        panic!(
            "{}",
            non_finite(name, if grad { "grad" } else { "parameter" })
        );
    }
}

pub(crate) fn non_finite(opt: &str, what: &str) -> String {
    let cause = if what == "grad" {
        ""
    } else {
        ": a gradient since its last check held NaN or inf, or the steps diverged"
    };
    format!(
        "{opt}: {what} must be finite, found NaN or inf{cause} (a GradScaler skips steps \
         with non-finite gradients; otherwise check the loss)"
    )
}

/// Every live optimizer's pending check, for [`check_pending_grads`].
static LIVE: Mutex<Vec<Weak<Mutex<Pending>>>> = Mutex::new(Vec::new());

fn register(pending: &Arc<Mutex<Pending>>) {
    let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(pending));
}

/// Reads back the deferred finite checks of every optimizer now (off the CPU devices each
/// optimizer reads its own every [`DEFERRED_CHECKS`] updates) and panics, naming the optimizer,
/// if a checked gradient or output held a NaN or an infinity. One small device read-back per
/// optimizer with pending checks. With a `check_interval` of 1, calling it after `step` stops
/// training at the first non-finite gradient.
pub fn check_pending_grads() {
    let live: Vec<Arc<Mutex<Pending>>> = LIVE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    for pending in live {
        read_back(&pending);
    }
}
