//! Adaptive softmax (Grave et al. 2017), PyTorch's `AdaptiveLogSoftmaxWithLoss`, as a Burn
//! module.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::module::linear;
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};

use crate::error::{LossError, or_panic};
use crate::reduction::reduced;
use crate::stable::log_softmax;
use crate::{LossResult, Reduction};

const NAME: &str = "adaptive_log_softmax_with_loss";

/// Configuration of the [adaptive softmax](AdaptiveLogSoftmaxWithLoss), PyTorch's
/// constructor arguments.
#[derive(Config, Debug)]
pub struct AdaptiveLogSoftmaxWithLossConfig {
    /// The width of the input, ≥ 1.
    pub in_features: usize,
    /// The number of classes.
    pub n_classes: usize,
    /// Where the clusters start: strictly increasing, in `[1, n_classes)`. Classes below the
    /// first cutoff are the head's shortlist.
    pub cutoffs: Vec<usize>,
    /// The width of cluster `i`'s projection is `floor(in_features / div_value^(i+1))`
    /// (possibly 0); > 0.
    #[config(default = 4.0)]
    pub div_value: f64,
    /// Whether the head has a bias.
    #[config(default = false)]
    pub head_bias: bool,
}

/// Python's `a // b` for floats (`float_floor_div`), so projection widths are PyTorch's.
fn floor_div(a: f64, b: f64) -> f64 {
    let m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 && (b < 0.0) != (m < 0.0) {
        div -= 1.0;
    }
    if div == 0.0 {
        return 0.0;
    }
    let f = div.floor();
    if div - f > 0.5 { f + 1.0 } else { f }
}

/// The sizes of an adaptive softmax: the shortlist, and per cluster its first class, its
/// projection width `hsz` and its number of classes `osz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdaptiveLayout {
    /// The width of the input.
    pub in_features: usize,
    /// The number of classes.
    pub n_classes: usize,
    /// The classes the head predicts directly, `cutoffs[0]`.
    pub shortlist: usize,
    /// Per cluster: `(first class, hsz, osz)`.
    pub clusters: Vec<(usize, usize, usize)>,
}

impl AdaptiveLayout {
    /// The head's output width, shortlist + clusters.
    pub fn head_size(&self) -> usize {
        self.shortlist + self.clusters.len()
    }

    /// The cluster of class `c` (`None` for the shortlist).
    fn cluster_of(&self, c: usize) -> Option<usize> {
        self.clusters.iter().rposition(|(start, _, _)| c >= *start)
    }
}

