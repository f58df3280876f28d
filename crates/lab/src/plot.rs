//! Figures with plotters, written as PNG and SVG. The font (DejaVu Sans) is compiled in, so
//! figures render on a machine with no system fonts.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the embedded font under "sans-serif" (done by every figure; idempotent).
pub fn init_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            panic!("plot: the embedded font could not be read");
        }
    });
}

/// Colours of the series, in order (Matplotlib's tab10).
pub const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// A named polyline.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Points in data coordinates.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// `values[i]` at x = i + 1 (a loss per step or per epoch).
    pub fn indexed(name: impl Into<String>, values: &[f64]) -> Self {
        Self::new(
            name,
            values
                .iter()
                .enumerate()
                .map(|(i, v)| ((i + 1) as f64, *v))
                .collect(),
        )
    }

    /// A series from a name and points.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
        }
    }
}

/// Something that draws itself on any plotters backend.
pub trait Figure {
    /// Draws the figure on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Writes `fig` to `dir/stem.png` and `dir/stem.svg` (800×600) and returns both paths.
pub fn render(fig: &impl Figure, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, String> {
    init_font();
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    {
        let root = BitMapBackend::new(&png, (800, 600)).into_drawing_area();
        fig.draw(&root)?;
        root.present()
            .map_err(|e| format!("{}: {e}", png.display()))?;
    }
    {
        let root = SVGBackend::new(&svg, (800, 600)).into_drawing_area();
        fig.draw(&root)?;
        root.present()
            .map_err(|e| format!("{}: {e}", svg.display()))?;
    }
    Ok(vec![png, svg])
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// `[lo, hi]` of the finite values, padded by 5%.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 0.5 };
    (lo - pad, hi + pad)
}

/// Lines (optionally with points) on shared axes, with a legend.
#[derive(Clone, Debug, Default)]
pub struct LineChart {
    /// Title above the chart.
    pub title: String,
    /// X-axis label.
    pub x_label: String,
    /// Y-axis label.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Points drawn as dots (e.g. the data behind fitted lines).
    pub scatter: Vec<Series>,
    /// Plot log10 of y (the axis label says so).
    pub log_y: bool,
}

impl Figure for LineChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let ty = |y: f64| if self.log_y { y.max(1e-300).log10() } else { y };
        let all = || {
            self.series
                .iter()
                .chain(&self.scatter)
                .flat_map(|s| s.points.iter())
        };
        let (x0, x1) = range(all().map(|p| p.0));
        let (y0, y1) = range(all().map(|p| ty(p.1)));
        let y_label = if self.log_y {
            format!("log10 {}", self.y_label)
        } else {
            self.y_label.clone()
        };
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(y_label)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        for (i, s) in self.scatter.iter().enumerate() {
            let color = COLORS[(i + self.series.len()) % COLORS.len()].mix(0.6);
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|(x, y)| Circle::new((*x, ty(*y)), 3, color.filled())),
                )
                .map_err(err)?
                .label(&s.name)
                .legend(move |(x, y)| Circle::new((x + 10, y), 3, color.filled()));
        }
        for (i, s) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(
                    s.points
                        .iter()
                        .map(|(x, y)| (*x, ty(*y)))
                        .filter(|p| p.1.is_finite()),
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(&s.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

/// A function of two variables drawn as filled contour bands (of log10 f when `log`), with
/// paths drawn on top.
pub struct Contour<'a> {
    /// Title above the chart.
    pub title: String,
    /// X-axis label.
    pub x_label: String,
    /// Y-axis label.
    pub y_label: String,
    /// X range.
    pub x: (f64, f64),
    /// Y range.
    pub y: (f64, f64),
    /// The function.
    pub f: &'a dyn Fn(f64, f64) -> f64,
    /// Shade by log10 f (for functions spanning decades).
    pub log: bool,
    /// Paths (e.g. optimizer iterates) drawn as lines with dots.
    pub paths: Vec<Series>,
}

/// A blue-to-yellow ramp (approximately viridis) at `t` in [0, 1].
fn ramp(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f) as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

impl Figure for Contour<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(self.x.0..self.x.1, self.y.0..self.y.1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        const N: usize = 80;
        const BANDS: f64 = 14.0;
        let (dx, dy) = (
            (self.x.1 - self.x.0) / N as f64,
            (self.y.1 - self.y.0) / N as f64,
        );
        let value = |i: usize, j: usize| {
            let v = (self.f)(
                self.x.0 + (i as f64 + 0.5) * dx,
                self.y.0 + (j as f64 + 0.5) * dy,
            );
            if self.log { v.max(1e-12).log10() } else { v }
        };
        let grid: Vec<f64> = (0..N * N).map(|k| value(k % N, k / N)).collect();
        let (lo, hi) = range(grid.iter().copied());
        let cells = (0..N * N).map(|k| {
            let (i, j) = (k % N, k / N);
            let t = ((grid[k] - lo) / (hi - lo) * BANDS).floor() / BANDS;
            let x = self.x.0 + i as f64 * dx;
            let y = self.y.0 + j as f64 * dy;
            Rectangle::new([(x, y), (x + dx, y + dy)], ramp(t).filled())
        });
        chart.draw_series(cells).map_err(err)?;
        for (i, s) in self.paths.iter().enumerate() {
            let color = [
                WHITE,
                RGBColor(255, 80, 80),
                RGBColor(255, 170, 0),
                RGBColor(0, 0, 0),
                RGBColor(255, 0, 255),
                RGBColor(0, 255, 255),
                RGBColor(180, 0, 0),
            ][i % 7];
            let clip =
                |(x, y): &(f64, f64)| (x.clamp(self.x.0, self.x.1), y.clamp(self.y.0, self.y.1));
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().map(clip),
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(&s.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|p| Circle::new(clip(p), 2, color.filled())),
                )
                .map_err(err)?;
        }
        if !self.paths.is_empty() {
            chart
                .configure_series_labels()
                .label_font(("sans-serif", 14))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        }
        Ok(())
    }
}
