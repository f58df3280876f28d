#![warn(missing_docs)]
//! # descent-optimizers
//!
//! Optimizers and learning-rate schedules over Burn modules, with PyTorch's semantics.
//! This crate is the home of the optimizers issue; it holds no optimizer yet.
