//! Seedable synthetic data: the seed notebook's sets and an imbalanced fraud-like set.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};

use crate::data::Dataset;

fn normal(rng: &mut StdRng, sd: f64) -> f32 {
    Normal::new(0.0, sd).expect("sd >= 0").sample(rng) as f32
}

/// `y = 2x + 1 + ε`, `x ~ U(−3, 3)`, `ε ~ N(0, 0.5²)`.
pub fn line(n: usize, seed: u64) -> Dataset {
    linear(n, 2.0, 1.0, 0.5, seed)
}

/// The seed notebook's 200-point regression: `y = 1.2x − 0.7 + ε`, `ε ~ N(0, 0.3²)`.
pub fn seed_regression(seed: u64) -> Dataset {
    linear(200, 1.2, -0.7, 0.3, seed)
}

/// `y = w x + b + ε` with `x ~ U(−3, 3)` and `ε ~ N(0, noise²)`.
pub fn linear(n: usize, w: f32, b: f32, noise: f64, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let x: Vec<f32> = (0..n).map(|_| rng.random_range(-3.0f32..3.0)).collect();
    let y = x
        .iter()
        .map(|x| w * x + b + normal(&mut rng, noise))
        .collect();
    Dataset::new(x, y, 1)
}

/// Gaussian blobs in 2-D, `n` points per class, centred on `centers`, standard deviation `sd`;
/// the target is the class index.
pub fn blobs(n: usize, centers: &[(f32, f32)], sd: f64, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..n {
        for (c, (cx, cy)) in centers.iter().enumerate() {
            x.push(cx + normal(&mut rng, sd));
            x.push(cy + normal(&mut rng, sd));
            y.push(c as f32);
        }
    }
    Dataset::new(x, y, 2)
}

/// The seed notebook's two Gaussian blobs, at (−1.5, −1.5) and (1.5, 1.5), sd 1.
pub fn two_blobs(n: usize, seed: u64) -> Dataset {
    blobs(n, &[(-1.5, -1.5), (1.5, 1.5)], 1.0, seed)
}

/// Features of [`fraud`].
pub const FRAUD_FEATURES: usize = 8;

/// An imbalanced fraud-like set: about `positive_rate` positives; positives are shifted by
/// 1.6 on the first 4 of 8 features, every feature has unit Gaussian noise.
pub fn fraud(n: usize, positive_rate: f64, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(n * FRAUD_FEATURES);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let fraud = rng.random::<f64>() < positive_rate;
        for f in 0..FRAUD_FEATURES {
            let shift = if fraud && f < 4 { 1.6 } else { 0.0 };
            x.push(normal(&mut rng, 1.0) + shift);
        }
        y.push(if fraud { 1.0 } else { 0.0 });
    }
    let mut d = Dataset::new(x, y, FRAUD_FEATURES);
    d.names = (1..=FRAUD_FEATURES).map(|i| format!("f{i}")).collect();
    d
}

/// `n` points with a fraction `outliers` of them pushed far off the line `y = 2x + 1`.
pub fn line_with_outliers(n: usize, outliers: f64, seed: u64) -> Dataset {
    let mut d = linear(n, 2.0, 1.0, 0.4, seed);
    let mut rng = StdRng::seed_from_u64(seed ^ 0xA5A5);
    for y in d.y.iter_mut() {
        if rng.random::<f64>() < outliers {
            *y += rng.random_range(8.0f32..15.0);
        }
    }
    d
}
