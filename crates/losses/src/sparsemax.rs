//! Sparsemax and the sparsemax losses, Optax's `sparsemax_loss` (binary) and
//! `multiclass_sparsemax_loss`.

use burn::config::Config;
use burn::tensor::{IndexingUpdateOp, Int, Tensor};

use crate::LossSettings;
use crate::error::{LossError, or_panic};
use crate::pair::pair_loss;
use crate::settings::loss_config;
use crate::{LossResult, Reduction, checks, reduction::reduced};

const BINARY: &str = "sparsemax_loss";
const MULTICLASS: &str = "multiclass_sparsemax_loss";

/// The support of `sparsemax(z)` along dimension 1, as a detached 0/1 mask `[N, C]`, found
/// exactly by sorting (Martins & Astudillo 2016, Algorithm 1):
///
/// ```text
/// z_(1) ≥ z_(2) ≥ ...  (sorted)      k(z) = max { k : 1 + k z_(k) > Σ_{j ≤ k} z_(j) }
/// support = the k(z) largest entries of z
/// ```
fn support(z: Tensor<2>) -> Tensor<2> {
    let [n, c] = z.dims();
    let device = z.device();
    let (sorted, order) = z.detach().sort_descending_with_indices(1);
    let cumulative = sorted.clone().cumsum(1);
    let k = Tensor::<1, Int>::arange(1..c as i64 + 1, &device)
        .float()
        .reshape([1, c])
        .expand([n, c]);
    let size = sorted
        .mul(k.clone())
        .add_scalar(1.0)
        .greater(cumulative)
        .float()
        .sum_dim(1);
    let in_support = k.lower_equal(size.expand([n, c])).float();
    Tensor::<2>::zeros([n, c], &device).scatter(1, order, in_support, IndexingUpdateOp::Add)
}

/// The threshold τ(z) `[N, 1]` of the rows of `z` on their support `mask`:
/// `τ = (Σ_{j ∈ S} z_j - 1) / |S|`, differentiable in `z` (the support is held fixed).
fn threshold(z: Tensor<2>, mask: Tensor<2>) -> Tensor<2> {
    let size = mask.clone().sum_dim(1);
    z.mul(mask).sum_dim(1).sub_scalar(1.0).div(size)
}

/// Sparsemax of the rows of `z` `[N, C]` (Martins & Astudillo 2016), the Euclidean
/// projection of each row onto the probability simplex (Optax's
/// `projections.projection_simplex`, JAX's `jax.nn.sparsemax`):
///
/// ```text
/// sparsemax(z) = argmin_{p ∈ Δ} ‖p - z‖² = max(z - τ(z), 0)
/// τ(z) = (Σ_{j ∈ S(z)} z_j - 1) / |S(z)|       S(z): the support, found by sorting z
/// ```
///
/// Like softmax, a distribution over the classes; unlike it, exactly 0 outside the support.
/// Differentiable: the Jacobian is `diag(s) - s sᵀ / |S|` (s the support's indicator).
pub fn sparsemax(z: Tensor<2>) -> Tensor<2> {
    let mask = support(z.clone());
    let tau = threshold(z.clone(), mask.clone());
    z.sub(tau).mul(mask)
}

/// Configuration of the [binary](SparsemaxLoss) and [multi-class](MulticlassSparsemaxLoss)
/// sparsemax losses.
#[derive(Config, Debug)]
pub struct SparsemaxLossConfig {
    /// How per-example losses are reduced (`none`: Optax's per-example values, `mean`, `sum`).
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Kernel and value checks (see [`LossSettings`]).
    #[config(default = "LossSettings::new()")]
    pub settings: LossSettings,
}

impl SparsemaxLossConfig {
    /// Builds the binary sparsemax loss (Optax's `sparsemax_loss`).
    pub fn try_init(&self) -> LossResult<SparsemaxLoss> {
        Ok(SparsemaxLoss {
            reduction: self.reduction.check_elementwise(BINARY)?,
            settings: self.settings,
        })
    }

    /// Builds the multi-class sparsemax loss (Optax's `multiclass_sparsemax_loss`).
    pub fn try_init_multiclass(&self) -> LossResult<MulticlassSparsemaxLoss> {
        Ok(MulticlassSparsemaxLoss {
            reduction: self.reduction.check_elementwise(MULTICLASS)?,
            settings: self.settings,
        })
    }

    /// Builds the multi-class sparsemax loss.
    ///
    /// # Panics
    /// When a hyperparameter is invalid, with the message of `try_init_multiclass`.
    #[track_caller]
    pub fn init_multiclass(&self) -> MulticlassSparsemaxLoss {
        or_panic(self.try_init_multiclass())
    }
}

loss_config!(SparsemaxLossConfig => SparsemaxLoss);

