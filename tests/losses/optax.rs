//! Optax's losses (issue 14): NT-Xent, poly-1 cross-entropy, Dice, the sparsemax losses and
//! the softmax ranking loss, against their formulas written out here in f64 (and the values
//! of Optax 0.2.8's docs and tests), autodiff gradients against central differences of those
//! f64 references, properties, and the errors bad input gets.

use crate::devices::every_device;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use descent::losses::registry::{self, AnyTensor, Inputs};
use descent::losses::*;
use serde_json::json;

use crate::messages::assert_mentions;

/// Set to `true` to see every check of this file fail (each expectation is skewed by 1% and
/// each error must mention a word it does not); the tests must be able to fail.
const MUTATE: bool = false;

fn flex() -> Device {
    descent::device::device("flex").expect("flex starts")
}

fn tensor<const D: usize>(flat: &[f64], shape: [usize; D], d: &Device) -> Tensor<D> {
    let data: Vec<f32> = flat.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(data, shape), d)
}

fn ints(v: &[i64], d: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), d)
}

fn bools(v: &[bool], shape: [usize; 2], d: &Device) -> Tensor<2, Bool> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), d)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.to_data().iter::<f64>().collect()
}

fn scalar(t: Tensor<1>) -> f64 {
    assert_eq!(t.dims(), [1], "a reduced loss is one number");
    values(t)[0]
}

/// `got` within `tol` (relative, absolute below 1) of `want`.
fn close(got: f64, want: f64, tol: f64, what: &str) {
    let want = if MUTATE { want * 1.01 + 0.01 } else { want };
    assert!(
        (got - want).abs() <= tol * (1.0 + want.abs()),
        "{what}: got {got}, want {want}"
    );
}

fn all_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        close(*g, *w, tol, &format!("{what}[{k}]"));
    }
}

/// The error names the loss, the argument and each of `parts`.
fn error_mentions<T>(r: LossResult<T>, loss: &str, argument: &str, parts: &[&str]) {
    let Err(e) = r else {
        panic!("{loss}: expected an error of {argument}")
    };
    assert_eq!((e.loss, e.argument), (loss, argument), "{e}");
    let mut parts = parts.to_vec();
    if MUTATE {
        parts.push("a word no message has");
    }
    assert_mentions(&e.to_string(), &parts);
}

/// The autodiff gradient of `loss` at `x` (shape `shape`) against central differences of the
/// f64 reference `reference` (step 1e-6), within `tol` relative.
fn check_gradient<const D: usize>(
    x: &[f64],
    shape: [usize; D],
    loss: impl Fn(Tensor<D>) -> Tensor<1>,
    reference: impl Fn(&[f64]) -> f64,
    tol: f64,
    what: &str,
) {
    let ad = flex().autodiff();
    let leaf = tensor(x, shape, &ad).require_grad();
    let l = loss(leaf.clone());
    let grad = values(leaf.grad(&l.backward()).expect("a gradient"));
    let h = 1e-6;
    let fd: Vec<f64> = (0..x.len())
        .map(|k| {
            let (mut up, mut down) = (x.to_vec(), x.to_vec());
            up[k] += h;
            down[k] -= h;
            (reference(&up) - reference(&down)) / (2.0 * h)
        })
        .collect();
    all_close(
        &grad,
        &fd,
        tol,
        &format!("{what}: autodiff vs finite differences"),
    );
}

fn lse(v: &[f64]) -> f64 {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

// ---------------------------------------------------------------------------------------
// NT-Xent

/// Optax's `ntxent` written out: per-pair losses `[N·N]` and the number of positive pairs.
fn ntxent_pairs(x: &[f64], n: usize, labels: &[i64], tau: f64) -> (Vec<f64>, usize) {
    let d = x.len() / n;
    let eps = f32::EPSILON as f64;
    let unit: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let row = &x[i * d..(i + 1) * d];
            let norm = row.iter().map(|v| v * v).sum::<f64>().max(eps).sqrt();
            row.iter().map(|v| v / norm).collect()
        })
        .collect();
    let s = |i: usize, j: usize| -> f64 {
        unit[i]
            .iter()
            .zip(&unit[j])
            .map(|(a, b)| a * b)
            .sum::<f64>()
            / tau
    };
    let mut loss = vec![0.0; n * n];
    let mut count = 0;
    for i in 0..n {
        for j in 0..n {
            if i == j || labels[i] != labels[j] {
                continue;
            }
            let negatives: f64 = (0..n)
                .filter(|&k| labels[k] != labels[i])
                .map(|k| s(i, k).exp())
                .sum();
            loss[i * n + j] = -(s(i, j).exp() / (s(i, j).exp() + negatives)).ln();
            count += 1;
        }
    }
    (loss, count)
}

fn ntxent_ref(x: &[f64], n: usize, labels: &[i64], tau: f64) -> f64 {
    let (loss, count) = ntxent_pairs(x, n, labels, tau);
    loss.iter().sum::<f64>() / count as f64
}

/// Optax 0.2.8's test data (`_self_supervised_test.py`) and expected values.
const YS: [f64; 8] = [
    -1.9540, 1.0780, 0.2380, -0.5703, 1.8745, -0.0195, -0.6719, -1.9210,
];
const YS_2: [f64; 8] = [0.0, 0.0, 0.2380, -0.5703, 1.8745, -0.0195, -0.6719, -1.9210];

/// Five 3-dimensional embeddings in three groups.
const EMB: [f64; 15] = [
    0.3, -1.2, 0.8, 1.1, 0.4, -0.7, 0.5, -0.9, 1.3, -0.6, 0.2, 0.9, 0.9, 0.7, -0.2,
];
const EMB_LABELS: [i64; 5] = [0, 1, 0, 2, 1];

#[test]
fn ntxent_matches_optax_and_the_formula() {
    let d = flex();
    let tau = 0.07;
    for (x, labels, optax) in [
        (&YS, [0, 0, 1, 1], 14.01032),
        (&YS, [0, 0, 0, 1], 8.968544),
        (&YS_2, [0, 0, 1, 1], 9.2889),
    ] {
        // The reference reproduces Optax's published values...
        close(
            ntxent_ref(x, 4, &labels, tau),
            optax,
            1e-5,
            "f64 reference vs Optax",
        );
        // ...and the loss the reference.
        let loss = ntxent(
            tensor(x, [4, 2], &d),
            ints(&labels, &d),
            tau,
            Reduction::Mean,
        );
        close(scalar(loss), optax, 2e-5, "ntxent vs Optax's test value");
    }
    // Optax's docstring: one-dimensional embeddings are all parallel, every pair scores ln 3.
    let doc = [0.08969027, 1.6291292, 0.8622629, 0.13612625];
    let loss = ntxent(
        tensor(&doc, [4, 1], &d),
        ints(&[0, 0, 1, 1], &d),
        0.07,
        Reduction::Mean,
    );
    close(scalar(loss), 1.0986123, 1e-6, "Optax's docstring example");

    // Three groups, temperature 0.5: mean over the positive pairs, their sum, and the pairs.
    let (pairs, count) = ntxent_pairs(&EMB, 5, &EMB_LABELS, 0.5);
    assert_eq!(count, 4);
    let x = || tensor(&EMB, [5, 3], &d);
    let y = || ints(&EMB_LABELS, &d);
    let config = NtXentLossConfig::new().with_temperature(0.5);
    let mean = config.clone().init().forward(x(), y());
    close(scalar(mean), pairs.iter().sum::<f64>() / 4.0, 1e-5, "mean");
    let sum = config
        .clone()
        .with_reduction(Reduction::Sum)
        .init()
        .forward(x(), y());
    close(scalar(sum), pairs.iter().sum::<f64>(), 1e-5, "sum");
    let none = config.init().forward_no_reduction(x(), y());
    assert_eq!(none.dims(), [5, 5]);
    all_close(&values(none), &pairs, 1e-5, "per-pair losses");
}

