//! Per-parameter optimizer states as Burn records.
//!
//! Burn's `#[derive(RecordState)]` only works inside `burn-optim`, so [`record_state!`]
//! implements [`RecordState`](burn::optim::RecordState) and the device move for a state struct
//! made of tensors, optional tensors and scalars.

/// Implements `RecordState` and `to_device` for a `State<const D: usize>` struct.
///
/// `tensors` are `Tensor<D>` fields, `optional` are `Option<Tensor<D>>` fields, `counters` are
/// `u64` fields and `floats` are `f64` fields.
macro_rules! record_state {
    ($name:ident {
        tensors: [$($t:ident),* $(,)?],
        optional: [$($o:ident),* $(,)?],
        counters: [$($c:ident),* $(,)?],
        floats: [$($f:ident),* $(,)?] $(,)?
    }) => {
        impl<const D: usize> burn::optim::RecordState for $name<D> {
            fn state_flatten(&self, prefix: &str, out: &mut burn::optim::StateSink) {
                $( out.push_tensor(prefix, stringify!($t), self.$t.to_data()); )*
                $(
                    if let Some(t) = &self.$o {
                        out.push_tensor(prefix, stringify!($o), t.to_data());
                    }
                )*
                $( out.push_scalar(prefix, stringify!($c), self.$c.into()); )*
                $( out.push_scalar(prefix, stringify!($f), self.$f.into()); )*
            }

            fn state_unflatten(
                prefix: &str,
                src: &mut burn::optim::StateSource,
                device: &burn::tensor::Device,
            ) -> Option<Self> {
                Some(Self {
                    $(
                        $t: $crate::state::tensor_of(
                            src.take_tensor(prefix, stringify!($t))?,
                            device,
                        ),
                    )*
                    $(
                        $o: src
                            .take_tensor(prefix, stringify!($o))
                            .map(|d| $crate::state::tensor_of(d, device)),
                    )*
                    $( $c: u64::try_from(src.take_scalar(prefix, stringify!($c))?).ok()?, )*
                    $( $f: f64::try_from(src.take_scalar(prefix, stringify!($f))?).ok()?, )*
                })
            }
        }

        impl<const D: usize> $name<D> {
            /// Moves every tensor of the state to `device`.
            pub fn to_device(self, device: &burn::tensor::Device) -> Self {
                Self {
                    $( $t: self.$t.to_device(device), )*
                    $( $o: self.$o.map(|t| t.to_device(device)), )*
                    $( $c: self.$c, )*
                    $( $f: self.$f, )*
                }
            }
        }
    };
}

/// Implements `build`, `try_init` and `init` for an optimizer config from its `try_build`, and
/// the shortcuts to its [`StepSettings`](crate::StepSettings).
macro_rules! optimizer_config {
    ($config:ident => $optim:ident) => {
        impl $config {
            /// Which implementation runs (see [`Kernel`](crate::Kernel)).
            pub fn with_kernel(mut self, kernel: crate::Kernel) -> Self {
                self.settings.kernel = kernel;
                self
            }

            /// Turns the finite-gradient check on or off (see
            /// [`StepSettings::checks`](crate::StepSettings::checks)).
            pub fn with_checks(mut self, checks: bool) -> Self {
                self.settings.checks = checks;
                self
            }

            /// How the finite check samples updates off the CPU (see
            /// [`StepSettings::check_interval`](crate::StepSettings::check_interval)).
            pub fn with_check_interval(mut self, interval: u32) -> Self {
                self.settings.check_interval = interval;
                self
            }

            /// The dtype new state is kept in (see
            /// [`StepSettings::state_dtype`](crate::StepSettings::state_dtype)).
            pub fn with_state_dtype(mut self, dtype: Option<burn::tensor::DType>) -> Self {
                self.settings.state_dtype = dtype;
                self
            }

            /// Builds the bare per-tensor optimizer (for
            /// [`ModuleOptimizer::with_group`](burn::optim::ModuleOptimizer::with_group)).
            ///
            /// # Panics
            /// When a hyperparameter is invalid (see `try_build`).
            #[track_caller]
            pub fn build(&self) -> $optim {
                crate::error::or_panic(self.try_build())
            }

            /// Builds the optimizer for a whole module, or says which hyperparameter is invalid.
            pub fn try_init(&self) -> crate::error::OptimResult<burn::optim::ModuleOptimizer> {
                Ok(self.try_build()?.into())
            }

            /// Builds the optimizer for a whole module.
            ///
            /// # Panics
            /// When a hyperparameter is invalid, with a message naming it.
            #[track_caller]
            pub fn init(&self) -> burn::optim::ModuleOptimizer {
                crate::error::or_panic(self.try_init())
            }
        }
    };
}

pub(crate) use optimizer_config;
pub(crate) use record_state;

/// Writes a wrapped optimizer's state (if it has one yet) under `{prefix}.inner`, for wrappers
/// whose state nests it ([`crate::Lookahead`], [`crate::MasterWeights`]).
pub(crate) fn flatten_inner<S: burn::optim::RecordState>(
    inner: &Option<S>,
    prefix: &str,
    out: &mut burn::optim::StateSink,
) {
    if let Some(inner) = inner {
        inner.state_flatten(&format!("{prefix}.inner"), out);
    }
}

/// Reads what [`flatten_inner`] wrote: `Some(None)` when the record holds no inner state,
/// `None` when it holds a malformed one.
pub(crate) fn unflatten_inner<S: burn::optim::RecordState>(
    prefix: &str,
    src: &mut burn::optim::StateSource,
    device: &burn::tensor::Device,
) -> Option<Option<S>> {
    let inner_prefix = format!("{prefix}.inner");
    if src.has_under(&inner_prefix) {
        S::state_unflatten(&inner_prefix, src, device).map(Some)
    } else {
        Some(None)
    }
}

/// Every state tensor named `{param_id}.{leaf}` in `optimizer`'s record, with its parameter id
/// and the record's scalars (keyed `{param_id}.{name}`). Burn keeps the record's tensors
/// private, so they are read through its burnpack bytes; fine for evaluation, too slow to call
/// every step on a large model.
pub(crate) fn state_tensors(
    optimizer: &burn::optim::ModuleOptimizer,
    leaf: &str,
) -> (
    Vec<(u64, burn::tensor::TensorData)>,
    std::collections::BTreeMap<String, burn_pack::Scalar>,
) {
    let Some(reader) = optimizer
        .into_bytes()
        .ok()
        .and_then(|bytes| burn_pack::Reader::from_bytes(bytes).ok())
    else {
        return (Vec::new(), Default::default());
    };
    let scalars = reader.scalars().clone();
    let suffix = format!(".{leaf}");
    let tensors = reader
        .into_tensors()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| t.into_parts().ok())
        .filter(|(name, ..)| name.ends_with(&suffix))
        .filter_map(|(_, dtype, shape, id, bytes)| {
            Some((
                id?,
                burn::tensor::TensorData::from_bytes(bytes, shape, dtype),
            ))
        })
        .collect();
    (tensors, scalars)
}

/// A saved state tensor back on `device` in the dtype it was saved in (Burn's `from_data`
/// alone makes the device's default float dtype: a bf16 state would come back as f32).
pub fn tensor_of<const D: usize>(
    data: burn::tensor::TensorData,
    device: &burn::tensor::Device,
) -> burn::tensor::Tensor<D> {
    let dtype = data.dtype();
    burn::tensor::Tensor::from_data(data, (device, dtype))
}
