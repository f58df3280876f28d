//! Bad input gets an error that names the loss, the argument and what was expected.

use crate::devices::every_device;
use burn::tensor::{Device, Int, Tensor, TensorData};
use descent::losses::*;

use crate::messages::{assert_mentions, panic_message};

fn device() -> Device {
    descent::device::device("flex").expect("flex starts")
}

#[test]
fn mismatched_shapes() {
    let d = device();
    let err = MseLossConfig::new()
        .init()
        .try_forward(
            Tensor::<2>::zeros([2, 3], &d),
            Tensor::<2>::zeros([3, 2], &d),
        )
        .unwrap_err();
    assert_eq!((err.loss, err.argument), ("mse_loss", "target"));
    assert_mentions(
        &err.to_string(),
        &["mse_loss", "target", "[2, 3]", "[3, 2]"],
    );
    let msg = panic_message(|| {
        let d = device();
        mse_loss(
            Tensor::<1>::zeros([2], &d),
            Tensor::<1>::zeros([3], &d),
            Reduction::Mean,
        );
    });
    assert_mentions(&msg, &["mse_loss", "target", "shape"]);
    let err = CrossEntropyLossConfig::new()
        .init()
        .try_forward(
            Tensor::<2>::zeros([4, 3], &d),
            Tensor::<1, Int>::zeros([5], &d),
        )
        .unwrap_err();
    assert_mentions(&err.to_string(), &["cross_entropy", "target", "[4]"]);
}

#[test]
fn class_index_out_of_range() {
    // Off the CPU the class-index check is read back with the loss's other checks, after the
    // gather.
    for d in every_device() {
        class_index_out_of_range_on(d.clone());
        class_index_out_of_range_on(d.autodiff());
    }
}

fn class_index_out_of_range_on(d: Device) {
    let logits = Tensor::<2>::zeros([3, 4], &d);
    let target = Tensor::<1, Int>::from_ints([0, 4, 1], &d);
    let err = CrossEntropyLossConfig::new()
        .init()
        .try_forward(logits.clone(), target.clone())
        .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["cross_entropy", "target", "[0, 4)", "got 4", "[1]"],
    );
    let negative = Tensor::<1, Int>::from_ints([0, -1, 1], &d);
    let err = NllLossConfig::new()
        .init()
        .try_forward(logits.clone(), negative)
        .unwrap_err();
    assert_mentions(&err.to_string(), &["nll_loss", "target", "got -1"]);
    // ignore_index is allowed, and only it.
    let ignored = Tensor::<1, Int>::from_ints([0, -100, 1], &d);
    assert!(
        CrossEntropyLossConfig::new()
            .init()
            .try_forward(logits.clone(), ignored)
            .is_ok()
    );
    let err = softmax_err(&d);
    assert_mentions(&err, &["softmax_focal_loss", "target"]);
    let msg = panic_message(|| {
        cross_entropy(
            Tensor::<2>::zeros([1, 2], &d),
            Tensor::<1, Int>::from_ints([2], &d),
            Reduction::Mean,
        );
    });
    assert_mentions(&msg, &["cross_entropy", "target", "[0, 2)"]);
    // A mean over targets that are all ignored is refused rather than NaN.
    let all_ignored = Tensor::<1, Int>::from_ints([-100, -100, -100], &d);
    let err = CrossEntropyLossConfig::new()
        .init()
        .try_forward(logits, all_ignored)
        .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["cross_entropy", "target", "non-ignored"],
    );
}

fn softmax_err(d: &Device) -> String {
    SoftmaxFocalLossConfig::new()
        .init()
        .try_forward(
            Tensor::<2>::zeros([2, 3], d),
            Tensor::<1, Int>::from_ints([3, 0], d),
        )
        .unwrap_err()
        .to_string()
}

