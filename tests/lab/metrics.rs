//! Metrics on small cases computed by hand.

use descent::lab::metrics::*;

#[test]
fn regression_metrics() {
    let pred = [1.0, 2.0, 4.0];
    let target = [1.0, 3.0, 2.0];
    // errors 0, −1, 2: MSE = 5/3, MAE = 1; ȳ = 2, SS_tot = 1 + 1 + 0 = 2, R² = 1 − 5/2.
    assert!((mse(&pred, &target) - 5.0 / 3.0).abs() < 1e-12);
    assert!((mae(&pred, &target) - 1.0).abs() < 1e-12);
    assert!((r2(&pred, &target) + 1.5).abs() < 1e-12);
    assert_eq!(r2(&target, &target), 1.0);
}

#[test]
fn classification_counts() {
    let scores = [0.9, 0.8, 0.3, 0.6, 0.1, 0.7];
    let labels = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0];
    let b = Binary::at(&scores, &labels, 0.5);
    assert_eq!(
        b,
        Binary {
            tp: 2,
            fp: 2,
            tn: 1,
            fn_: 1
        }
    );
    assert!((b.precision() - 0.5).abs() < 1e-12);
    assert!((b.recall() - 2.0 / 3.0).abs() < 1e-12);
    assert!((b.f1() - 4.0 / 7.0).abs() < 1e-12);
    assert!((accuracy(&[0, 1, 2, 2], &[0, 1, 1, 2]) - 0.75).abs() < 1e-12);
    assert_eq!(
        confusion_matrix(&[0, 1, 2, 2], &[0, 1, 1, 2], 3),
        vec![vec![1, 0, 0], vec![0, 1, 1], vec![0, 0, 1]]
    );
}

#[test]
fn roc_auc_on_small_cases() {
    // Positives 0.9, 0.6, 0.3; negatives 0.8, 0.7, 0.1. Pairs (p > n): 0.9 beats all 3,
    // 0.6 beats 0.1, 0.3 beats 0.1: 5 of 9.
    let scores = [0.9, 0.8, 0.3, 0.6, 0.1, 0.7];
    let labels = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0];
    assert!((roc_auc(&scores, &labels) - 5.0 / 9.0).abs() < 1e-12);
    // A tie between a positive and a negative counts one half: (1 + 0.5) / 2.
    assert!((roc_auc(&[0.5, 0.5, 0.2], &[1.0, 0.0, 0.0]) - 0.75).abs() < 1e-12);
    assert_eq!(roc_auc(&[0.9, 0.8, 0.1], &[1.0, 1.0, 0.0]), 1.0);
    assert_eq!(roc_auc(&[0.1, 0.2, 0.9], &[1.0, 1.0, 0.0]), 0.0);
}

#[test]
fn pr_auc_is_average_precision() {
    // Ranked: 0.9 (+), 0.8 (−), 0.7 (−), 0.6 (+), 0.3 (+), 0.1 (−).
    // Recall steps at ranks 1, 4, 5 with precisions 1, 2/4, 3/5: AP = (1 + 1/2 + 3/5) / 3.
    let scores = [0.9, 0.8, 0.3, 0.6, 0.1, 0.7];
    let labels = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0];
    assert!((pr_auc(&scores, &labels) - (1.0 + 0.5 + 0.6) / 3.0).abs() < 1e-12);
    assert_eq!(pr_auc(&[0.9, 0.8, 0.1], &[1.0, 1.0, 0.0]), 1.0);
    let curve = pr_curve(&scores, &labels);
    assert_eq!(curve.len(), 6);
    assert_eq!((curve[0].0, curve[0].1), (1.0 / 3.0, 1.0));
    // Best recall at precision ≥ 0.6: rank 5 gives recall 1 at precision 3/5.
    assert_eq!(recall_at_precision(&scores, &labels, 0.6), 1.0);
    assert!((recall_at_precision(&scores, &labels, 0.7) - 1.0 / 3.0).abs() < 1e-12);
    let roc = roc_curve(&scores, &labels);
    assert_eq!(roc.first(), Some(&(0.0, 0.0)));
    assert_eq!(roc.last(), Some(&(1.0, 1.0)));
}
