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
//! `hinge`, `quantile`), or Optax's for its losses (`ntxent`, `poly_loss_cross_entropy`,
//! `dice_loss`, `sparsemax_loss`, `multiclass_sparsemax_loss`, `ranking_softmax_loss`, with
//! Optax's option and input names: `embeddings`, `logits`, `labels`, `predictions`, `targets`,
//! `scores`, `where`, `weights`; the binary `sparsemax_loss` takes `input` and `target` like
//! every element-wise pair). Inputs are named as PyTorch's parameters (`input`, `target`, `var`,
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

    /// The input `name`, a name built at run time (`tail.0.0.weight`); a missing one is an
    /// error of the loss's `inputs` naming it.
    pub fn take_str(&mut self, loss: &'static str, name: &str) -> LossResult<AnyTensor> {
        self.read.insert(name.to_string());
        self.map.get(name).cloned().ok_or_else(|| {
            LossError::new(
                loss,
                "inputs",
                format!("must include {name:?}, a required input; not given"),
            )
        })
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

/// The outputs a loss gives besides the loss, by name (PyTorch's names: `output`,
/// `log_prob`, `predict` of `AdaptiveLogSoftmaxWithLoss`).
pub type Extras = BTreeMap<&'static str, AnyTensor>;

/// A loss built by name: called with its inputs by name.
pub trait DynLoss {
    /// The loss, reduced as configured; with the `none` reduction the per-element (or
    /// per-sample) losses in PyTorch's shape.
    fn forward(&self, inputs: &mut Inputs) -> LossResult<AnyTensor>;

    /// The loss and the other outputs of a loss that has more (a module whose forward returns
    /// several, or whose methods give more), by name; none for most losses.
    fn forward_outputs(&self, inputs: &mut Inputs) -> LossResult<(AnyTensor, Extras)> {
        Ok((self.forward(inputs)?, Extras::new()))
    }
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

impl DynLoss for MultilabelMarginLoss {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        const NAME: &str = "multilabel_margin_loss";
        match (i.take(NAME, "input")?, i.take(NAME, "target")?) {
            (AnyTensor::F2(x), AnyTensor::I2(y)) => out!(self, AnyTensor::F1, x, y),
            // One sample [C]: as a batch of one.
            (AnyTensor::F1(x), AnyTensor::I1(y)) => {
                let (c, cy) = (x.dims()[0], y.dims()[0]);
                out!(self, AnyTensor::F1, x.reshape([1, c]), y.reshape([1, cy]))
            }
            (x, y) => Err(mismatch(NAME, &[("input", &x), ("target", &y)])),
        }
    }
}

impl DynLoss for TripletMarginWithDistanceLoss {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        const NAME: &str = "triplet_margin_with_distance_loss";
        let (a, p, n) = (
            i.take(NAME, "anchor")?,
            i.take(NAME, "positive")?,
            i.take(NAME, "negative")?,
        );
        use AnyTensor::*;
        match (a, p, n) {
            (F2(a), F2(p), F2(n)) => out!(self, F1, a, p, n),
            // One triplet [D]: as a batch of one.
            (F1(a), F1(p), F1(n)) => {
                let row = |t: Tensor<1>| {
                    let d = t.dims()[0];
                    t.reshape([1, d])
                };
                out!(self, F1, row(a), row(p), row(n))
            }
            (a, p, n) => Err(mismatch(
                NAME,
                &[("anchor", &a), ("positive", &p), ("negative", &n)],
            )),
        }
    }
}

impl DynLoss for CtcLoss {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        const NAME: &str = "ctc_loss";
        let (lp, y, il, tl) = (
            i.take(NAME, "log_probs")?,
            i.take(NAME, "targets")?,
            i.take(NAME, "input_lengths")?,
            i.take(NAME, "target_lengths")?,
        );
        use AnyTensor::*;
        match (lp, y, il, tl) {
            (F3(lp), I2(y), I1(il), I1(tl)) => self.try_forward(lp, y, il, tl).map(F1),
            (F3(lp), I1(y), I1(il), I1(tl)) => self.try_forward_concatenated(lp, y, il, tl).map(F1),
            (F2(lp), I1(y), I1(il), I1(tl)) => self.try_forward_unbatched(lp, y, il, tl).map(F1),
            (lp, y, il, tl) => Err(mismatch(
                NAME,
                &[
                    ("log_probs", &lp),
                    ("targets", &y),
                    ("input_lengths", &il),
                    ("target_lengths", &tl),
                ],
            )),
        }
    }
}