#[test]
fn targets_outside_their_domain() {
    let d = device();
    let p = Tensor::<1>::from_floats([0.2, 0.7, 0.5], &d);
    let err = BinaryCrossEntropyLossConfig::new()
        .init()
        .try_forward(p.clone(), Tensor::<1>::from_floats([0.0, 2.0, 1.0], &d))
        .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["binary_cross_entropy", "target", "[0, 1]", "got 2"],
    );
    let err = BinaryCrossEntropyLossConfig::new()
        .init()
        .try_forward(
            Tensor::<1>::from_floats([0.2, 1.5, 0.5], &d),
            Tensor::<1>::from_floats([0.0, 1.0, 1.0], &d),
        )
        .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["binary_cross_entropy", "input", "[0, 1]", "1.5"],
    );
    let err = BinaryCrossEntropyWithLogitsLossConfig::new()
        .init()
        .try_forward(p.clone(), Tensor::<1>::from_floats([-1.0, 0.0, 1.0], &d))
        .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["binary_cross_entropy_with_logits", "target", "got -1"],
    );
    let err = SigmoidFocalLossConfig::new()
        .init()
        .try_forward(p.clone(), Tensor::<1>::from_floats([0.0, 3.0, 1.0], &d))
        .unwrap_err();
    assert_mentions(&err.to_string(), &["sigmoid_focal_loss", "target"]);
    let err = HingeLossConfig::new()
        .init()
        .try_forward(p.clone(), Tensor::<1>::from_floats([0.0, 1.0, -1.0], &d))
        .unwrap_err();
    assert_mentions(&err.to_string(), &["hinge", "target", "-1 or +1", "got 0"]);
    let err = PoissonNllLossConfig::new()
        .init()
        .try_forward(p, Tensor::<1>::from_floats([1.0, -2.0, 0.0], &d))
        .unwrap_err();
    assert_mentions(&err.to_string(), &["poisson_nll_loss", "target", "got -2"]);
}

#[test]
fn nan_and_inf_are_caught() {
    let d = device();
    let x = Tensor::<1>::from_floats([0.0, f32::NAN, 1.0], &d);
    let y = Tensor::<1>::from_floats([0.0, 1.0, 1.0], &d);
    let err = MseLossConfig::new()
        .init()
        .try_forward(x, y.clone())
        .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["mse_loss", "input", "finite", "NaN", "[1]"],
    );
    let err = HuberLossConfig::new()
        .init()
        .try_forward(
            y.clone(),
            Tensor::<1>::from_floats([0.0, 1.0, f32::INFINITY], &d),
        )
        .unwrap_err();
    assert_mentions(&err.to_string(), &["huber_loss", "target", "finite", "inf"]);
    let logits = Tensor::<2>::from_floats([[0.0, f32::NEG_INFINITY]], &d);
    let err = CrossEntropyLossConfig::new()
        .init()
        .try_forward(logits, Tensor::<1, Int>::from_ints([0], &d))
        .unwrap_err();
    assert_mentions(&err.to_string(), &["cross_entropy", "input", "finite"]);
    // The checks are on by default; turned off on one instance (for hot loops), bad input
    // gives the IEEE result instead of the error, and the other instances still check.
    assert!(LossSettings::new().checks);
    let nan = || Tensor::<1>::from_floats([0.0, f32::NAN], &d);
    let unchecked = MseLossConfig::new().with_checks(false).init();
    let v = unchecked
        .try_forward(nan(), nan())
        .expect("no check, no error");
    assert!(v.into_scalar::<f32>().is_nan());
    let err = MseLossConfig::new()
        .init()
        .try_forward(nan(), nan())
        .unwrap_err();
    assert_mentions(&err.to_string(), &["mse_loss", "input", "finite"]);
}

