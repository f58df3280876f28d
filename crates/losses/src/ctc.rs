//! Connectionist temporal classification (CTC) loss.

use burn::config::Config;
use burn::tensor::{Int, Tensor, TensorData};
use rayon::prelude::*;

use crate::LossSettings;
use crate::error::{LossError, or_panic};
use crate::reduction::nonempty;
use crate::settings::loss_config;
use crate::{LossResult, Reduction};

const NAME: &str = "ctc_loss";

/// Configuration of the [CTC loss](CtcLoss).
#[derive(Config, Debug)]
pub struct CtcLossConfig {
    /// The class index of the blank label (PyTorch's default 0); must be a class of the input.
    #[config(default = 0)]
    pub blank: usize,
    /// How per-sequence losses are reduced: `none`; `mean`, PyTorch's default, divides each
    /// loss by its target length (clamped at 1) and averages over the batch; `sum`.
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Infinite losses (no alignment exists: the input is too short for its target) and
    /// their gradients become 0.
    #[config(default = false)]
    pub zero_infinity: bool,
    /// Kernel and value checks (see [`LossSettings`]). Lengths and target indices are always
    /// checked (they index the input); the checks cover NaN and +inf log-probabilities.
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl CtcLossConfig {
    /// Builds the loss; the reduction must be `none`, `mean` or `sum`.
    pub fn try_init(&self) -> LossResult<CtcLoss> {
        Ok(CtcLoss {
            blank: self.blank,
            reduction: self.reduction.check_elementwise(NAME)?,
            zero_infinity: self.zero_infinity,
            settings: self.settings,
        })
    }
}

loss_config!(CtcLossConfig => CtcLoss);

/// CTC loss, PyTorch's `ctc_loss`, of log-probabilities `log_probs` `[T, N, C]` (a
/// `log_softmax` over the classes) and targets `[N, S]` (padded; or concatenated `[Σ L_n]`),
/// with per-sequence lengths `T_n ≤ T` (`input_lengths`) and `L_n` (`target_lengths`):
///
/// ```text
/// l' = (b, l_1, b, l_2, ..., b, l_L, b)                  (b: blank; |l'| = 2L + 1)
/// α_0(0) = y_0(b),  α_0(1) = y_0(l_1)                    (log space: products are sums)
/// α_t(s) = y_t(l'_s) · (α_{t-1}(s) + α_{t-1}(s-1) + [l'_s ≠ l'_{s-2}] α_{t-1}(s-2))
/// ℓ_n = -log(α_{T_n-1}(2L) + α_{T_n-1}(2L-1))            (+∞ when no alignment exists)
/// β backwards likewise; with lp = log y,
/// ∂ℓ_n/∂lp_t(c) = exp(lp_t(c)) - Σ_{s: l'_s = c} exp(log α_t(s) + log β_t(s) + ℓ_n - lp_t(c))
///                 for t < T_n, 0 for t ≥ T_n
/// mean: Σ_n ℓ_n / max(L_n, 1) / N;   sum: Σ_n ℓ_n;   none: ℓ
/// ```
///
/// The gradient is PyTorch's: it assumes `log_probs` came from a log-softmax (the
/// `exp(lp)` term is the softmax's normalisation), as PyTorch's does. Computed in `f64` on the
/// host, O(T·S) per sequence, the sequences in parallel; with `zero_infinity` an impossible
/// alignment gives 0 and a zero gradient. For sequence labelling without a frame alignment
/// (speech and handwriting recognition).
#[derive(Debug, Clone)]
pub struct CtcLoss {
    /// The blank class.
    pub blank: usize,
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Whether infinite losses become 0.
    pub zero_infinity: bool,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

/// Targets on the host: padded rows of width `S`, or concatenated.
enum Targets {
    Padded { data: Vec<i64>, width: usize },
    Concatenated { data: Vec<i64>, offsets: Vec<usize> },
}

impl Targets {
    fn of(&self, n: usize, len: usize) -> &[i64] {
        match self {
            Targets::Padded { data, width } => &data[n * width..n * width + len],
            Targets::Concatenated { data, offsets } => &data[offsets[n]..offsets[n] + len],
        }
    }
}

fn host_ints<const D: usize>(t: &Tensor<D, Int>) -> Vec<i64> {
    t.to_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .expect("i64 data")
}

const NEG_INF: f64 = f64::NEG_INFINITY;

/// `log(e^a + e^b)`, −∞ when both are.
#[inline]
fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == NEG_INF {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// `log(e^a + e^b + e^c)`, −∞ when all three are.
#[inline]
fn log_add3(a: f64, b: f64, c: f64) -> f64 {
    if c == NEG_INF {
        return log_add(a, b);
    }
    let m = a.max(b).max(c);
    m + ((a - m).exp() + (b - m).exp() + (c - m).exp()).ln()
}

/// One sequence: `log_probs` `[T, N, C]` (flat) read at this sequence's rows, its extended
/// labels `l'` and which states may be entered by skipping a blank.
struct Sequence<'a> {
    lp: &'a [f32],
    /// Offset of this sequence's row at t = 0 and the stride between time steps.
    offset: usize,
    stride: usize,
    classes: usize,
    input_length: usize,
    /// `l'`: blank, l_1, blank, ..., l_L, blank.
    labels: Vec<usize>,
    /// `skip[s]`: the transition `s - 2 → s` is allowed (`l'_s` a label other than `l'_{s-2}`).
    skip: Vec<bool>,
}

impl<'a> Sequence<'a> {
    fn new(
        lp: &'a [f32],
        [n, classes]: [usize; 2],
        b: usize,
        blank: usize,
        input_length: usize,
        target: &[i64],
    ) -> Self {
        let labels: Vec<usize> = (0..2 * target.len() + 1)
            .map(|s| {
                if s % 2 == 1 {
                    target[s / 2] as usize
                } else {
                    blank
                }
            })
            .collect();
        let skip = (0..labels.len())
            .map(|s| s >= 2 && s % 2 == 1 && labels[s] != labels[s - 2])
            .collect();
        Self {
            lp,
            offset: b * classes,
            stride: n * classes,
            classes,
            input_length,
            labels,
            skip,
        }
    }

