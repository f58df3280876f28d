//! The losses of PyTorch 2.15 parity (CTC, multi-label margin, triplet margin with a distance,
//! adaptive softmax) against references written out here: every alignment enumerated, PyTorch's
//! documented examples, finite differences, and the identities that tie them to other losses.

use crate::devices::every_device;
use burn::tensor::{Device, Int, Tensor, TensorData};
use descent::losses::*;

use crate::catalog::Rng;

fn flex() -> Device {
    descent::device::device("flex").expect("flex starts")
}

fn values<const D: usize>(t: &Tensor<D>) -> Vec<f64> {
    t.to_data().iter::<f64>().collect()
}

fn ints<const D: usize>(t: &Tensor<D, Int>) -> Vec<i64> {
    t.to_data().iter::<i64>().collect()
}

fn assert_close(what: &str, actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            a == e || (a - e).abs() <= tol * (1.0 + e.abs()),
            "{what}[{i}] = {a}, expected {e}"
        );
    }
}

/// Rows of `log_softmax` of normal logits, `[T, N, C]` flat.
fn log_probs(rng: &mut Rng, t: usize, n: usize, c: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(t * n * c);
    for _ in 0..t * n {
        let z: Vec<f64> = rng.uniforms(c).iter().map(|u| 6.0 * u - 3.0).collect();
        let lse = z.iter().map(|v| v.exp()).sum::<f64>().ln();
        out.extend(z.iter().map(|v| v - lse));
    }
    out
}

