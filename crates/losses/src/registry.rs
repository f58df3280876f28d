//! Losses built by name from PyTorch's keyword arguments (JSON), called with named inputs of
//! any rank:
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use descent_losses::registry::{self, AnyTensor, Inputs};
//! let device = Device::flex();
//! let huber = registry::loss("huber_loss", &serde_json::json!({"delta": 0.5})).unwrap();
//! let mut inputs = Inputs::new([
//!     ("input", AnyTensor::F1(Tensor::from_floats([0.0, 2.0], &device))),
//!     ("target", AnyTensor::F1(Tensor::from_floats([0.1, 0.0], &device))),
//! ]);
//! let loss = huber.forward(&mut inputs).unwrap();
//! ```
//!
//! Names and options are PyTorch's (`torch.nn.functional` names: `cross_entropy`,
//! `label_smoothing`), or descent's for the losses PyTorch lacks (`sigmoid_focal_loss`,
//! `hinge`, `quantile`). Inputs are named as PyTorch's parameters (`input`, `target`, `var`,
//! `input1`, `anchor`, ...). An option or input left out takes its default; an unknown one is an
//! error. The conformance suite and the examples' `--loss` flags build through here.
//!
//! Adding a loss: its file, one line in [`LOSSES`] (its options and the family of its inputs),
//! its reference cases.

use std::collections::{BTreeMap, BTreeSet};

use burn::tensor::{Int, Tensor};
use descent_kernel::Options;
use serde_json::Value;

use crate::error::{LossError, LossResult};
use crate::*;

/// A float or integer tensor whose rank is known at run time (1 to 4 for floats, 1 to 3 for
/// class indices).
#[derive(Clone, Debug)]
pub enum AnyTensor {
    /// A float tensor of rank 1.
    F1(Tensor<1>),
    /// A float tensor of rank 2.
    F2(Tensor<2>),
    /// A float tensor of rank 3.
    F3(Tensor<3>),
    /// A float tensor of rank 4.
    F4(Tensor<4>),
    /// An integer tensor of rank 1.
    I1(Tensor<1, Int>),
    /// An integer tensor of rank 2.
    I2(Tensor<2, Int>),
    /// An integer tensor of rank 3.
    I3(Tensor<3, Int>),
}

impl AnyTensor {
    /// The rank.
    pub fn rank(&self) -> usize {
        match self {
            AnyTensor::F1(_) | AnyTensor::I1(_) => 1,
            AnyTensor::F2(_) | AnyTensor::I2(_) => 2,
            AnyTensor::F3(_) | AnyTensor::I3(_) => 3,
            AnyTensor::F4(_) => 4,
        }
    }

    /// Whether it holds class indices.
    pub fn is_int(&self) -> bool {
        matches!(self, AnyTensor::I1(_) | AnyTensor::I2(_) | AnyTensor::I3(_))
    }

    fn describe(&self) -> String {
        let kind = if self.is_int() { "integer" } else { "float" };
        format!("{kind} tensor of rank {}", self.rank())
    }
}

/// The named inputs of one call; every one must be used.
#[derive(Debug, Clone)]
pub struct Inputs {
    map: BTreeMap<String, AnyTensor>,
    read: BTreeSet<String>,
}

impl Inputs {
    /// Inputs by PyTorch's parameter names.
    pub fn new<'a>(inputs: impl IntoIterator<Item = (&'a str, AnyTensor)>) -> Self {
        Self {
            map: inputs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            read: BTreeSet::new(),
        }
    }

    /// The input `name`.
    pub fn take(&mut self, loss: &'static str, name: &'static str) -> LossResult<AnyTensor> {
        self.read.insert(name.to_string());
        self.map
            .get(name)
            .cloned()
            .ok_or_else(|| LossError::new(loss, name, "is a required input, not given"))
    }

    /// The input `name`, if given.
    pub fn get(&self, name: &str) -> Option<&AnyTensor> {
        self.map.get(name)
    }

    /// An error naming every input that was not used.
    pub fn finish(&self, loss: &'static str) -> LossResult<()> {
        Ok(descent_kernel::unread(
            loss, "inputs", &self.map, &self.read,
        )?)
    }
}

/// A loss built by name: called with its inputs by name.
pub trait DynLoss {
    /// The loss, reduced as configured; with the `none` reduction the per-element (or
    /// per-sample) losses in PyTorch's shape.
    fn forward(&self, inputs: &mut Inputs) -> LossResult<AnyTensor>;
}