    /// This sequence's `log y_t`, `[C]`.
    #[inline]
    fn row(&self, t: usize) -> &[f32] {
        &self.lp[self.offset + t * self.stride..][..self.classes]
    }

    /// The states that lie on a complete alignment at frame `t`: reachable from the start
    /// (`s < 2(t + 1)`) and able to reach the end (`s ≥ |l'| - 2(T_n - t)`). Outside, α·β = 0.
    #[inline]
    fn band(&self, t: usize) -> (usize, usize) {
        let width = self.labels.len();
        let lo = width.saturating_sub(2 * (self.input_length - t));
        (lo, width.min(2 * (t + 1)))
    }

    /// `log α` `[T_n, |l'|]`, flat, −∞ outside the band.
    fn alpha(&self) -> Vec<f64> {
        let width = self.labels.len();
        let mut a = vec![NEG_INF; self.input_length * width];
        let (lo, hi) = self.band(0);
        let row = self.row(0);
        for s in lo..hi {
            a[s] = row[self.labels[s]] as f64;
        }
        for t in 1..self.input_length {
            let (prev, cur) = a[(t - 1) * width..(t + 1) * width].split_at_mut(width);
            let row = self.row(t);
            let (lo, hi) = self.band(t);
            for s in lo..hi {
                let one = if s >= 1 { prev[s - 1] } else { NEG_INF };
                let two = if self.skip[s] { prev[s - 2] } else { NEG_INF };
                cur[s] = log_add3(prev[s], one, two) + row[self.labels[s]] as f64;
            }
        }
        a
    }

    /// `log β` `[T_n, |l'|]`, flat, −∞ outside the band.
    fn beta(&self) -> Vec<f64> {
        let (steps, width) = (self.input_length, self.labels.len());
        let mut b = vec![NEG_INF; steps * width];
        let last = (steps - 1) * width;
        let row = self.row(steps - 1);
        for s in width.saturating_sub(2)..width {
            b[last + s] = row[self.labels[s]] as f64;
        }
        for t in (0..steps - 1).rev() {
            let (cur, next) = b[t * width..(t + 2) * width].split_at_mut(width);
            let row = self.row(t);
            let (lo, hi) = self.band(t);
            for s in lo..hi {
                let one = if s + 1 < width { next[s + 1] } else { NEG_INF };
                let two = if s + 2 < width && self.skip[s + 2] {
                    next[s + 2]
                } else {
                    NEG_INF
                };
                cur[s] = log_add3(next[s], one, two) + row[self.labels[s]] as f64;
            }
        }
        b
    }

