//! The four entry points shared by every loss of an `input` and a same-shaped `target`.
//!
//! A loss type provides `elementwise(&self, input, target) -> LossResult<Tensor<D>>` (the
//! formula and its own value checks) and a `reduction` field; [`pair_loss!`] adds
//! `try_forward_no_reduction` (shape and finiteness checks, then the formula),
//! `forward_no_reduction`, `try_forward` and `forward` (the reduction). A loss with a fused
//! CPU kernel (`pair_loss!(Ty, NAME, fused)`) also provides
//! `fused(&self, &input, &target) -> Option<Tensor<1>>`, which `try_forward` tries first.
//! Shapes are checked once per entry point; the value checks and the formula run in one
//! [`checks::scope`](crate::checks::scope), so they are read back in one transfer.

/// Implements the shared entry points for a loss type named `$name` (PyTorch's name).
macro_rules! pair_loss {
    (@fast none, $self:ident, $input:ident, $target:ident) => {
        None::<burn::tensor::Tensor<1>>
    };
    (@fast fused, $self:ident, $input:ident, $target:ident) => {
        $self.fused(&$input, &$target)
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
                $crate::checks::scope(|| self.checked(input, target))
            }

            /// The finiteness checks and the formula, for inputs of matching shapes.
            fn checked<const D: usize>(
                &self,
                input: burn::tensor::Tensor<D>,
                target: burn::tensor::Tensor<D>,
            ) -> $crate::LossResult<burn::tensor::Tensor<D>> {
                $crate::checks::finite($name, "input", &input)?;
                $crate::checks::finite($name, "target", &target)?;
                self.elementwise(input, target)
            }

            /// Per-element losses, shaped like `input`.
            ///
            /// # Panics
            /// On the errors of [`Self::try_forward_no_reduction`].
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
                $crate::checks::scope(|| {
                    let loss = self.checked(input, target)?;
                    Ok($crate::reduction::reduce(loss, self.reduction))
                })
            }

            /// The loss reduced by the configured [`Reduction`](crate::Reduction).
            ///
            /// # Panics
            /// On the errors of [`Self::try_forward_no_reduction`].
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

/// `target` must have the shape of `input`.
pub(crate) fn same_shape<const D: usize>(
    name: &'static str,
    input: &burn::tensor::Tensor<D>,
    target: &burn::tensor::Tensor<D>,
) -> crate::LossResult<()> {
    crate::checks::same_shape(name, "target", &target.dims(), "input", &input.dims())
}
