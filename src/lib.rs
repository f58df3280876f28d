#![warn(missing_docs)]
//! # descent
//!
//! Loss functions and optimizers for [Burn](https://burn.dev), with PyTorch's semantics.
//!
//! - [`losses`]: every common loss as Burn tensor operations ([`descent_losses`]).
//! - [`optimizers`]: optimizers and learning-rate schedules ([`descent_optimizers`]).
//! - [`lab`]: models, training loop, data sets, metrics and figures ([`descent_lab`]).
//! - [`device`]: pick a Burn device by name at run time (`flex`, `ndarray`, `wgpu`).
//! - [`gradcheck`]: a function's autodiff gradient against finite differences.
//! - `train` (with `--features train`): descent's losses, optimizers and schedules inside
//!   burn-train's `Learner`.
//! - [`kernel`]: the arithmetic every update rule and fused loss is written in once, and
//!   where it runs ([`descent_kernel`]).

pub mod gradcheck;
#[cfg(feature = "train")]
pub mod train;

pub use descent_kernel as kernel;
pub use descent_lab as lab;
pub use descent_lab::device;
pub use descent_losses as losses;
pub use descent_optimizers as optimizers;
