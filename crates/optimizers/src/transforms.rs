//! Optax-style pieces that compose with any optimizer: adaptive gradient clipping, skipping
//! steps whose gradients are not finite, selecting parameters by path or shape (to freeze them
//! or give them another optimizer), and changing hyperparameters mid-training.

use burn::module::{Module, ModuleVisitor, Param, ParamGroup, ParamId};
use burn::optim::{GradientsParams, LearningRate, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};

use crate::error::{OptimError, OptimResult, or_panic};
use crate::grads::has_non_finite;

/// Adaptive gradient clipping (Brock et al. 2021, NFNets; `optax.adaptive_grad_clip`): each
/// unit's gradient is scaled down to at most `clipping` times its weights' norm,
///
/// ```text
/// ‖·‖ᵤ: per unit (over every axis but the last for rank ≥ 2, Burn's [in, out] layout as
///       Haiku's; the whole tensor for rank ≤ 1)
/// m = clipping · max(‖θ‖ᵤ, ε)
/// g ← g · m / max(‖g‖ᵤ, 10⁻⁶)   where ‖g‖ᵤ > m,   g elsewhere
/// ```
///
/// `eps` (Optax's default 1e-3) keeps zero-initialised weights from freezing.
///
/// # Panics
/// When `clipping` or `eps` is negative or not finite.
pub fn adaptive_grad_clip<M: Module>(
    module: &M,
    grads: &mut GradientsParams,
    clipping: f64,
    eps: f64,
) {
    or_panic(check_agc(clipping, eps));
    struct Clip<'a> {
        grads: &'a mut GradientsParams,
        clipping: f64,
        eps: f64,
    }
    impl ModuleVisitor for Clip<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let Some(g) = self.grads.remove::<D>(param.id) else {
                return;
            };
            let p = param.val().inner().to_device(&g.device());
            let norm = |t: Tensor<D>| -> Tensor<D> {
                let sq = t.square();
                if D <= 1 {
                    let n = sq.dims();
                    sq.sum().sqrt().reshape([1; D]).expand(n.map(|_| 1))
                } else {
                    (0..D - 1).fold(sq, |t, axis| t.sum_dim(axis)).sqrt()
                }
            };
            let max_norm = norm(p).clamp_min(self.eps).mul_scalar(self.clipping);
            let g_norm = norm(g.clone());
            let scale = max_norm.clone() / g_norm.clone().clamp_min(1e-6);
            let clipped = g.clone() * scale;
            let over = g_norm.greater(max_norm).expand(g.dims());
            let g = g.mask_where(over, clipped);
            self.grads.register(param.id, g);
        }
    }
    module.visit(&mut Clip {
        grads,
        clipping,
        eps,
    });
}

fn check_agc(clipping: f64, eps: f64) -> OptimResult<()> {
    crate::checks::non_negative("adaptive_grad_clip", "clipping", clipping)?;
    crate::checks::non_negative("adaptive_grad_clip", "eps", eps)
}

/// Skips the steps whose gradients hold a NaN or an infinity, counting them
/// (`optax.apply_if_finite`): the model and the optimizer's state stay as they were. After
/// `max_consecutive_errors` skips in a row the next non-finite step is an error rather than a
/// silent stall (Optax applies it and lets the NaN through; descent stops and says so).
#[derive(Clone)]
pub struct SkipNonFinite {
    inner: ModuleOptimizer,
    max_consecutive_errors: u64,
    consecutive: u64,
    total: u64,
}

impl SkipNonFinite {
    /// Wraps `inner`, allowing `max_consecutive_errors` skips in a row.
    pub fn new(inner: impl Into<ModuleOptimizer>, max_consecutive_errors: u64) -> Self {
        Self {
            inner: inner.into(),
            max_consecutive_errors,
            consecutive: 0,
            total: 0,
        }
    }