#[test]
fn ntxent_gradients_match_central_differences() {
    for tau in [0.5, 0.1] {
        check_gradient(
            &EMB,
            [5, 3],
            |x| {
                let y = ints(&EMB_LABELS, &x.device());
                ntxent(x, y, tau, Reduction::Mean)
            },
            |x| ntxent_ref(x, 5, &EMB_LABELS, tau),
            2e-3,
            &format!("ntxent tau {tau}"),
        );
    }
}

#[test]
fn ntxent_properties() {
    let d = flex();
    // Stable at small temperatures: exp(1/τ) = exp(200) overflows f32, the loss does not.
    let tau = 0.005;
    let loss = scalar(ntxent(
        tensor(&EMB, [5, 3], &d),
        ints(&EMB_LABELS, &d),
        tau,
        Reduction::Mean,
    ));
    assert!(loss.is_finite(), "ntxent at tau {tau}: {loss}");
    close(
        loss,
        ntxent_ref(&EMB, 5, &EMB_LABELS, tau),
        1e-4,
        "ntxent at tau 0.005",
    );
    // Cosine similarity: scaling the embeddings changes nothing.
    let scaled: Vec<f64> = EMB.iter().map(|v| 7.5 * v).collect();
    let a = scalar(ntxent(
        tensor(&EMB, [5, 3], &d),
        ints(&EMB_LABELS, &d),
        0.3,
        Reduction::Mean,
    ));
    let b = scalar(ntxent(
        tensor(&scaled, [5, 3], &d),
        ints(&EMB_LABELS, &d),
        0.3,
        Reduction::Mean,
    ));
    close(a, b, 1e-5, "scale invariance");
    // One group, no negative: every positive pair costs 0 (Optax: log(e^s / e^s)).
    let one = ntxent(
        tensor(&EMB, [5, 3], &d),
        ints(&[4; 5], &d),
        0.3,
        Reduction::Mean,
    );
    close(scalar(one), 0.0, 1e-7, "no negatives");
}

#[test]
fn ntxent_errors() {
    let d = flex();
    let x = || tensor(&EMB, [5, 3], &d);
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let r = NtXentLossConfig::new().with_temperature(t).try_init();
        error_mentions(r, "ntxent", "temperature", &["> 0"]);
    }
    let loss = NtXentLossConfig::new().init();
    error_mentions(
        loss.try_forward(x(), ints(&[0, 0, 1, 1], &d)),
        "ntxent",
        "labels",
        &["[4]", "[5]"],
    );
    error_mentions(
        loss.try_forward(x(), ints(&[0, 1, 2, 3, 4], &d)),
        "ntxent",
        "labels",
        &["positive pair"],
    );
    let mut bad = EMB.to_vec();
    bad[4] = f64::NAN;
    error_mentions(
        loss.try_forward(tensor(&bad, [5, 3], &d), ints(&EMB_LABELS, &d)),
        "ntxent",
        "embeddings",
        &["finite", "[1, 1]"],
    );
}

// ---------------------------------------------------------------------------------------
// Poly-1 cross-entropy

/// `CE + ε Σ_c y_c (1 - p_c)` per row, in f64.
fn poly_ref(x: &[f64], y: &[f64], c: usize, eps: f64) -> Vec<f64> {
    x.chunks(c)
        .zip(y.chunks(c))
        .map(|(x, y)| {
            let l = lse(x);
            let ce: f64 = -x.iter().zip(y).map(|(x, y)| y * (x - l)).sum::<f64>();
            let poly: f64 = x
                .iter()
                .zip(y)
                .map(|(x, y)| y * (1.0 - (x - l).exp()))
                .sum();
            ce + eps * poly
        })
        .collect()
}

const POLY_X: [f64; 12] = [
    0.5, -1.0, 2.0, 0.1, -0.3, 0.8, 0.8, -2.2, 3.0, 1.0, -1.0, 0.0,
];
const POLY_Y: [f64; 12] = [0.0, 0.0, 1.0, 0.0, 0.25, 0.25, 0.5, 0.0, 0.1, 0.2, 0.3, 0.4];

#[test]
fn poly_loss_matches_optax_and_the_formula() {
    let d = flex();
    // Optax 0.2.8's `PolyLossTest` (values of the TensorFlow reference).
    let bx = [4.0, 2.0, 1.0, 0.0, 5.0, 1.0];
    let by = [1.0, 0.0, 0.0, 0.0, 0.8, 0.2];
    for (eps, want) in [
        (2.0, [0.4823, 1.2567]),
        (0.0, [0.1698, 0.8247]),
        (-0.5, [0.0917, 0.7168]),
        (5.45, [1.0211, 2.0018]),
    ] {
        let loss = poly_loss_cross_entropy(
            tensor(&bx, [2, 3], &d),
            tensor(&by, [2, 3], &d),
            eps,
            Reduction::None,
        );
        all_close(
            &values(loss),
            &want,
            1e-4,
            &format!("Optax batched eps {eps}"),
        );
        all_close(
            &poly_ref(&bx, &by, 3, eps),
            &want,
            1e-4,
            "f64 reference vs Optax",
        );
    }
    let sx = [0.14, 1.456, 2.356, -0.124, -2.47];
    let sy = [0.1, 0.15, 0.2, 0.25, 0.3];
    for (eps, want) in [(2.0, 4.5317), (-1.0, 2.0827), (1.214, 3.8900)] {
        let loss = poly_loss_cross_entropy(
            tensor(&sx, [1, 5], &d),
            tensor(&sy, [1, 5], &d),
            eps,
            Reduction::Sum,
        );
        close(scalar(loss), want, 1e-4, &format!("Optax scalar eps {eps}"));
    }
    // Hand-made rows (one-hot and soft labels), each reduction.
    for eps in [2.0, -1.0] {
        let want = poly_ref(&POLY_X, &POLY_Y, 4, eps);
        let config = PolyLossCrossEntropyConfig::new().with_epsilon(eps);
        let x = || tensor(&POLY_X, [3, 4], &d);
        let y = || tensor(&POLY_Y, [3, 4], &d);
        all_close(
            &values(config.init().forward_no_reduction(x(), y())),
            &want,
            1e-5,
            "none",
        );
        let mean = config.clone().init().forward(x(), y());
        close(scalar(mean), want.iter().sum::<f64>() / 3.0, 1e-5, "mean");
        let sum = config
            .with_reduction(Reduction::Sum)
            .init()
            .forward(x(), y());
        close(scalar(sum), want.iter().sum::<f64>(), 1e-5, "sum");
    }
}

