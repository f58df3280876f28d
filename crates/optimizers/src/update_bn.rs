//! `torch.optim.swa_utils.update_bn`: the running statistics of a model's batch norms
//! recomputed over data, as the equal average of the per-batch statistics.

use std::collections::{HashMap, HashSet};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{Tensor, TensorData};

use crate::error::{OptimError, OptimResult};

const NAME: &str = "update_bn";

/// Recomputes the running statistics of every batch norm of `model` over `batches` (`forward`
/// runs the model on one batch), as `torch.optim.swa_utils.update_bn`: each running statistic
/// becomes the equal average of its per-batch values,
///
/// ```text
/// μ_run = (1/K) Σₖ μₖ,   σ²_run = (1/K) Σₖ σ²ₖ      (K batches; Burn's per-batch statistics)
/// ```
///
/// whatever the layers' momentum. Use it after stochastic weight averaging: the averaged
/// weights never saw the statistics of their own activations. The model must be on an
/// autodiff device with its batch norms in training mode (they update their statistics only
/// then).
///
/// Burn's batch norm has no cumulative mode to switch on from outside, so the running
/// statistics are found as the float tensors a forward pass changes, and each batch is run
/// twice with them set to 0 and to `c`: the updates `m·sₖ` and `(1 − m)c + m·sₖ` give the
/// layer's momentum `m` and the batch statistic `sₖ`. Two forward passes per batch.
///
/// Errors when `batches` is empty or no forward pass changes a running statistic (a model off
/// autodiff, or in evaluation mode).
pub fn update_bn<M: Module, B: Clone>(
    model: M,
    batches: impl IntoIterator<Item = B>,
    mut forward: impl FnMut(&M, B),
) -> OptimResult<M> {
    let mut model = model;
    let mut sums: HashMap<ParamId, Vec<f64>> = HashMap::new();
    let mut running: Option<HashSet<ParamId>> = None;
    let mut count = 0usize;
    for batch in batches {
        let ids = match &running {
            Some(ids) => ids.clone(),
            None => {
                let before = read(&model, None);
                forward(&model, batch.clone());
                model = model.train();
                let after = read(&model, None);
                let ids: HashSet<ParamId> = after
                    .iter()
                    .filter(|(id, (_, v))| before.get(id).is_some_and(|(_, b)| b != v))
                    .map(|(id, _)| *id)
                    .collect();
                if ids.is_empty() {
                    return Err(OptimError::new(
                        NAME,
                        "model",
                        "changed no running statistic in a forward pass: put it on an autodiff \
                         device with its batch norms in training mode",
                    ));
                }
                running = Some(ids.clone());
                ids
            }
        };
        model = set(model, &ids, |_, _| 0.0);
        forward(&model, batch.clone());
        model = model.train();
        let zero = read(&model, Some(&ids));
        let probes: HashMap<ParamId, f32> = zero
            .iter()
            .map(|(id, (_, v))| (*id, 1.0 + 1e3 * v.iter().fold(0f32, |m, x| m.max(x.abs()))))
            .collect();
        model = set(model, &ids, |id, _| probes[id]);
        forward(&model, batch);
        model = model.train();
        let probed = read(&model, Some(&ids));
        for (id, (_, r0)) in &zero {
            let c = f64::from(probes[id]);
            let r1 = &probed[id].1;
            // (1 − m) c + m s − m s, over c: the same m for every element.
            let m = r0
                .iter()
                .zip(r1)
                .map(|(a, b)| 1.0 - (f64::from(*b) - f64::from(*a)) / c)
                .sum::<f64>()
                / r0.len().max(1) as f64;
            if m <= 1e-6 {
                return Err(OptimError::new(
                    NAME,
                    "model",
                    "has a batch norm with momentum 0, whose statistics cannot change",
                ));
            }
            let sum = sums.entry(*id).or_insert_with(|| vec![0.0; r0.len()]);
            for (acc, a) in sum.iter_mut().zip(r0) {
                *acc += f64::from(*a) / m;
            }
        }
        count += 1;
    }
    let Some(ids) = running else {
        return Err(OptimError::new(NAME, "batches", "must not be empty"));
    };
    let mean: HashMap<ParamId, Vec<f32>> = sums
        .into_iter()
        .map(|(id, s)| {
            (
                id,
                s.into_iter().map(|v| (v / count as f64) as f32).collect(),
            )
        })
        .collect();
    Ok(set(model, &ids, |id, i| mean[id][i]))
}

/// The values of the float tensors of `model` (those in `only`, or all), by id.
fn read<M: Module>(
    model: &M,
    only: Option<&HashSet<ParamId>>,
) -> HashMap<ParamId, (Vec<usize>, Vec<f32>)> {
    struct Read<'a> {
        only: Option<&'a HashSet<ParamId>>,
        out: HashMap<ParamId, (Vec<usize>, Vec<f32>)>,
    }
    impl ModuleVisitor for Read<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.only.is_none_or(|o| o.contains(&param.id)) {
                let t = param.val();
                let values = t.to_data().convert::<f32>().iter::<f32>().collect();
                self.out.insert(param.id, (t.dims().to_vec(), values));
            }
        }
    }
    let mut r = Read {
        only,
        out: HashMap::new(),
    };
    model.visit(&mut r);
    r.out
}

/// `model` with element `i` of each tensor in `ids` set to `value(id, i)`.
fn set<M: Module>(model: M, ids: &HashSet<ParamId>, value: impl Fn(&ParamId, usize) -> f32) -> M {
    struct Set<'a, F> {
        ids: &'a HashSet<ParamId>,
        value: F,
    }
    impl<F: Fn(&ParamId, usize) -> f32> ModuleMapper for Set<'_, F> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if !self.ids.contains(&param.id) {
                return param;
            }
            let (id, t, mapper) = param.consume();
            let dims = t.dims();
            let n = dims.iter().product();
            let values: Vec<f32> = (0..n).map(|i| (self.value)(&id, i)).collect();
            let next =
                Tensor::<D>::from_data(TensorData::new(values, dims), &t.device()).cast(t.dtype());
            Param::from_mapped_value(id, next, mapper)
        }
    }
    model.map(&mut Set { ids, value })
}