    /// One step of the wrapped optimizer, or none when a gradient is not finite. Returns the
    /// module and whether it stepped.
    pub fn try_step<M: Module>(
        &mut self,
        lr: LearningRate,
        module: M,
        grads: GradientsParams,
    ) -> OptimResult<(M, bool)> {
        if !has_non_finite(&module, &grads) {
            self.consecutive = 0;
            return Ok((self.inner.step(lr, module, grads), true));
        }
        if self.consecutive >= self.max_consecutive_errors {
            return Err(OptimError::new(
                "apply_if_finite",
                "grads",
                format!(
                    "were not finite for {} steps in a row (max_consecutive_errors {}): the \
                     loss or the data has a problem that skipping does not fix",
                    self.consecutive + 1,
                    self.max_consecutive_errors
                ),
            ));
        }
        self.consecutive += 1;
        self.total += 1;
        Ok((module, false))
    }

    /// Like [`try_step`](Self::try_step), panicking with its error.
    #[track_caller]
    pub fn step<M: Module>(&mut self, lr: LearningRate, module: M, grads: GradientsParams) -> M {
        or_panic(self.try_step(lr, module, grads)).0
    }

    /// Steps skipped so far.
    pub fn skipped(&self) -> u64 {
        self.total
    }

    /// Steps skipped since the last one taken.
    pub fn consecutive_skips(&self) -> u64 {
        self.consecutive
    }

    /// The wrapped optimizer (for its record).
    pub fn inner(&self) -> &ModuleOptimizer {
        &self.inner
    }
}

/// The parameters of `module` for which `select(path, shape)` holds, as a Burn [`ParamGroup`]
/// (`path` is the module path, such as `layers.0.weight`): a partition to freeze
/// ([`Frozen`]) or to give another optimizer, Optax's `masked`/`multi_transform` in Burn's
/// terms:
///
/// ```ignore
/// let biases = select_params(&model, |_, shape| shape.len() == 1);
/// let optim = ModuleOptimizer::from(AdamWConfig::new().build())
///     .with_group(biases, SgdConfig::new().build(), None)                   // another optimizer
///     .with_group(select_params(&model, |p, _| p.starts_with("embedding")), Frozen, None);
/// ```
pub fn select_params<M: Module>(module: &M, select: impl Fn(&str, &[usize]) -> bool) -> ParamGroup {
    ParamGroup::from_ids(select_ids(module, select))
}

/// The ids of [`select_params`].
pub(crate) fn select_ids<M: Module>(
    module: &M,
    select: impl Fn(&str, &[usize]) -> bool,
) -> Vec<ParamId> {
    struct Select<F> {
        path: Vec<String>,
        select: F,
        ids: Vec<ParamId>,
    }
    impl<F: Fn(&str, &[usize]) -> bool> ModuleVisitor for Select<F> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if (self.select)(&self.path.join("."), &param.val().dims()) {
                self.ids.push(param.id);
            }
        }
    }
    let mut s = Select {
        path: Vec::new(),
        select,
        ids: Vec::new(),
    };
    module.visit(&mut s);
    s.ids
}

/// An optimizer that leaves its parameters as they are (`optax.set_to_zero`): give it a
/// [`select_params`] group to freeze those parameters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Frozen;

impl Optimizer for Frozen {
    type State<const D: usize> = ();

    fn step<const D: usize>(
        &self,
        _lr: LearningRate,
        tensor: Tensor<D>,
        _grad: Tensor<D>,
        _state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        (tensor, None)
    }

    fn to_device<const D: usize>(state: Self::State<D>, _device: &Device) -> Self::State<D> {
        state
    }
}

/// `optimizer` with new hyperparameters, its state kept (`optax.inject_hyperparams`, or
/// changing `param_groups[i]["weight_decay"]` in PyTorch): `with` is the same optimizer (and
/// parameter groups) built with the new values, which takes over every parameter's state.
///
/// ```ignore
/// optim = retune(&optim, AdamWConfig::new().with_weight_decay(0.0).init());  // from here on
/// ```
/// Learning rates change per step anyway (per group through Burn's `ModuleLrScheduler`).
pub fn retune(optimizer: &ModuleOptimizer, with: impl Into<ModuleOptimizer>) -> ModuleOptimizer {
    with.into().load_record(optimizer.to_record())
}