#[test]
fn poly_loss_gradients_match_central_differences() {
    for eps in [2.0, -1.0, 0.0] {
        check_gradient(
            &POLY_X,
            [3, 4],
            |x| {
                let y = tensor(&POLY_Y, [3, 4], &x.device());
                poly_loss_cross_entropy(x, y, eps, Reduction::Sum)
            },
            |x| poly_ref(x, &POLY_Y, 4, eps).iter().sum(),
            1e-3,
            &format!("poly eps {eps}"),
        );
    }
}

#[test]
fn poly_loss_properties() {
    let d = flex();
    let x = || tensor(&POLY_X, [3, 4], &d);
    let y = || tensor(&POLY_Y, [3, 4], &d);
    // ε = 0 is cross-entropy (descent's, with probability targets).
    let poly = poly_loss_cross_entropy(x(), y(), 0.0, Reduction::None);
    let ce = CrossEntropyLossConfig::new()
        .with_reduction(Reduction::None)
        .init()
        .forward_probs_no_reduction::<2, 1>(x(), y());
    all_close(
        &values(poly),
        &values(ce),
        1e-6,
        "poly with eps 0 vs cross_entropy",
    );
    // One-hot labels: CE + ε (1 - p_t).
    let classes = ints(&[2, 0, 3], &d);
    let one_hot = classes.clone().one_hot::<2>(4).float();
    let poly = values(poly_loss_cross_entropy(x(), one_hot, 2.0, Reduction::None));
    let ce = values(cross_entropy(x(), classes, Reduction::None));
    for (k, (p, c)) in poly.iter().zip(&ce).enumerate() {
        close(
            p - c,
            2.0 * (1.0 - (-c).exp()),
            1e-5,
            &format!("one-hot row {k}: ε (1 - p_t)"),
        );
    }
    // Finite at logits of ±100.
    let big: Vec<f64> = POLY_X.iter().map(|v| 50.0 * v).collect();
    let loss = poly_loss_cross_entropy(tensor(&big, [3, 4], &d), y(), 2.0, Reduction::Sum);
    close(
        scalar(loss),
        poly_ref(&big, &POLY_Y, 4, 2.0).iter().sum(),
        1e-5,
        "logits ±100",
    );
}

#[test]
fn poly_loss_errors() {
    let d = flex();
    const NAME: &str = "poly_loss_cross_entropy";
    for e in [f64::NAN, f64::INFINITY] {
        let r = PolyLossCrossEntropyConfig::new().with_epsilon(e).try_init();
        error_mentions(r, NAME, "epsilon", &["finite"]);
    }
    let loss = PolyLossCrossEntropyConfig::new().init();
    error_mentions(
        loss.try_forward(tensor(&POLY_X, [3, 4], &d), tensor(&POLY_X, [4, 3], &d)),
        NAME,
        "labels",
        &["[3, 4]", "[4, 3]"],
    );
    let mut bad = POLY_X.to_vec();
    bad[5] = f64::INFINITY;
    error_mentions(
        loss.try_forward(tensor(&bad, [3, 4], &d), tensor(&POLY_Y, [3, 4], &d)),
        NAME,
        "logits",
        &["finite", "[1, 1]"],
    );
    error_mentions(
        loss.try_forward(tensor(&[], [2, 0], &d), tensor(&[], [2, 0], &d)),
        NAME,
        "logits",
        &["at least one class"],
    );
}

// ---------------------------------------------------------------------------------------
// Dice

struct DiceRef {
    smooth: f64,
    alpha: f64,
    beta: f64,
    softmax: bool,
    weights: Option<Vec<f64>>,
    ignore_background: bool,
}

impl Default for DiceRef {
    fn default() -> Self {
        Self {
            smooth: 1.0,
            alpha: 0.5,
            beta: 0.5,
            softmax: true,
            weights: None,
            ignore_background: false,
        }
    }
}

impl DiceRef {
    /// Optax's per-class losses `[N][C']` of `x`, `t` `[N, S, C]`, in f64.
    fn per_class(&self, x: &[f64], t: &[f64], [n, s, c]: [usize; 3]) -> Vec<Vec<f64>> {
        let p: Vec<f64> = x
            .chunks(c)
            .flat_map(|row| -> Vec<f64> {
                if !self.softmax {
                    row.to_vec()
                } else if c == 1 {
                    vec![1.0 / (1.0 + (-row[0]).exp())]
                } else {
                    let l = lse(row);
                    row.iter().map(|v| (v - l).exp()).collect()
                }
            })
            .collect();
        (0..n)
            .map(|b| {
                (0..c)
                    .filter(|&k| !(self.ignore_background && c > 1 && k == 0))
                    .map(|k| {
                        let at = |v: &[f64], i: usize| v[(b * s + i) * c + k];
                        let inter: f64 = (0..s).map(|i| at(&p, i) * at(t, i)).sum();
                        let pred: f64 = (0..s).map(|i| at(&p, i)).sum();
                        let truth: f64 = (0..s).map(|i| at(t, i)).sum();
                        let ratio = (inter + self.smooth)
                            / (inter
                                + self.alpha * (pred - inter)
                                + self.beta * (truth - inter)
                                + self.smooth);
                        let w = self.weights.as_ref().map_or(1.0, |w| w[k]);
                        w * (1.0 - ratio)
                    })
                    .collect()
            })
            .collect()
    }

    /// Optax's default output: the mean over classes, per example.
    fn per_example(&self, x: &[f64], t: &[f64], shape: [usize; 3]) -> Vec<f64> {
        self.per_class(x, t, shape)
            .iter()
            .map(|r| r.iter().sum::<f64>() / r.len() as f64)
            .collect()
    }
}

/// Two examples of four pixels, three classes: logits and one-hot targets `[2, 4, 3]`.
const DICE_X: [f64; 24] = [
    1.2, -0.3, 0.1, 0.4, 0.9, -1.1, -0.5, 0.2, 1.6, 2.0, 0.0, -0.4, //
    0.3, 0.3, -0.8, -1.5, 0.7, 0.6, 0.9, -0.2, 0.1, 0.0, 1.1, 0.4,
];
const DICE_T: [f64; 24] = [
    1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, //
    0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0,
];
const DICE_SHAPE: [usize; 3] = [2, 4, 3];
/// Binary: one channel of logits `[3, 2, 1]`.
const BIN_X: [f64; 6] = [1.0, -1.0, 0.5, 0.5, -2.0, 0.3];
const BIN_T: [f64; 6] = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0];

