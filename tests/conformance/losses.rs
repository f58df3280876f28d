//! Replays `kind: "loss"` cases: builds the loss from its options, runs it on the device,
//! and compares the output and the gradient of `sum(output)` with the references.

use std::collections::{BTreeMap, BTreeSet};

use burn::tensor::{Device, Tensor};
use descent::losses::*;
use serde_json::Value;

use crate::golden::{Case, Dyn, GoldenTensor, Options, compare};

struct Inputs {
    map: BTreeMap<String, Dyn>,
    read: BTreeSet<String>,
}

impl Inputs {
    fn take(&mut self, name: &str) -> Result<Dyn, String> {
        self.read.insert(name.to_string());
        self.map
            .get(name)
            .cloned()
            .ok_or_else(|| format!("missing input {name:?}"))
    }
}

fn e(err: LossError) -> String {
    err.to_string()
}

/// Output of a configured loss: `forward` for mean/sum/batchmean, `forward_no_reduction` for none.
macro_rules! pair {
    ($loss:expr, $red:expr, $inputs:expr) => {{
        let loss = $loss.map_err(e)?;
        let (x, y) = ($inputs.take("input")?, $inputs.take("target")?);
        match (x, y) {
            (Dyn::F1(x), Dyn::F1(y)) => out($red, loss.try_forward(x.clone(), y.clone()), || {
                loss.try_forward_no_reduction(x, y).map(Dyn::F1)
            }),
            (Dyn::F2(x), Dyn::F2(y)) => out($red, loss.try_forward(x.clone(), y.clone()), || {
                loss.try_forward_no_reduction(x, y).map(Dyn::F2)
            }),
            (Dyn::F3(x), Dyn::F3(y)) => out($red, loss.try_forward(x.clone(), y.clone()), || {
                loss.try_forward_no_reduction(x, y).map(Dyn::F3)
            }),
            (Dyn::F4(x), Dyn::F4(y)) => out($red, loss.try_forward(x.clone(), y.clone()), || {
                loss.try_forward_no_reduction(x, y).map(Dyn::F4)
            }),
            (x, y) => Err(format!(
                "input rank {} / target rank {} not supported",
                x.rank(),
                y.rank()
            )),
        }
    }};
}

/// Class losses of logits `[N, C, ...]` and integer targets `[N, ...]`.
macro_rules! classes {
    ($loss:expr, $red:expr, $inputs:expr) => {{
        let loss = $loss.map_err(e)?;
        let (x, y) = ($inputs.take("input")?, $inputs.take("target")?);
        match (x, y) {
            (Dyn::F2(x), Dyn::I1(y)) => out($red, loss.try_forward(x.clone(), y.clone()), || {
                loss.try_forward_no_reduction(x, y).map(Dyn::F1)
            }),
            (Dyn::F3(x), Dyn::I2(y)) => out($red, loss.try_forward(x.clone(), y.clone()), || {
                loss.try_forward_no_reduction(x, y).map(Dyn::F2)
            }),
            (Dyn::F4(x), Dyn::I3(y)) => out($red, loss.try_forward(x.clone(), y.clone()), || {
                loss.try_forward_no_reduction(x, y).map(Dyn::F3)
            }),
            (x, y) => Err(format!(
                "input rank {} / target rank {} not supported",
                x.rank(),
                y.rank()
            )),
        }
    }};
}

fn out(
    reduction: Reduction,
    reduced: LossResult<Tensor<1>>,
    unreduced: impl FnOnce() -> LossResult<Dyn>,
) -> Result<Dyn, String> {
    if reduction == Reduction::None {
        unreduced().map_err(e)
    } else {
        reduced.map(Dyn::F1).map_err(e)
    }
}

fn f2(d: Dyn, name: &str) -> Result<Tensor<2>, String> {
    match d {
        Dyn::F2(t) => Ok(t),
        other => Err(format!(
            "{name}: expected a float [N, C] tensor, got rank {}",
            other.rank()
        )),
    }
}

fn f1(d: Dyn, name: &str) -> Result<Tensor<1>, String> {
    match d {
        Dyn::F1(t) => Ok(t),
        other => Err(format!(
            "{name}: expected a float [N] tensor, got rank {}",
            other.rank()
        )),
    }
}

fn i1(d: Dyn, name: &str) -> Result<Tensor<1, burn::tensor::Int>, String> {
    match d {
        Dyn::I1(t) => Ok(t),
        other => Err(format!(
            "{name}: expected an int [N] tensor, got rank {}",
            other.rank()
        )),
    }
}

