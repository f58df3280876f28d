//! Figures with plotters, written as PNG and SVG: line charts, contour plots and
//! ([`Surface3d`]) 3-D surfaces. The font (DejaVu Sans) is compiled in, so
//! figures render on a machine with no system fonts.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

pub use crate::surface3d::{Surface3d, View};

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
    /// Checks the figure's input: an error here stops [`render`] before it writes a file.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    /// Draws the figure on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Writes `fig` to `dir/stem.png` and `dir/stem.svg` (800×600) and returns both paths; a
/// figure that fails its [`Figure::check`] writes nothing.
pub fn render(fig: &impl Figure, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, String> {
    fig.check()?;
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

pub(crate) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// How a legend entry is drawn: a line, or a dot.
#[derive(Clone, Copy)]
pub(crate) enum Mark {
    Line(RGBColor),
    Dot(RGBAColor),
}

/// Rows of legend entries a strip below the chart needs, three to a row.
pub(crate) fn legend_rows(entries: usize) -> u32 {
    entries.div_ceil(3) as u32
}

/// The legend, drawn in its own strip below the chart, off the data: three entries a row.
pub(crate) fn legend_below<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, Mark)],
) -> Result<(), String> {
    let (width, _) = area.dim_in_pixel();
    let column = (width as i32 - 40) / 3;
    for (k, (name, mark)) in entries.iter().enumerate() {
        let (x, y) = (20 + (k as i32 % 3) * column, 8 + (k as i32 / 3) * 20);
        match mark {
            Mark::Line(color) => area
                .draw(&PathElement::new(
                    vec![(x, y + 7), (x + 22, y + 7)],
                    color.stroke_width(3),
                ))
                .map_err(err)?,
            Mark::Dot(color) => area
                .draw(&Circle::new((x + 11, y + 7), 4, color.filled()))
                .map_err(err)?,
        }
        // Long names are cut to the column.
        let room = ((column - 34) / 7).max(4) as usize;
        let text: String = if name.chars().count() > room {
            name.chars()
                .take(room - 1)
                .chain(std::iter::once('…'))
                .collect()
        } else {
            name.clone()
        };
        area.draw(&Text::new(text, (x + 30, y), ("sans-serif", 13)))
            .map_err(err)?;
    }
    Ok(())
}

