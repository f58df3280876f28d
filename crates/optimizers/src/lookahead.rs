//! Lookahead (Zhang et al. 2019, "Lookahead Optimizer: k steps forward, 1 step back") over any
//! per-tensor optimizer, as `pytorch-optimizer`'s `Lookahead`.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

use crate::checks;
use crate::error::{OptimError, OptimResult, or_panic};

const NAME: &str = "lookahead";

/// Configuration of [`Lookahead`], with the package's defaults.
#[derive(Config, Debug)]
pub struct LookaheadConfig {
    /// Inner steps between synchronisations (default 5).
    #[config(default = 5)]
    pub k: u64,
    /// How far the slow weights move toward the fast ones (default 0.5; in [0, 1]).
    #[config(default = 0.5)]
    pub alpha: f64,
}

impl LookaheadConfig {
    /// Wraps `inner`, or says which hyperparameter is invalid.
    pub fn try_wrap<O: Optimizer>(&self, inner: O) -> OptimResult<Lookahead<O>> {
        if self.k == 0 {
            return Err(OptimError::new(NAME, "k", "must be >= 1, got 0"));
        }
        checks::unit_closed(NAME, "alpha", self.alpha)?;
        Ok(Lookahead {
            inner,
            k: self.k,
            alpha: self.alpha,
        })
    }

    /// Wraps `inner`.
    ///
    /// # Panics
    /// When `k` is 0 or `alpha` is outside [0, 1].
    #[track_caller]
    pub fn wrap<O: Optimizer>(&self, inner: O) -> Lookahead<O> {
        or_panic(self.try_wrap(inner))
    }
}

/// Lookahead around `inner` (any per-tensor optimizer: `LookaheadConfig::new().wrap(adam)`,
/// then `.into()` a `ModuleOptimizer`).
///
/// The slow weights `φ` start at the parameters; every step is `inner`'s on the fast weights
/// `θ`, and every `k`-th step ends with
///
/// ```text
/// θ ← α θ + (1 − α) φ;   φ ← θ
/// ```
#[derive(Clone, Debug)]
pub struct Lookahead<O> {
    inner: O,
    k: u64,
    alpha: f64,
}

/// State of [`Lookahead`] for one parameter: the inner optimizer's, the slow weights and the
/// steps since the last synchronisation.
#[derive(Clone)]
pub struct LookaheadState<S, const D: usize> {
    /// The inner optimizer's state.
    pub inner: Option<S>,
    /// The slow weights `φ`.
    pub slow: Tensor<D>,
    /// Inner steps since the last synchronisation.
    pub counter: u64,
}

impl<S: RecordState, const D: usize> RecordState for LookaheadState<S, D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        crate::state::flatten_inner(&self.inner, prefix, out);
        out.push_tensor(prefix, "slow", self.slow.to_data());
        out.push_scalar(prefix, "counter", self.counter.into());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let inner = crate::state::unflatten_inner(prefix, src, device)?;
        Some(Self {
            inner,
            slow: crate::state::tensor_of(src.take_tensor(prefix, "slow")?, device),
            counter: u64::try_from(src.take_scalar(prefix, "counter")?).ok()?,
        })
    }
}

impl<O: Optimizer> Optimizer for Lookahead<O> {
    type State<const D: usize> = LookaheadState<O::State<D>, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (inner, slow, counter) = match state {
            Some(s) => (s.inner, s.slow, s.counter),
            // A copy: the inner step may write the parameter's buffer in place.
            None => (None, tensor.clone().mul_scalar(1.0), 0),
        };
        let (fast, inner) = self.inner.step(lr, tensor, grad, inner);
        let counter = counter + 1;
        let (fast, slow, counter) = if counter >= self.k {
            let synced = fast.mul_scalar(self.alpha) + slow.mul_scalar(1.0 - self.alpha);
            (synced.clone(), synced.mul_scalar(1.0), 0)
        } else {
            (fast, slow, counter)
        };
        (
            fast,
            Some(LookaheadState {
                inner,
                slow,
                counter,
            }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        LookaheadState {
            inner: state.inner.map(|s| O::to_device(s, device)),
            slow: state.slow.to_device(device),
            counter: state.counter,
        }
    }
}