/// Runs the loss named by the case; returns its output.
fn run(name: &str, o: &mut Options, i: &mut Inputs) -> Result<Dyn, String> {
    let red = o.reduction()?;
    match name {
        "mse_loss" => pair!(MseLossConfig::new().with_reduction(red).init(), red, i),
        "l1_loss" => pair!(L1LossConfig::new().with_reduction(red).init(), red, i),
        "huber_loss" => pair!(
            HuberLossConfig::new()
                .with_delta(o.f64("delta", 1.0)?)
                .with_reduction(red)
                .init(),
            red,
            i
        ),
        "smooth_l1_loss" => pair!(
            SmoothL1LossConfig::new()
                .with_beta(o.f64("beta", 1.0)?)
                .with_reduction(red)
                .init(),
            red,
            i
        ),
        "log_cosh" => pair!(LogCoshLossConfig::new().with_reduction(red).init(), red, i),
        "quantile" => pair!(
            QuantileLossConfig::new()
                .with_q(o.f64("q", 0.5)?)
                .with_reduction(red)
                .init(),
            red,
            i
        ),
        "poisson_nll_loss" => pair!(
            PoissonNllLossConfig::new()
                .with_log_input(o.bool("log_input", true)?)
                .with_full(o.bool("full", false)?)
                .with_eps(o.f64("eps", 1e-8)?)
                .with_reduction(red)
                .init(),
            red,
            i
        ),
        "gaussian_nll_loss" => {
            let loss = GaussianNllLossConfig::new()
                .with_full(o.bool("full", false)?)
                .with_eps(o.f64("eps", 1e-6)?)
                .with_reduction(red)
                .init()
                .map_err(e)?;
            let (x, y, v) = (i.take("input")?, i.take("target")?, i.take("var")?);
            macro_rules! gnll {
                ($x:expr, $y:expr, $v:expr, $wrap:path) => {
                    out(
                        red,
                        loss.try_forward($x.clone(), $y.clone(), $v.clone()),
                        || loss.try_forward_no_reduction($x, $y, $v).map($wrap),
                    )
                };
            }
            match (x, y, v) {
                (Dyn::F1(x), Dyn::F1(y), Dyn::F1(v)) => gnll!(x, y, v, Dyn::F1),
                (Dyn::F2(x), Dyn::F2(y), Dyn::F2(v)) => gnll!(x, y, v, Dyn::F2),
                (Dyn::F2(x), Dyn::F2(y), Dyn::F1(v)) => gnll!(x, y, v, Dyn::F2),
                (Dyn::F3(x), Dyn::F3(y), Dyn::F3(v)) => gnll!(x, y, v, Dyn::F3),
                (Dyn::F3(x), Dyn::F3(y), Dyn::F2(v)) => gnll!(x, y, v, Dyn::F3),
                (x, _, v) => Err(format!(
                    "input rank {} / var rank {} not supported",
                    x.rank(),
                    v.rank()
                )),
            }
        }
        "binary_cross_entropy" => pair!(
            BinaryCrossEntropyLossConfig::new()
                .with_weight(o.vec("weight")?)
                .with_reduction(red)
                .init(),
            red,
            i
        ),
        "binary_cross_entropy_with_logits" => pair!(
            BinaryCrossEntropyWithLogitsLossConfig::new()
                .with_weight(o.vec("weight")?)
                .with_pos_weight(o.vec("pos_weight")?)
                .with_reduction(red)
                .init(),
            red,
            i
        ),
        "sigmoid_focal_loss" => pair!(
            SigmoidFocalLossConfig::new()
                .with_alpha(o.f64("alpha", 0.25)?)
                .with_gamma(o.f64("gamma", 2.0)?)
                .with_reduction(red)
                .init(),
            red,
            i
        ),
        "hinge" => pair!(
            HingeLossConfig::new()
                .with_margin(o.f64("margin", 1.0)?)
                .with_reduction(red)
                .init(),
            red,
            i
        ),
        "squared_hinge" => pair!(
            HingeLossConfig::new()
                .with_margin(o.f64("margin", 1.0)?)
                .with_reduction(red)
                .init_squared(),
            red,
            i
        ),
        "soft_margin_loss" => pair!(
            SoftMarginLossConfig::new().with_reduction(red).init(),
            red,
            i
        ),
        "hinge_embedding_loss" => pair!(
            HingeEmbeddingLossConfig::new()
                .with_margin(o.f64("margin", 1.0)?)
                .with_reduction(red)
                .init(),
            red,
            i
        ),
        "kl_div" => pair!(
            KlDivLossConfig::new()
                .with_log_target(o.bool("log_target", false)?)
                .with_reduction(red)
                .init(),
            red,
            i
        ),
        "cross_entropy" => {
            let loss = CrossEntropyLossConfig::new()
                .with_weight(o.vec("weight")?)
                .with_ignore_index(o.i64("ignore_index", -100)?)
                .with_label_smoothing(o.f64("label_smoothing", 0.0)?)
                .with_reduction(red)
                .init();
            let probs = matches!(&i.map.get("target"), Some(t) if matches!(t, Dyn::F1(_) | Dyn::F2(_) | Dyn::F3(_) | Dyn::F4(_)));
            if !probs {
                return classes!(loss, red, i);
            }
            let loss = loss.map_err(e)?;
            match (i.take("input")?, i.take("target")?) {
                (Dyn::F2(x), Dyn::F2(y)) => {
                    out(red, loss.try_forward_probs(x.clone(), y.clone()), || {
                        loss.try_forward_probs_no_reduction::<2, 1>(x, y)
                            .map(Dyn::F1)
                    })
                }
                (Dyn::F3(x), Dyn::F3(y)) => {
                    out(red, loss.try_forward_probs(x.clone(), y.clone()), || {
                        loss.try_forward_probs_no_reduction::<3, 2>(x, y)
                            .map(Dyn::F2)
                    })
                }
                (Dyn::F4(x), Dyn::F4(y)) => {
                    out(red, loss.try_forward_probs(x.clone(), y.clone()), || {
                        loss.try_forward_probs_no_reduction::<4, 3>(x, y)
                            .map(Dyn::F3)
                    })
                }
                (x, y) => Err(format!(
                    "input rank {} / probability target rank {} not supported",
                    x.rank(),
                    y.rank()
                )),
            }
        }
        "nll_loss" => classes!(
            NllLossConfig::new()
                .with_weight(o.vec("weight")?)
                .with_ignore_index(o.i64("ignore_index", -100)?)
                .with_reduction(red)
                .init(),
            red,
            i
        ),
        "softmax_focal_loss" => classes!(
            SoftmaxFocalLossConfig::new()
                .with_gamma(o.f64("gamma", 2.0)?)
                .with_alpha(o.vec("alpha")?)
                .with_reduction(red)
                .init(),
            red,
            i
        ),
        "categorical_cross_entropy" => {
            let loss = CategoricalCrossEntropyLossConfig::new()
                .with_reduction(red)
                .init()
                .map_err(e)?;
            let (x, y) = (
                f2(i.take("input")?, "input")?,
                f2(i.take("target")?, "target")?,
            );
            out(red, loss.try_forward(x.clone(), y.clone()), || {
                loss.try_forward_no_reduction(x, y).map(Dyn::F1)
            })
        }
        "sparse_categorical_cross_entropy" => {
            let loss = CategoricalCrossEntropyLossConfig::new()
                .with_reduction(red)
                .init_sparse()
                .map_err(e)?;
            let (x, y) = (
                f2(i.take("input")?, "input")?,
                i1(i.take("target")?, "target")?,
            );
            out(red, loss.try_forward(x.clone(), y.clone()), || {
                loss.try_forward_no_reduction(x, y).map(Dyn::F1)
            })
        }
        "multi_margin_loss" => {
            let p = o.i64("p", 1)?;
            let loss = MultiMarginLossConfig::new()
                .with_p(u32::try_from(p).map_err(|_| format!("p = {p}"))?)
                .with_margin(o.f64("margin", 1.0)?)
                .with_weight(o.vec("weight")?)
                .with_reduction(red)
                .init()
                .map_err(e)?;
            let (x, y) = (
                f2(i.take("input")?, "input")?,
                i1(i.take("target")?, "target")?,
            );
            out(red, loss.try_forward(x.clone(), y.clone()), || {
                loss.try_forward_no_reduction(x, y).map(Dyn::F1)
            })
        }
        "multilabel_soft_margin_loss" => {
            let loss = MultilabelSoftMarginLossConfig::new()
                .with_weight(o.vec("weight")?)
                .with_reduction(red)
                .init()
                .map_err(e)?;
            let (x, y) = (
                f2(i.take("input")?, "input")?,
                f2(i.take("target")?, "target")?,
            );
            out(red, loss.try_forward(x.clone(), y.clone()), || {
                loss.try_forward_no_reduction(x, y).map(Dyn::F1)
            })
        }
        "margin_ranking_loss" => {
            let loss = MarginRankingLossConfig::new()
                .with_margin(o.f64("margin", 0.0)?)
                .with_reduction(red)
                .init()
                .map_err(e)?;
            match (i.take("input1")?, i.take("input2")?, i.take("target")?) {
                (Dyn::F1(a), Dyn::F1(b), Dyn::F1(y)) => out(
                    red,
                    loss.try_forward(a.clone(), b.clone(), y.clone()),
                    || loss.try_forward_no_reduction(a, b, y).map(Dyn::F1),
                ),
                (Dyn::F2(a), Dyn::F2(b), Dyn::F2(y)) => out(
                    red,
                    loss.try_forward(a.clone(), b.clone(), y.clone()),
                    || loss.try_forward_no_reduction(a, b, y).map(Dyn::F2),
                ),
                (a, _, y) => Err(format!(
                    "input rank {} / target rank {} not supported",
                    a.rank(),
                    y.rank()
                )),
            }
        }
        "cosine_embedding_loss" => {
            let loss = CosineEmbeddingLossConfig::new()
                .with_margin(o.f64("margin", 0.0)?)
                .with_reduction(red)
                .init()
                .map_err(e)?;
            let (a, b) = (
                f2(i.take("input1")?, "input1")?,
                f2(i.take("input2")?, "input2")?,
            );
            let y = f1(i.take("target")?, "target")?;
            out(
                red,
                loss.try_forward(a.clone(), b.clone(), y.clone()),
                || loss.try_forward_no_reduction(a, b, y).map(Dyn::F1),
            )
        }
        "triplet_margin_loss" => {
            let loss = TripletMarginLossConfig::new()
                .with_margin(o.f64("margin", 1.0)?)
                .with_p(o.f64("p", 2.0)?)
                .with_eps(o.f64("eps", 1e-6)?)
                .with_swap(o.bool("swap", false)?)
                .with_reduction(red)
                .init()
                .map_err(e)?;
            let a = f2(i.take("anchor")?, "anchor")?;
            let (p, n) = (
                f2(i.take("positive")?, "positive")?,
                f2(i.take("negative")?, "negative")?,
            );
            out(
                red,
                loss.try_forward(a.clone(), p.clone(), n.clone()),
                || loss.try_forward_no_reduction(a, p, n).map(Dyn::F1),
            )
        }
        other => Err(format!("unknown loss {other:?}")),
    }
}