#[test]
fn dice_matches_the_formula() {
    let d = flex();
    let x = || tensor(&DICE_X, DICE_SHAPE, &d);
    let t = || tensor(&DICE_T, DICE_SHAPE, &d);
    // Optax's defaults: per-example mean over the classes.
    let want = DiceRef::default().per_example(&DICE_X, &DICE_T, DICE_SHAPE);
    let none = dice_loss(x(), t(), Reduction::None);
    all_close(&values(none), &want, 1e-5, "dice per example");
    let mean = dice_loss(x(), t(), Reduction::Mean);
    close(scalar(mean), (want[0] + want[1]) / 2.0, 1e-5, "dice mean");
    // Tversky weights, class weights, no background, per class and summed over classes.
    let r = DiceRef {
        smooth: 0.5,
        alpha: 0.3,
        beta: 0.7,
        weights: Some(vec![0.5, 1.0, 2.0]),
        ignore_background: true,
        ..DiceRef::default()
    };
    let config = DiceLossConfig::new()
        .with_smooth(0.5)
        .with_alpha(0.3)
        .with_beta(0.7)
        .with_class_weights(Some(vec![0.5, 1.0, 2.0]))
        .with_ignore_background(true);
    let per_class = config.init().forward_per_class(x(), t());
    assert_eq!(per_class.dims(), [2, 2]);
    let want: Vec<f64> = r.per_class(&DICE_X, &DICE_T, DICE_SHAPE).concat();
    all_close(&values(per_class), &want, 1e-5, "tversky per class");
    let summed = config
        .with_class_reduction(Reduction::Sum)
        .with_reduction(Reduction::Sum)
        .init()
        .forward(x(), t());
    close(scalar(summed), want.iter().sum(), 1e-5, "tversky summed");
    // Probabilities in, no softmax.
    let probs: Vec<f64> = DICE_X
        .chunks(3)
        .flat_map(|row| {
            let l = lse(row);
            row.iter().map(move |v| (v - l).exp()).collect::<Vec<_>>()
        })
        .collect();
    let loss = DiceLossConfig::new()
        .with_apply_softmax(false)
        .with_reduction(Reduction::None)
        .init()
        .forward(tensor(&probs, DICE_SHAPE, &d), t());
    let want = DiceRef {
        softmax: false,
        ..DiceRef::default()
    }
    .per_example(&probs, &DICE_T, DICE_SHAPE);
    all_close(&values(loss), &want, 1e-5, "dice of probabilities");
    // Binary: one channel, sigmoid.
    let loss = dice_loss(
        tensor(&BIN_X, [3, 2, 1], &d),
        tensor(&BIN_T, [3, 2, 1], &d),
        Reduction::None,
    );
    let want = DiceRef::default().per_example(&BIN_X, &BIN_T, [3, 2, 1]);
    all_close(&values(loss), &want, 1e-5, "binary dice");
}

#[test]
fn dice_gradients_match_central_differences() {
    check_gradient(
        &DICE_X,
        DICE_SHAPE,
        |x| {
            let t = tensor(&DICE_T, DICE_SHAPE, &x.device());
            dice_loss(x, t, Reduction::Sum)
        },
        |x| {
            DiceRef::default()
                .per_example(x, &DICE_T, DICE_SHAPE)
                .iter()
                .sum()
        },
        1e-3,
        "multi-class dice",
    );
    check_gradient(
        &DICE_X,
        DICE_SHAPE,
        |x| {
            let t = tensor(&DICE_T, DICE_SHAPE, &x.device());
            DiceLossConfig::new()
                .with_alpha(0.2)
                .with_beta(0.8)
                .with_smooth(0.1)
                .with_reduction(Reduction::Sum)
                .init()
                .forward(x, t)
        },
        |x| {
            let r = DiceRef {
                alpha: 0.2,
                beta: 0.8,
                smooth: 0.1,
                ..DiceRef::default()
            };
            r.per_example(x, &DICE_T, DICE_SHAPE).iter().sum()
        },
        1e-3,
        "tversky",
    );
    check_gradient(
        &BIN_X,
        [3, 2, 1],
        |x| {
            let t = tensor(&BIN_T, [3, 2, 1], &x.device());
            dice_loss(x, t, Reduction::Sum)
        },
        |x| {
            DiceRef::default()
                .per_example(x, &BIN_T, [3, 2, 1])
                .iter()
                .sum()
        },
        1e-3,
        "binary dice",
    );
}

#[test]
fn dice_properties() {
    let d = flex();
    let t = || tensor(&DICE_T, DICE_SHAPE, &d);
    let probs = DiceLossConfig::new().with_apply_softmax(false);
    // A perfect prediction scores 0, with or without smoothing.
    for smooth in [1.0, 0.0] {
        let loss = probs.clone().with_smooth(smooth).init().forward(t(), t());
        close(
            scalar(loss),
            0.0,
            1e-7,
            &format!("perfect prediction, smooth {smooth}"),
        );
    }
    // No overlap at all, no smoothing: 1 per class.
    let shifted: Vec<f64> = (0..DICE_T.len())
        .map(|k| DICE_T[k - k % 3 + (k + 1) % 3])
        .collect();
    let loss = probs
        .clone()
        .with_smooth(0.0)
        .init()
        .forward(tensor(&shifted, DICE_SHAPE, &d), t());
    close(scalar(loss), 1.0, 1e-7, "no overlap");
    // Confident correct logits: near 0; finite at ±100.
    let logits: Vec<f64> = DICE_T.iter().map(|v| 200.0 * v - 100.0).collect();
    let loss = dice_loss(tensor(&logits, DICE_SHAPE, &d), t(), Reduction::Mean);
    close(scalar(loss), 0.0, 1e-6, "confident logits");
}

#[test]
fn dice_errors() {
    let d = flex();
    const NAME: &str = "dice_loss";
    for (arg, c) in [
        ("smooth", DiceLossConfig::new().with_smooth(-1.0)),
        ("alpha", DiceLossConfig::new().with_alpha(f64::NAN)),
        ("beta", DiceLossConfig::new().with_beta(-0.5)),
    ] {
        error_mentions(c.try_init(), NAME, arg, &[">= 0"]);
    }
    let r = DiceLossConfig::new()
        .with_class_reduction(Reduction::BatchMean)
        .try_init();
    error_mentions(r, NAME, "class_reduction", &["batchmean"]);
    let x = || tensor(&DICE_X, DICE_SHAPE, &d);
    let t = || tensor(&DICE_T, DICE_SHAPE, &d);
    let r = DiceLossConfig::new()
        .with_class_weights(Some(vec![1.0, 2.0]))
        .init()
        .try_forward(x(), t());
    error_mentions(r, NAME, "class_weights", &["one value per class (3)", "2"]);
    let loss = DiceLossConfig::new().init();
    error_mentions(
        loss.try_forward(x(), tensor(&DICE_T, [2, 3, 4], &d)),
        NAME,
        "targets",
        &["[2, 4, 3]", "[2, 3, 4]"],
    );
    error_mentions(
        loss.try_forward(tensor(&[0.5, 0.5], [2], &d), tensor(&[1.0, 0.0], [2], &d)),
        NAME,
        "predictions",
        &["class dimension", "[2]"],
    );
    let mut bad = DICE_T.to_vec();
    bad[3] = 2.0;
    error_mentions(
        loss.try_forward(x(), tensor(&bad, DICE_SHAPE, &d)),
        NAME,
        "targets",
        &["[0, 1]", "2"],
    );
    // Probabilities must be probabilities.
    let probs = DiceLossConfig::new().with_apply_softmax(false).init();
    let halves = vec![0.5; 24];
    error_mentions(
        probs.try_forward(tensor(&halves, DICE_SHAPE, &d), t()),
        NAME,
        "predictions",
        &["apply_softmax = false", "summing to 1", "a sum of 1.5"],
    );
    // No smoothing and a class of no mass: 0/0.
    let empty = vec![0.0; 6];
    let r = DiceLossConfig::new()
        .with_smooth(0.0)
        .with_apply_softmax(false)
        .init()
        .try_forward(tensor(&empty, [3, 2, 1], &d), tensor(&empty, [3, 2, 1], &d));
    error_mentions(r, NAME, "smooth", &["> 0", "0/0"]);
}