impl AdaptiveLogSoftmaxWithLossConfig {
    /// The sizes, or an error for cutoffs that are empty, not strictly increasing, 0 or not
    /// below `n_classes`, a zero `in_features`, or a `div_value` that is not > 0.
    pub fn try_layout(&self) -> LossResult<AdaptiveLayout> {
        let bad_cutoffs = |why: String| {
            Err(LossError::new(
                NAME,
                "cutoffs",
                format!(
                    "must be strictly increasing positive integers below n_classes = {}; {why}",
                    self.n_classes
                ),
            ))
        };
        if self.cutoffs.is_empty() {
            return bad_cutoffs("got none".into());
        }
        let c = &self.cutoffs;
        if c[0] == 0 {
            return bad_cutoffs(format!("got {c:?}, which holds 0"));
        }
        if c.windows(2).any(|w| w[0] >= w[1]) {
            return bad_cutoffs(format!("got {c:?}, not strictly increasing"));
        }
        if c[c.len() - 1] >= self.n_classes {
            return bad_cutoffs(format!("got {c:?}"));
        }
        if self.in_features == 0 {
            return Err(LossError::new(NAME, "in_features", "must be >= 1; got 0"));
        }
        if !(self.div_value > 0.0 && self.div_value.is_finite()) {
            return Err(LossError::new(
                NAME,
                "div_value",
                format!("must be > 0 and finite; got {}", self.div_value),
            ));
        }
        let mut bounds = c.clone();
        bounds.push(self.n_classes);
        let clusters = bounds
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let hsz = floor_div(self.in_features as f64, self.div_value.powf((i + 1) as f64));
                (w[0], hsz as usize, w[1] - w[0])
            })
            .collect();
        Ok(AdaptiveLayout {
            in_features: self.in_features,
            n_classes: self.n_classes,
            shortlist: c[0],
            clusters,
        })
    }

    /// The module with PyTorch's initialisation of its linear layers
    /// (`U(-1/√fan_in, 1/√fan_in)`), or the error of [`try_layout`](Self::try_layout).
    pub fn try_init(&self, device: &Device) -> LossResult<AdaptiveLogSoftmaxWithLoss> {
        let layout = self.try_layout()?;
        let head = LinearConfig::new(self.in_features, layout.head_size())
            .with_bias(self.head_bias)
            .init(device);
        let tail = layout
            .clusters
            .iter()
            .map(|&(_, hsz, osz)| AdaptiveTail {
                projection: (hsz > 0).then(|| {
                    LinearConfig::new(self.in_features, hsz)
                        .with_bias(false)
                        .init(device)
                }),
                output: (hsz > 0)
                    .then(|| LinearConfig::new(hsz, osz).with_bias(false).init(device)),
                size: osz,
            })
            .collect();
        Ok(AdaptiveLogSoftmaxWithLoss { head, tail, layout })
    }

    /// The module; panics with the error of [`try_init`](Self::try_init).
    #[track_caller]
    pub fn init(&self, device: &Device) -> AdaptiveLogSoftmaxWithLoss {
        or_panic(self.try_init(device))
    }
}

/// One cluster of the tail: `Linear(in, hsz)` then `Linear(hsz, osz)`, no biases; both absent
/// when `hsz = 0` (the cluster's logits are then 0, its log-softmax uniform).
#[derive(Module, Debug)]
pub struct AdaptiveTail {
    /// `in_features → hsz`.
    pub projection: Option<Linear>,
    /// `hsz → osz`.
    pub output: Option<Linear>,
    /// The number of classes of the cluster, `osz`.
    #[module(skip)]
    pub size: usize,
}

/// The output of [`AdaptiveLogSoftmaxWithLoss::forward`], PyTorch's `_ASMoutput`.
#[derive(Debug, Clone)]
pub struct AdaptiveLogSoftmaxOutput {
    /// The log-probability of each row's target `[N]`.
    pub output: Tensor<1>,
    /// The mean of `-output` `[1]`.
    pub loss: Tensor<1>,
}

/// Adaptive softmax with loss, PyTorch's `nn.AdaptiveLogSoftmaxWithLoss`: a softmax over many
/// classes that spends little on the rare ones. The head scores the shortlist (the frequent
/// classes, `[0, cutoffs[0])`) and one entry per cluster; cluster `i` (classes
/// `[cutoffs[i], cutoffs[i+1])`) has its own small two-layer tail:
///
/// ```text
/// h = log_softmax(head(x))                                  [N, shortlist + clusters]
/// log p(c | x) = h_c                                        c in the shortlist
///              = h_{shortlist+i} + log_softmax(tail_i(x))_{c - cutoffs[i]}   c in cluster i
/// tail_i(x) = W_i2 (W_i1 x),  W_i1: [hsz_i, in], hsz_i = floor(in / div_value^(i+1))
/// output_n = log p(y_n | x_n),   loss = mean_n(-output_n)
/// ```
///
/// For language models with large vocabularies (Grave et al., "Efficient softmax approximation
/// for GPUs", 2017): `forward` evaluates each row's head and only the tail of its target's
/// cluster.
#[derive(Module, Debug)]
pub struct AdaptiveLogSoftmaxWithLoss {
    /// `Linear(in_features, shortlist + clusters)`, bias as configured.
    pub head: Linear,
    /// One per cluster.
    pub tail: Vec<AdaptiveTail>,
    /// The sizes.
    #[module(skip)]
    pub layout: AdaptiveLayout,
}

