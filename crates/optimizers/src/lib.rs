//! Optimizers, learning-rate schedules and training utilities for [Burn](https://burn.dev),
//! with PyTorch's semantics and defaults.
//!
//! Every optimizer implements Burn's per-tensor [`Optimizer`](burn::optim::Optimizer) trait,
//! so it runs inside Burn's [`ModuleOptimizer`](burn::optim::ModuleOptimizer) (parameter
//! groups, records, multi-device steps); its config's `init()` gives one:
//!
//! ```ignore
//! use descent_optimizers::AdamWConfig;
//! let mut optim = AdamWConfig::new().init();           // PyTorch defaults
//! let grads = GradientsParams::from_grads(loss.backward(), &model);
//! model = optim.step(1e-3, model, grads);              // lr per step, as in Burn
//! ```
//!
//! Every schedule implements Burn's [`LrScheduler`](burn::lr_scheduler::LrScheduler).
//! [`Lbfgs`] takes a closure that re-evaluates the loss, as `torch.optim.LBFGS`.
//!
//! Hyperparameters are checked when built (`try_init`/`try_build` return an [`OptimError`]
//! naming the optimizer and the argument; `init`/`build` panic with it). Each step checks its
//! learning rate and that its gradient is finite (see [`set_finite_checks`]).

mod accumulate;
mod adadelta;
mod adagrad;
mod adam;
mod adamax;
mod adamw;
mod checks;
mod clip;
mod common;
mod ema_momentum;
mod error;
pub mod flat;
#[allow(deprecated)] // burn-ndarray is deprecated upstream; it is supported here on purpose.
mod fused;
mod grad_scaler;
mod grads;
mod lbfgs;
mod line_search;
mod lion;
mod nadam;
mod radam;
mod rmsprop;
pub mod schedule;
mod sgd;
mod state;
mod vector;

pub use accumulate::GradAccumulator;
pub use adadelta::*;
pub use adagrad::*;
pub use adam::{Adam, AdamConfig, AdamState};
pub use adamax::*;
pub use adamw::*;
pub use checks::{
    DEFERRED_CHECKS, FINITE_CHECK_INTERVAL, check_pending_grads, finite_check_interval,
    finite_checks, set_finite_check_interval, set_finite_checks,
};
pub use clip::{NormType, clip_grad_norm, clip_grad_value, grad_norm};
pub use ema_momentum::*;
pub use error::{OptimError, OptimResult};
pub use fused::{fused_steps, set_fused_steps};
pub use grad_scaler::*;
pub use grads::{has_non_finite, scale as scale_grads};
pub use lbfgs::*;
pub use lion::*;
pub use nadam::*;
pub use radam::*;
pub use rmsprop::*;
pub use schedule::*;
pub use sgd::*;