pair!(SparsemaxLoss, "sparsemax_loss");

/// A list `[L]` as a batch of one `[1, L]`.
fn one_row(t: Tensor<1>) -> Tensor<2> {
    let l = t.dims()[0];
    t.reshape([1, l])
}

impl DynLoss for NtXentLoss {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        const NAME: &str = "ntxent";
        match (i.take(NAME, "embeddings")?, i.take(NAME, "labels")?) {
            (AnyTensor::F2(x), AnyTensor::I1(y)) => out!(self, AnyTensor::F2, x, y),
            (x, y) => Err(mismatch(NAME, &[("embeddings", &x), ("labels", &y)])),
        }
    }
}

impl DynLoss for PolyLossCrossEntropy {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        const NAME: &str = "poly_loss_cross_entropy";
        match (i.take(NAME, "logits")?, i.take(NAME, "labels")?) {
            (AnyTensor::F2(x), AnyTensor::F2(y)) => out!(self, AnyTensor::F1, x, y),
            (AnyTensor::F1(x), AnyTensor::F1(y)) => {
                out!(self, AnyTensor::F1, one_row(x), one_row(y))
            }
            (x, y) => Err(mismatch(NAME, &[("logits", &x), ("labels", &y)])),
        }
    }
}

impl DynLoss for MulticlassSparsemaxLoss {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        const NAME: &str = "multiclass_sparsemax_loss";
        match (i.take(NAME, "scores")?, i.take(NAME, "labels")?) {
            (AnyTensor::F2(x), AnyTensor::I1(y)) => out!(self, AnyTensor::F1, x, y),
            (x, y) => Err(mismatch(NAME, &[("scores", &x), ("labels", &y)])),
        }
    }
}

impl DynLoss for DiceLoss {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        const NAME: &str = "dice_loss";
        let (x, y) = (i.take(NAME, "predictions")?, i.take(NAME, "targets")?);
        // With both reductions none, the per-class losses keep their shape [N, C'].
        let per_class =
            self.reduction == Reduction::None && self.class_reduction == Reduction::None;
        macro_rules! arm {
            ($x:ident, $y:ident) => {
                if per_class {
                    self.try_forward_per_class($x, $y).map(AnyTensor::F2)
                } else if self.reduction == Reduction::None {
                    self.try_forward_no_reduction($x, $y).map(AnyTensor::F1)
                } else {
                    self.try_forward($x, $y).map(AnyTensor::F1)
                }
            };
        }
        match (x, y) {
            (AnyTensor::F2(x), AnyTensor::F2(y)) => arm!(x, y),
            (AnyTensor::F3(x), AnyTensor::F3(y)) => arm!(x, y),
            (AnyTensor::F4(x), AnyTensor::F4(y)) => arm!(x, y),
            (x, y) => Err(mismatch(NAME, &[("predictions", &x), ("targets", &y)])),
        }
    }
}

impl DynLoss for RankingSoftmaxLoss {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        const NAME: &str = "ranking_softmax_loss";
        let (s, y) = (i.take(NAME, "logits")?, i.take(NAME, "labels")?);
        let (s, y) = match (s, y) {
            (AnyTensor::F2(s), AnyTensor::F2(y)) => (s, y),
            (AnyTensor::F1(s), AnyTensor::F1(y)) => (one_row(s), one_row(y)),
            (s, y) => return Err(mismatch(NAME, &[("logits", &s), ("labels", &y)])),
        };
        let [n, l] = s.dims();
        let as_rows = |t: AnyTensor, arg: &'static str| -> LossResult<Tensor<2>> {
            match t {
                AnyTensor::F2(t) => Ok(t),
                AnyTensor::F1(t) => Ok(one_row(t)),
                AnyTensor::I2(t) => Ok(t.float()),
                AnyTensor::I1(t) => Ok(one_row(t.float())),
                other => Err(LossError::new(
                    NAME,
                    arg,
                    format!(
                        "must be a tensor of the logits' shape [{n}, {l}]; got a {}",
                        other.describe()
                    ),
                )),
            }
        };
        // `where`: any non-zero value marks a valid item, as JAX's truthiness.
        let mask = match i.get("where").is_some() {
            true => Some(as_rows(i.take(NAME, "where")?, "where")?.not_equal_elem(0.0)),
            false => None,
        };
        let weights = match i.get("weights").is_some() {
            true => Some(as_rows(i.take(NAME, "weights")?, "weights")?),
            false => None,
        };
        if self.reduction == Reduction::None {
            self.try_forward_masked_no_reduction(s, y, mask, weights)
                .map(AnyTensor::F1)
        } else {
            self.try_forward_masked(s, y, mask, weights)
                .map(AnyTensor::F1)
        }
    }
}

