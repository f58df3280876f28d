//! The lab: what the examples of `descent` are built from, reusable in your own training
//! code: models, a training loop, data sets, metrics and figures.
//!
//! - [`models`]: linear/logistic/softmax regression ([`LinearModel`](models::LinearModel)) and
//!   an [`Mlp`](models::Mlp), as Burn modules.
//! - [`train`]: shuffled mini-batches, any loss/optimizer/schedule, progress bar, history,
//!   validation, early stopping, checkpoint and resume ([`checkpoint`]: crash-safe folders).
//! - [`data`], [`synthetic`], [`real`], [`credit_card`]: tabular data sets: the seed notebook's
//!   synthetic sets, an imbalanced fraud-like set, iris/diabetes/wine quality, and the public
//!   credit-card-fraud CSV.
//! - [`metrics`]: MSE/MAE/R², accuracy, precision/recall/F1, confusion matrix, ROC-AUC,
//!   PR-AUC.
//! - [`plot`]: line charts, contour plots and ([`surface3d`]) 3-D surfaces as PNG and SVG,
//!   font included.

pub mod checkpoint;
pub mod cli;
pub mod credit_card;
pub mod data;
pub mod device;
pub mod metrics;
pub mod models;
pub mod plot;
pub mod real;
pub mod surface3d;
pub mod synthetic;
pub mod train;
