//! Every loss of the crate behind one signature, with inputs of the kind it needs.

use burn::tensor::{Device, Int, Tensor, TensorData};
use descent::losses::*;

/// What the target of a loss holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// Real numbers (regression).
    Real,
    /// Non-negative counts (Poisson).
    Counts,
    /// 0/1 labels.
    Binary,
    /// ±1 labels.
    Signs,
    /// Class indices in [0, C).
    Classes,
    /// Rows of a probability distribution.
    Distribution,
}

/// What the prediction of a loss holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Prediction {
    /// Any real number (logits, scores, regression outputs).
    Real,
    /// Probabilities in (0, 1), rows summing to 1 for class losses.
    Probability,
    /// Log-probabilities (rows of `log_softmax`).
    LogProbability,
}

/// A loss of `x` `[N, C]` (the differentiated argument) against a target, reduced by `sum`.
pub struct Spec {
    pub name: &'static str,
    pub prediction: Prediction,
    pub target: Target,
    /// Whether the loss is ≥ 0 everywhere.
    pub non_negative: bool,
    /// Whether `x = target` (or the one-hot target, for class losses) gives a zero loss.
    pub zero_at_target: bool,
    pub f: fn(Tensor<2>, &Targets) -> Tensor<1>,
}

/// The targets of one test point, in every form a loss may want.
#[derive(Clone)]
pub struct Targets {
    pub real: Tensor<2>,
    pub classes: Tensor<1, Int>,
}

pub const N: usize = 4;
pub const C: usize = 3;

