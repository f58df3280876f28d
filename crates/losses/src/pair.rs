//! The four entry points shared by every loss of an `input` and a same-shaped `target`.
//!
//! A loss type provides `elementwise(&self, input, target) -> LossResult<Tensor<D>>` (the
//! formula and its own value checks) and `reduction` and `settings` fields; [`pair_loss!`]
//! adds `try_forward_no_reduction` (shape and finiteness checks, then the formula),
//! `forward_no_reduction`, `try_forward` and `forward` (the reduction).
//!
//! A loss written once over [`Num`](descent_kernel::Num) (`pair_loss!(Ty, NAME, fused)`)
//! provides instead `with_grad(&self, input, target) -> LossResult<(ℓ, ∂ℓ/∂x)>` (its formula on
//! tensors, with its own value checks) and `fused(&self, &input, &target) -> Option<Tensor<1>>`
//! (the same formula on lanes over the CPU buffers), which `try_forward` tries first unless the
//! instance's kernel is `Generic`.
//!
//! Shapes are checked once per entry point; the value checks and the formula run in one
//! [`checks::scope`](crate::checks::scope), so they are read back in one transfer.

/// Implements the shared entry points for a loss type named `$name` (PyTorch's name).
macro_rules! pair_loss {
    (@fast none, $self:ident, $input:ident, $target:ident) => {
        None::<burn::tensor::Tensor<1>>
    };
    (@fast fused, $self:ident, $input:ident, $target:ident) => {
        if $self.settings.kernel == descent_kernel::Kernel::Auto {
            $self.fused(&$input, &$target)
        } else {
            None
        }
    };
    (@formula none, $self:ident, $input:ident, $target:ident) => {
        $self.elementwise($input, $target)
    };
    (@formula fused, $self:ident, $input:ident, $target:ident) => {
        $crate::fused::generic(
            &$input,
            &$target,
            $crate::Reduction::None,
            |x, y| $self.with_grad(x, y),
            |l| l,
        )
    };
    (@reduced none, $name:expr, $self:ident, $input:ident, $target:ident) => {
        $self
            .elementwise($input, $target)
            .and_then(|loss| $crate::reduction::reduced($name, loss, $self.reduction))
    };
    (@reduced fused, $name:expr, $self:ident, $input:ident, $target:ident) => {
        $crate::fused::generic_reduced($name, &$input, &$target, $self.reduction, |x, y| {
            $self.with_grad(x, y)
        })
    };
    ($ty:ident, $name:expr) => {
        $crate::pair::pair_loss!(@impl $ty, $name, none);
    };
    ($ty:ident, $name:expr, fused) => {
        $crate::pair::pair_loss!(@impl $ty, $name, fused);
    };
    (@impl $ty:ident, $name:expr, $fast:ident) => {
        impl $ty {
            /// Per-element losses, shaped like `input`, or an error for mismatched shapes,
            /// non-finite values or targets outside the loss's domain.
            pub fn try_forward_no_reduction<const D: usize>(
                &self,
                input: burn::tensor::Tensor<D>,
                target: burn::tensor::Tensor<D>,
            ) -> $crate::LossResult<burn::tensor::Tensor<D>> {
                $crate::pair::same_shape($name, &input, &target)?;
                $crate::checks::scope(self.settings.checks, || {
                    self.finite(&input, &target)?;
                    $crate::pair::pair_loss!(@formula $fast, self, input, target)
                })
            }

            /// The finiteness checks of the input and the target.
            fn finite<const D: usize>(
                &self,
                input: &burn::tensor::Tensor<D>,
                target: &burn::tensor::Tensor<D>,
            ) -> $crate::LossResult<()> {
                $crate::checks::finite($name, "input", input)?;
                $crate::checks::finite($name, "target", target)
            }

            /// Per-element losses, shaped like `input`.
            ///
            /// # Panics
            /// On the errors of [`Self::try_forward_no_reduction`].
            #[track_caller]
            pub fn forward_no_reduction<const D: usize>(
                &self,
                input: burn::tensor::Tensor<D>,
                target: burn::tensor::Tensor<D>,
            ) -> burn::tensor::Tensor<D> {
                $crate::error::or_panic(self.try_forward_no_reduction(input, target))
            }

            /// The loss reduced by the configured [`Reduction`](crate::Reduction)
            /// (`none` returns the per-element losses flattened).
            pub fn try_forward<const D: usize>(
                &self,
                input: burn::tensor::Tensor<D>,
                target: burn::tensor::Tensor<D>,
            ) -> $crate::LossResult<burn::tensor::Tensor<1>> {
                $crate::pair::same_shape($name, &input, &target)?;
                if let Some(loss) = $crate::pair::pair_loss!(@fast $fast, self, input, target) {
                    return Ok(loss);
                }
                $crate::checks::scope(self.settings.checks, || {
                    self.finite(&input, &target)?;
                    $crate::pair::pair_loss!(@reduced $fast, $name, self, input, target)
                })
            }

            /// The loss reduced by the configured [`Reduction`](crate::Reduction).
            ///
            /// # Panics
            /// On the errors of [`Self::try_forward_no_reduction`].
            #[track_caller]
            pub fn forward<const D: usize>(
                &self,
                input: burn::tensor::Tensor<D>,
                target: burn::tensor::Tensor<D>,
            ) -> burn::tensor::Tensor<1> {
                $crate::error::or_panic(self.try_forward(input, target))
            }
        }
    };
}

pub(crate) use pair_loss;

/// `target` must have the shape, the device and the dtype of `input`.
pub(crate) fn same_shape<const D: usize>(
    name: &'static str,
    input: &burn::tensor::Tensor<D>,
    target: &burn::tensor::Tensor<D>,
) -> crate::LossResult<()> {
    crate::checks::same_shape(name, "target", &target.dims(), "input", &input.dims())?;
    crate::checks::same_place(name, "target", target, input)
}
