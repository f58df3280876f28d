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
//! learning rate and that its gradient is finite (see [`StepSettings`]).
//!
//! Every element-wise optimizer's update is one rule over [`descent_kernel::Num`]
//! (`rule.rs`, and each optimizer's file), run by one stepper (`step.rs`): fused over the CPU
//! buffers of flex and ndarray, as tensor operations on every other device.

mod accumulate;
mod adadelta;
mod adafactor;
mod adafactor_passes;
mod adagrad;
mod adam;
mod adamax;
mod adamw;
mod ademamix;
mod adopt;
mod asgd;
mod averaged_model;
mod checks;
mod clip;
mod ema_momentum;
mod error;
pub mod flat;
mod grad_scaler;
mod grads;
mod lbfgs;
mod line_search;
mod lion;
mod lookahead;
mod master_weights;
mod multi_device;
mod muon;
mod nadam;
mod prodigy;
mod radam;
pub mod registry;
mod rmsprop;
mod rprop;
mod rule;
mod sam;
pub mod schedule;
mod schedule_free;
mod sgd;
mod state;
mod step;
mod transforms;
mod update_bn;
mod vector;

pub use accumulate::GradAccumulator;
pub use adadelta::*;
pub use adafactor::*;
pub use adagrad::*;
pub use adam::{Adam, AdamConfig, AdamState};
pub use adamax::*;
pub use adamw::*;
pub use ademamix::*;
pub use adopt::*;
pub use asgd::*;
pub use averaged_model::*;
pub use clip::{NormType, clip_grad_norm, clip_grad_value, grad_norm};
pub use descent_kernel::Kernel;
pub use ema_momentum::*;
pub use error::{OptimError, OptimResult};
pub use grad_scaler::*;
pub use grads::{has_non_finite, scale as scale_grads};
pub use lbfgs::*;
pub use lion::*;
pub use lookahead::*;
pub use master_weights::{MasterWeights, MasterWeightsState, cast_params};
pub use multi_device::{clip_grad_norm_multi, reduce_multi};
pub use muon::*;
pub use nadam::*;
pub use prodigy::*;
pub use radam::*;
pub use rmsprop::*;
pub use rprop::*;
pub use sam::*;
pub use schedule::*;
pub use schedule_free::*;
pub use sgd::*;
pub use step::{DEFERRED_CHECKS, FINITE_CHECK_INTERVAL, StepSettings, check_pending_grads};
pub use transforms::*;
pub use update_bn::update_bn;
