//! A loader for the public credit-card-fraud CSV layout (`Time, V1..V28, Amount, Class`).

use std::fmt;
use std::path::Path;

use crate::data::Dataset;

/// The columns the file must have, in order.
pub fn columns() -> Vec<String> {
    let mut c = vec!["Time".to_string()];
    c.extend((1..=28).map(|i| format!("V{i}")));
    c.push("Amount".into());
    c.push("Class".into());
    c
}

/// A row that could not be read, by its line number in the file (the header is line 1).
#[derive(Clone, Debug, PartialEq)]
pub struct BadRow {
    /// 1-based line number.
    pub line: u64,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Why a file could not be loaded at all.
#[derive(Debug)]
pub enum CsvError {
    /// The file could not be opened or read.
    Io(String),
    /// The header is not `Time, V1..V28, Amount, Class`.
    Header(String),
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvError::Io(m) => write!(f, "credit-card CSV: {m}"),
            CsvError::Header(m) => write!(f, "credit-card CSV: line 1 (header): {m}"),
        }
    }
}

impl std::error::Error for CsvError {}

/// The rows that were read, and the ones that were not.
#[derive(Debug)]
pub struct CreditCard {
    /// Every good row: 30 features (`Time, V1..V28, Amount`), target `Class`.
    pub data: Dataset,
    /// Every bad row with its line number; none of the good rows is lost because of them.
    pub bad_rows: Vec<BadRow>,
}

/// Reads a credit-card-fraud CSV. A bad row (wrong number of fields, a value that is not a
/// finite number, a class other than 0 or 1) is reported with its line number and skipped;
/// every good row is kept. A missing file or a wrong header is an error.
pub fn load(path: impl AsRef<Path>) -> Result<CreditCard, CsvError> {
    let path = path.as_ref();
    let file =
        std::fs::File::open(path).map_err(|e| CsvError::Io(format!("{}: {e}", path.display())))?;
    from_reader(file)
}

/// The longest line the loader reads (the real file's are under 1 KiB).
pub const MAX_LINE: usize = 64 << 10;
/// The most bytes the loader reads (the real file is about 150 MB).
pub const MAX_BYTES: u64 = 4 << 30;

/// [`load`] from any reader. A line longer than [`MAX_LINE`] or a file longer than
/// [`MAX_BYTES`] (`/dev/zero`, a binary file) is an error, not a read until memory runs out.
pub fn from_reader(reader: impl std::io::Read) -> Result<CreditCard, CsvError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(Bounded::new(reader));
    let header = rdr
        .headers()
        .map_err(|e| CsvError::Io(e.to_string()))?
        .clone();
    let names: Vec<String> = header
        .iter()
        .map(|h| h.trim().trim_matches('"').to_string())
        .collect();
    let expected = columns();
    if names != expected {
        return Err(CsvError::Header(format!(
            "expected {} columns Time, V1..V28, Amount, Class; got {} columns {:?}",
            expected.len(),
            names.len(),
            names
        )));
    }
    let (mut x, mut y, mut bad_rows) = (Vec::new(), Vec::new(), Vec::new());
    for record in rdr.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                return Err(CsvError::Io(e.to_string()));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                bad_rows.push(BadRow {
                    line,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        match parse_row(&record) {
            Ok((features, class)) => {
                x.extend(features);
                y.push(class);
            }
            Err(message) => bad_rows.push(BadRow { line, message }),
        }
    }
    let mut data = Dataset::new(x, y, 30);
    data.names = expected[..30].to_vec();
    Ok(CreditCard { data, bad_rows })
}

/// A reader that stops with an error at a line longer than [`MAX_LINE`] or after
/// [`MAX_BYTES`] bytes.
struct Bounded<R> {
    inner: R,
    line: usize,
    total: u64,
}

impl<R> Bounded<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            line: 0,
            total: 0,
        }
    }
}

impl<R: std::io::Read> std::io::Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        if self.total > MAX_BYTES {
            return Err(std::io::Error::other(format!(
                "the file is longer than {MAX_BYTES} bytes; is it the credit-card CSV?"
            )));
        }
        for &b in &buf[..n] {
            self.line = if b == b'\n' { 0 } else { self.line + 1 };
            if self.line > MAX_LINE {
                return Err(std::io::Error::other(format!(
                    "a line is longer than {MAX_LINE} bytes; is it the credit-card CSV?"
                )));
            }
        }
        Ok(n)
    }
}

fn parse_row(record: &csv::StringRecord) -> Result<(Vec<f32>, f32), String> {
    if record.len() != 31 {
        return Err(format!("expected 31 fields, found {}", record.len()));
    }
    let mut features = Vec::with_capacity(30);
    for (i, field) in record.iter().take(30).enumerate() {
        let v: f32 = field
            .trim()
            .parse()
            .map_err(|_| format!("column {} is not a number: {field:?}", columns()[i]))?;
        if !v.is_finite() {
            return Err(format!("column {} is not finite: {field:?}", columns()[i]));
        }
        features.push(v);
    }
    let class = record[30].trim().trim_matches('"');
    let class = match class {
        "0" => 0.0,
        "1" => 1.0,
        other => return Err(format!("Class must be 0 or 1, found {other:?}")),
    };
    Ok((features, class))
}
