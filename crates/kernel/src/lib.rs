//! # descent-kernel
//!
//! What every update rule and fused loss of descent is written in, and where it runs:
//!
//! - [`Num`]: the arithmetic a rule is written in once, instantiated for `f32` lanes (the
//!   fused CPU path: eight AVX lanes, or four SSE lanes without AVX), for whole
//!   [`Tensor`](burn::tensor::Tensor)s (the generic path, every device) and for
//!   [`trace::Traced`] values (the GPU kernel);
//! - [`buffer`]: the buffers behind Burn tensors on the CPU devices (`flex`, `ndarray`);
//! - [`zip`]: the fused path's loop, a rule over a parameter's buffers in parallel chunks, run
//!   on the [`team`] (the caller and helpers that stay awake between the passes of a step);
//! - [`pointwise`]: the element-wise losses' fused pass (loss sum, gradient and checks);
//! - [`trace`]: a rule recorded once on the host as a program and its constants, and `cube`
//!   (feature `wgpu`): that program as one CubeCL kernel per optimizer update on every CubeCL
//!   device, through Burn's backend extension and fusion stream;
//! - [`grad`]: a value carrying a gradient computed with it, as an autodiff operation on every
//!   device (Burn's backend extension);
//! - [`Kernel`]: the per-instance choice of path, [`half()`] (half precision computed in `f32`),
//!   and [`paths`], counters of which path ran;
//! - [`Options`]: keyword arguments by name, read by the registries.

// burn-ndarray is deprecated upstream; the ndarray device is supported here on purpose.
#![allow(deprecated)]
#![warn(missing_docs)]

#[cfg(target_arch = "x86_64")]
mod avx;
#[cfg(target_arch = "x86_64")]
mod avx_math;
#[cfg(target_arch = "x86_64")]
mod bf16_lanes;
pub mod buffer;
#[cfg(feature = "wgpu")]
pub mod cube;
pub mod floats;
pub mod grad;
mod kernel;
mod lanes;
mod num;
mod options;
pub mod paths;
pub mod pointwise;
mod scalar;
pub mod team;
mod tensor;
pub mod trace;
pub mod zip;

pub use buffer::{Buffer, is_cpu, is_cpu_f32};
pub use kernel::{Kernel, as_dtype, half};
pub use num::{Ema, Num};
pub use options::{OptionError, OptionResult, Options, unread};
pub use wide::{f32x4, f32x8};