#[test]
fn invalid_reduction_and_hyperparameters_are_rejected_when_built() {
    let err = MseLossConfig::new()
        .with_reduction(Reduction::BatchMean)
        .try_init()
        .unwrap_err();
    assert_mentions(&err.to_string(), &["mse_loss", "reduction", "batchmean"]);
    assert!(
        KlDivLossConfig::new()
            .with_reduction(Reduction::BatchMean)
            .try_init()
            .is_ok()
    );
    let err = Reduction::parse("cross_entropy", "average").unwrap_err();
    assert_mentions(&err.to_string(), &["cross_entropy", "reduction", "average"]);
    let err = HuberLossConfig::new()
        .with_delta(-1.0)
        .try_init()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "huber_loss: delta must be > 0 and finite; got -1"
    );
    let err = SmoothL1LossConfig::new()
        .with_beta(-0.5)
        .try_init()
        .unwrap_err();
    assert_mentions(&err.to_string(), &["smooth_l1_loss", "beta", ">= 0"]);
    let err = CrossEntropyLossConfig::new()
        .with_label_smoothing(1.5)
        .try_init()
        .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["cross_entropy", "label_smoothing", "[0, 1]", "1.5"],
    );
    let err = QuantileLossConfig::new()
        .with_q(1.2)
        .try_init()
        .unwrap_err();
    assert_mentions(&err.to_string(), &["quantile", "q", "[0, 1]"]);
    let err = SigmoidFocalLossConfig::new()
        .with_gamma(-1.0)
        .try_init()
        .unwrap_err();
    assert_mentions(&err.to_string(), &["sigmoid_focal_loss", "gamma"]);
    let err = MultiMarginLossConfig::new()
        .with_p(3)
        .try_init()
        .unwrap_err();
    assert_mentions(&err.to_string(), &["multi_margin_loss", "p", "1 or 2"]);
    let err = TripletMarginLossConfig::new()
        .with_margin(0.0)
        .try_init()
        .unwrap_err();
    assert_mentions(&err.to_string(), &["triplet_margin_loss", "margin"]);
    let err = Regularizer::elastic_net(-0.1, 0.0).unwrap_err();
    assert_mentions(&err.to_string(), &["elastic_net", "l1", ">= 0"]);
    let d = device();
    let err = CrossEntropyLossConfig::new()
        .with_weight(Some(vec![1.0, 2.0]))
        .init()
        .try_forward(
            Tensor::<2>::zeros([2, 3], &d),
            Tensor::<1, Int>::from_ints([0, 1], &d),
        )
        .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &[
            "cross_entropy",
            "weight",
            "one value per class (3)",
            "got 2",
        ],
    );
}

#[test]
fn gaussian_nll_rejects_negative_variance_and_bad_var_shape() {
    let d = device();
    let loss = GaussianNllLossConfig::new().init();
    let x = Tensor::<2>::zeros([2, 3], &d);
    let err = loss
        .try_forward(
            x.clone(),
            x.clone(),
            Tensor::<2>::from_floats([[1.0, -1.0, 1.0], [1.0, 1.0, 1.0]], &d),
        )
        .unwrap_err();
    assert_mentions(&err.to_string(), &["gaussian_nll_loss", "var", "got -1"]);
    let err = loss
        .try_forward(x.clone(), x.clone(), Tensor::<2>::ones([2, 2], &d))
        .unwrap_err();
    assert_mentions(&err.to_string(), &["gaussian_nll_loss", "var", "[2, 2]"]);
    // Homoscedastic variances, [N, 1] and [N], broadcast like PyTorch.
    let a = loss.forward(
        x.clone(),
        x.clone().add_scalar(1.0),
        Tensor::<2>::full([2, 1], 2.0, &d),
    );
    let b = loss.forward(
        x.clone(),
        x.clone().add_scalar(1.0),
        Tensor::<1>::full([2], 2.0, &d),
    );
    let want = 0.5 * (2f64.ln() + 0.5);
    for v in [a, b] {
        let v = v.into_scalar::<f32>() as f64;
        assert!((v - want).abs() < 1e-6, "{v} vs {want}");
    }
}

#[test]
fn large_finite_values_are_not_mistaken_for_infinities() {
    // Their sum overflows f32 (the fast finite check), but every element is finite.
    let d = device();
    let x = Tensor::<1>::from_floats([3e38, 3e38, 3e38, 1.0], &d);
    let loss = MseLossConfig::new()
        .init()
        .try_forward(x.clone(), x)
        .expect("finite inputs are accepted");
    assert_eq!(loss.into_scalar::<f32>(), 0.0);
}