fn mismatch(loss: &'static str, what: &[(&str, &AnyTensor)]) -> LossError {
    let got: Vec<String> = what
        .iter()
        .map(|(n, t)| format!("{n}: {}", t.describe()))
        .collect();
    LossError::new(
        loss,
        "inputs",
        format!("of these kinds are not supported: {}", got.join(", ")),
    )
}

/// `try_forward_no_reduction` (wrapped by `$wrap`) for the `none` reduction, `try_forward`
/// otherwise, on the arguments `$arg`.
macro_rules! out {
    ($self:ident, $wrap:path, $($arg:expr),+) => {
        if $self.reduction == Reduction::None {
            $self.try_forward_no_reduction($($arg),+).map($wrap)
        } else {
            $self.try_forward($($arg),+).map(AnyTensor::F1)
        }
    };
}

/// `input` and `target` of the same shape (ranks 1 to 4).
macro_rules! pair {
    ($ty:ty, $name:expr) => {
        impl DynLoss for $ty {
            fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
                let (x, y) = (i.take($name, "input")?, i.take($name, "target")?);
                macro_rules! arm {
                    ($x:ident, $y:ident, $w:path) => {
                        out!(self, $w, $x, $y)
                    };
                }
                match (x, y) {
                    (AnyTensor::F1(x), AnyTensor::F1(y)) => arm!(x, y, AnyTensor::F1),
                    (AnyTensor::F2(x), AnyTensor::F2(y)) => arm!(x, y, AnyTensor::F2),
                    (AnyTensor::F3(x), AnyTensor::F3(y)) => arm!(x, y, AnyTensor::F3),
                    (AnyTensor::F4(x), AnyTensor::F4(y)) => arm!(x, y, AnyTensor::F4),
                    (x, y) => Err(mismatch($name, &[("input", &x), ("target", &y)])),
                }
            }
        }
    };
}

pair!(MseLoss, "mse_loss");
pair!(L1Loss, "l1_loss");
pair!(HuberLoss, "huber_loss");
pair!(SmoothL1Loss, "smooth_l1_loss");
pair!(LogCoshLoss, "log_cosh");
pair!(QuantileLoss, "quantile");
pair!(PoissonNllLoss, "poisson_nll_loss");
pair!(BinaryCrossEntropyLoss, "binary_cross_entropy");
pair!(
    BinaryCrossEntropyWithLogitsLoss,
    "binary_cross_entropy_with_logits"
);
pair!(SigmoidFocalLoss, "sigmoid_focal_loss");
pair!(HingeLoss, "hinge");
pair!(SquaredHingeLoss, "squared_hinge");
pair!(SoftMarginLoss, "soft_margin_loss");
pair!(HingeEmbeddingLoss, "hinge_embedding_loss");
pair!(KlDivLoss, "kl_div");

/// Logits `[N, C, ...]` and class indices `[N, ...]`.
macro_rules! classes {
    ($self:ident, $name:expr, $x:expr, $y:expr) => {{
        macro_rules! arm {
            ($xx:ident, $yy:ident, $w:path) => {
                out!($self, $w, $xx, $yy)
            };
        }
        match ($x, $y) {
            (AnyTensor::F2(x), AnyTensor::I1(y)) => arm!(x, y, AnyTensor::F1),
            (AnyTensor::F3(x), AnyTensor::I2(y)) => arm!(x, y, AnyTensor::F2),
            (AnyTensor::F4(x), AnyTensor::I3(y)) => arm!(x, y, AnyTensor::F3),
            (x, y) => Err(mismatch($name, &[("input", &x), ("target", &y)])),
        }
    }};
}

impl DynLoss for CrossEntropyLoss {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        const NAME: &str = "cross_entropy";
        let (x, y) = (i.take(NAME, "input")?, i.take(NAME, "target")?);
        if y.is_int() {
            return classes!(self, NAME, x, y);
        }
        macro_rules! probs {
            ($x:ident, $y:ident, $dt:literal, $w:path) => {
                if self.reduction == Reduction::None {
                    self.try_forward_probs_no_reduction::<_, $dt>($x, $y)
                        .map($w)
                } else {
                    self.try_forward_probs($x, $y).map(AnyTensor::F1)
                }
            };
        }
        match (x, y) {
            (AnyTensor::F2(x), AnyTensor::F2(y)) => probs!(x, y, 1, AnyTensor::F1),
            (AnyTensor::F3(x), AnyTensor::F3(y)) => probs!(x, y, 2, AnyTensor::F2),
            (AnyTensor::F4(x), AnyTensor::F4(y)) => probs!(x, y, 3, AnyTensor::F3),
            (x, y) => Err(mismatch(NAME, &[("input", &x), ("target", &y)])),
        }
    }
}