    /// The loss `ℓ` (before `zero_infinity`), and `scale · ∂ℓ/∂lp` (PyTorch's) into `grad`
    /// `[T, C]` (rows `t ≥ T_n` left at 0).
    fn run(&self, grad: Option<&mut [f32]>, scale: f64, zero_infinity: bool) -> f64 {
        let width = self.labels.len();
        if self.input_length == 0 {
            // No frame: only the empty target has an alignment; no gradient.
            return if width == 1 { 0.0 } else { f64::INFINITY };
        }
        let alpha = self.alpha();
        let end = &alpha[(self.input_length - 1) * width..];
        let nll = -log_add(
            end[width - 1],
            if width > 1 { end[width - 2] } else { NEG_INF },
        );
        let Some(grad) = grad else { return nll };
        if nll == f64::INFINITY && zero_infinity {
            return nll;
        }
        if !nll.is_finite() {
            // PyTorch's formula gives NaN throughout (∞ - ∞).
            grad[..self.input_length * self.classes].fill(f32::NAN);
            return nll;
        }
        let beta = self.beta();
        let mut occupancy = vec![0.0f64; self.classes];
        for t in 0..self.input_length {
            occupancy.fill(0.0);
            let (a, b) = (&alpha[t * width..][..width], &beta[t * width..][..width]);
            let (lo, hi) = self.band(t);
            for s in lo..hi {
                let ab = a[s] + b[s];
                if ab != NEG_INF {
                    occupancy[self.labels[s]] += (ab + nll).exp();
                }
            }
            let row = &mut grad[t * self.classes..(t + 1) * self.classes];
            for ((g, occ), lp) in row.iter_mut().zip(&occupancy).zip(self.row(t)) {
                let lp = *lp as f64;
                *g = ((lp.exp() - (occ.ln() - lp).exp()) * scale) as f32;
            }
        }
        nll
    }
}

impl CtcLoss {
    /// Checks the lengths and targets against the shapes (always: they index the input) and
    /// the classes, and reads them to the host.
    fn host_inputs(
        &self,
        dims: [usize; 3],
        targets: TargetsIn,
        input_lengths: &Tensor<1, Int>,
        target_lengths: &Tensor<1, Int>,
    ) -> LossResult<(Targets, Vec<usize>, Vec<usize>)> {
        let [steps, n, classes] = dims;
        if classes == 0 {
            return Err(LossError::new(
                NAME,
                "log_probs",
                format!("must have at least one class (the blank); got shape {dims:?}"),
            ));
        }
        if self.blank >= classes {
            return Err(LossError::new(
                NAME,
                "blank",
                format!(
                    "must be a class of log_probs, in [0, {classes}); got {}",
                    self.blank
                ),
            ));
        }
        for (arg, t) in [
            ("input_lengths", input_lengths),
            ("target_lengths", target_lengths),
        ] {
            if t.dims() != [n] {
                return Err(LossError::new(
                    NAME,
                    arg,
                    format!(
                        "must hold one length per sequence, shape [{n}] (log_probs' second \
                         dimension); got {:?}",
                        t.dims()
                    ),
                ));
            }
        }
        let lengths = |arg: &'static str, values: Vec<i64>, max: usize, what: &str| match values
            .iter()
            .enumerate()
            .find(|(_, v)| **v < 0 || **v as usize > max)
        {
            Some((i, v)) => Err(LossError::new(
                NAME,
                arg,
                format!("must lie in [0, {max}] ({what}); got {v} at index [{i}]"),
            )),
            None => Ok(values.into_iter().map(|v| v as usize).collect::<Vec<_>>()),
        };
        let input_lengths = lengths(
            "input_lengths",
            host_ints(input_lengths),
            steps,
            "log_probs' first dimension, T",
        )?;
        let (targets, target_lengths) = match targets {
            TargetsIn::Padded(t) => {
                let [rows, width] = t.dims();
                if rows != n {
                    return Err(LossError::new(
                        NAME,
                        "targets",
                        format!(
                            "must have one row per sequence, [{n}, S] (log_probs' second \
                             dimension); got {:?}",
                            t.dims()
                        ),
                    ));
                }
                let target_lengths = lengths(
                    "target_lengths",
                    host_ints(target_lengths),
                    width,
                    "targets' second dimension, S",
                )?;
                let data = host_ints(&t);
                (Targets::Padded { data, width }, target_lengths)
            }
            TargetsIn::Concatenated(t) => {
                let total = t.dims()[0];
                let target_lengths = lengths(
                    "target_lengths",
                    host_ints(target_lengths),
                    total,
                    "the length of the concatenated targets",
                )?;
                let sum: usize = target_lengths.iter().sum();
                if sum != total {
                    return Err(LossError::new(
                        NAME,
                        "target_lengths",
                        format!(
                            "must sum to the length of the concatenated targets, {total}; got \
                             {sum}"
                        ),
                    ));
                }
                let offsets = target_lengths
                    .iter()
                    .scan(0, |at, l| {
                        let o = *at;
                        *at += l;
                        Some(o)
                    })
                    .collect();
                let data = host_ints(&t);
                (Targets::Concatenated { data, offsets }, target_lengths)
            }
        };
        for (i, &len) in target_lengths.iter().enumerate() {
            let row = targets.of(i, len);
            if let Some((j, v)) = row
                .iter()
                .enumerate()
                .find(|(_, v)| **v < 0 || **v as usize >= classes || **v as usize == self.blank)
            {
                let index = match targets {
                    Targets::Padded { .. } => format!("[{i}, {j}]"),
                    Targets::Concatenated { ref offsets, .. } => format!("[{}]", offsets[i] + j),
                };
                return Err(LossError::new(
                    NAME,
                    "targets",
                    format!(
                        "must hold class indices in [0, {classes}) other than the blank {} \
                         (within target_lengths); got {v} at index {index}",
                        self.blank
                    ),
                ));
            }
        }
        Ok((targets, input_lengths, target_lengths))
    }

