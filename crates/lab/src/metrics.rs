//! Metrics for regression and classification, on host vectors.

/// Mean squared error `(1/n) Σ (ŷ − y)²`.
pub fn mse(pred: &[f32], target: &[f32]) -> f64 {
    mean(
        pred.iter()
            .zip(target)
            .map(|(p, t)| (*p as f64 - *t as f64).powi(2)),
    )
}

/// Mean absolute error `(1/n) Σ |ŷ − y|`.
pub fn mae(pred: &[f32], target: &[f32]) -> f64 {
    mean(
        pred.iter()
            .zip(target)
            .map(|(p, t)| (*p as f64 - *t as f64).abs()),
    )
}

/// Coefficient of determination `R² = 1 − Σ(ŷ − y)² / Σ(y − ȳ)²`.
pub fn r2(pred: &[f32], target: &[f32]) -> f64 {
    let m = mean(target.iter().map(|t| *t as f64));
    let ss_res: f64 = pred
        .iter()
        .zip(target)
        .map(|(p, t)| (*p as f64 - *t as f64).powi(2))
        .sum();
    let ss_tot: f64 = target.iter().map(|t| (*t as f64 - m).powi(2)).sum();
    1.0 - ss_res / ss_tot
}

fn mean(it: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = it.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

/// Fraction of predicted classes equal to the true ones.
pub fn accuracy(pred: &[usize], target: &[usize]) -> f64 {
    mean(
        pred.iter()
            .zip(target)
            .map(|(p, t)| if p == t { 1.0 } else { 0.0 }),
    )
}

/// `m[t][p]`: how many rows of true class t were predicted as p.
pub fn confusion_matrix(pred: &[usize], target: &[usize], classes: usize) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0; classes]; classes];
    for (p, t) in pred.iter().zip(target) {
        m[*t][*p] += 1;
    }
    m
}

/// The counts of a binary decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Binary {
    /// True positives.
    pub tp: usize,
    /// False positives.
    pub fp: usize,
    /// True negatives.
    pub tn: usize,
    /// False negatives.
    pub fn_: usize,
}

impl Binary {
    /// Counts of `score >= threshold` against `label > 0.5`.
    pub fn at(scores: &[f32], labels: &[f32], threshold: f32) -> Self {
        let mut b = Binary::default();
        for (s, l) in scores.iter().zip(labels) {
            match (*s >= threshold, *l > 0.5) {
                (true, true) => b.tp += 1,
                (true, false) => b.fp += 1,
                (false, false) => b.tn += 1,
                (false, true) => b.fn_ += 1,
            }
        }
        b
    }

    /// `tp / (tp + fp)` (0 when nothing is predicted positive).
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// `tp / (tp + fn)`.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting one half (the Mann–Whitney statistic; equals scikit-learn's
/// `roc_auc_score`).
pub fn roc_auc(scores: &[f32], labels: &[f32]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
    // Average ranks over ties.
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[idx[k]] = r;
        }
        i = j + 1;
    }
    let pos = labels.iter().filter(|l| **l > 0.5).count() as f64;
    let neg = labels.len() as f64 - pos;
    let rank_sum: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l > 0.5)
        .map(|(r, _)| r)
        .sum();
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// The precision–recall curve, one `(recall, precision, threshold)` per distinct score, from
/// the highest threshold down.
pub fn pr_curve(scores: &[f32], labels: &[f32]) -> Vec<(f64, f64, f32)> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    let pos = labels.iter().filter(|l| **l > 0.5).count();
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut curve = Vec::new();
    for (k, &i) in idx.iter().enumerate() {
        if labels[i] > 0.5 {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_tie = k + 1 == idx.len() || scores[idx[k + 1]] != scores[i];
        if last_of_tie {
            curve.push((ratio(tp, pos), ratio(tp, tp + fp), scores[i]));
        }
    }
    curve
}

/// Area under the precision–recall curve as average precision,
/// `AP = Σₙ (Rₙ − Rₙ₋₁) Pₙ` (scikit-learn's `average_precision_score`).
pub fn pr_auc(scores: &[f32], labels: &[f32]) -> f64 {
    let mut prev_recall = 0.0;
    let mut ap = 0.0;
    for (r, p, _) in pr_curve(scores, labels) {
        ap += (r - prev_recall) * p;
        prev_recall = r;
    }
    ap
}

/// The ROC curve, `(false positive rate, true positive rate)` per distinct score, starting at
/// (0, 0).
pub fn roc_curve(scores: &[f32], labels: &[f32]) -> Vec<(f64, f64)> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    let pos = labels.iter().filter(|l| **l > 0.5).count();
    let neg = labels.len() - pos;
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut curve = vec![(0.0, 0.0)];
    for (k, &i) in idx.iter().enumerate() {
        if labels[i] > 0.5 {
            tp += 1;
        } else {
            fp += 1;
        }
        if k + 1 == idx.len() || scores[idx[k + 1]] != scores[i] {
            curve.push((ratio(fp, neg), ratio(tp, pos)));
        }
    }
    curve
}

/// The highest recall among thresholds whose precision is at least `min_precision` (0 when
/// none reaches it).
pub fn recall_at_precision(scores: &[f32], labels: &[f32], min_precision: f64) -> f64 {
    pr_curve(scores, labels)
        .into_iter()
        .filter(|(_, p, _)| *p >= min_precision)
        .map(|(r, _, _)| r)
        .fold(0.0, f64::max)
}