fn ok<T>(r: LossResult<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

pub fn catalog() -> Vec<Spec> {
    use Prediction as P;
    use Target as T;
    vec![
        Spec {
            name: "mse_loss",
            prediction: P::Real,
            target: T::Real,
            non_negative: true,
            zero_at_target: true,
            f: |x, t| mse_loss(x, t.real.clone(), Reduction::Sum),
        },
        Spec {
            name: "l1_loss",
            prediction: P::Real,
            target: T::Real,
            non_negative: true,
            zero_at_target: true,
            f: |x, t| l1_loss(x, t.real.clone(), Reduction::Sum),
        },
        Spec {
            name: "huber_loss",
            prediction: P::Real,
            target: T::Real,
            non_negative: true,
            zero_at_target: true,
            f: |x, t| huber_loss(x, t.real.clone(), 0.7, Reduction::Sum),
        },
        Spec {
            name: "smooth_l1_loss",
            prediction: P::Real,
            target: T::Real,
            non_negative: true,
            zero_at_target: true,
            f: |x, t| smooth_l1_loss(x, t.real.clone(), 0.5, Reduction::Sum),
        },
        Spec {
            name: "log_cosh",
            prediction: P::Real,
            target: T::Real,
            non_negative: true,
            zero_at_target: true,
            f: |x, t| log_cosh(x, t.real.clone(), Reduction::Sum),
        },
        Spec {
            name: "quantile",
            prediction: P::Real,
            target: T::Real,
            non_negative: true,
            zero_at_target: true,
            f: |x, t| quantile(x, t.real.clone(), 0.8, Reduction::Sum),
        },
        Spec {
            name: "poisson_nll_loss",
            prediction: P::Real,
            target: T::Counts,
            non_negative: false,
            zero_at_target: false,
            f: |x, t| {
                ok(PoissonNllLossConfig::new()
                    .with_full(true)
                    .with_reduction(Reduction::Sum)
                    .try_init())
                .forward(x, t.real.clone())
            },
        },
        Spec {
            name: "gaussian_nll_loss",
            prediction: P::Real,
            target: T::Real,
            non_negative: false,
            zero_at_target: false,
            f: |x, t| {
                let var = t.real.clone().abs().add_scalar(0.5);
                gaussian_nll_loss(x, t.real.clone().mul_scalar(0.3), var, Reduction::Sum)
            },
        },
        Spec {
            name: "binary_cross_entropy",
            prediction: P::Probability,
            target: T::Binary,
            non_negative: true,
            zero_at_target: true,
            f: |x, t| {
                ok(BinaryCrossEntropyLossConfig::new()
                    .with_weight(Some(vec![0.5, 1.0, 2.0]))
                    .with_reduction(Reduction::Sum)
                    .try_init())
                .forward(x, t.real.clone())
            },
        },
        Spec {
            name: "binary_cross_entropy_with_logits",
            prediction: P::Real,
            target: T::Binary,
            non_negative: true,
            zero_at_target: false,
            f: |x, t| {
                ok(BinaryCrossEntropyWithLogitsLossConfig::new()
                    .with_pos_weight(Some(vec![3.0]))
                    .with_reduction(Reduction::Sum)
                    .try_init())
                .forward(x, t.real.clone())
            },
        },
        Spec {
            name: "sigmoid_focal_loss",
            prediction: P::Real,
            target: T::Binary,
            non_negative: true,
            zero_at_target: false,
            f: |x, t| sigmoid_focal_loss(x, t.real.clone(), 0.25, 2.0, Reduction::Sum),
        },
        Spec {
            name: "sigmoid_focal_loss(gamma=0.5)",
            prediction: P::Real,
            target: T::Binary,
            non_negative: true,
            zero_at_target: false,
            f: |x, t| sigmoid_focal_loss(x, t.real.clone(), -1.0, 0.5, Reduction::Sum),
        },
        Spec {
            name: "hinge",
            prediction: P::Real,
            target: T::Signs,
            non_negative: true,
            zero_at_target: true,
            f: |x, t| hinge(x, t.real.clone(), Reduction::Sum),
        },
        Spec {
            name: "squared_hinge",
            prediction: P::Real,
            target: T::Signs,
            non_negative: true,
            zero_at_target: true,
            f: |x, t| squared_hinge(x, t.real.clone(), Reduction::Sum),
        },
        Spec {
            name: "soft_margin_loss",
            prediction: P::Real,
            target: T::Signs,
            non_negative: true,
            zero_at_target: false,
            f: |x, t| soft_margin_loss(x, t.real.clone(), Reduction::Sum),
        },
        Spec {
            name: "hinge_embedding_loss",
            prediction: P::Real,
            target: T::Signs,
            non_negative: false,
            zero_at_target: false,
            f: |x, t| hinge_embedding_loss(x, t.real.clone(), Reduction::Sum),
        },
        Spec {
            name: "cross_entropy",
            prediction: P::Real,
            target: T::Classes,
            non_negative: true,
            zero_at_target: false,
            f: |x, t| {
                ok(CrossEntropyLossConfig::new()
                    .with_weight(Some(vec![1.0, 2.0, 0.5]))
                    .with_label_smoothing(0.1)
                    .with_reduction(Reduction::Sum)
                    .try_init())
                .forward(x, t.classes.clone())
            },
        },
        Spec {
            name: "cross_entropy(probs)",
            prediction: P::Real,
            target: T::Distribution,
            non_negative: true,
            zero_at_target: false,
            f: |x, t| {
                ok(CrossEntropyLossConfig::new()
                    .with_reduction(Reduction::Sum)
                    .try_init())
                .forward_probs(x, t.real.clone())
            },
        },
        Spec {
            name: "nll_loss",
            prediction: P::LogProbability,
            target: T::Classes,
            non_negative: true,
            zero_at_target: false,
            f: |x, t| nll_loss(x, t.classes.clone(), Reduction::Sum),
        },
        Spec {
            name: "categorical_cross_entropy",
            prediction: P::Probability,
            target: T::Distribution,
            non_negative: true,
            zero_at_target: false,
            f: |x, t| categorical_cross_entropy(x, t.real.clone(), Reduction::Sum),
        },
        Spec {
            name: "sparse_categorical_cross_entropy",
            prediction: P::Probability,
            target: T::Classes,
            non_negative: true,
            zero_at_target: false,
            f: |x, t| sparse_categorical_cross_entropy(x, t.classes.clone(), Reduction::Sum),
        },
        Spec {
            name: "softmax_focal_loss",
            prediction: P::Real,
            target: T::Classes,
            non_negative: true,
            zero_at_target: false,
            f: |x, t| {
                ok(SoftmaxFocalLossConfig::new()
                    .with_gamma(2.0)
                    .with_alpha(Some(vec![0.2, 0.5, 0.3]))
                    .with_reduction(Reduction::Sum)
                    .try_init())
                .forward(x, t.classes.clone())
            },
        },
        Spec {
            name: "multi_margin_loss",
            prediction: P::Real,
            target: T::Classes,
            non_negative: true,
            zero_at_target: false,
            f: |x, t| {
                ok(MultiMarginLossConfig::new()
                    .with_p(2)
                    .with_margin(0.5)
                    .with_reduction(Reduction::Sum)
                    .try_init())
                .forward(x, t.classes.clone())
            },
        },
        Spec {
            name: "multilabel_soft_margin_loss",
            prediction: P::Real,
            target: T::Binary,
            non_negative: true,
            zero_at_target: false,
            f: |x, t| multilabel_soft_margin_loss(x, t.real.clone(), Reduction::Sum),
        },
        Spec {
            name: "kl_div",
            prediction: P::LogProbability,
            target: T::Distribution,
            non_negative: true,
            zero_at_target: false,
            f: |x, t| kl_div(x, t.real.clone(), Reduction::Sum),
        },
        Spec {
            name: "margin_ranking_loss",
            prediction: P::Real,
            target: T::Signs,
            non_negative: true,
            zero_at_target: false,
            f: |x, t| {
                let other = t.real.clone().mul_scalar(0.3);
                margin_ranking_loss(x, other, t.real.clone(), 0.5, Reduction::Sum)
            },
        },
        Spec {
            name: "cosine_embedding_loss",
            prediction: P::Real,
            target: T::Real,
            non_negative: true,
            zero_at_target: true,
            f: |x, t| {
                let labels = Tensor::<1>::from_floats([1.0, -1.0, 1.0, -1.0], &x.device());
                let other = t.real.clone().mask_where(
                    labels
                        .clone()
                        .reshape([N, 1])
                        .expand([N, C])
                        .equal_elem(-1.0),
                    t.real.clone().neg(),
                );
                cosine_embedding_loss(x, other, labels, 0.0, Reduction::Sum)
            },
        },
        Spec {
            name: "triplet_margin_loss",
            prediction: P::Real,
            target: T::Real,
            non_negative: true,
            zero_at_target: false,
            f: |x, t| {
                let negative = t.real.clone().add_scalar(0.7);
                ok(TripletMarginLossConfig::new()
                    .with_swap(true)
                    .with_reduction(Reduction::Sum)
                    .try_init())
                .forward(t.real.clone(), x, negative)
            },
        },
        Spec {
            name: "elastic_net",
            prediction: P::Real,
            target: T::Real,
            non_negative: true,
            zero_at_target: false,
            f: |x, _| {
                // The penalty of a tensor: the same formula the module visitor applies per parameter.
                x.clone()
                    .abs()
                    .sum()
                    .mul_scalar(0.1)
                    .add(x.square().sum().mul_scalar(0.2))
            },
        },
    ]
}

/// A target of kind `kind` from uniform numbers `u` in [0, 1) (`N·C` of them).
pub fn targets(kind: Target, u: &[f64], device: &Device) -> Targets {
    let real: Vec<f32> = match kind {
        Target::Real => u.iter().map(|v| (4.0 * v - 2.0) as f32).collect(),
        Target::Counts => u.iter().map(|v| (6.0 * v).floor() as f32).collect(),
        Target::Binary => u.iter().map(|v| if *v < 0.5 { 0.0 } else { 1.0 }).collect(),
        Target::Signs => u
            .iter()
            .map(|v| if *v < 0.5 { -1.0 } else { 1.0 })
            .collect(),
        Target::Classes | Target::Distribution => {
            let mut rows = Vec::new();
            for r in u.chunks(C) {
                let total: f64 = r.iter().map(|v| v + 0.1).sum();
                rows.extend(r.iter().map(|v| ((v + 0.1) / total) as f32));
            }
            rows
        }
    };
    let classes: Vec<i64> = u
        .chunks(C)
        .map(|r| ((r[0] * C as f64) as i64).min(C as i64 - 1))
        .collect();
    Targets {
        real: Tensor::from_data(TensorData::new(real, [N, C]), device),
        classes: Tensor::from_data(TensorData::new(classes, [N]), device),
    }
}

/// A prediction of kind `kind` from raw numbers `z` (`N·C` of them, any real).
pub fn prediction(kind: Prediction, z: &[f64]) -> Vec<f64> {
    match kind {
        Prediction::Real => z.to_vec(),
        Prediction::Probability => z.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect(),
        Prediction::LogProbability => z
            .chunks(C)
            .flat_map(|r| {
                let m = r.iter().cloned().fold(f64::MIN, f64::max);
                let lse = m + r.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                r.iter().map(move |v| v - lse).collect::<Vec<_>>()
            })
            .collect(),
    }
}

pub fn tensor(values: &[f64], device: &Device) -> Tensor<2> {
    let v: Vec<f32> = values.iter().map(|x| *x as f32).collect();
    Tensor::from_data(TensorData::new(v, [N, C]), device)
}

/// A small deterministic generator (SplitMix64) for reproducible test points.
pub struct Rng(pub u64);

impl Rng {
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn uniforms(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.uniform()).collect()
    }
}
