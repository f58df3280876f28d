//! A running average of a model's weights: `torch.optim.swa_utils.AveragedModel`, with the
//! equal average of stochastic weight averaging (SWA) or an exponential moving average (EMA).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

use crate::error::{OptimError, OptimResult};

/// How [`AveragedModel`] averages.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Averaging {
    /// The equal average of every model seen (SWA, PyTorch's default `avg_fn`):
    /// `θ̄ ← θ̄ + (θ − θ̄) / (n + 1)`.
    Swa,
    /// An exponential moving average (`get_ema_multi_avg_fn(decay)`):
    /// `θ̄ ← θ̄ + (1 − decay)(θ − θ̄)`.
    Ema {
        /// The decay (in [0, 1]; 0.999 is usual).
        decay: f64,
    },
}

/// The average of the models handed to [`update_parameters`](Self::update_parameters), as
/// `AveragedModel`: the first call copies the model, each later one folds it in.
///
/// ```text
/// n = 0:  θ̄ = θ
/// n > 0:  θ̄ ← θ̄ + w (θ − θ̄),   w = 1 / (n + 1) (SWA) or 1 − decay (EMA);   n ← n + 1
/// ```
///
/// Every float tensor of the module is averaged: the parameters and, where the module has
/// them, the batch-norm running statistics (Burn keeps both as the module's float tensors;
/// PyTorch's `use_buffers=True`). Evaluate with [`model`](Self::model). To checkpoint, save
/// the averaged module as any Burn module and [`n_averaged`](Self::n_averaged) beside it;
/// [`from_parts`](Self::from_parts) resumes.
#[derive(Clone, Debug)]
pub struct AveragedModel<M: Module> {
    average: M,
    averaging: Averaging,
    n_averaged: u64,
}

impl<M: Module> AveragedModel<M> {
    /// An average of `model`'s architecture, empty until the first update.
    pub fn try_new(model: &M, averaging: Averaging) -> OptimResult<Self> {
        Self::from_parts(model.clone(), averaging, 0)
    }

    /// An average of `model`'s architecture, empty until the first update.
    ///
    /// # Panics
    /// When an EMA decay is outside [0, 1].
    #[track_caller]
    pub fn new(model: &M, averaging: Averaging) -> Self {
        crate::error::or_panic(Self::try_new(model, averaging))
    }

    /// An average resumed from a checkpoint: the averaged module and how many models it holds.
    pub fn from_parts(average: M, averaging: Averaging, n_averaged: u64) -> OptimResult<Self> {
        if let Averaging::Ema { decay } = averaging
            && !(0.0..=1.0).contains(&decay)
        {
            return Err(OptimError::new(
                "averaged_model",
                "decay",
                format!("must be in [0, 1], got {decay}"),
            ));
        }
        Ok(Self {
            average: average.no_grad(),
            averaging,
            n_averaged,
        })
    }

    /// Folds `model` into the average.
    ///
    /// # Panics
    /// When `model` has another architecture (other tensors or shapes) than the average.
    pub fn update_parameters(&mut self, model: &M) {
        let mut current = Collect(Vec::new());
        model.visit(&mut current);
        let weight = match (self.n_averaged, self.averaging) {
            (0, _) => 1.0,
            (n, Averaging::Swa) => 1.0 / (n as f64 + 1.0),
            (_, Averaging::Ema { decay }) => 1.0 - decay,
        };
        let mut fold = Fold {
            current: current.0.into_iter(),
            weight,
        };
        self.average = self.average.clone().map(&mut fold);
        if fold.current.next().is_some() {
            panic!("averaged_model: the model has more tensors than the average's architecture");
        }
        self.n_averaged += 1;
    }

    /// The averaged model.
    pub fn model(&self) -> &M {
        &self.average
    }

    /// The averaged model, consumed.
    pub fn into_model(self) -> M {
        self.average
    }

    /// How many models the average holds.
    pub fn n_averaged(&self) -> u64 {
        self.n_averaged
    }
}

/// Every float tensor of a module, flattened, with its shape, in visiting order.
struct Collect(Vec<(Vec<usize>, Tensor<1>)>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val().inner();
        let n = t.shape().num_elements();
        self.0.push((t.dims().to_vec(), t.reshape([n])));
    }
}

/// `θ̄ + w (θ − θ̄)` for each tensor, in visiting order.
struct Fold {
    current: std::vec::IntoIter<(Vec<usize>, Tensor<1>)>,
    weight: f64,
}

impl ModuleMapper for Fold {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, avg, mapper) = param.consume();
        let dims = avg.dims();
        let Some((shape, current)) = self.current.next() else {
            panic!("averaged_model: the model has fewer tensors than the average's architecture");
        };
        if shape != dims {
            panic!(
                "averaged_model: a tensor of shape {dims:?} in the average has shape {shape:?} \
                 in the model (another architecture?)"
            );
        }
        let current: Tensor<D> = current
            .reshape(dims)
            .to_device(&avg.device())
            .cast(avg.dtype());
        let next = if self.weight == 1.0 {
            current
        } else {
            avg.clone() + (current - avg).mul_scalar(self.weight)
        };
        Param::from_mapped_value(id, next, mapper)
    }
}