/// The CTC collapse: repeats merged, then blanks removed.
fn collapse(path: &[usize], blank: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut prev = None;
    for &c in path {
        if Some(c) != prev && c != blank {
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

/// The probability of `target` as the sum over every path of `steps` frames that collapses to
/// it, and the expected count of each (frame, class) among those paths (the occupancy), for
/// sequence `b` of `lp` `[T, N, C]`.
fn every_alignment(
    lp: &[f64],
    dims: [usize; 3],
    b: usize,
    steps: usize,
    target: &[usize],
    blank: usize,
) -> (f64, Vec<f64>) {
    let [_, n, c] = dims;
    let mut total = 0.0;
    let mut occupancy = vec![0.0; steps * c];
    let mut path = vec![0; steps];
    for code in 0..c.pow(steps as u32) {
        let mut k = code;
        for p in path.iter_mut() {
            *p = k % c;
            k /= c;
        }
        if collapse(&path, blank) != target {
            continue;
        }
        let p: f64 = path
            .iter()
            .enumerate()
            .map(|(t, &class)| lp[(t * n + b) * c + class])
            .sum::<f64>()
            .exp();
        total += p;
        for (t, &class) in path.iter().enumerate() {
            occupancy[t * c + class] += p;
        }
    }
    (total, occupancy)
}

#[test]
fn ctc_is_the_sum_over_every_alignment_with_pytorchs_gradient() {
    let mut rng = Rng(21);
    let (t, n, c) = (5, 4, 4);
    for blank in [0, 2] {
        let labels: Vec<usize> = (0..c).filter(|k| *k != blank).collect();
        // A repeat (needs a blank between), an empty target, a short input.
        let targets: Vec<Vec<usize>> = vec![
            vec![labels[0], labels[0]],
            vec![labels[1], labels[2], labels[0]],
            vec![],
            vec![labels[2]],
        ];
        let input_lengths = [5usize, 4, 3, 2];
        let lp = log_probs(&mut rng, t, n, c);
        let d = flex().autodiff();
        let x = Tensor::<3>::from_data(
            TensorData::new(lp.iter().map(|v| *v as f32).collect(), [t, n, c]),
            &d,
        )
        .require_grad();
        let s = 3;
        let padded: Vec<i64> = targets
            .iter()
            .flat_map(|r| {
                let mut r: Vec<i64> = r.iter().map(|v| *v as i64).collect();
                r.resize(s, 1);
                r
            })
            .collect();
        let y = Tensor::<2, Int>::from_data(TensorData::new(padded, [n, s]), &d);
        let il = Tensor::<1, Int>::from_data(
            TensorData::new(input_lengths.map(|v| v as i64).to_vec(), [n]),
            &d,
        );
        let tl = Tensor::<1, Int>::from_data(
            TensorData::new(targets.iter().map(|r| r.len() as i64).collect(), [n]),
            &d,
        );
        let ctc = CtcLossConfig::new()
            .with_blank(blank)
            .with_reduction(Reduction::Sum)
            .init();
        let per_sequence = ctc
            .try_forward_no_reduction(x.clone(), y.clone(), il.clone(), tl.clone())
            .unwrap();
        let loss = ctc.forward(x.clone(), y, il, tl);
        let grad = values(&x.grad(&loss.backward()).unwrap());
        let mut expected_grad = vec![0.0; t * n * c];
        let mut expected = Vec::new();
        for b in 0..n {
            let (p, occupancy) =
                every_alignment(&lp, [t, n, c], b, input_lengths[b], &targets[b], blank);
            expected.push(-p.ln());
            for step in 0..input_lengths[b] {
                for k in 0..c {
                    let i = (step * n + b) * c + k;
                    expected_grad[i] = lp[i].exp() - occupancy[step * c + k] / p;
                }
            }
        }
        assert_close("ctc losses", &values(&per_sequence), &expected, 1e-4);
        assert_close("ctc gradient", &grad, &expected_grad, 1e-4);
    }
}

#[test]
fn ctc_gradient_less_the_softmax_term_is_the_finite_difference() {
    let mut rng = Rng(5);
    let (t, n, c) = (4, 2, 3);
    let lp = log_probs(&mut rng, t, n, c);
    let plain = flex();
    let ad = plain.clone().autodiff();
    let call = |lp: &[f64], d: &Device| {
        let x = Tensor::<3>::from_data(
            TensorData::new(lp.iter().map(|v| *v as f32).collect(), [t, n, c]),
            d,
        );
        let y = Tensor::<2, Int>::from_ints([[1, 2], [2, 2]], d);
        let il = Tensor::<1, Int>::from_ints([4, 4], d);
        let tl = Tensor::<1, Int>::from_ints([2, 1], d);
        (x, y, il, tl)
    };
    let ctc = CtcLossConfig::new().init(); // mean
    let (x, y, il, tl) = call(&lp, &ad);
    let x = x.require_grad();
    let grad = values(
        &x.grad(&ctc.forward(x.clone(), y, il, tl).backward())
            .unwrap(),
    );
    let h = 1e-2;
    for i in 0..t * n * c {
        let at = |delta: f64| {
            let mut moved = lp.clone();
            moved[i] += delta;
            let (x, y, il, tl) = call(&moved, &plain);
            ctc.forward(x, y, il, tl).into_scalar::<f64>()
        };
        let fd = (at(h) - at(-h)) / (2.0 * h);
        // d(loss)/d(lp) treating lp as free = PyTorch's gradient − exp(lp)·(weight of its sequence)
        let weight = if i / c % n == 0 { 0.25 } else { 0.5 };
        let free = grad[i] - lp[i].exp() * weight;
        assert!(
            (fd - free).abs() < 2e-3,
            "log_probs[{i}]: finite difference {fd}, PyTorch's gradient less exp(lp) {free}"
        );
    }
}

#[test]
fn ctc_impossible_alignments_are_infinite_or_zeroed() {
    let d = flex().autodiff();
    let x = Tensor::<3>::from_data(
        TensorData::new(vec![(1.0f32 / 3.0).ln(); 2 * 2 * 3], [2, 2, 3]),
        &d,
    )
    .require_grad();
    // Sequence 0: "1 1" needs three frames; sequence 1: "2" fits.
    let y = Tensor::<2, Int>::from_ints([[1, 1], [2, 0]], &d);
    let il = Tensor::<1, Int>::from_ints([2, 2], &d);
    let tl = Tensor::<1, Int>::from_ints([2, 1], &d);
    let none = CtcLossConfig::new().with_reduction(Reduction::None).init();
    let l = values(&none.forward(x.clone(), y.clone(), il.clone(), tl.clone()));
    assert_eq!(l[0], f64::INFINITY);
    // "2" in two frames of uniform 1/3: paths (2,2), (b,2), (2,b): 3/9.
    assert!((l[1] - 3.0f64.ln()).abs() < 1e-5, "{l:?}");
    let zeroed = CtcLossConfig::new()
        .with_zero_infinity(true)
        .with_reduction(Reduction::Mean)
        .init();
    let loss = zeroed.forward(x.clone(), y, il, tl);
    // mean: (0 / 2 + ln 3 / 1) / 2
    assert!((loss.clone().into_scalar::<f64>() - 3.0f64.ln() / 2.0).abs() < 1e-5);
    let g = x.grad(&loss.backward()).unwrap();
    let g = values(&g.swap_dims(0, 1));
    assert!(g[..6].iter().all(|v| *v == 0.0), "{g:?}");
    assert!(g[6..].iter().any(|v| *v != 0.0));
}

#[test]
fn ctc_concatenated_and_unbatched_targets_agree_with_padded_ones() {
    let mut rng = Rng(3);
    let (t, n, c) = (6, 2, 5);
    let lp: Vec<f32> = log_probs(&mut rng, t, n, c)
        .iter()
        .map(|v| *v as f32)
        .collect();
    for d in every_device() {
        let x = Tensor::<3>::from_data(TensorData::new(lp.clone(), [t, n, c]), &d);
        let il = Tensor::<1, Int>::from_ints([6, 5], &d);
        let tl = Tensor::<1, Int>::from_ints([3, 2], &d);
        let ctc = CtcLossConfig::new().with_reduction(Reduction::None).init();
        let padded = ctc.forward(
            x.clone(),
            Tensor::<2, Int>::from_ints([[1, 2, 2], [4, 3, 0]], &d),
            il.clone(),
            tl.clone(),
        );
        let concatenated = ctc
            .try_forward_concatenated(
                x.clone(),
                Tensor::<1, Int>::from_ints([1, 2, 2, 4, 3], &d),
                il,
                tl,
            )
            .unwrap();
        assert_close(
            "concatenated",
            &values(&concatenated),
            &values(&padded),
            1e-6,
        );
        let one = ctc
            .try_forward_unbatched(
                x.slice([0..6, 1..2, 0..5]).reshape([6, 5]),
                Tensor::<1, Int>::from_ints([4, 3], &d),
                Tensor::<1, Int>::from_ints([5], &d),
                Tensor::<1, Int>::from_ints([2], &d),
            )
            .unwrap();
        assert_close("unbatched", &values(&one), &values(&padded)[1..], 1e-6);
    }
}

#[test]
fn multilabel_margin_matches_pytorchs_documented_example_and_its_gradient() {
    // torch.nn.MultiLabelMarginLoss's docstring: targets 3 and 0 (then -1), loss 0.85.
    for d in every_device() {
        let x =
            Tensor::<2>::from_floats([[0.1, 0.2, 0.4, 0.8]], &d.clone().autodiff()).require_grad();
        let y = Tensor::<2, Int>::from_ints([[3, 0, -1, 1]], &d.clone().autodiff());
        let loss = multilabel_margin_loss(x.clone(), y, Reduction::Mean);
        assert!((loss.clone().into_scalar::<f64>() - 0.85).abs() < 1e-6);
        // Violations (j, i): (3,1) 0.4, (3,2) 0.6, (0,1) 1.1, (0,2) 1.3, all active; / C = 4.
        let g = values(&x.grad(&loss.backward()).unwrap());
        assert_close("gradient", &g, &[-0.5, 0.5, 0.5, -0.5], 1e-6);
    }
}

#[test]
fn multilabel_margin_counts_repeated_targets_and_ignores_what_follows_minus_one() {
    let d = flex();
    let x = Tensor::<2>::from_floats([[0.5, -0.2, 0.3, 0.0], [0.1, 0.2, 0.3, 0.4]], &d);
    let y = Tensor::<2, Int>::from_ints([[2, 2, -1, 0], [-1, 3, 2, 1]], &d);
    let l = values(
        &MultilabelMarginLossConfig::new()
            .init()
            .forward_no_reduction(x, y),
    );
    // Row 0: target {2} listed twice: 2 · Σ_{i≠2} max(0, 1 - 0.3 + x_i) / 4.
    let once = (1.0 - 0.3 + 0.5) + (1.0 - 0.3 - 0.2) + (1.0 - 0.3);
    assert_close("losses", &l, &[2.0 * once / 4.0, 0.0], 1e-6);
}

#[test]
fn triplet_with_distance_is_the_triplet_margin_loss_for_its_distance() {
    let mut rng = Rng(17);
    let d = flex();
    let t = |rng: &mut Rng| {
        let v: Vec<f32> = rng
            .uniforms(12)
            .iter()
            .map(|u| 2.0 * *u as f32 - 1.0)
            .collect();
        Tensor::<2>::from_data(TensorData::new(v, [4, 3]), &d)
    };
    let (a, p, n) = (t(&mut rng), t(&mut rng), t(&mut rng));
    for swap in [false, true] {
        let named = TripletMarginWithDistanceLossConfig::new()
            .with_swap(swap)
            .with_reduction(Reduction::None)
            .init();
        let plain = TripletMarginLossConfig::new()
            .with_swap(swap)
            .with_reduction(Reduction::None)
            .init();
        assert_close(
            "pairwise",
            &values(&named.forward(a.clone(), p.clone(), n.clone())),
            &values(&plain.forward(a.clone(), p.clone(), n.clone())),
            1e-6,
        );
        let l1 = TripletMarginWithDistanceLossConfig::new()
            .with_swap(swap)
            .with_reduction(Reduction::None)
            .init_with(|x, y| {
                let n = x.dims()[0];
                x.sub(y).abs().sum_dim(1).reshape([n])
            });
        let p1 = TripletMarginLossConfig::new()
            .with_p(1.0)
            .with_eps(0.0)
            .with_swap(swap)
            .with_reduction(Reduction::None)
            .init();
        assert_close(
            "closure",
            &values(&l1.forward(a.clone(), p.clone(), n.clone())),
            &values(&p1.forward(a.clone(), p.clone(), n.clone())),
            1e-6,
        );
    }
    // Cosine: the positive along the anchor (d = 0), the negative orthogonal (d = 1).
    let cosine = TripletMarginWithDistanceLossConfig::new()
        .with_distance_function(Distance::Cosine)
        .with_margin(1.5)
        .init();
    let row = |v: [f32; 2]| Tensor::<2>::from_floats([v], &d);
    let l = cosine.forward(row([2.0, 0.0]), row([1.0, 0.0]), row([0.0, 3.0]));
    assert!((l.into_scalar::<f64>() - 0.5).abs() < 1e-6);
}

fn adaptive_config() -> AdaptiveLogSoftmaxWithLossConfig {
    // hsz = 6 // 4 = 1 for the first cluster, 6 // 16 = 0 for the second: zero width.
    AdaptiveLogSoftmaxWithLossConfig::new(6, 10, vec![3, 6]).with_head_bias(true)
}

#[test]
fn adaptive_softmax_is_a_distribution_whose_forward_and_predict_read_it() {
    let mut rng = Rng(8);
    for d in every_device() {
        let d = d.autodiff();
        let module = adaptive_config().init(&d);
        assert_eq!(
            module.layout.clusters,
            vec![(3, 1, 3), (6, 0, 4)],
            "(start, hsz, osz) per cluster"
        );
        let x: Vec<f32> = rng
            .uniforms(5 * 6)
            .iter()
            .map(|u| 4.0 * *u as f32 - 2.0)
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(x, [5, 6]), &d).require_grad();
        let target = Tensor::<1, Int>::from_ints([0, 4, 9, 6, 2], &d);
        let log_prob = module.log_prob(x.clone());
        let lp = values(&log_prob);
        for row in lp.chunks(10) {
            let total: f64 = row.iter().map(|v| v.exp()).sum();
            assert!((total - 1.0).abs() < 1e-5, "probabilities sum to {total}");
            // The zero-width cluster is uniform over its 4 classes.
            assert!(row[6..].iter().all(|v| (v - row[6]).abs() < 1e-6));
        }
        let out = module.forward(x.clone(), target.clone());
        let picked: Vec<f64> = ints(&target)
            .iter()
            .enumerate()
            .map(|(i, c)| lp[i * 10 + *c as usize])
            .collect();
        assert_close("output", &values(&out.output), &picked, 1e-5);
        let mean = -picked.iter().sum::<f64>() / 5.0;
        assert!((out.loss.clone().into_scalar::<f64>() - mean).abs() < 1e-5);
        let argmax: Vec<i64> = lp
            .chunks(10)
            .map(|r| {
                (0..10)
                    .max_by(|a, b| r[*a].total_cmp(&r[*b]).then(b.cmp(a)))
                    .unwrap() as i64
            })
            .collect();
        assert_eq!(ints(&module.predict(x.clone())), argmax);
        let grads = out.loss.backward();
        assert!(x.grad(&grads).is_some());
        assert!(module.head.weight.grad(&grads).is_some());
        let tail = module.tail[0].projection.as_ref().expect("hsz 1");
        assert!(tail.weight.grad(&grads).is_some());
        assert!(module.tail[1].projection.is_none());
    }
}
