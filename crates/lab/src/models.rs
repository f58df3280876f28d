//! The models of the lab, as Burn modules: linear, logistic and softmax regression, and a
//! small multi-layer perceptron.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// `ŷ = x W + b`: linear regression with `outputs` targets (also the logits of logistic
/// regression with 1 output and of softmax regression with C outputs).
#[derive(Module, Debug)]
pub struct LinearModel {
    /// The affine map.
    pub linear: Linear,
}

impl LinearModel {
    /// A model of `inputs` features and `outputs` outputs, with Burn's default
    /// initialisation, or zeros when `zero` (as in the seed notebook).
    pub fn new(inputs: usize, outputs: usize, zero: bool, device: &Device) -> Self {
        let mut linear = LinearConfig::new(inputs, outputs).init(device);
        if zero {
            linear.weight = linear.weight.map(|w| w.zeros_like().require_grad());
            linear.bias = linear
                .bias
                .map(|b| b.map(|b| b.zeros_like().require_grad()));
        }
        Self { linear }
    }

    /// `x W + b`, `[N, inputs] → [N, outputs]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.linear.forward(x)
    }

    /// `(W, b)` of a one-input, one-output model, for plots.
    pub fn scalar_params(&self) -> (f32, f32) {
        let w = self
            .linear
            .weight
            .val()
            .into_data()
            .iter::<f32>()
            .next()
            .unwrap_or(0.0);
        let b = self
            .linear
            .bias
            .as_ref()
            .and_then(|b| b.val().into_data().iter::<f32>().next())
            .unwrap_or(0.0);
        (w, b)
    }
}

/// A multi-layer perceptron with ReLU between layers: `inputs → hidden… → outputs`.
#[derive(Module, Debug)]
pub struct Mlp {
    /// The layers, in order.
    pub layers: Vec<Linear>,
}

impl Mlp {
    /// An MLP with the given hidden widths.
    pub fn new(inputs: usize, hidden: &[usize], outputs: usize, device: &Device) -> Self {
        let mut sizes = vec![inputs];
        sizes.extend_from_slice(hidden);
        sizes.push(outputs);
        let layers = sizes
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Self { layers }
    }

    /// The logits, `[N, inputs] → [N, outputs]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        self.layers.iter().enumerate().fold(x, |h, (i, layer)| {
            let h = layer.forward(h);
            if i < last { relu(h) } else { h }
        })
    }
}