/// `dice_loss`: Optax's options, its `reduction` over the classes as `class_reduction`
/// (`mean`, `sum`, `none`); `reduction` is descent's, over the batch.
fn dice(o: &mut Options) -> LossResult<Box<dyn DynLoss>> {
    let mut c = DiceLossConfig::new();
    o.set("class_weights", &mut c.class_weights)?;
    o.set("smooth", &mut c.smooth)?;
    o.set("alpha", &mut c.alpha)?;
    o.set("beta", &mut c.beta)?;
    o.set("apply_softmax", &mut c.apply_softmax)?;
    o.set("ignore_background", &mut c.ignore_background)?;
    let class = o.choice("class_reduction", &["mean", "sum", "none"])?;
    c.class_reduction = [Reduction::Mean, Reduction::Sum, Reduction::None][class];
    c.reduction = reduction(o)?;
    o.set("settings", &mut c.settings)?;
    Ok(Box::new(c.try_init()?))
}

/// `triplet_margin_with_distance_loss`: the named distance of `distance_function`
/// (`pairwise`, PyTorch's default, or `cosine`).
fn triplet_margin_with_distance(o: &mut Options) -> LossResult<Box<dyn DynLoss>> {
    let mut c = TripletMarginWithDistanceLossConfig::new();
    let distance = o.choice("distance_function", &["pairwise", "cosine"])?;
    c.distance_function = [Distance::Pairwise, Distance::Cosine][distance];
    o.set("margin", &mut c.margin)?;
    o.set("swap", &mut c.swap)?;
    c.reduction = reduction(o)?;
    o.set("settings", &mut c.settings)?;
    Ok(Box::new(c.try_init()?))
}

const ADAPTIVE: &str = "adaptive_log_softmax_with_loss";

/// `nn.AdaptiveLogSoftmaxWithLoss` by name: its weights are inputs under PyTorch's parameter
/// names (`head.weight` `[out, in]`, `head.bias`, `tail.{i}.0.weight`, `tail.{i}.1.weight`);
/// the loss is the mean loss, the extras its `output` (`target_log_prob`), `log_prob` and
/// `predict`.
struct AdaptiveByName {
    layout: AdaptiveLayout,
    head_bias: bool,
}

fn adaptive_log_softmax_with_loss(o: &mut Options) -> LossResult<Box<dyn DynLoss>> {
    let in_features: usize = o.required("in_features")?;
    let n_classes: usize = o.required("n_classes")?;
    let cutoffs: Vec<f64> = o.required("cutoffs")?;
    if let Some(c) = cutoffs
        .iter()
        .find(|c| c.fract() != 0.0 || **c < 1.0 || !c.is_finite())
    {
        return Err(LossError::new(
            ADAPTIVE,
            "cutoffs",
            format!("must be positive integers; got {c} in {cutoffs:?}"),
        ));
    }
    let mut c = AdaptiveLogSoftmaxWithLossConfig::new(
        in_features,
        n_classes,
        cutoffs.iter().map(|c| *c as usize).collect(),
    );
    o.set("div_value", &mut c.div_value)?;
    o.set("head_bias", &mut c.head_bias)?;
    Ok(Box::new(AdaptiveByName {
        layout: c.try_layout()?,
        head_bias: c.head_bias,
    }))
}

impl AdaptiveByName {
    /// The weight `name`, `[out, in]` as PyTorch stores it, in Burn's `[in, out]`.
    fn weight(i: &mut Inputs, name: &str, dims: [usize; 2]) -> LossResult<Tensor<2>> {
        match i.take_str(ADAPTIVE, name)? {
            AnyTensor::F2(w) if w.dims() == dims => Ok(w.transpose()),
            other => Err(LossError::new(
                ADAPTIVE,
                "inputs",
                format!(
                    "{name:?} must be a float tensor of shape {dims:?} ([out, in]); got a {} \
                     {}",
                    other.describe(),
                    match &other {
                        AnyTensor::F2(w) => format!("{:?}", w.dims()),
                        _ => String::new(),
                    }
                ),
            )),
        }
    }

