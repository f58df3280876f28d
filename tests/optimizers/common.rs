//! A small model and data set shared by the tests.

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};

/// `y = x W + b` with a rank-2 and a rank-1 parameter.
#[derive(Module, Debug)]
pub struct Net {
    pub w: Param<Tensor<2>>,
    pub b: Param<Tensor<1>>,
}

pub fn device() -> Device {
    Device::flex().autodiff()
}

impl Net {
    pub fn new(device: &Device) -> Self {
        let w = TensorData::new(vec![0.3f32, -0.2, 0.1, 0.5, -0.4, 0.2], [3, 2]);
        Self {
            w: Param::from_tensor(Tensor::from_data(w, device)),
            b: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![0.05f32, -0.1], [2]),
                device,
            )),
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.w.val()) + self.b.val().unsqueeze()
    }

    /// All parameters, read back.
    pub fn values(&self) -> Vec<f32> {
        let mut v: Vec<f32> = self.w.val().into_data().iter::<f32>().collect();
        v.extend(self.b.val().into_data().iter::<f32>());
        v
    }
}

/// Eight samples of three features and two targets (fixed numbers, no RNG).
pub fn data(device: &Device) -> (Tensor<2>, Tensor<2>) {
    let x: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0).collect();
    let y: Vec<f32> = (0..16).map(|i| ((i * 5 % 13) as f32 - 6.0) / 5.0).collect();
    (
        Tensor::from_data(TensorData::new(x, [8, 3]), device),
        Tensor::from_data(TensorData::new(y, [8, 2]), device),
    )
}

/// Rows `range` of a batch.
pub fn rows(t: &Tensor<2>, range: std::ops::Range<usize>) -> Tensor<2> {
    t.clone().slice([range])
}

/// Gradients of the mean squared error of `net` on `(x, y)`.
pub fn mse_grads(net: &Net, x: Tensor<2>, y: Tensor<2>) -> GradientsParams {
    let loss = (net.forward(x) - y).square().mean();
    GradientsParams::from_grads(loss.backward(), net)
}