/// The weights of an adaptive softmax in Burn's `[in, out]` layout: the module's, or tensors
/// given by name (the registry).
pub(crate) struct AdaptiveWeights<'a> {
    pub layout: &'a AdaptiveLayout,
    pub head: Tensor<2>,
    pub head_bias: Option<Tensor<1>>,
    /// Per cluster, `(projection, output)`; `None` when `hsz = 0`.
    pub tails: Vec<Option<(Tensor<2>, Tensor<2>)>>,
}

impl AdaptiveWeights<'_> {
    fn check_input(&self, input: &Tensor<2>) -> LossResult<()> {
        let [_, width] = input.dims();
        if width != self.layout.in_features {
            return Err(LossError::new(
                NAME,
                "input",
                format!(
                    "must have in_features = {} columns; got shape {:?}",
                    self.layout.in_features,
                    input.dims()
                ),
            ));
        }
        Ok(())
    }

    /// `log_softmax(head(x))` `[N, head_size]`.
    fn head_log_probs(&self, input: Tensor<2>) -> Tensor<2> {
        log_softmax(linear(input, self.head.clone(), self.head_bias.clone()), 1)
    }

    /// `log_softmax(tail_i(x))` `[rows, osz_i]`.
    fn tail_log_probs(&self, i: usize, input: Tensor<2>) -> Tensor<2> {
        let rows = input.dims()[0];
        let (_, _, osz) = self.layout.clusters[i];
        match &self.tails[i] {
            Some((projection, output)) => {
                log_softmax(input.matmul(projection.clone()).matmul(output.clone()), 1)
            }
            None => Tensor::<2>::full([rows, osz], -(osz as f64).ln(), &input.device()),
        }
    }

    /// The target log-probabilities and the loss (the formula of
    /// [`AdaptiveLogSoftmaxWithLoss`]).
    pub fn forward(
        &self,
        input: Tensor<2>,
        target: Tensor<1, Int>,
    ) -> LossResult<AdaptiveLogSoftmaxOutput> {
        self.check_input(&input)?;
        let n = input.dims()[0];
        if target.dims() != [n] {
            return Err(LossError::new(
                NAME,
                "target",
                format!(
                    "must hold one class per row of input, shape [{n}]; got {:?}",
                    target.dims()
                ),
            ));
        }
        let layout = self.layout;
        let classes: Vec<i64> = target
            .to_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .expect("i64 data");
        if let Some((i, c)) = classes
            .iter()
            .enumerate()
            .find(|(_, c)| **c < 0 || **c as usize >= layout.n_classes)
        {
            return Err(LossError::new(
                NAME,
                "target",
                format!(
                    "must hold class indices in [0, {}); got {c} at index [{i}]",
                    layout.n_classes
                ),
            ));
        }
        let device = target.device();
        let ints = |v: Vec<i64>| {
            let len = v.len();
            Tensor::<1, Int>::from_data(TensorData::new(v, [len]), &device)
        };
        // The head's column of each row: its class, or its cluster's entry.
        let mut column = Vec::with_capacity(n);
        let mut members = vec![(Vec::new(), Vec::new()); layout.clusters.len()];
        for (row, &c) in classes.iter().enumerate() {
            match layout.cluster_of(c as usize) {
                None => column.push(c),
                Some(i) => {
                    column.push((layout.shortlist + i) as i64);
                    members[i].0.push(row as i64);
                    members[i].1.push(c - layout.clusters[i].0 as i64);
                }
            }
        }
        let head = self.head_log_probs(input.clone());
        let mut output = head.gather(1, ints(column).reshape([n, 1])).reshape([n]);
        for (i, (rows, relative)) in members.into_iter().enumerate() {
            let k = rows.len();
            if k == 0 {
                continue;
            }
            let rows = ints(rows);
            let local = self
                .tail_log_probs(i, input.clone().select(0, rows.clone()))
                .gather(1, ints(relative).reshape([k, 1]))
                .reshape([k]);
            output = output.select_assign(0, rows, local, IndexingUpdateOp::Add);
        }
        let loss = reduced(NAME, output.clone().neg(), Reduction::Mean)?;
        Ok(AdaptiveLogSoftmaxOutput { output, loss })
    }

    /// Every class's log-probability `[N, n_classes]`.
    pub fn log_prob(&self, input: Tensor<2>) -> LossResult<Tensor<2>> {
        self.check_input(&input)?;
        let head = self.head_log_probs(input.clone());
        let [n, _] = head.dims();
        let shortlist = self.layout.shortlist;
        let mut parts = vec![head.clone().slice([0..n, 0..shortlist])];
        for i in 0..self.layout.clusters.len() {
            let entry = head.clone().slice([0..n, shortlist + i..shortlist + i + 1]);
            parts.push(self.tail_log_probs(i, input.clone()).add(entry));
        }
        Ok(Tensor::cat(parts, 1))
    }

    /// The most likely class of each row `[N]`: the head's choice when it is in the
    /// shortlist, the most likely class overall otherwise (as PyTorch).
    pub fn predict(&self, input: Tensor<2>) -> LossResult<Tensor<1, Int>> {
        self.check_input(&input)?;
        let n = input.dims()[0];
        let head = linear(input.clone(), self.head.clone(), self.head_bias.clone());
        let choice = head.argmax(1).reshape([n]);
        let full = self.log_prob(input)?.argmax(1).reshape([n]);
        let in_shortlist = choice.clone().lower_elem(self.layout.shortlist as i64);
        Ok(full.mask_where(in_shortlist, choice))
    }
}

