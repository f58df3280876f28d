#![warn(missing_docs)]
//! # descent-losses
//!
//! Every common loss as Burn tensor operations, differentiable by Burn's autodiff, on any
//! device, with PyTorch's semantics and defaults (`torch.nn.functional` names).
//!
//! Each loss has a `#[derive(Config)]` configuration validated by `try_init()` (an invalid
//! hyperparameter is a [`LossError`] naming the loss, the field and the allowed range; `init()`
//! panics with it, Burn's convention), per-instance [`LossSettings`], a loss
//! type with `forward` / `forward_no_reduction` (panicking with that message on bad input, as
//! Burn's losses do) and `try_forward` / `try_forward_no_reduction` (returning it), and a plain
//! function for the common case:
//!
//! ```no_run
//! use burn::tensor::{Device, Int, Tensor};
//! use descent_losses::{CrossEntropyLossConfig, Reduction, mse_loss};
//!
//! let device = Device::flex();
//! let x = Tensor::<2>::from_floats([[2.0, 0.5, -1.0]], &device);
//! let y = Tensor::<1, Int>::from_ints([0], &device);
//! let ce = CrossEntropyLossConfig::new()
//!     .with_label_smoothing(0.1)
//!     .init(); // panics naming the argument; `try_init` returns the error
//! let loss = ce.forward(x.clone(), y);
//! let mse = mse_loss(x.clone(), x, Reduction::Mean);
//! ```
//!
//! | family | losses |
//! |---|---|
//! | regression | [`mse_loss`], [`l1_loss`], [`huber_loss`], [`smooth_l1_loss`], [`log_cosh`], [`quantile`], [`poisson_nll_loss`], [`gaussian_nll_loss`] |
//! | binary | [`binary_cross_entropy`], [`binary_cross_entropy_with_logits`], [`sigmoid_focal_loss`], [`hinge`], [`squared_hinge`], [`soft_margin_loss`], [`hinge_embedding_loss`] |
//! | multi-class | [`cross_entropy`], [`nll_loss`], [`categorical_cross_entropy`], [`sparse_categorical_cross_entropy`], [`softmax_focal_loss`], [`multi_margin_loss`], [`multilabel_margin_loss`], [`multilabel_soft_margin_loss`], [`AdaptiveLogSoftmaxWithLoss`] |
//! | distributions | [`kl_div`] |
//! | ranking, embeddings | [`margin_ranking_loss`], [`cosine_embedding_loss`], [`triplet_margin_loss`], [`triplet_margin_with_distance_loss`] |
//! | sequences | [`ctc_loss`] |
//! | self-supervised, segmentation, ranking (Optax) | [`ntxent`], [`poly_loss_cross_entropy`], [`dice_loss`], [`sparsemax_loss`], [`multiclass_sparsemax_loss`] ([`sparsemax`]), [`ranking_softmax_loss`] |
//! | regularisers | [`Regularizer`] (L1, L2, elastic net over a module's parameters) |
//!
//! Value checks (NaN/inf inputs, target domains, class indices) are read back from the device
//! once per loss call; [`LossSettings::checks`] turns them off per instance for hot loops.
//! MSE, BCE-with-logits, sigmoid focal and cross-entropy over class indices are written once
//! over [`descent_kernel::Num`] and fused on the CPU devices ([`LossSettings::kernel`]).

mod adaptive_log_softmax;
mod binary_cross_entropy;
mod categorical;
pub mod checks;
mod class_dim;
mod cosine_embedding;
mod cross_entropy;
mod ctc;
mod dice;
mod error;
mod focal;
mod fused;
mod gaussian_nll;
mod hinge;
mod hinge_embedding;
mod huber;
mod kl_div;
mod l1;
mod log_cosh;
mod margin_ranking;
mod mse;
mod multi_margin;
mod multilabel_margin;
mod ntxent;
mod pair;
mod poisson_nll;
mod poly_loss;
mod quantile;
mod ranking_softmax;
pub mod reduction;
pub mod registry;
mod regularization;
mod settings;
mod smooth_l1;
mod soft_margin;
mod sparsemax;
pub mod stable;
mod triplet_margin;
mod triplet_margin_with_distance;
mod weights;

pub use adaptive_log_softmax::*;
pub use binary_cross_entropy::*;
pub use categorical::*;
pub use cosine_embedding::*;
pub use cross_entropy::*;
pub use ctc::*;
pub use descent_kernel::Kernel;
pub use dice::*;
pub use error::{LossError, LossResult};
pub use focal::*;
pub use gaussian_nll::*;
pub use hinge::*;
pub use hinge_embedding::*;
pub use huber::*;
pub use kl_div::*;
pub use l1::*;
pub use log_cosh::*;
pub use margin_ranking::*;
pub use mse::*;
pub use multi_margin::*;
pub use multilabel_margin::*;
pub use ntxent::*;
pub use poisson_nll::*;
pub use poly_loss::*;
pub use quantile::*;
pub use ranking_softmax::*;
pub use reduction::{Reduction, reduce};
pub use regularization::*;
pub use settings::LossSettings;
pub use smooth_l1::*;
pub use soft_margin::*;
pub use sparsemax::*;
pub use triplet_margin::*;
pub use triplet_margin_with_distance::*;