/// Binary sparsemax loss, Optax's `optax.losses.sparsemax_loss` (Blondel et al. 2020, §4.4),
/// of logits `x` against labels `y ∈ {0, 1}` of the same shape, element-wise:
///
/// ```text
/// ℓ = sparse_plus(y ? -x : x)
/// sparse_plus(u) = 0 (u ≤ -1),  (u + 1)² / 4 (-1 < u < 1),  u (u ≥ 1)
/// ∂ℓ/∂x = sparse_sigmoid(x) - y,   sparse_sigmoid(x) = clip((x + 1) / 2, 0, 1)
/// ```
///
/// The sparsemax loss of the two scores `[0, x]` (see [`MulticlassSparsemaxLoss`]): zero
/// exactly when `sparse_sigmoid(x) = y`, i.e. once `x ≥ 1` for `y = 1` or `x ≤ -1` for
/// `y = 0`, a hinge-like margin with a smooth (quadratic) corner.
#[derive(Debug, Clone)]
pub struct SparsemaxLoss {
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl SparsemaxLoss {
    fn elementwise<const D: usize>(
        &self,
        input: Tensor<D>,
        target: Tensor<D>,
    ) -> LossResult<Tensor<D>> {
        checks::zero_one(BINARY, "target", &target)?;
        // u = (1 - 2y)·x: -x for y = 1, x for y = 0.
        let u = target.mul_scalar(-2.0).add_scalar(1.0).mul(input);
        let inner = u.clone().clamp(-1.0, 1.0).add_scalar(1.0);
        Ok(inner
            .square()
            .div_scalar(4.0)
            .add(u.sub_scalar(1.0).clamp_min(0.0)))
    }
}

pair_loss!(SparsemaxLoss, BINARY);

/// Multi-class sparsemax loss, Optax's `optax.losses.multiclass_sparsemax_loss` (Martins &
/// Astudillo 2016), of scores `z` `[N, C]` and class indices `y` `[N]`:
///
/// ```text
/// p = sparsemax(z)                               (exact, sort-based; see sparsemax)
/// ℓ = ⟨p, z - z_y⟩ + ½ (1 - ‖p‖²)  =  ½ Σ_{j ∈ S(z)} (z_j² - τ(z)²) + ½ - z_y
/// ∂ℓ/∂z = sparsemax(z) - onehot(y)
/// ```
///
/// The Fenchel–Young loss of sparsemax: the sparse counterpart of softmax cross-entropy,
/// non-negative, zero exactly when `sparsemax(z)` is the one-hot of `y` (the labelled score
/// leads the others by at least 1). Computed on `z - z_y` (the loss is shift-invariant), as
/// Optax does, with the support found by sorting and held fixed so that autodiff gives the
/// gradient above.
#[derive(Debug, Clone)]
pub struct MulticlassSparsemaxLoss {
    /// The reduction applied by `forward`.
    pub reduction: Reduction,
    /// Kernel and value checks.
    pub settings: LossSettings,
}

impl MulticlassSparsemaxLoss {
    /// Per-example losses `[N]` (the formula of [`MulticlassSparsemaxLoss`]; Optax's output),
    /// or an error for mismatched shapes, no class, class indices out of range or NaN/inf.
    pub fn try_forward_no_reduction(
        &self,
        scores: Tensor<2>,
        labels: Tensor<1, Int>,
    ) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            let [n, classes] = scores.dims();
            checks::same_shape(
                MULTICLASS,
                "labels",
                &labels.dims(),
                "scores' first dimension",
                &[n],
            )?;
            checks::same_place(MULTICLASS, "labels", &labels, &scores)?;
            if classes == 0 {
                return Err(LossError::new(
                    MULTICLASS,
                    "scores",
                    format!("must have at least one class; got shape [{n}, 0]"),
                ));
            }
            checks::finite(MULTICLASS, "scores", &scores)?;
            checks::class_indices_of(MULTICLASS, "labels", &labels, classes, None)?;
            let z_y = scores.clone().gather(1, labels.reshape([n, 1]));
            let z = scores.sub(z_y);
            let mask = support(z.clone());
            let tau = threshold(z.clone(), mask.clone());
            // ½ Σ_{j ∈ S} (z_j - τ)(z_j + τ) + ½, with z_y = 0 after the shift.
            let p = z.clone().sub(tau.clone()).mul(mask);
            Ok(p.mul(z.add(tau))
                .sum_dim(1)
                .mul_scalar(0.5)
                .add_scalar(0.5)
                .reshape([n]))
        })
    }

    /// Per-example losses; panics on errors.
    #[track_caller]
    pub fn forward_no_reduction(&self, scores: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
        or_panic(self.try_forward_no_reduction(scores, labels))
    }

    /// The reduced loss, or an error.
    pub fn try_forward(&self, scores: Tensor<2>, labels: Tensor<1, Int>) -> LossResult<Tensor<1>> {
        checks::scope(self.settings.checks, || {
            reduced(
                MULTICLASS,
                self.try_forward_no_reduction(scores, labels)?,
                self.reduction,
            )
        })
    }

    /// The reduced loss; panics on errors.
    #[track_caller]
    pub fn forward(&self, scores: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
        or_panic(self.try_forward(scores, labels))
    }
}

/// Binary sparsemax loss of logits against labels in {0, 1} (same shape); see
/// [`SparsemaxLoss`]. `Reduction::None` gives Optax's `sparsemax_loss`.
///
/// # Panics
/// On mismatched shapes, labels other than 0 and 1, NaN/inf, or `batchmean`.
#[track_caller]
pub fn sparsemax_loss<const D: usize>(
    logits: Tensor<D>,
    labels: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(
        SparsemaxLossConfig::new()
            .with_reduction(reduction)
            .try_init(),
    )
    .forward(logits, labels)
}

/// Multi-class sparsemax loss of scores `[N, C]` and class indices `[N]`; see
/// [`MulticlassSparsemaxLoss`]. `Reduction::None` gives Optax's `multiclass_sparsemax_loss`.
///
/// # Panics
/// On mismatched shapes, no class, class indices out of range, NaN/inf, or `batchmean`.
#[track_caller]
pub fn multiclass_sparsemax_loss(
    scores: Tensor<2>,
    labels: Tensor<1, Int>,
    reduction: Reduction,
) -> Tensor<1> {
    or_panic(
        SparsemaxLossConfig::new()
            .with_reduction(reduction)
            .try_init_multiclass(),
    )
    .forward(scores, labels)
}