    /// The losses reduced by `reduction` (`none`: per sequence), with PyTorch's gradient.
    fn compute(
        &self,
        log_probs: Tensor<3>,
        targets: TargetsIn,
        input_lengths: Tensor<1, Int>,
        target_lengths: Tensor<1, Int>,
        reduction: Reduction,
    ) -> LossResult<Tensor<1>> {
        let dims = log_probs.dims();
        let [steps, n, classes] = dims;
        nonempty(NAME, &[n], reduction)?;
        let (targets, input_lengths, target_lengths) =
            self.host_inputs(dims, targets, &input_lengths, &target_lengths)?;
        let dtype = log_probs.dtype();
        let lp: Vec<f32> = log_probs
            .to_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32 data");
        if self.settings.checks
            && let Some(i) = lp.iter().position(|v| v.is_nan() || *v == f32::INFINITY)
        {
            let (t, b, c) = (i / (n * classes), i / classes % n, i % classes);
            return Err(LossError::new(
                NAME,
                "log_probs",
                format!(
                    "must hold log-probabilities (finite or -inf); got {} at index [{t}, {b}, \
                     {c}]",
                    lp[i]
                ),
            ));
        }
        // d(reduced)/dℓ_n.
        let weight = |i: usize| match reduction {
            Reduction::Mean => 1.0 / (target_lengths[i].max(1) as f64 * n as f64),
            _ => 1.0,
        };
        let sequence = |i: usize| {
            let target = targets.of(i, target_lengths[i]);
            Sequence::new(&lp, [n, classes], i, self.blank, input_lengths[i], target)
        };
        let tracked = log_probs.is_tracked();
        let block = steps * classes;
        let mut grad = vec![0.0f32; if tracked { n * block } else { 0 }];
        let losses: Vec<f64> = if tracked && block > 0 {
            grad.par_chunks_mut(block)
                .enumerate()
                .map(|(i, g)| sequence(i).run(Some(g), weight(i), self.zero_infinity))
                .collect()
        } else {
            (0..n)
                .into_par_iter()
                .map(|i| sequence(i).run(None, 1.0, self.zero_infinity))
                .collect()
        };
        let losses: Vec<f64> = losses
            .into_iter()
            .map(|l| {
                if self.zero_infinity && l == f64::INFINITY {
                    0.0
                } else {
                    l
                }
            })
            .collect();
        let values: Vec<f32> = match reduction {
            Reduction::None => losses.iter().map(|&l| l as f32).collect(),
            _ => {
                let total: f64 = losses.iter().enumerate().map(|(i, l)| l * weight(i)).sum();
                vec![total as f32]
            }
        };
        let inner = log_probs.device().inner();
        let cast = |t: Tensor<1>| descent_kernel::as_dtype(t, dtype);
        let len = values.len();
        let value = cast(Tensor::<1>::from_data(
            TensorData::new(values, [len]),
            &inner,
        ));
        if !tracked {
            return Ok(if log_probs.is_autodiff() {
                value.autodiff()
            } else {
                value
            });
        }
        // The gradient is laid out [N, T, C]: attached to log_probs seen as [N, T, C], whose
        // leading dimension is the one an unreduced upstream broadcasts over.
        let g = Tensor::<3>::from_data(TensorData::new(grad, [n, steps, classes]), &inner);
        let g = descent_kernel::as_dtype(g, dtype);
        Ok(descent_kernel::grad::with_grad(
            &log_probs.swap_dims(0, 1),
            value,
            g,
        ))
    }