/// The registry builds every loss by PyTorch's names; an unknown name, option or input, or
/// inputs of unsupported kinds, are errors naming them.
#[test]
fn the_loss_registry_names_what_it_cannot_build() {
    use descent::losses::registry::{self, AnyTensor, Inputs};
    use serde_json::json;
    let d = device();
    let err = |r: Result<Box<dyn registry::DynLoss>, LossError>| match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    };
    // Every option has a default but the sizes of the adaptive softmax.
    const ADAPTIVE: &str = "adaptive_log_softmax_with_loss";
    for name in registry::loss_names().filter(|n| *n != ADAPTIVE) {
        registry::loss(name, &json!({})).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert_mentions(
        &err(registry::loss(ADAPTIVE, &json!({}))),
        &[ADAPTIVE, "in_features", "required"],
    );
    registry::loss(
        ADAPTIVE,
        &json!({"in_features": 4, "n_classes": 6, "cutoffs": [2]}),
    )
    .unwrap();
    assert_mentions(
        &err(registry::loss("huberr", &json!({}))),
        &["loss", "huberr", "huber_loss"],
    );
    assert_mentions(
        &err(registry::loss("huber_loss", &json!({"delt": 2.0}))),
        &["huber_loss", "unknown", "delt"],
    );
    assert_mentions(
        &err(registry::loss("mse_loss", &json!({"reduction": "average"}))),
        &["mse_loss", "reduction", "average"],
    );
    assert_mentions(
        &err(registry::loss("huber_loss", &json!({"delta": -1.0}))),
        &["huber_loss", "delta", "> 0"],
    );
    let huber = registry::loss("huber_loss", &json!({"delta": 0.5, "reduction": "sum"})).unwrap();
    let x = || AnyTensor::F1(Tensor::<1>::from_floats([0.0, 2.0], &d));
    let y = || AnyTensor::F1(Tensor::<1>::from_floats([0.25, 0.0], &d));
    // ½·0.25² + 0.5·(2 − 0.25) = 0.03125 + 0.875
    let mut inputs = Inputs::new([("input", x()), ("target", y())]);
    match huber.forward(&mut inputs).unwrap() {
        AnyTensor::F1(v) => assert!((v.into_scalar::<f64>() - 0.90625).abs() < 1e-6),
        other => panic!("a reduced loss is one number, got {other:?}"),
    }
    let mut extra = Inputs::new([("input", x()), ("target", y()), ("weight", y())]);
    huber.forward(&mut extra).unwrap();
    assert_mentions(
        &extra.finish("huber_loss").unwrap_err().to_string(),
        &["huber_loss", "unknown", "weight"],
    );
    let mut missing = Inputs::new([("input", x())]);
    let e = huber.forward(&mut missing).unwrap_err().to_string();
    assert_mentions(&e, &["huber_loss", "target", "required"]);
    let two = AnyTensor::F2(Tensor::<2>::zeros([1, 2], &d));
    let mut ranks = Inputs::new([("input", x()), ("target", two)]);
    let e = huber.forward(&mut ranks).unwrap_err().to_string();
    assert_mentions(&e, &["huber_loss", "rank 1", "rank 2"]);
}

