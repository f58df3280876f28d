//! `MasterWeights`: a bf16 or f16 parameter stepped through an f32 master copy gives, on the
//! copy, exactly the f32 optimizer's steps on the widened gradients, and the parameter is that
//! copy rounded; updates too small for the half dtype accumulate instead of vanishing.

use burn::optim::Optimizer;
use burn::tensor::{DType, Device, Tensor, TensorData};
use descent::optimizers::{AdamConfig, MasterWeights, SgdConfig};

fn data(seed: u32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 250.0 - 2.0)
        .collect()
}

fn bits(t: &Tensor<1>) -> Vec<u32> {
    t.clone()
        .cast(DType::F32)
        .into_data()
        .iter::<f32>()
        .map(f32::to_bits)
        .collect()
}

#[test]
fn the_master_copy_takes_the_f32_steps_and_the_parameter_is_it_rounded() {
    // Flex (burn-ndarray has no bf16).
    let device = Device::flex();
    {
        for dtype in [DType::BF16, DType::F16] {
            let n = 301;
            let start = Tensor::<1>::from_data(TensorData::new(data(1, n), [n]), &device);
            // The half parameter, and the f32 reference starting from its exact value.
            let mut half = start.clone().cast(dtype);
            let mut reference = half.clone().cast(DType::F32);
            let adam = AdamConfig::new().with_weight_decay(0.01).build();
            let master = MasterWeights::new(AdamConfig::new().with_weight_decay(0.01).build());
            let (mut s_ref, mut s_half) = (None, None);
            for step in 0..8 {
                let g = Tensor::<1>::from_data(TensorData::new(data(step + 5, n), [n]), &device)
                    .cast(dtype);
                let (r, s) = adam.step(0.01, reference, g.clone().cast(DType::F32), s_ref.take());
                (reference, s_ref) = (r, s);
                let (h, s) = master.step(0.01, half, g, s_half.take());
                (half, s_half) = (h, s);
                assert_eq!(half.dtype(), dtype);
            }
            let state = s_half.expect("a state");
            assert_eq!(state.master.dtype(), DType::F32);
            assert_eq!(
                bits(&state.master),
                bits(&reference),
                "{device:?} {dtype:?}: the master copy is the f32 run"
            );
            assert_eq!(
                bits(&half),
                bits(&reference.clone().cast(dtype)),
                "{device:?} {dtype:?}: the parameter is the master rounded"
            );
            assert_ne!(
                bits(&half),
                bits(&start.clone().cast(dtype)),
                "{device:?} {dtype:?}: nothing moved"
            );
        }
    }
}

#[test]
fn updates_below_the_half_spacing_accumulate_in_the_master_copy() {
    let device = Device::flex();
    // bf16 has 8 significant bits: at 1.0 the spacing is 2⁻⁷ ≈ 0.0078, so 1 − 10⁻⁴ rounds back
    // to 1 and plain SGD never moves; the master copy moves by 10⁻⁴ a step.
    let one = || Tensor::<1>::ones([4], &device).cast(DType::BF16);
    let g = || Tensor::<1>::ones([4], &device).cast(DType::BF16);
    let sgd = SgdConfig::new().build();
    let master = MasterWeights::new(SgdConfig::new().build());
    let (mut plain, mut mixed) = (one(), one());
    let (mut s_plain, mut s_mixed) = (None, None);
    for _ in 0..100 {
        let (p, s) = sgd.step(1e-4, plain, g(), s_plain.take());
        (plain, s_plain) = (p, s);
        let (p, s) = master.step(1e-4, mixed, g(), s_mixed.take());
        (mixed, s_mixed) = (p, s);
    }
    let value = |t: &Tensor<1>| t.clone().cast(DType::F32).into_data().iter::<f32>().next();
    assert_eq!(value(&plain), Some(1.0), "plain bf16 SGD should not move");
    let moved = value(&mixed).expect("a value");
    assert!(
        (moved - 0.99).abs() < 0.004,
        "with master weights: 1 − 100·10⁻⁴ = 0.99 rounded to bf16, got {moved}"
    );
    let master_value = s_mixed
        .expect("a state")
        .master
        .into_data()
        .iter::<f32>()
        .next()
        .expect("a value");
    assert!((master_value - 0.99).abs() < 1e-5, "master {master_value}");
}