/// `[lo, hi]` of the finite values, padded by 5%.
pub(crate) fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
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
        let entries = self.series.len() + self.scatter.len();
        let (_, height) = root.dim_in_pixel();
        let strip = if entries > 0 {
            14 + 20 * legend_rows(entries)
        } else {
            0
        };
        let (root, legend) = root.split_vertically(height - strip);
        let root = &root;
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
        let mut legend_entries = Vec::new();
        for (i, s) in self.scatter.iter().enumerate() {
            let color = COLORS[(i + self.series.len()) % COLORS.len()].mix(0.6);
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|(x, y)| Circle::new((*x, ty(*y)), 3, color.filled())),
                )
                .map_err(err)?;
            legend_entries.push((s.name.clone(), Mark::Dot(color)));
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
                .map_err(err)?;
            legend_entries.push((s.name.clone(), Mark::Line(color)));
        }
        legend_below(&legend, &legend_entries)
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
pub(crate) fn ramp(t: f64) -> RGBColor {
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

/// The colours of [`Contour`]'s paths, in order.
pub(crate) const PATH_COLORS: [RGBColor; 7] = [
    WHITE,
    RGBColor(255, 80, 80),
    RGBColor(255, 170, 0),
    RGBColor(0, 0, 0),
    RGBColor(255, 0, 255),
    RGBColor(0, 255, 255),
    RGBColor(180, 0, 0),
];

impl Figure for Contour<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let (width, height) = root.dim_in_pixel();
        let strip = if self.paths.is_empty() {
            0
        } else {
            14 + 20 * legend_rows(self.paths.len())
        };
        let (upper, legend) = root.split_vertically(height - strip);
        let (main, bar) = upper.split_horizontally(width - 95);
        let mut chart = ChartBuilder::on(&main)
            .caption(&self.title, ("sans-serif", 20))
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
        // Fine cells shaded continuously, and contour lines where the band changes between
        // neighbouring cells.
        const N: usize = 120;
        const BANDS: f64 = 12.0;
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
        let t = |v: f64| ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
        let band = |k: usize| (t(grid[k]) * BANDS).floor() as i64;
        let cells = (0..N * N).map(|k| {
            let (i, j) = (k % N, k / N);
            let x = self.x.0 + i as f64 * dx;
            let y = self.y.0 + j as f64 * dy;
            Rectangle::new([(x, y), (x + dx, y + dy)], ramp(t(grid[k])).filled())
        });
        chart.draw_series(cells).map_err(err)?;
        let line = BLACK.mix(0.35).stroke_width(1);
        let mut segments = Vec::new();
        for j in 0..N {
            for i in 0..N {
                let k = j * N + i;
                let (x, y) = (
                    self.x.0 + (i + 1) as f64 * dx,
                    self.y.0 + (j + 1) as f64 * dy,
                );
                if i + 1 < N && band(k) != band(k + 1) {
                    segments.push(PathElement::new(vec![(x, y - dy), (x, y)], line));
                }
                if j + 1 < N && band(k) != band(k + N) {
                    segments.push(PathElement::new(vec![(x - dx, y), (x, y)], line));
                }
            }
        }
        chart.draw_series(segments).map_err(err)?;
        let mut entries = Vec::new();
        for (i, s) in self.paths.iter().enumerate() {
            let color = PATH_COLORS[i % PATH_COLORS.len()];
            let clip =
                |(x, y): &(f64, f64)| (x.clamp(self.x.0, self.x.1), y.clamp(self.y.0, self.y.1));
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().map(clip),
                    color.stroke_width(2),
                ))
                .map_err(err)?;
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|p| Circle::new(clip(p), 2, color.filled())),
                )
                .map_err(err)?;
            // White is invisible on the legend's white: outline it in grey there.
            let shown = if color == WHITE {
                RGBColor(150, 150, 150)
            } else {
                color
            };
            entries.push((s.name.clone(), Mark::Line(shown)));
        }
        let label = if self.log { "log10 f" } else { "f" };
        colour_bar(&bar, lo, hi, label)?;
        legend_below(&legend, &entries)
    }
}

/// A vertical colour bar of [`ramp`] from `lo` to `hi`, with five labelled ticks and `label`
/// above it.
pub(crate) fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lo: f64,
    hi: f64,
    label: &str,
) -> Result<(), String> {
    let (_, height) = area.dim_in_pixel();
    let (top, bottom) = (50i32, height as i32 - 60);
    let (x0, x1) = (10i32, 30i32);
    let steps = 100;
    for s in 0..steps {
        let y0 = bottom - (bottom - top) * s / steps;
        let y1 = bottom - (bottom - top) * (s + 1) / steps;
        let t = (s as f64 + 0.5) / steps as f64;
        area.draw(&Rectangle::new([(x0, y1), (x1, y0)], ramp(t).filled()))
            .map_err(err)?;
    }
    area.draw(&Rectangle::new(
        [(x0, top), (x1, bottom)],
        BLACK.stroke_width(1),
    ))
    .map_err(err)?;
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let y = bottom - (bottom - top) * k / 4;
        area.draw(&PathElement::new(
            vec![(x1, y), (x1 + 4, y)],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
        area.draw(&Text::new(
            format!("{v:.2}"),
            (x1 + 7, y - 7),
            ("sans-serif", 12),
        ))
        .map_err(err)?;
    }
    area.draw(&Text::new(label, (x0 - 2, top - 22), ("sans-serif", 13)))
        .map_err(err)?;
    Ok(())
}