/// Replays one loss case on `device` (an autodiff device).
pub fn replay(case: &Case, device: &Device) -> Result<(), String> {
    let loss: String = case.field("loss")?;
    let options: BTreeMap<String, Value> = case.optional("options")?.unwrap_or_default();
    let inputs: BTreeMap<String, GoldenTensor> = case.field("inputs")?;
    let output: GoldenTensor = case.field("output")?;
    let grads: BTreeMap<String, GoldenTensor> = case.optional("grad")?.unwrap_or_default();
    let rtol: f64 = case.field("rtol")?;
    let atol: f64 = case.field("atol")?;
    for key in case.fields.keys() {
        if ![
            "loss", "options", "inputs", "output", "grad", "rtol", "atol",
        ]
        .contains(&key.as_str())
        {
            return Err(format!("unknown case field {key:?}"));
        }
    }
    for name in grads.keys() {
        if !inputs.contains_key(name) {
            return Err(format!("grad for {name:?}, which is no input"));
        }
    }
    let mut map = BTreeMap::new();
    for (name, t) in &inputs {
        map.insert(name.clone(), Dyn::new(t, device, grads.contains_key(name))?);
    }
    let mut inputs = Inputs {
        map,
        read: BTreeSet::new(),
    };
    let mut options = Options::new(&loss, options);
    let result = run(&loss, &mut options, &mut inputs)?;
    options.finish()?;
    let unused: Vec<_> = inputs
        .map
        .keys()
        .filter(|k| !inputs.read.contains(*k))
        .collect();
    if !unused.is_empty() {
        return Err(format!("{loss}: unknown input(s) {unused:?}"));
    }
    compare("output", result.read(), &output, rtol, atol)?;
    if grads.is_empty() {
        return Ok(());
    }
    let gradients = result.sum().backward();
    for (name, expected) in &grads {
        let leaf = &inputs.map[name];
        let grad = leaf
            .grad(&gradients)
            .ok_or_else(|| format!("no gradient reached input {name:?}"))?;
        compare(&format!("grad[{name}]"), grad.read(), expected, rtol, atol)?;
    }
    Ok(())
}