/// Input that would panic inside Burn (no class, another device, another dtype) is an error
/// naming the loss and the argument.
#[test]
fn input_burn_would_panic_on_is_an_error_naming_the_loss() {
    use burn::tensor::DType;
    let d = device();
    let err = CrossEntropyLossConfig::new()
        .init()
        .try_forward(
            Tensor::<2>::zeros([2, 0], &d),
            Tensor::<1, Int>::from_ints([0, 0], &d),
        )
        .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["cross_entropy", "input", "at least one class"],
    );
    // Another device (ndarray: the test needs `--features ndarray`, as the README's command has).
    #[cfg(feature = "ndarray")]
    {
        #[allow(deprecated)]
        let other = Device::ndarray();
        let err = MseLossConfig::new()
            .init()
            .try_forward(Tensor::<1>::zeros([2], &d), Tensor::<1>::zeros([2], &other))
            .unwrap_err();
        assert_mentions(&err.to_string(), &["mse_loss", "target", "device"]);
        let err = CrossEntropyLossConfig::new()
            .with_weight(Some(vec![1.0, 2.0]))
            .init()
            .try_forward(
                Tensor::<2>::zeros([2, 2], &d),
                Tensor::<1, Int>::from_ints([0, 1], &other),
            )
            .unwrap_err();
        assert_mentions(&err.to_string(), &["cross_entropy", "target", "device"]);
    }
    let half = Tensor::<1>::zeros([2], &d).cast(DType::F16);
    let err = MseLossConfig::new()
        .init()
        .try_forward(half, Tensor::<1>::zeros([2], &d))
        .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["mse_loss", "target", "dtype", "F16", "F32"],
    );
}

/// Cross-entropy of f16 and bf16 logits is computed in f32 (its masks and softmax) and returned
/// in the logits' dtype, with a gradient of that dtype.
#[test]
fn half_precision_cross_entropy_is_computed_in_f32() {
    use burn::tensor::DType;
    let d = device().autodiff();
    let logits = [[2.0f32, -1.0, 0.5], [0.0, 3.0, -2.0]];
    let y = Tensor::<1, Int>::from_ints([0, 2], &d);
    let reference = cross_entropy(
        Tensor::<2>::from_floats(logits, &d),
        y.clone(),
        Reduction::Mean,
    )
    .into_scalar::<f64>();
    for dtype in [DType::F16, DType::BF16] {
        let x = Tensor::<2>::from_floats(logits, &d)
            .cast(dtype)
            .require_grad();
        let loss = cross_entropy(x.clone(), y.clone(), Reduction::Mean);
        assert_eq!(loss.dtype(), dtype);
        let v = loss.clone().into_scalar::<f64>();
        assert!(
            (v - reference).abs() < 2e-2,
            "{dtype:?}: {v} vs {reference}"
        );
        let g = x.grad(&loss.backward()).expect("a gradient");
        assert_eq!(g.dtype(), dtype);
        assert!(g.into_data().iter::<f64>().all(f64::is_finite));
    }
}

/// One rule for a mean over no element, for every loss and with the checks on or off: an
/// error naming the loss (PyTorch gives NaN); a sum over no element is 0.
#[test]
fn a_mean_over_no_element_is_an_error_for_every_loss() {
    let d = device();
    let empty = || Tensor::<1>::zeros([0], &d);
    for checks in [true, false] {
        type Call<'a> = Box<dyn Fn() -> LossResult<Tensor<1>> + 'a>;
        let pair: [(&str, Call); 5] = [
            (
                "mse_loss",
                Box::new(|| {
                    MseLossConfig::new()
                        .with_checks(checks)
                        .init()
                        .try_forward(empty(), empty())
                }),
            ),
            (
                "l1_loss",
                Box::new(|| {
                    L1LossConfig::new()
                        .with_checks(checks)
                        .init()
                        .try_forward(empty(), empty())
                }),
            ),
            (
                "binary_cross_entropy_with_logits",
                Box::new(|| {
                    BinaryCrossEntropyWithLogitsLossConfig::new()
                        .with_checks(checks)
                        .init()
                        .try_forward(empty(), empty())
                }),
            ),
            (
                "sigmoid_focal_loss",
                Box::new(|| {
                    SigmoidFocalLossConfig::new()
                        .with_checks(checks)
                        .init()
                        .try_forward(empty(), empty())
                }),
            ),
            (
                "cross_entropy",
                Box::new(|| {
                    CrossEntropyLossConfig::new()
                        .with_checks(checks)
                        .init()
                        .try_forward(
                            Tensor::<2>::zeros([0, 3], &d),
                            Tensor::<1, Int>::zeros([0], &d),
                        )
                }),
            ),
        ];
        for (name, loss) in pair {
            let err = loss().unwrap_err();
            assert_mentions(&err.to_string(), &[name, "at least one element", "mean"]);
        }
    }
    let sum = MseLossConfig::new()
        .with_reduction(Reduction::Sum)
        .init()
        .forward(empty(), empty());
    assert_eq!(sum.into_scalar::<f64>(), 0.0);
}