impl AdaptiveLogSoftmaxWithLoss {
    fn weights(&self) -> AdaptiveWeights<'_> {
        AdaptiveWeights {
            layout: &self.layout,
            head: self.head.weight.val(),
            head_bias: self.head.bias.as_ref().map(|b| b.val()),
            tails: self
                .tail
                .iter()
                .map(|t| match (&t.projection, &t.output) {
                    (Some(p), Some(o)) => Some((p.weight.val(), o.weight.val())),
                    _ => None,
                })
                .collect(),
        }
    }

    /// The target log-probabilities `[N]` of `input` `[N, in_features]` and the mean loss
    /// (the formula of [`AdaptiveLogSoftmaxWithLoss`]), or an error for an input of another
    /// width, a target of another length or a class outside `[0, n_classes)`.
    pub fn try_forward(
        &self,
        input: Tensor<2>,
        target: Tensor<1, Int>,
    ) -> LossResult<AdaptiveLogSoftmaxOutput> {
        self.weights().forward(input, target)
    }

    /// [`try_forward`](Self::try_forward); panics on errors.
    #[track_caller]
    pub fn forward(&self, input: Tensor<2>, target: Tensor<1, Int>) -> AdaptiveLogSoftmaxOutput {
        or_panic(self.try_forward(input, target))
    }

    /// Every class's log-probability `[N, n_classes]`, or an error for an input of another
    /// width.
    pub fn try_log_prob(&self, input: Tensor<2>) -> LossResult<Tensor<2>> {
        self.weights().log_prob(input)
    }

    /// [`try_log_prob`](Self::try_log_prob); panics on errors.
    #[track_caller]
    pub fn log_prob(&self, input: Tensor<2>) -> Tensor<2> {
        or_panic(self.try_log_prob(input))
    }

    /// The most likely class of each row `[N]`, or an error for an input of another width.
    pub fn try_predict(&self, input: Tensor<2>) -> LossResult<Tensor<1, Int>> {
        self.weights().predict(input)
    }

    /// [`try_predict`](Self::try_predict); panics on errors.
    #[track_caller]
    pub fn predict(&self, input: Tensor<2>) -> Tensor<1, Int> {
        or_panic(self.try_predict(input))
    }
}