    /// Per-sequence losses `[N]` (the formula of [`CtcLoss`]) of `log_probs` `[T, N, C]` and
    /// padded `targets` `[N, S]`, or an error naming the argument (lengths outside `[0, T]` or
    /// `[0, S]`, targets outside `[0, C)` or equal to the blank, NaN/+inf log-probabilities).
    pub fn try_forward_no_reduction(
        &self,
        log_probs: Tensor<3>,
        targets: Tensor<2, Int>,
        input_lengths: Tensor<1, Int>,
        target_lengths: Tensor<1, Int>,
    ) -> LossResult<Tensor<1>> {
        self.compute(
            log_probs,
            TargetsIn::Padded(targets),
            input_lengths,
            target_lengths,
            Reduction::None,
        )
    }

    /// Per-sequence losses; panics on errors.
    #[track_caller]
    pub fn forward_no_reduction(
        &self,
        log_probs: Tensor<3>,
        targets: Tensor<2, Int>,
        input_lengths: Tensor<1, Int>,
        target_lengths: Tensor<1, Int>,
    ) -> Tensor<1> {
        or_panic(self.try_forward_no_reduction(log_probs, targets, input_lengths, target_lengths))
    }

    /// The loss reduced as configured (the formula of [`CtcLoss`]; `[N]` for `none`) of
    /// `log_probs` `[T, N, C]` and padded `targets` `[N, S]`, or an error.
    pub fn try_forward(
        &self,
        log_probs: Tensor<3>,
        targets: Tensor<2, Int>,
        input_lengths: Tensor<1, Int>,
        target_lengths: Tensor<1, Int>,
    ) -> LossResult<Tensor<1>> {
        self.compute(
            log_probs,
            TargetsIn::Padded(targets),
            input_lengths,
            target_lengths,
            self.reduction,
        )
    }

    /// The reduced loss; panics on errors.
    #[track_caller]
    pub fn forward(
        &self,
        log_probs: Tensor<3>,
        targets: Tensor<2, Int>,
        input_lengths: Tensor<1, Int>,
        target_lengths: Tensor<1, Int>,
    ) -> Tensor<1> {
        or_panic(self.try_forward(log_probs, targets, input_lengths, target_lengths))
    }

    /// [`try_forward`](Self::try_forward) with the targets concatenated, `[Σ L_n]` (PyTorch's
    /// 1-D form); `target_lengths` must sum to their length.
    pub fn try_forward_concatenated(
        &self,
        log_probs: Tensor<3>,
        targets: Tensor<1, Int>,
        input_lengths: Tensor<1, Int>,
        target_lengths: Tensor<1, Int>,
    ) -> LossResult<Tensor<1>> {
        self.compute(
            log_probs,
            TargetsIn::Concatenated(targets),
            input_lengths,
            target_lengths,
            self.reduction,
        )
    }

    /// [`try_forward`](Self::try_forward) of one unbatched sequence: `log_probs` `[T, C]`,
    /// `targets` `[S]`, lengths `[1]`; the loss is `[1]` for every reduction.
    pub fn try_forward_unbatched(
        &self,
        log_probs: Tensor<2>,
        targets: Tensor<1, Int>,
        input_length: Tensor<1, Int>,
        target_length: Tensor<1, Int>,
    ) -> LossResult<Tensor<1>> {
        let [steps, classes] = log_probs.dims();
        let s = targets.dims()[0];
        self.compute(
            log_probs.reshape([steps, 1, classes]),
            TargetsIn::Padded(targets.reshape([1, s])),
            input_length,
            target_length,
            self.reduction,
        )
    }
}

/// The targets as given.
enum TargetsIn {
    Padded(Tensor<2, Int>),
    Concatenated(Tensor<1, Int>),
}

/// CTC loss with blank 0, no `zero_infinity`; see [`CtcLoss`] for the formula.
///
/// # Panics
/// On lengths or targets out of range, NaN/+inf log-probabilities, or `batchmean`.
#[track_caller]
pub fn ctc_loss(
    log_probs: Tensor<3>,
    targets: Tensor<2, Int>,
    input_lengths: Tensor<1, Int>,
    target_lengths: Tensor<1, Int>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(CtcLossConfig::new().with_reduction(reduction).try_init()).forward(
        log_probs,
        targets,
        input_lengths,
        target_lengths,
    )
}