impl DynLoss for NllLoss {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        let (x, y) = (i.take("nll_loss", "input")?, i.take("nll_loss", "target")?);
        classes!(self, "nll_loss", x, y)
    }
}

impl DynLoss for SoftmaxFocalLoss {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        const NAME: &str = "softmax_focal_loss";
        let (x, y) = (i.take(NAME, "input")?, i.take(NAME, "target")?);
        classes!(self, NAME, x, y)
    }
}

impl DynLoss for GaussianNllLoss {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        const NAME: &str = "gaussian_nll_loss";
        let (x, y, v) = (
            i.take(NAME, "input")?,
            i.take(NAME, "target")?,
            i.take(NAME, "var")?,
        );
        macro_rules! arm {
            ($x:ident, $y:ident, $v:ident, $w:path) => {
                out!(self, $w, $x, $y, $v)
            };
        }
        use AnyTensor::*;
        match (x, y, v) {
            (F1(x), F1(y), F1(v)) => arm!(x, y, v, F1),
            (F2(x), F2(y), F2(v)) => arm!(x, y, v, F2),
            (F2(x), F2(y), F1(v)) => arm!(x, y, v, F2),
            (F3(x), F3(y), F3(v)) => arm!(x, y, v, F3),
            (F3(x), F3(y), F2(v)) => arm!(x, y, v, F3),
            (x, y, v) => Err(mismatch(
                NAME,
                &[("input", &x), ("target", &y), ("var", &v)],
            )),
        }
    }
}

/// Rows `[N, C]` against targets `[N, C]` (`$target_int = false`) or class indices `[N]`.
macro_rules! rows {
    ($ty:ty, $name:expr, float) => {
        rows!(@impl $ty, $name, AnyTensor::F2(y), y);
    };
    ($ty:ty, $name:expr, int) => {
        rows!(@impl $ty, $name, AnyTensor::I1(y), y);
    };
    (@impl $ty:ty, $name:expr, $pat:pat, $y:ident) => {
        impl DynLoss for $ty {
            fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
                match (i.take($name, "input")?, i.take($name, "target")?) {
                    (AnyTensor::F2(x), $pat) => out!(self, AnyTensor::F1, x, $y),
                    (x, y) => Err(mismatch($name, &[("input", &x), ("target", &y)])),
                }
            }
        }
    };
}

rows!(
    CategoricalCrossEntropyLoss,
    "categorical_cross_entropy",
    float
);
rows!(
    SparseCategoricalCrossEntropyLoss,
    "sparse_categorical_cross_entropy",
    int
);
rows!(MultiMarginLoss, "multi_margin_loss", int);
rows!(
    MultilabelSoftMarginLoss,
    "multilabel_soft_margin_loss",
    float
);

impl DynLoss for MarginRankingLoss {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        const NAME: &str = "margin_ranking_loss";
        let (a, b, y) = (
            i.take(NAME, "input1")?,
            i.take(NAME, "input2")?,
            i.take(NAME, "target")?,
        );
        macro_rules! arm {
            ($a:ident, $b:ident, $y:ident, $w:path) => {
                out!(self, $w, $a, $b, $y)
            };
        }
        use AnyTensor::*;
        match (a, b, y) {
            (F1(a), F1(b), F1(y)) => arm!(a, b, y, F1),
            (F2(a), F2(b), F2(y)) => arm!(a, b, y, F2),
            (a, b, y) => Err(mismatch(
                NAME,
                &[("input1", &a), ("input2", &b), ("target", &y)],
            )),
        }
    }
}

impl DynLoss for CosineEmbeddingLoss {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        const NAME: &str = "cosine_embedding_loss";
        let (a, b, y) = (
            i.take(NAME, "input1")?,
            i.take(NAME, "input2")?,
            i.take(NAME, "target")?,
        );
        match (a, b, y) {
            (AnyTensor::F2(a), AnyTensor::F2(b), AnyTensor::F1(y)) => {
                out!(self, AnyTensor::F1, a, b, y)
            }
            (a, b, y) => Err(mismatch(
                NAME,
                &[("input1", &a), ("input2", &b), ("target", &y)],
            )),
        }
    }
}

impl DynLoss for TripletMarginLoss {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        const NAME: &str = "triplet_margin_loss";
        let (a, p, n) = (
            i.take(NAME, "anchor")?,
            i.take(NAME, "positive")?,
            i.take(NAME, "negative")?,
        );
        match (a, p, n) {
            (AnyTensor::F2(a), AnyTensor::F2(p), AnyTensor::F2(n)) => {
                out!(self, AnyTensor::F1, a, p, n)
            }
            (a, p, n) => Err(mismatch(
                NAME,
                &[("anchor", &a), ("positive", &p), ("negative", &n)],
            )),
        }
    }
}

