//! Gradient accumulation over micro-batches.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use crate::error::{OptimError, OptimResult, or_panic};
use crate::grads;

/// Averages the gradients of `k` micro-batches, so that with a mean-reduced loss, `k`
/// micro-batches of size `b` give the same step as one batch of size `k·b`:
/// `ḡ = (1/k) Σⱼ gⱼ`.
///
/// ```ignore
/// let mut acc = GradAccumulator::new(4);
/// for batch in micro_batches {
///     let grads = GradientsParams::from_grads(loss(&model, batch).backward(), &model);
///     acc.accumulate(&model, grads);
///     if acc.is_ready() {
///         model = optim.step(lr, model, acc.take(&model));
///     }
/// }
/// ```
#[derive(Default)]
pub struct GradAccumulator {
    k: usize,
    count: usize,
    sum: GradientsParams,
}

impl GradAccumulator {
    /// An accumulator over `k >= 1` micro-batches, or an error naming `k`.
    pub fn try_new(k: usize) -> OptimResult<Self> {
        if k == 0 {
            return Err(OptimError::new(
                "grad_accumulator",
                "k",
                "must be >= 1, got 0",
            ));
        }
        Ok(Self {
            k,
            count: 0,
            sum: GradientsParams::new(),
        })
    }

    /// An accumulator over `k` micro-batches.
    ///
    /// # Panics
    /// When `k == 0`.
    pub fn new(k: usize) -> Self {
        or_panic(Self::try_new(k))
    }

    /// Adds one micro-batch's gradients.
    pub fn accumulate<M: Module>(&mut self, module: &M, grads: GradientsParams) {
        let mut incoming = grads;
        accumulate_into(module, &mut self.sum, &mut incoming);
        self.count += 1;
    }

    /// Whether `k` micro-batches have been accumulated.
    pub fn is_ready(&self) -> bool {
        self.count >= self.k
    }

    /// Micro-batches accumulated since the last [`take`](Self::take).
    pub fn count(&self) -> usize {
        self.count
    }

    /// The average of the accumulated gradients (over the micro-batches actually added);
    /// resets the accumulator.
    pub fn take<M: Module>(&mut self, module: &M) -> GradientsParams {
        if self.count == 0 {
            panic!(
                "grad_accumulator: take() before any micro-batch was accumulated: there are no \
                 gradients to step with (call accumulate first, or check is_ready)"
            );
        }
        let mut sum = std::mem::take(&mut self.sum);
        if self.count > 1 {
            grads::scale(module, &mut sum, 1.0 / self.count as f64);
        }
        self.count = 0;
        sum
    }
}

/// `sum[id] += incoming[id]` for every float parameter of `module`.
fn accumulate_into<M: Module>(
    module: &M,
    sum: &mut GradientsParams,
    incoming: &mut GradientsParams,
) {
    use burn::module::{ModuleVisitor, Param};
    struct V<'a> {
        sum: &'a mut GradientsParams,
        incoming: &'a mut GradientsParams,
    }
    impl ModuleVisitor for V<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.incoming.remove::<D>(param.id) {
                let total = match self.sum.remove::<D>(param.id) {
                    Some(s) => {
                        let device = s.device();
                        s + g.to_device(&device)
                    }
                    None => g,
                };
                self.sum.register(param.id, total);
            }
        }
    }
    module.visit(&mut V { sum, incoming });
}