    /// The weights, the input as a batch and whether it was one sample.
    fn read(
        &self,
        i: &mut Inputs,
    ) -> LossResult<(AdaptiveWeights<'_>, Tensor<2>, Tensor<1, Int>, bool)> {
        let l = &self.layout;
        let (x, y) = (i.take(ADAPTIVE, "input")?, i.take(ADAPTIVE, "target")?);
        let (x, y, single) = match (x, y) {
            (AnyTensor::F2(x), AnyTensor::I1(y)) => (x, y, false),
            (AnyTensor::F1(x), AnyTensor::I1(y)) if y.dims() == [1] => {
                let d = x.dims()[0];
                (x.reshape([1, d]), y, true)
            }
            (x, y) => return Err(mismatch(ADAPTIVE, &[("input", &x), ("target", &y)])),
        };
        let head = Self::weight(i, "head.weight", [l.head_size(), l.in_features])?;
        let head_bias = if self.head_bias {
            match i.take(ADAPTIVE, "head.bias")? {
                AnyTensor::F1(b) if b.dims() == [l.head_size()] => Some(b),
                other => {
                    return Err(LossError::new(
                        ADAPTIVE,
                        "head.bias",
                        format!(
                            "must be a float tensor of shape [{}]; got a {}",
                            l.head_size(),
                            other.describe()
                        ),
                    ));
                }
            }
        } else {
            None
        };
        let mut tails = Vec::with_capacity(l.clusters.len());
        for (k, &(_, hsz, osz)) in l.clusters.iter().enumerate() {
            let projection = Self::weight(i, &format!("tail.{k}.0.weight"), [hsz, l.in_features])?;
            let output = Self::weight(i, &format!("tail.{k}.1.weight"), [osz, hsz])?;
            tails.push((hsz > 0).then_some((projection, output)));
        }
        let weights = AdaptiveWeights {
            layout: l,
            head,
            head_bias,
            tails,
        };
        Ok((weights, x, y, single))
    }
}

impl DynLoss for AdaptiveByName {
    fn forward(&self, i: &mut Inputs) -> LossResult<AnyTensor> {
        let (weights, x, y, _) = self.read(i)?;
        Ok(AnyTensor::F1(weights.forward(x, y)?.loss))
    }

    fn forward_outputs(&self, i: &mut Inputs) -> LossResult<(AnyTensor, Extras)> {
        let (weights, x, y, single) = self.read(i)?;
        let out = weights.forward(x.clone(), y)?;
        let log_prob = weights.log_prob(x.clone())?;
        let log_prob = if single {
            AnyTensor::F1(log_prob.reshape([self.layout.n_classes]))
        } else {
            AnyTensor::F2(log_prob)
        };
        let extras = Extras::from([
            ("target_log_prob", AnyTensor::F1(out.output)),
            ("log_prob", log_prob),
            ("predict", AnyTensor::I1(weights.predict(x)?)),
        ]);
        Ok((AnyTensor::F1(out.loss), extras))
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
/// `reduction` and `settings` options are always read), or `name => custom(builder)` for a
/// loss whose options need more than setting fields.
macro_rules! losses {
    (@table [$($out:tt)*]) => {
        /// Every loss, by name, with the builder from its options.
        pub const LOSSES: &[(&str, Builder)] = &[$($out)*];
    };
    (@table [$($out:tt)*] $name:literal => custom($build:path); $($rest:tt)*) => {
        losses!(@table [$($out)* ($name, $build),] $($rest)*);
    };
    (@table [$($out:tt)*] $name:literal => $config:ident . $init:ident, [$($field:ident),*]; $($rest:tt)*) => {
        losses!(@table [$($out)* ($name, |o| {
            let mut c = $config::new();
            $( o.set(stringify!($field), &mut c.$field)?; )*
            c.reduction = reduction(o)?;
            o.set("settings", &mut c.settings)?;
            Ok(Box::new(c.$init()?))
        }),] $($rest)*);
    };
    ($($line:tt)*) => {
        losses!(@table [] $($line)*);
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
    "multilabel_margin_loss" => MultilabelMarginLossConfig.try_init, [];
    "triplet_margin_with_distance_loss" => custom(triplet_margin_with_distance);
    "ctc_loss" => CtcLossConfig.try_init, [blank, zero_infinity];
    "adaptive_log_softmax_with_loss" => custom(adaptive_log_softmax_with_loss);
    "ntxent" => NtXentLossConfig.try_init, [temperature];
    "poly_loss_cross_entropy" => PolyLossCrossEntropyConfig.try_init, [epsilon];
    "dice_loss" => custom(dice);
    "sparsemax_loss" => SparsemaxLossConfig.try_init, [];
    "multiclass_sparsemax_loss" => SparsemaxLossConfig.try_init_multiclass, [];
    "ranking_softmax_loss" => RankingSoftmaxLossConfig.try_init, [];
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