/// The reduction option (`mean` by default).
fn reduction(o: &mut Options) -> LossResult<Reduction> {
    let i = o.choice("reduction", &["mean", "none", "sum", "batchmean"])?;
    Ok([
        Reduction::Mean,
        Reduction::None,
        Reduction::Sum,
        Reduction::BatchMean,
    ][i])
}

/// The registry's table: one line per loss, `name => Config.builder, [options]` (the
/// `reduction` and `settings` options are always read).
macro_rules! losses {
    ($($name:literal => $config:ident . $init:ident, [$($field:ident),*];)+) => {
        /// Every loss, by name, with the builder from its options.
        pub const LOSSES: &[(&str, Builder)] = &[$(
            ($name, |o| {
                let mut c = $config::new();
                $( o.set(stringify!($field), &mut c.$field)?; )*
                c.reduction = reduction(o)?;
                o.set("settings", &mut c.settings)?;
                Ok(Box::new(c.$init()?))
            }),
        )+];
    };
}

/// Builds a loss from its options.
type Builder = fn(&mut Options) -> LossResult<Box<dyn DynLoss>>;

#[rustfmt::skip]
losses! {
    "mse_loss" => MseLossConfig.try_init, [];
    "l1_loss" => L1LossConfig.try_init, [];
    "huber_loss" => HuberLossConfig.try_init, [delta];
    "smooth_l1_loss" => SmoothL1LossConfig.try_init, [beta];
    "log_cosh" => LogCoshLossConfig.try_init, [];
    "quantile" => QuantileLossConfig.try_init, [q];
    "poisson_nll_loss" => PoissonNllLossConfig.try_init, [log_input, full, eps];
    "gaussian_nll_loss" => GaussianNllLossConfig.try_init, [full, eps];
    "binary_cross_entropy" => BinaryCrossEntropyLossConfig.try_init, [weight];
    "binary_cross_entropy_with_logits" => BinaryCrossEntropyWithLogitsLossConfig.try_init, [weight, pos_weight];
    "sigmoid_focal_loss" => SigmoidFocalLossConfig.try_init, [alpha, gamma];
    "hinge" => HingeLossConfig.try_init, [margin];
    "squared_hinge" => HingeLossConfig.try_init_squared, [margin];
    "soft_margin_loss" => SoftMarginLossConfig.try_init, [];
    "hinge_embedding_loss" => HingeEmbeddingLossConfig.try_init, [margin];
    "kl_div" => KlDivLossConfig.try_init, [log_target];
    "cross_entropy" => CrossEntropyLossConfig.try_init, [weight, ignore_index, label_smoothing];
    "nll_loss" => NllLossConfig.try_init, [weight, ignore_index];
    "softmax_focal_loss" => SoftmaxFocalLossConfig.try_init, [gamma, alpha];
    "categorical_cross_entropy" => CategoricalCrossEntropyLossConfig.try_init, [];
    "sparse_categorical_cross_entropy" => CategoricalCrossEntropyLossConfig.try_init_sparse, [];
    "multi_margin_loss" => MultiMarginLossConfig.try_init, [p, margin, weight];
    "multilabel_soft_margin_loss" => MultilabelSoftMarginLossConfig.try_init, [weight];
    "margin_ranking_loss" => MarginRankingLossConfig.try_init, [margin];
    "cosine_embedding_loss" => CosineEmbeddingLossConfig.try_init, [margin];
    "triplet_margin_loss" => TripletMarginLossConfig.try_init, [margin, p, eps, swap];
}

/// The names [`loss`] knows.
pub fn loss_names() -> impl Iterator<Item = &'static str> {
    LOSSES.iter().map(|(n, _)| *n)
}

/// The loss `name` configured by its keyword arguments `options` (a JSON object, or `null`).
/// Per-instance settings go in `settings` (`{"kernel": "Generic", "checks": true}`).
pub fn loss(name: &str, options: &Value) -> LossResult<Box<dyn DynLoss>> {
    let (owner, build) = LOSSES
        .iter()
        .find(|(n, _)| *n == name)
        .copied()
        .ok_or_else(|| {
            let known: Vec<&str> = loss_names().collect();
            LossError::new(
                "registry",
                "loss",
                format!("{name:?} is unknown; known: {known:?}"),
            )
        })?;
    let mut o = Options::new(owner, options)?;
    let loss = build(&mut o)?;
    o.finish()?;
    Ok(loss)
}
