//! [`Num`] for whole tensors: the instantiation of the generic path (every device).

use burn::tensor::{Bool, Tensor};

use crate::num::Num;

impl<const D: usize> Num for Tensor<D> {
    type Mask = Tensor<D, Bool>;

    fn scale(self, k: f32) -> Self {
        self.mul_scalar(k)
    }

    fn div_k(self, k: f32) -> Self {
        self.div_scalar(k)
    }

    fn shift(self, k: f32) -> Self {
        self.add_scalar(k)
    }

    fn sqrt(self) -> Self {
        Tensor::sqrt(self)
    }

    fn recip(self) -> Self {
        Tensor::recip(self)
    }

    fn zeros_like(&self) -> Self {
        Tensor::zeros_like(self)
    }

    fn abs(self) -> Self {
        Tensor::abs(self)
    }

    fn max(self, other: Self) -> Self {
        self.max_pair(other)
    }

    fn max_k(self, k: f32) -> Self {
        self.clamp_min(k)
    }

    fn signum(self) -> Self {
        self.sign()
    }

    fn exp(self) -> Self {
        Tensor::exp(self)
    }

    fn ln(self) -> Self {
        self.log()
    }

    fn ln_1p(self) -> Self {
        self.log1p()
    }

    fn ge_k(&self, k: f32) -> Self::Mask {
        self.clone().greater_equal_elem(k)
    }

    fn gt_k(&self, k: f32) -> Self::Mask {
        self.clone().greater_elem(k)
    }

    fn eq_k(&self, k: f32) -> Self::Mask {
        self.clone().equal_elem(k)
    }

    fn select(mask: Self::Mask, yes: Self, no: Self) -> Self {
        no.mask_where(mask, yes)
    }

    fn may_hold(_: &Self::Mask) -> bool {
        true
    }
}