// ---------------------------------------------------------------------------------------
// Sparsemax

/// sparsemax(z) by bisection on τ (Σ max(z - τ, 0) = 1), independent of the sort.
fn sparsemax_ref(z: &[f64]) -> Vec<f64> {
    let top = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let (mut lo, mut hi) = (top - 1.0, top);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        let mass: f64 = z.iter().map(|v| (v - mid).max(0.0)).sum();
        if mass > 1.0 { lo = mid } else { hi = mid }
    }
    let tau = 0.5 * (lo + hi);
    z.iter().map(|v| (v - tau).max(0.0)).collect()
}

/// Optax's `_multiclass_sparsemax_loss`: `⟨p, z - z_y⟩ + ½ (1 - ‖p‖²)`.
fn multiclass_sparsemax_ref(z: &[f64], y: usize) -> f64 {
    let p = sparsemax_ref(z);
    let dot: f64 = p.iter().zip(z).map(|(p, v)| p * (v - z[y])).sum();
    dot + 0.5 * (1.0 - p.iter().map(|p| p * p).sum::<f64>())
}

/// Optax's test reference of the binary loss.
fn binary_sparsemax_ref(x: f64, y: f64) -> f64 {
    let s = -(2.0 * y - 1.0) * x;
    if s <= -1.0 {
        0.0
    } else if s >= 1.0 {
        s
    } else {
        (s + 1.0).powi(2) / 4.0
    }
}

const SM_Z: [f64; 16] = [
    0.9, 0.1, -0.4, 0.35, // support {0, 1, 3}
    2.0, -1.0, 0.3, 0.0, // one-hot
    0.2, 0.2, 0.2, 0.2, // all equal
    -0.5, 0.4, 0.45, -1.2, // two close
];
const SM_Y: [i64; 4] = [1, 0, 3, 0];

#[test]
fn sparsemax_matches_the_projection_and_the_formula() {
    let d = flex();
    let p = values(sparsemax(tensor(&SM_Z, [4, 4], &d)));
    let want: Vec<f64> = SM_Z.chunks(4).flat_map(sparsemax_ref).collect();
    all_close(&p, &want, 1e-6, "sparsemax vs bisection");
    // A row sums to 1 and is 0 off its support.
    assert_eq!(p[4..8], [1.0, 0.0, 0.0, 0.0]);
    let ties = values(sparsemax(tensor(&[1.0, 1.0, 0.0], [1, 3], &d)));
    all_close(&ties, &[0.5, 0.5, 0.0], 1e-7, "tied leaders");

    let want: Vec<f64> = SM_Z
        .chunks(4)
        .zip(SM_Y)
        .map(|(z, y)| multiclass_sparsemax_ref(z, y as usize))
        .collect();
    let loss =
        multiclass_sparsemax_loss(tensor(&SM_Z, [4, 4], &d), ints(&SM_Y, &d), Reduction::None);
    all_close(&values(loss), &want, 1e-6, "multiclass sparsemax loss");
    let mean =
        multiclass_sparsemax_loss(tensor(&SM_Z, [4, 4], &d), ints(&SM_Y, &d), Reduction::Mean);
    close(scalar(mean), want.iter().sum::<f64>() / 4.0, 1e-6, "mean");

    // Binary: Optax's reference, and its batched test ([10, 20] with labels [1, 0]).
    let xs = [-2.0, -0.7, -0.2, 0.0, 0.4, 0.99, 1.5, 3.0];
    for y in [0.0, 1.0] {
        let loss = sparsemax_loss(
            tensor(&xs, [2, 4], &d),
            tensor(&[y; 8], [2, 4], &d),
            Reduction::None,
        );
        let want: Vec<f64> = xs.iter().map(|&x| binary_sparsemax_ref(x, y)).collect();
        all_close(
            &values(loss),
            &want,
            1e-6,
            &format!("binary sparsemax, label {y}"),
        );
    }
    let loss = sparsemax_loss(
        tensor(&[10.0, 20.0], [2], &d),
        tensor(&[1.0, 0.0], [2], &d),
        Reduction::None,
    );
    all_close(
        &values(loss),
        &[0.0, 20.0],
        1e-6,
        "Optax's batched binary test",
    );
}

#[test]
fn sparsemax_gradients() {
    // Exactly sparsemax(z) - onehot(y), and central differences of the f64 loss.
    let ad = flex().autodiff();
    let z = tensor(&SM_Z, [4, 4], &ad).require_grad();
    let loss = multiclass_sparsemax_loss(z.clone(), ints(&SM_Y, &ad), Reduction::Sum);
    let grad = values(z.grad(&loss.backward()).expect("a gradient"));
    let want: Vec<f64> = SM_Z
        .chunks(4)
        .zip(SM_Y)
        .flat_map(|(z, y)| {
            let mut g = sparsemax_ref(z);
            g[y as usize] -= 1.0;
            g
        })
        .collect();
    all_close(&grad, &want, 1e-6, "gradient vs sparsemax(z) - onehot(y)");
    // Rows away from the kinks (ties sit on one).
    let z = &SM_Z[..8];
    check_gradient(
        z,
        [2, 4],
        |x| {
            let y = ints(&SM_Y[..2], &x.device());
            multiclass_sparsemax_loss(x, y, Reduction::Sum)
        },
        |x| {
            x.chunks(4)
                .zip(SM_Y)
                .map(|(z, y)| multiclass_sparsemax_ref(z, y as usize))
                .sum()
        },
        1e-3,
        "multiclass sparsemax",
    );
    let xs = [-2.0, -0.7, -0.2, 0.4, 0.8, 1.5];
    let ys = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0];
    check_gradient(
        &xs,
        [6],
        |x| {
            let y = tensor(&ys, [6], &x.device());
            sparsemax_loss(x, y, Reduction::Sum)
        },
        |x| {
            x.iter()
                .zip(&ys)
                .map(|(&x, &y)| binary_sparsemax_ref(x, y))
                .sum()
        },
        1e-3,
        "binary sparsemax",
    );
}