/// With the checks off, a class index out of range is still an error on the CPU devices (the
/// gather would panic inside Burn there), on the fused and the generic path.
#[test]
fn class_indices_are_checked_on_the_cpu_even_with_the_checks_off() {
    for d in descent::device::cpu_devices() {
        for kernel in [Kernel::Auto, Kernel::Generic] {
            let err = CrossEntropyLossConfig::new()
                .with_checks(false)
                .with_kernel(kernel)
                .init()
                .try_forward(
                    Tensor::<2>::zeros([2, 3], &d),
                    Tensor::<1, Int>::from_ints([0, 5], &d),
                )
                .unwrap_err();
            assert_mentions(&err.to_string(), &["cross_entropy", "target", "got 5"]);
        }
    }
}

/// A loss's panic points at the caller's line, not at the library's.
#[test]
fn loss_panics_point_at_the_caller() {
    use crate::messages::panic_site;
    let d = device();
    let (msg, file) = panic_site(|| {
        mse_loss(
            Tensor::<1>::zeros([2], &d),
            Tensor::<1>::zeros([3], &d),
            Reduction::Mean,
        );
    });
    assert_mentions(&msg, &["mse_loss", "target"]);
    assert!(file.ends_with("errors.rs"), "reported at {file}");
    let (_, file) = panic_site(|| {
        HuberLossConfig::new().with_delta(-1.0).init();
    });
    assert!(file.ends_with("errors.rs"), "reported at {file}");
    let (_, file) = panic_site(|| {
        CrossEntropyLossConfig::new().init().forward(
            Tensor::<2>::zeros([1, 2], &d),
            Tensor::<1, Int>::from_ints([7], &d),
        );
    });
    assert!(file.ends_with("errors.rs"), "reported at {file}");
}

