//! An in-memory tabular data set (features and one target per row) and its splits.

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Rows of `features` f32 features with one target each (a value or a class index).
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Features, row-major `[rows, features]`.
    pub x: Vec<f32>,
    /// Targets, one per row.
    pub y: Vec<f32>,
    /// Features per row.
    pub features: usize,
    /// Feature names (may be empty).
    pub names: Vec<String>,
}

impl Dataset {
    /// A data set from row-major features and targets.
    ///
    /// # Panics
    /// When `x.len() != y.len() · features`.
    pub fn new(x: Vec<f32>, y: Vec<f32>, features: usize) -> Self {
        assert_eq!(
            x.len(),
            y.len() * features,
            "Dataset: x holds {} values, expected {} rows × {features} features",
            x.len(),
            y.len()
        );
        Self {
            x,
            y,
            features,
            names: Vec::new(),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Row `i`'s features.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.features..(i + 1) * self.features]
    }

    /// The rows `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        let mut x = Vec::with_capacity(idx.len() * self.features);
        for &i in idx {
            x.extend_from_slice(self.row(i));
        }
        Dataset {
            x,
            y: idx.iter().map(|&i| self.y[i]).collect(),
            features: self.features,
            names: self.names.clone(),
        }
    }

    /// A shuffled split: `(1 − frac)` of the rows for training, `frac` held out.
    pub fn split(&self, frac: f64, seed: u64) -> (Dataset, Dataset) {
        let mut idx: Vec<usize> = (0..self.len()).collect();
        idx.shuffle(&mut StdRng::seed_from_u64(seed));
        let held = ((self.len() as f64) * frac).round() as usize;
        let (held_out, kept) = idx.split_at(held);
        (self.subset(kept), self.subset(held_out))
    }

    /// Per-feature mean and standard deviation (population, 1 where it is 0).
    pub fn moments(&self) -> (Vec<f32>, Vec<f32>) {
        let n = self.len().max(1) as f64;
        let mut mean = vec![0.0f64; self.features];
        let mut sq = vec![0.0f64; self.features];
        for i in 0..self.len() {
            for (j, v) in self.row(i).iter().enumerate() {
                mean[j] += *v as f64;
                sq[j] += (*v as f64) * (*v as f64);
            }
        }
        let mean: Vec<f64> = mean.iter().map(|m| m / n).collect();
        let std: Vec<f32> = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| {
                let sd = (s / n - m * m).max(0.0).sqrt();
                if sd > 0.0 { sd as f32 } else { 1.0 }
            })
            .collect();
        (mean.iter().map(|m| *m as f32).collect(), std)
    }

    /// Standardises the features with the given moments: `(x − mean) / std`, computed in f64
    /// (values near the ends of f32's range would overflow in f32).
    pub fn standardize_with(&mut self, mean: &[f32], std: &[f32]) {
        for (k, v) in self.x.iter_mut().enumerate() {
            let j = k % self.features;
            *v = ((*v as f64 - mean[j] as f64) / std[j] as f64) as f32;
        }
    }

    /// The features as a `[rows, features]` tensor.
    pub fn x_tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.x.clone(), [self.len(), self.features]),
            device,
        )
    }

    /// The targets as a `[rows, 1]` tensor.
    pub fn y_tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(self.y.clone(), [self.len(), 1]), device)
    }

    /// The targets as class indices `[rows]`.
    pub fn y_classes(&self, device: &Device) -> Tensor<1, Int> {
        let y: Vec<i64> = self.y.iter().map(|v| *v as i64).collect();
        Tensor::from_data(TensorData::new(y, [self.len()]), device)
    }

    /// The first two features of the rows whose target is `class`, as plot points.
    pub fn points_of_class(&self, class: f32) -> Vec<(f64, f64)> {
        (0..self.len())
            .filter(|i| self.y[*i] == class)
            .map(|i| (self.row(i)[0] as f64, self.row(i)[1] as f64))
            .collect()
    }

    /// Rows whose target is 1 (the positive class).
    pub fn positives(&self) -> usize {
        self.y.iter().filter(|v| **v > 0.5).count()
    }
}