#[test]
fn sparsemax_properties() {
    let d = flex();
    // A dominant logit: sparsemax is one-hot, the loss 0 and so its gradient (Optax's test).
    let z = [0.0, 1e5, 0.0, 1e5, 0.0, 0.0, 0.0, 0.0, 1e5];
    let labels = [1, 0, 2];
    let p = values(sparsemax(tensor(&z, [3, 3], &d)));
    all_close(
        &p,
        &[0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        0.0,
        "one-hot sparsemax",
    );
    let ad = d.clone().autodiff();
    let zt = tensor(&z, [3, 3], &ad).require_grad();
    let loss = multiclass_sparsemax_loss(zt.clone(), ints(&labels, &ad), Reduction::Mean);
    let grad = values(zt.grad(&loss.backward()).expect("a gradient"));
    close(scalar(loss), 0.0, 1e-7, "loss at a dominant correct logit");
    all_close(
        &grad,
        &[0.0; 9],
        1e-7,
        "gradient at a dominant correct logit",
    );
    // The binary loss is the multi-class loss of the scores [0, x].
    for (x, y) in [(-1.5, 1), (-0.3, 1), (0.6, 0), (0.6, 1), (2.5, 0)] {
        let binary = sparsemax_loss(
            tensor(&[x], [1], &d),
            tensor(&[y as f64], [1], &d),
            Reduction::Sum,
        );
        let multi = multiclass_sparsemax_loss(
            tensor(&[0.0, x], [1, 2], &d),
            ints(&[y], &d),
            Reduction::Sum,
        );
        close(
            scalar(binary),
            scalar(multi),
            1e-6,
            &format!("binary vs [0, x] at x {x}, y {y}"),
        );
    }
    // Shift invariance, and finite at large logits.
    let shifted: Vec<f64> = SM_Z.iter().map(|v| v + 1000.0).collect();
    let a = multiclass_sparsemax_loss(tensor(&SM_Z, [4, 4], &d), ints(&SM_Y, &d), Reduction::None);
    let b = multiclass_sparsemax_loss(
        tensor(&shifted, [4, 4], &d),
        ints(&SM_Y, &d),
        Reduction::None,
    );
    all_close(&values(b), &values(a), 1e-4, "shift invariance");
}

#[test]
fn sparsemax_errors() {
    let d = flex();
    error_mentions(
        SparsemaxLossConfig::new()
            .init()
            .try_forward(tensor(&[0.5, 1.0], [2], &d), tensor(&[1.0, 0.5], [2], &d)),
        "sparsemax_loss",
        "target",
        &["0 or 1", "0.5"],
    );
    const MULTI: &str = "multiclass_sparsemax_loss";
    let loss = SparsemaxLossConfig::new().init_multiclass();
    error_mentions(
        loss.try_forward(tensor(&SM_Z, [4, 4], &d), ints(&[0, 1, 4, 2], &d)),
        MULTI,
        "labels",
        &["[0, 4)", "4"],
    );
    error_mentions(
        loss.try_forward(tensor(&SM_Z, [4, 4], &d), ints(&[0, 1], &d)),
        MULTI,
        "labels",
        &["[4]", "[2]"],
    );
    error_mentions(
        loss.try_forward(tensor(&[], [2, 0], &d), ints(&[0, 0], &d)),
        MULTI,
        "scores",
        &["at least one class"],
    );
    let mut bad = SM_Z.to_vec();
    bad[0] = f64::NAN;
    error_mentions(
        loss.try_forward(tensor(&bad, [4, 4], &d), ints(&SM_Y, &d)),
        MULTI,
        "scores",
        &["finite"],
    );
}

// ---------------------------------------------------------------------------------------
// Softmax ranking

/// Optax's `ranking_softmax_loss` per list, in f64: `-Σ_{valid} w y (s - lse_valid(s))`.
fn ranking_ref(
    s: &[f64],
    y: &[f64],
    l: usize,
    mask: Option<&[bool]>,
    w: Option<&[f64]>,
) -> Vec<f64> {
    (0..s.len() / l)
        .map(|n| {
            let valid: Vec<usize> = (0..l)
                .filter(|&i| mask.is_none_or(|m| m[n * l + i]))
                .collect();
            if valid.is_empty() {
                return 0.0;
            }
            let scores: Vec<f64> = valid.iter().map(|&i| s[n * l + i]).collect();
            let z = lse(&scores);
            -valid
                .iter()
                .map(|&i| w.map_or(1.0, |w| w[n * l + i]) * y[n * l + i] * (s[n * l + i] - z))
                .sum::<f64>()
        })
        .collect()
}

const RK_S: [f64; 12] = [2.0, 1.0, 0.0, -0.5, 1.0, 0.5, 1.5, 3.0, -1.0, 0.2, 0.4, 2.2];
const RK_Y: [f64; 12] = [1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 1.0, 1.0, 3.0, 0.0, 1.0, 0.0];
const RK_W: [f64; 12] = [1.0, 2.0, 1.0, 0.5, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0, 0.5, 2.0];
const RK_MASK: [bool; 12] = [
    true, true, false, true, true, true, true, false, false, false, false, false,
];

#[test]
fn ranking_softmax_matches_optax_and_the_formula() {
    let d = flex();
    // Optax's module docstring: one list, its gradient, and a masked batch.
    let loss = ranking_softmax_loss(
        tensor(&[2.0, 1.0, 3.0], [1, 3], &d),
        tensor(&[1.0, 0.0, 0.0], [1, 3], &d),
        Reduction::Mean,
    );
    close(scalar(loss), 1.408, 5e-4, "Optax's single list");
    let ad = d.clone().autodiff();
    let s = tensor(&[2.0, 1.0, 3.0], [1, 3], &ad).require_grad();
    let loss = ranking_softmax_loss(
        s.clone(),
        tensor(&[1.0, 0.0, 0.0], [1, 3], &ad),
        Reduction::Mean,
    );
    let grad = values(s.grad(&loss.backward()).expect("a gradient"));
    all_close(&grad, &[-0.755, 0.09, 0.665], 1e-3, "Optax's gradient");
    let loss = RankingSoftmaxLossConfig::new().init().forward_masked(
        tensor(&[2.0, 1.0, 0.0, 1.0, 0.5, 1.5], [2, 3], &d),
        tensor(&[1.0, 0.0, 0.0, 0.0, 0.0, 1.0], [2, 3], &d),
        Some(bools(&[true, true, false, true, true, true], [2, 3], &d)),
        None,
    );
    close(scalar(loss), 0.497, 5e-4, "Optax's masked batch");

    // Graded labels, weights and a mask with a list of no valid item (the third).
    let s = || tensor(&RK_S, [3, 4], &d);
    let y = || tensor(&RK_Y, [3, 4], &d);
    let plain = ranking_ref(&RK_S, &RK_Y, 4, None, None);
    let loss = RankingSoftmaxLossConfig::new()
        .with_reduction(Reduction::None)
        .init();
    all_close(
        &values(loss.forward_no_reduction(s(), y())),
        &plain,
        1e-5,
        "plain lists",
    );
    let mask = || Some(bools(&RK_MASK, [3, 4], &d));
    let weights = || Some(tensor(&RK_W, [3, 4], &d));
    let want = ranking_ref(&RK_S, &RK_Y, 4, Some(&RK_MASK), Some(&RK_W));
    assert_eq!(want[2], 0.0);
    let got = loss.forward_masked_no_reduction(s(), y(), mask(), weights());
    all_close(&values(got), &want, 1e-5, "masked, weighted lists");
    let mean = RankingSoftmaxLossConfig::new()
        .init()
        .forward_masked(s(), y(), mask(), weights());
    close(
        scalar(mean),
        (want[0] + want[1]) / 2.0,
        1e-5,
        "mean over the valid lists",
    );
    let sum = RankingSoftmaxLossConfig::new()
        .with_reduction(Reduction::Sum)
        .init()
        .forward_masked(s(), y(), mask(), weights());
    close(scalar(sum), want.iter().sum(), 1e-5, "sum");
}

#[test]
fn ranking_softmax_gradients_match_central_differences() {
    check_gradient(
        &RK_S,
        [3, 4],
        |x| {
            let d = x.device();
            RankingSoftmaxLossConfig::new().init().forward_masked(
                x,
                tensor(&RK_Y, [3, 4], &d),
                Some(bools(&RK_MASK, [3, 4], &d)),
                Some(tensor(&RK_W, [3, 4], &d)),
            )
        },
        |x| {
            ranking_ref(x, &RK_Y, 4, Some(&RK_MASK), Some(&RK_W))
                .iter()
                .sum::<f64>()
                / 2.0
        },
        1e-3,
        "masked ranking",
    );
    check_gradient(
        &RK_S,
        [3, 4],
        |x| {
            let y = tensor(&RK_Y, [3, 4], &x.device());
            ranking_softmax_loss(x, y, Reduction::Sum)
        },
        |x| ranking_ref(x, &RK_Y, 4, None, None).iter().sum(),
        1e-3,
        "ranking",
    );
}

#[test]
fn ranking_softmax_properties() {
    let d = flex();
    let s = || tensor(&RK_S, [3, 4], &d);
    let y = || tensor(&RK_Y, [3, 4], &d);
    // Every item masked: 0, not NaN (Optax's safe mean).
    let none = RankingSoftmaxLossConfig::new().init().forward_masked(
        s(),
        y(),
        Some(bools(&[false; 12], [3, 4], &d)),
        None,
    );
    close(scalar(none), 0.0, 0.0, "no valid item");
    // A mask of all true and unit weights change nothing; a shift of a list neither.
    let plain = values(ranking_softmax_loss(s(), y(), Reduction::None));
    let masked = RankingSoftmaxLossConfig::new()
        .init()
        .forward_masked_no_reduction(
            s(),
            y(),
            Some(bools(&[true; 12], [3, 4], &d)),
            Some(tensor(&[1.0; 12], [3, 4], &d)),
        );
    all_close(&values(masked), &plain, 1e-6, "all-true mask");
    let shifted: Vec<f64> = RK_S
        .iter()
        .enumerate()
        .map(|(k, v)| v + 10.0 * (k / 4) as f64)
        .collect();
    let moved = values(ranking_softmax_loss(
        tensor(&shifted, [3, 4], &d),
        y(),
        Reduction::None,
    ));
    all_close(&moved, &plain, 1e-5, "shift invariance");
    // Large scores stay finite.
    let big: Vec<f64> = RK_S.iter().map(|v| 40.0 * v).collect();
    let loss = ranking_softmax_loss(tensor(&big, [3, 4], &d), y(), Reduction::Sum);
    close(
        scalar(loss),
        ranking_ref(&big, &RK_Y, 4, None, None).iter().sum(),
        1e-5,
        "large scores",
    );
}

#[test]
fn ranking_softmax_errors() {
    let d = flex();
    const NAME: &str = "ranking_softmax_loss";
    let loss = RankingSoftmaxLossConfig::new().init();
    let s = || tensor(&RK_S, [3, 4], &d);
    let y = || tensor(&RK_Y, [3, 4], &d);
    error_mentions(
        loss.try_forward(s(), tensor(&RK_Y, [4, 3], &d)),
        NAME,
        "labels",
        &["[3, 4]", "[4, 3]"],
    );
    error_mentions(
        loss.try_forward_masked(s(), y(), Some(bools(&RK_MASK, [4, 3], &d)), None),
        NAME,
        "where",
        &["[4, 3]"],
    );
    let mut negative = RK_W.to_vec();
    negative[1] = -1.0;
    error_mentions(
        loss.try_forward_masked(s(), y(), None, Some(tensor(&negative, [3, 4], &d))),
        NAME,
        "weights",
        &["[0, inf]", "-1"],
    );
    let mut negative = RK_Y.to_vec();
    negative[5] = -2.0;
    error_mentions(
        loss.try_forward(s(), tensor(&negative, [3, 4], &d)),
        NAME,
        "labels",
        &["[0, inf]", "-2"],
    );
    let mut bad = RK_S.to_vec();
    bad[7] = f64::NAN;
    error_mentions(
        loss.try_forward(tensor(&bad, [3, 4], &d), y()),
        NAME,
        "logits",
        &["finite", "[1, 3]"],
    );
    error_mentions(
        loss.try_forward(tensor(&[], [2, 0], &d), tensor(&[], [2, 0], &d)),
        NAME,
        "logits",
        &["at least one item"],
    );
}

// ---------------------------------------------------------------------------------------
// By name

fn f1(t: AnyTensor) -> Vec<f64> {
    match t {
        AnyTensor::F1(t) => values(t),
        AnyTensor::F2(t) => values(t),
        other => panic!("a float tensor, got {other:?}"),
    }
}

#[test]
fn the_registry_builds_them_by_optax_names() {
    let d = flex();
    let run = |name: &str, options: serde_json::Value, inputs: Vec<(&str, AnyTensor)>| {
        let loss = registry::loss(name, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut inputs = Inputs::new(inputs);
        let out = loss
            .forward(&mut inputs)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        inputs
            .finish("loss")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        out
    };
    let got = run(
        "ntxent",
        json!({"temperature": 0.5}),
        vec![
            ("embeddings", AnyTensor::F2(tensor(&EMB, [5, 3], &d))),
            ("labels", AnyTensor::I1(ints(&EMB_LABELS, &d))),
        ],
    );
    close(
        f1(got)[0],
        ntxent_ref(&EMB, 5, &EMB_LABELS, 0.5),
        1e-5,
        "ntxent by name",
    );
    let got = run(
        "poly_loss_cross_entropy",
        json!({"epsilon": -1.0, "reduction": "none"}),
        vec![
            ("logits", AnyTensor::F2(tensor(&POLY_X, [3, 4], &d))),
            ("labels", AnyTensor::F2(tensor(&POLY_Y, [3, 4], &d))),
        ],
    );
    all_close(
        &f1(got),
        &poly_ref(&POLY_X, &POLY_Y, 4, -1.0),
        1e-5,
        "poly by name",
    );
    let got = run(
        "dice_loss",
        json!({"alpha": 0.3, "beta": 0.7, "class_reduction": "none", "reduction": "none"}),
        vec![
            (
                "predictions",
                AnyTensor::F3(tensor(&DICE_X, DICE_SHAPE, &d)),
            ),
            ("targets", AnyTensor::F3(tensor(&DICE_T, DICE_SHAPE, &d))),
        ],
    );
    let r = DiceRef {
        alpha: 0.3,
        beta: 0.7,
        ..DiceRef::default()
    };
    all_close(
        &f1(got),
        &r.per_class(&DICE_X, &DICE_T, DICE_SHAPE).concat(),
        1e-5,
        "dice by name",
    );
    let got = run(
        "multiclass_sparsemax_loss",
        json!({"reduction": "sum"}),
        vec![
            ("scores", AnyTensor::F2(tensor(&SM_Z, [4, 4], &d))),
            ("labels", AnyTensor::I1(ints(&SM_Y, &d))),
        ],
    );
    let want: f64 = SM_Z
        .chunks(4)
        .zip(SM_Y)
        .map(|(z, y)| multiclass_sparsemax_ref(z, y as usize))
        .sum();
    close(f1(got)[0], want, 1e-5, "multiclass sparsemax by name");
    let got = run(
        "sparsemax_loss",
        json!({"reduction": "none"}),
        vec![
            ("input", AnyTensor::F1(tensor(&[0.4, -3.0], [2], &d))),
            ("target", AnyTensor::F1(tensor(&[1.0, 1.0], [2], &d))),
        ],
    );
    all_close(
        &f1(got),
        &[binary_sparsemax_ref(0.4, 1.0), 3.0],
        1e-6,
        "sparsemax by name",
    );
    let mask: Vec<f64> = RK_MASK.iter().map(|&m| m as u8 as f64).collect();
    let got = run(
        "ranking_softmax_loss",
        json!({"reduction": "none"}),
        vec![
            ("logits", AnyTensor::F2(tensor(&RK_S, [3, 4], &d))),
            ("labels", AnyTensor::F2(tensor(&RK_Y, [3, 4], &d))),
            ("where", AnyTensor::F2(tensor(&mask, [3, 4], &d))),
            ("weights", AnyTensor::F2(tensor(&RK_W, [3, 4], &d))),
        ],
    );
    let want = ranking_ref(&RK_S, &RK_Y, 4, Some(&RK_MASK), Some(&RK_W));
    all_close(&f1(got), &want, 1e-5, "ranking by name");
    let err = match registry::loss("dice_loss", &json!({"class_reduction": "max"})) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    };
    assert_mentions(&err, &["dice_loss", "class_reduction", "max"]);
}

#[test]
fn an_empty_batch_is_an_error_for_the_mean() {
    let d = flex();
    let r = NtXentLossConfig::new()
        .init()
        .try_forward(tensor(&[], [0, 3], &d), ints(&[], &d));
    error_mentions(r, "ntxent", "embeddings", &["at least one element", "mean"]);
    let r = RankingSoftmaxLossConfig::new().init().try_forward_masked(
        tensor(&[], [0, 3], &d),
        tensor(&[], [0, 3], &d),
        Some(bools(&[], [0, 3], &d)),
        None,
    );
    error_mentions(
        r,
        "ranking_softmax_loss",
        "logits",
        &["at least one element", "mean"],
    );
    let sum = RankingSoftmaxLossConfig::new()
        .with_reduction(Reduction::Sum)
        .init()
        .forward(tensor(&[], [0, 3], &d), tensor(&[], [0, 3], &d));
    close(scalar(sum), 0.0, 0.0, "an empty sum");
}

/// Every loss, value and gradient, on every device against the f64 references (the sort,
/// scatter and masked log-sum-exp run as each device's tensor operations).
#[test]
fn the_losses_agree_with_their_references_on_every_device() {
    for device in every_device() {
        let at = format!("{device:?}");
        let d = device.autodiff();
        let grad_of = |x: &Tensor<2>, loss: Tensor<1>| -> (f64, Vec<f64>) {
            let v = values(loss.clone())[0];
            (v, values(x.grad(&loss.backward()).expect("a gradient")))
        };
        let x = tensor(&EMB, [5, 3], &d).require_grad();
        let (v, g) = grad_of(
            &x,
            ntxent(x.clone(), ints(&EMB_LABELS, &d), 0.5, Reduction::Mean),
        );
        close(
            v,
            ntxent_ref(&EMB, 5, &EMB_LABELS, 0.5),
            1e-5,
            &format!("ntxent on {at}"),
        );
        assert!(g.iter().all(|v| v.is_finite()), "ntxent gradient on {at}");
        let x = tensor(&POLY_X, [3, 4], &d).require_grad();
        let loss =
            poly_loss_cross_entropy(x.clone(), tensor(&POLY_Y, [3, 4], &d), 2.0, Reduction::Sum);
        let (v, _) = grad_of(&x, loss);
        close(
            v,
            poly_ref(&POLY_X, &POLY_Y, 4, 2.0).iter().sum(),
            1e-5,
            &format!("poly on {at}"),
        );
        let x = tensor(&DICE_X, DICE_SHAPE, &d);
        let loss = dice_loss(x, tensor(&DICE_T, DICE_SHAPE, &d), Reduction::Sum);
        let want: f64 = DiceRef::default()
            .per_example(&DICE_X, &DICE_T, DICE_SHAPE)
            .iter()
            .sum();
        close(scalar(loss), want, 1e-5, &format!("dice on {at}"));
        let z = tensor(&SM_Z, [4, 4], &d).require_grad();
        let loss = multiclass_sparsemax_loss(z.clone(), ints(&SM_Y, &d), Reduction::Sum);
        let (v, g) = grad_of(&z, loss);
        let want: f64 = SM_Z
            .chunks(4)
            .zip(SM_Y)
            .map(|(z, y)| multiclass_sparsemax_ref(z, y as usize))
            .sum();
        close(v, want, 1e-5, &format!("sparsemax loss on {at}"));
        let p: Vec<f64> = SM_Z.chunks(4).flat_map(sparsemax_ref).collect();
        let onehot: Vec<f64> = SM_Y
            .iter()
            .flat_map(|&y| (0..4).map(move |c| (c == y as usize) as u8 as f64))
            .collect();
        let want: Vec<f64> = p.iter().zip(&onehot).map(|(p, y)| p - y).collect();
        all_close(&g, &want, 1e-5, &format!("sparsemax gradient on {at}"));
        let s = tensor(&RK_S, [3, 4], &d);
        let loss = RankingSoftmaxLossConfig::new()
            .with_reduction(Reduction::None)
            .init()
            .forward_masked_no_reduction(
                s,
                tensor(&RK_Y, [3, 4], &d),
                Some(bools(&RK_MASK, [3, 4], &d)),
                Some(tensor(&RK_W, [3, 4], &d)),
            );
        let want = ranking_ref(&RK_S, &RK_Y, 4, Some(&RK_MASK), Some(&RK_W));
        all_close(&values(loss), &want, 1e-5, &format!("ranking on {at}"));
    }
}
