//! Small real data sets, from `linfa-datasets` (iris, diabetes, wine quality).

use crate::data::Dataset;

fn from_linfa<T: Copy>(
    records: &[f64],
    rows: usize,
    targets: &[T],
    f: impl Fn(T) -> f32,
) -> Dataset {
    let features = records.len() / rows.max(1);
    Dataset::new(
        records.iter().map(|v| *v as f32).collect(),
        targets.iter().map(|t| f(*t)).collect(),
        features,
    )
}

/// Fisher's iris: 150 flowers, 4 measurements, 3 species (class 0, 1, 2).
pub fn iris() -> Dataset {
    let ds = linfa_datasets::iris();
    let records: Vec<f64> = ds.records.iter().copied().collect();
    let targets: Vec<usize> = ds.targets.iter().copied().collect();
    let mut d = from_linfa(&records, ds.records.nrows(), &targets, |t| t as f32);
    d.names = ds.feature_names().to_vec();
    d
}

/// The diabetes regression set: 442 patients, 10 baseline variables, disease progression
/// after one year.
pub fn diabetes() -> Dataset {
    let ds = linfa_datasets::diabetes();
    let records: Vec<f64> = ds.records.iter().copied().collect();
    let targets: Vec<f64> = ds.targets.iter().copied().collect();
    let mut d = from_linfa(&records, ds.records.nrows(), &targets, |t| t as f32);
    d.names = ds.feature_names().to_vec();
    d
}

/// Red wine quality: 1599 wines, 11 physico-chemical measurements, quality score 3–8.
pub fn winequality() -> Dataset {
    let ds = linfa_datasets::winequality();
    let records: Vec<f64> = ds.records.iter().copied().collect();
    let targets: Vec<usize> = ds.targets.iter().copied().collect();
    let mut d = from_linfa(&records, ds.records.nrows(), &targets, |t| t as f32);
    d.names = ds.feature_names().to_vec();
    d
}