/// The losses of PyTorch 2.15 parity: lengths out of range or longer than the tensors, targets
/// out of range or equal to the blank, cutoffs not increasing or not below `n_classes`, inputs
/// of the wrong width or kind — each an error naming the loss, the argument and what was
/// expected.
#[test]
fn parity_losses_name_the_argument_at_fault() {
    use descent::losses::registry::{self, AnyTensor, Inputs};
    use serde_json::json;
    let d = device();
    let expect = |r: LossResult<Tensor<1>>, loss: &str, arg: &str, parts: &[&str]| {
        let e = r.unwrap_err();
        assert_eq!((e.loss, e.argument), (loss, arg), "{e}");
        assert_mentions(&e.to_string(), parts);
    };

    // CTC: log_probs [T = 4, N = 2, C = 3], targets [2, S = 2].
    let lp = || Tensor::<3>::zeros([4, 2, 3], &d).sub_scalar(3.0f64.ln());
    let ints = |v: &[i64]| Tensor::<1, Int>::from_data(TensorData::new(v.to_vec(), [v.len()]), &d);
    let y = || Tensor::<2, Int>::from_ints([[1, 2], [2, 0]], &d);
    let ctc = CtcLossConfig::new().init();
    let call = |ctc: &CtcLoss, y: Tensor<2, Int>, il: &[i64], tl: &[i64]| {
        ctc.try_forward(lp(), y, ints(il), ints(tl))
    };
    let c = "ctc_loss";
    expect(
        call(&ctc, y(), &[5, 4], &[2, 1]),
        c,
        "input_lengths",
        &["[0, 4]", "got 5", "[0]"],
    );
    expect(
        call(&ctc, y(), &[4, -1], &[2, 1]),
        c,
        "input_lengths",
        &["got -1"],
    );
    expect(
        call(&ctc, y(), &[4, 4], &[3, 1]),
        c,
        "target_lengths",
        &["[0, 2]", "got 3"],
    );
    expect(
        call(&ctc, y(), &[4, 4], &[2, -2]),
        c,
        "target_lengths",
        &["got -2", "[1]"],
    );
    expect(
        call(&ctc, y(), &[4, 4], &[2, 2]),
        c,
        "targets",
        &["blank 0", "got 0", "[1, 1]"],
    );
    let bad = Tensor::<2, Int>::from_ints([[1, 3], [2, 0]], &d);
    expect(
        call(&ctc, bad, &[4, 4], &[2, 1]),
        c,
        "targets",
        &["[0, 3)", "got 3", "[0, 1]"],
    );
    let blank = CtcLossConfig::new().with_blank(3).init();
    expect(
        call(&blank, y(), &[4, 4], &[2, 1]),
        c,
        "blank",
        &["[0, 3)", "got 3"],
    );
    expect(
        call(&ctc, y(), &[4], &[2, 1]),
        c,
        "input_lengths",
        &["[2]", "[1]"],
    );
    let rows = Tensor::<2, Int>::from_ints([[1, 2]], &d);
    expect(
        call(&ctc, rows, &[4, 4], &[2, 1]),
        c,
        "targets",
        &["[2, S]", "[1, 2]"],
    );
    let concatenated =
        ctc.try_forward_concatenated(lp(), ints(&[1, 2]), ints(&[4, 4]), ints(&[2, 1]));
    expect(concatenated, c, "target_lengths", &["sum", "2", "got 3"]);
    let nan = ctc.try_forward(lp().mul_scalar(f64::NAN), y(), ints(&[4, 4]), ints(&[2, 1]));
    expect(nan, c, "log_probs", &["NaN", "[0, 0, 0]"]);
    let by_name = registry::loss(c, &json!({})).unwrap();
    let mut inputs = Inputs::new([
        ("log_probs", AnyTensor::F3(lp())),
        ("targets", AnyTensor::I2(y())),
        (
            "input_lengths",
            AnyTensor::F1(Tensor::<1>::from_floats([4.0, 4.0], &d)),
        ),
        ("target_lengths", AnyTensor::I1(ints(&[2, 1]))),
    ]);
    let e = by_name.forward(&mut inputs).unwrap_err().to_string();
    assert_mentions(&e, &[c, "input_lengths: float tensor of rank 1"]);

    // Multi-label margin: indices in [-1, C).
    let m = "multilabel_margin_loss";
    let mlm = MultilabelMarginLossConfig::new().init();
    let x = || Tensor::<2>::zeros([2, 3], &d);
    let t = Tensor::<2, Int>::from_ints([[0, -1, 2], [1, 3, -1]], &d);
    expect(
        mlm.try_forward(x(), t),
        m,
        "target",
        &["[-1, 3)", "got 3", "[1, 1]"],
    );
    let t = Tensor::<2, Int>::from_ints([[0, -2, 2], [1, 0, -1]], &d);
    expect(mlm.try_forward(x(), t), m, "target", &["got -2", "[0, 1]"]);
    let t = Tensor::<2, Int>::from_ints([[0, 1], [1, 0]], &d);
    expect(mlm.try_forward(x(), t), m, "target", &["[2, 3]", "[2, 2]"]);

    // Triplet margin with a distance.
    let tr = "triplet_margin_with_distance_loss";
    let e = TripletMarginWithDistanceLossConfig::new()
        .with_margin(0.0)
        .try_init()
        .unwrap_err();
    assert_mentions(&e.to_string(), &[tr, "margin", "> 0", "got 0"]);
    let summed = TripletMarginWithDistanceLossConfig::new()
        .try_init_with(|a, b| a.sub(b).sum())
        .unwrap();
    let r = || Tensor::<2>::zeros([3, 2], &d);
    expect(
        summed.try_forward(r(), r(), r()),
        tr,
        "distance_function",
        &["[3]", "[1]"],
    );
    let pairwise = TripletMarginWithDistanceLossConfig::new().init();
    let other = Tensor::<2>::zeros([3, 4], &d);
    expect(
        pairwise.try_forward(r(), r(), other),
        tr,
        "negative",
        &["[3, 2]", "[3, 4]"],
    );
    let e = match registry::loss(tr, &json!({"distance_function": "manhattan"})) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("an unknown distance is an error"),
    };
    assert_mentions(
        &e,
        &[tr, "distance_function", "pairwise", "cosine", "manhattan"],
    );

    // Adaptive softmax: cutoffs, targets, input width, weights by name.
    let a = "adaptive_log_softmax_with_loss";
    for (cutoffs, why) in [
        (vec![3, 3], "not strictly increasing"),
        (vec![3, 10], "below n_classes = 10"),
        (vec![0, 4], "holds 0"),
        (vec![], "got none"),
    ] {
        let e = AdaptiveLogSoftmaxWithLossConfig::new(6, 10, cutoffs)
            .try_init(&d)
            .unwrap_err();
        assert_eq!((e.loss, e.argument), (a, "cutoffs"));
        assert_mentions(
            &e.to_string(),
            &["strictly increasing positive integers", why],
        );
    }
    let module = AdaptiveLogSoftmaxWithLossConfig::new(6, 10, vec![3, 6]).init(&d);
    let x = Tensor::<2>::zeros([2, 6], &d);
    let e = module
        .try_forward(x.clone(), Tensor::<1, Int>::from_ints([0, 10], &d))
        .unwrap_err();
    assert_eq!((e.loss, e.argument), (a, "target"));
    assert_mentions(&e.to_string(), &["[0, 10)", "got 10", "[1]"]);
    let e = module
        .try_forward(
            Tensor::<2>::zeros([2, 5], &d),
            Tensor::<1, Int>::from_ints([0, 1], &d),
        )
        .unwrap_err();
    assert_mentions(&e.to_string(), &[a, "input", "in_features = 6", "[2, 5]"]);
    let e = module
        .try_log_prob(Tensor::<2>::zeros([2, 7], &d))
        .unwrap_err();
    assert_mentions(&e.to_string(), &[a, "input", "in_features = 6"]);
    let e = match registry::loss(
        a,
        &json!({"in_features": 6, "n_classes": 10, "cutoffs": [2.5]}),
    ) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a fractional cutoff is an error"),
    };
    assert_mentions(&e, &[a, "cutoffs", "positive integers", "2.5"]);
    let by_name = registry::loss(
        a,
        &json!({"in_features": 6, "n_classes": 10, "cutoffs": [3, 6]}),
    )
    .unwrap();
    let w = |o: usize, i: usize| AnyTensor::F2(Tensor::<2>::zeros([o, i], &d));
    let mut inputs = Inputs::new([
        ("input", AnyTensor::F2(x.clone())),
        (
            "target",
            AnyTensor::I1(Tensor::<1, Int>::from_ints([0, 7], &d)),
        ),
        ("head.weight", w(5, 6)),
        ("tail.0.0.weight", w(1, 6)),
        ("tail.0.1.weight", w(3, 1)),
        ("tail.1.0.weight", w(0, 6)),
    ]);
    let e = by_name.forward(&mut inputs).unwrap_err().to_string();
    assert_mentions(&e, &[a, "tail.1.1.weight", "required"]);
    let mut inputs = Inputs::new([
        ("input", AnyTensor::F2(x)),
        (
            "target",
            AnyTensor::I1(Tensor::<1, Int>::from_ints([0, 7], &d)),
        ),
        ("head.weight", w(6, 5)),
    ]);
    let e = by_name.forward(&mut inputs).unwrap_err().to_string();
    assert_mentions(&e, &[a, "head.weight", "[5, 6]", "[6, 5]"]);
}
