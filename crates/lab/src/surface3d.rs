//! A function of two variables drawn as a shaded 3-D surface: the companion of
//! [`Contour`], in the same colours, written by
//! [`render`](crate::plot::render) as PNG and SVG.

use plotters::coord::Shift;
use plotters::coord::ranged1d::Ranged;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::plot::{
    Contour, Figure, Mark, PATH_COLORS, Series, colour_bar, err, legend_below, legend_rows, ramp,
    range,
};

/// Where a [`Surface3d`] is seen from: plotters' `with_projection` angles, in radians, and its
/// scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// Tilt towards looking down on the surface (0: from the side). Above about 0.75
    /// plotters moves the y tick labels to a top edge of the box.
    pub pitch: f64,
    /// Turn about the vertical axis.
    pub yaw: f64,
    /// Size of the box in the chart (1: plotters' default, which clips labels).
    pub scale: f64,
}

impl Default for View {
    /// Looking down at 40° (0.7 rad) with the corner where x and y are largest nearest,
    /// x's axis down the lower left and y's down the lower right: every axis and label
    /// inside 800×600, and into bowls rather than at their walls.
    fn default() -> Self {
        Self {
            pitch: 0.7,
            yaw: 0.75,
            scale: 0.85,
        }
    }
}

/// A function z = f(x, y) drawn as a shaded 3-D surface over a `grid` × `grid` mesh in a box
/// with ticked axes, coloured by height with [`Contour`]'s colours and colour bar (of log10 f
/// when `log`), with paths drawn on the surface and their legend below.
///
/// Cells are drawn far to near (no depth buffer): a cell seen from below, on a wall steeper
/// than the view, is shaded darker; paths are drawn last, so they show even where the
/// surface hides them.
/// Bad input is an error from [`render`](crate::plot::render) before any file is written: a
/// grid under 2 cells a side, an empty or non-finite range, a non-finite path point, or f
/// not finite somewhere on the grid.
pub struct Surface3d<'a> {
    /// Title above the chart.
    pub title: String,
    /// X-axis label.
    pub x_label: String,
    /// Y-axis label.
    pub y_label: String,
    /// Label of the height (log10 is added when `log`).
    pub z_label: String,
    /// X range.
    pub x: (f64, f64),
    /// Y range.
    pub y: (f64, f64),
    /// The function.
    pub f: &'a dyn Fn(f64, f64) -> f64,
    /// Height and colour by log10 f (for functions spanning decades).
    pub log: bool,
    /// Paths (e.g. optimizer iterates) drawn on the surface as lines with dots: each segment
    /// follows the surface's height along it; points outside the ranges are clamped to them.
    pub paths: Vec<Series>,
    /// Cells a side of the mesh (at least 2; 40 shows smooth shapes).
    pub grid: usize,
    /// The viewing angle.
    pub view: View,
}

impl<'a> From<&Contour<'a>> for Surface3d<'a> {
    /// The same function, ranges, labels, scale and paths as a contour plot, height "f",
    /// a 40-cell grid and the default view.
    fn from(c: &Contour<'a>) -> Self {
        Self {
            title: c.title.clone(),
            x_label: c.x_label.clone(),
            y_label: c.y_label.clone(),
            z_label: "f".into(),
            x: c.x,
            y: c.y,
            f: c.f,
            log: c.log,
            paths: c.paths.clone(),
            grid: 40,
            view: View::default(),
        }
    }
}

impl Surface3d<'_> {
    /// The height drawn at (x, y): f, or log10 f when `log` (f ≤ 1e-12 shown at −12).
    fn height(&self, x: f64, y: f64) -> f64 {
        let v = (self.f)(x, y);
        if self.log && !v.is_nan() {
            v.max(1e-12).log10()
        } else {
            v
        }
    }

    /// The heights at the `(grid + 1)²` mesh nodes, row by row (y outer), checked finite.
    fn heights(&self) -> Result<Vec<f64>, String> {
        let n = self.grid;
        if n < 2 {
            return Err(format!(
                "Surface3d: grid must be at least 2 cells a side; got {n}"
            ));
        }
        for (name, (lo, hi)) in [("x", self.x), ("y", self.y)] {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(format!(
                    "Surface3d: {name} must be a finite range with lo < hi; got ({lo}, {hi})"
                ));
            }
        }
        for (k, s) in self.paths.iter().enumerate() {
            if let Some((x, y)) = s
                .points
                .iter()
                .find(|(x, y)| !x.is_finite() || !y.is_finite())
            {
                return Err(format!(
                    "Surface3d: paths[{k}] ({:?}) has a non-finite point ({x}, {y})",
                    s.name
                ));
            }
        }
        let mut z = Vec::with_capacity((n + 1) * (n + 1));
        for j in 0..=n {
            for i in 0..=n {
                let (x, y) = self.node(i, j);
                let h = self.height(x, y);
                if !h.is_finite() {
                    return Err(format!(
                        "Surface3d: f({x}, {y}) is {}; f must be finite on the whole grid \
                         (narrow x or y)",
                        (self.f)(x, y)
                    ));
                }
                z.push(h);
            }
        }
        Ok(z)
    }

    /// The mesh node (i, j) in data coordinates.
    fn node(&self, i: usize, j: usize) -> (f64, f64) {
        let n = self.grid as f64;
        (
            self.x.0 + (self.x.1 - self.x.0) * i as f64 / n,
            self.y.0 + (self.y.1 - self.y.0) * j as f64 / n,
        )
    }
}

/// The height of the box drawn, as a fraction of its width and depth: flatter than a cube, so
/// that the default view looks into bowls rather than at their walls.
const BOX_HEIGHT: f64 = 0.55;

/// Tick labels an axis has at most.
const LABELS: usize = 6;

/// Tick labels with as many decimals as a span of `span` needs.
fn tick(span: f64) -> impl Fn(&f64) -> String {
    let decimals = if span >= 20.0 {
        0
    } else if span >= 2.0 {
        1
    } else {
        2
    };
    move |v: &f64| format!("{v:.decimals$}")
}

impl Figure for Surface3d<'_> {
    fn check(&self) -> Result<(), String> {
        self.heights().map(|_| ())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let z = self.heights()?;
        let n = self.grid;
        let at = |i: usize, j: usize| z[j * (n + 1) + i];
        root.fill(&WHITE).map_err(err)?;
        let (width, height) = root.dim_in_pixel();
        let strip = if self.paths.is_empty() {
            0
        } else {
            14 + 20 * legend_rows(self.paths.len())
        };
        let (upper, legend) = root.split_vertically(height - strip);
        let (main, bar) = upper.split_horizontally(width - 95);
        let (lo, hi) = range(z.iter().copied());
        let (x0, x1) = self.x;
        let (y0, y1) = self.y;
        // plotters' 3-D axes: X to the right, Y up, Z into the page; the data's y is Z.
        let mut chart = ChartBuilder::on(&main)
            .caption(&self.title, ("sans-serif", 20))
            .margin(10)
            .build_cartesian_3d(x0..x1, lo..hi, y0..y1)
            .map_err(err)?;
        let view = self.view;
        {
            let (px, py) = chart.plotting_area().get_pixel_range();
            let size = (px.end - px.start).min(py.end - py.start) * 4 / 5;
            chart.set_3d_pixel_range((size, (size as f64 * BOX_HEIGHT) as i32, size));
        }
        chart.with_projection(|mut p| {
            p.pitch = view.pitch;
            p.yaw = view.yaw;
            p.scale = view.scale;
            p.into_matrix()
        });
        let coord = chart.as_coord_spec().clone();
        let screen = |p: (f64, f64, f64)| coord.translate(&p);
        // Where the x and y tick labels meet (the floor's corner lowest on screen), one label
        // is enough: y's is left out when both axes have a tick there.
        let (xc, yc) = [(x0, y0), (x0, y1), (x1, y0), (x1, y1)]
            .into_iter()
            .max_by_key(|&(x, y)| screen((x, lo, y)).1)
            .unwrap_or((x1, y1));
        let near = |a: f64, b: f64, span: f64| (a - b).abs() <= 1e-9 * span;
        let has_tick = |r: (f64, f64), v: f64| {
            RangedCoordf64::from(r.0..r.1)
                .key_points(LABELS)
                .into_iter()
                .any(|k| near(k, v, r.1 - r.0))
        };
        let clash = has_tick(self.x, xc) && has_tick(self.y, yc);
        let (fx, fz, fy0) = (tick(x1 - x0), tick(hi - lo), tick(y1 - y0));
        let fy = |v: &f64| {
            if clash && near(*v, yc, y1 - y0) {
                String::new()
            } else {
                fy0(v)
            }
        };
        chart
            .configure_axes()
            .label_style(("sans-serif", 13))
            .tick_size(6)
            .x_labels(LABELS)
            .y_labels(LABELS)
            .z_labels(LABELS)
            .max_light_lines(1)
            .x_formatter(&fx)
            .y_formatter(&fz)
            .z_formatter(&fy)
            .draw()
            .map_err(err)?;

        // The cells, far ones first (painter's algorithm), each coloured by its mean height
        // and shaded by the angle of its normal to a light above and in front; a cell seen
        // from below (a wall too steep for the view) is darker, so folds read as folds.
        let t = |v: f64| ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
        let light = {
            let l: (f64, f64, f64) = (-0.35, 1.0, -0.45);
            let norm = (l.0 * l.0 + l.1 * l.1 + l.2 * l.2).sqrt();
            (l.0 / norm, l.1 / norm, l.2 / norm)
        };
        // Twice the signed screen area of a quadrilateral: its sign says which side is seen.
        let winding = |q: &[(f64, f64, f64)]| {
            let s: Vec<(i64, i64)> = q
                .iter()
                .map(|p| {
                    let (u, v) = coord.translate(p);
                    (u as i64, v as i64)
                })
                .collect();
            (0..s.len())
                .map(|k| {
                    let (a, b) = (s[k], s[(k + 1) % s.len()]);
                    a.0 * b.1 - b.0 * a.1
                })
                .sum::<i64>()
        };
        let top = winding(&[(x0, lo, y0), (x1, lo, y0), (x1, lo, y1), (x0, lo, y1)]).signum();
        let mut cells = Vec::with_capacity(n * n);
        for j in 0..n {
            for i in 0..n {
                let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
                let points: Vec<(f64, f64, f64)> = corners
                    .iter()
                    .map(|&(a, b)| {
                        let (x, y) = self.node(a, b);
                        (x, at(a, b), y)
                    })
                    .collect();
                let mean = points.iter().map(|p| p.1).sum::<f64>() / 4.0;
                // The upward normal in the box (x, height, y), from the diagonals.
                let p = |a: usize, b: usize| {
                    let (x, y) = (a as f64 / n as f64, b as f64 / n as f64);
                    (x, BOX_HEIGHT * t(at(a, b)), y)
                };
                let (a, b, c, d) = (p(i, j), p(i + 1, j + 1), p(i + 1, j), p(i, j + 1));
                let e1 = (b.0 - a.0, b.1 - a.1, b.2 - a.2);
                let e2 = (c.0 - d.0, c.1 - d.1, c.2 - d.2);
                let up = (
                    e1.1 * e2.2 - e1.2 * e2.1,
                    e1.2 * e2.0 - e1.0 * e2.2,
                    e1.0 * e2.1 - e1.1 * e2.0,
                );
                let len = (up.0 * up.0 + up.1 * up.1 + up.2 * up.2).sqrt().max(1e-12);
                let lit = (up.0 * light.0 + up.1 * light.1 + up.2 * light.2) / len;
                let below = winding(&points).signum() == -top;
                let shade = if below {
                    0.45 + 0.15 * (-lit).max(0.0)
                } else {
                    0.6 + 0.4 * lit.max(0.0)
                };
                let base = ramp(t(mean));
                let dim = |v: u8| (v as f64 * shade).round() as u8;
                let color = RGBColor(dim(base.0), dim(base.1), dim(base.2));
                let (cx, cy) = self.node(i, j);
                let (dx, dy) = ((x1 - x0) / n as f64 / 2.0, (y1 - y0) / n as f64 / 2.0);
                let depth = coord.projected_depth(&(cx + dx), &mean, &(cy + dy));
                cells.push((depth, color, points));
            }
        }
        cells.sort_by_key(|c| std::cmp::Reverse(c.0));
        let edge = BLACK.mix(0.18).stroke_width(1);
        for (_, color, mut points) in cells {
            chart
                .draw_series(std::iter::once(Polygon::new(
                    points.clone(),
                    color.filled(),
                )))
                .map_err(err)?;
            points.push(points[0]);
            chart
                .draw_series(std::iter::once(PathElement::new(points, edge)))
                .map_err(err)?;
        }

        // Paths follow the surface: each segment is sampled and lifted to its height.
        let mut entries = Vec::new();
        for (k, s) in self.paths.iter().enumerate() {
            let color = PATH_COLORS[k % PATH_COLORS.len()];
            let clip = |(x, y): (f64, f64)| (x.clamp(x0, x1), y.clamp(y0, y1));
            let lift = |(x, y): (f64, f64)| (x, self.height(x, y), y);
            let mut line = Vec::new();
            for w in s.points.windows(2) {
                let (a, b) = (clip(w[0]), clip(w[1]));
                for m in 0..16 {
                    let r = m as f64 / 16.0;
                    line.push(lift((a.0 + (b.0 - a.0) * r, a.1 + (b.1 - a.1) * r)));
                }
            }
            if let Some(&p) = s.points.last() {
                line.push(lift(clip(p)));
            }
            line.retain(|p| p.1.is_finite());
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(2)))
                .map_err(err)?;
            let dots = s
                .points
                .iter()
                .map(|&p| lift(clip(p)))
                .filter(|p| p.1.is_finite());
            let radius = if s.points.len() == 1 { 5 } else { 3 };
            chart
                .draw_series(dots.flat_map(|p| {
                    [
                        Circle::new(p, radius, color.filled()),
                        Circle::new(p, radius, BLACK.stroke_width(1)),
                    ]
                }))
                .map_err(err)?;
            // White is invisible on the legend's white: outline it in grey there.
            let shown = if color == WHITE {
                RGBColor(150, 150, 150)
            } else {
                color
            };
            entries.push((s.name.clone(), Mark::Line(shown)));
        }

        // Axis names, beyond the tick labels: each at the middle of the box edge lowest on
        // screen, pushed away from the box's centre.
        let centre = screen(((x0 + x1) / 2.0, (lo + hi) / 2.0, (y0 + y1) / 2.0));
        let lower = |a: (f64, f64, f64), b: (f64, f64, f64)| {
            if screen(a).1 >= screen(b).1 { a } else { b }
        };
        let x_at = lower(((x0 + x1) / 2.0, lo, y0), ((x0 + x1) / 2.0, lo, y1));
        let y_at = lower((x0, lo, (y0 + y1) / 2.0), (x1, lo, (y0 + y1) / 2.0));
        // The height's name sits at the top of the box's leftmost vertical edge.
        let z_at = [(x0, y0), (x0, y1), (x1, y0), (x1, y1)]
            .into_iter()
            .map(|(x, y)| (x, hi, y))
            .min_by_key(|&p| screen(p).0)
            .unwrap_or((x0, hi, y0));
        let z_label = if self.log {
            format!("log10 {}", self.z_label)
        } else {
            self.z_label.clone()
        };
        let font = TextStyle::from(("sans-serif", 16).into_font());
        for (at, label, push) in [
            (x_at, &self.x_label, 52.0),
            (y_at, &self.y_label, 52.0),
            (z_at, &z_label, 0.0),
        ] {
            let (px, py) = screen(at);
            let (vx, vy) = ((px - centre.0) as f64, (py - centre.1) as f64);
            let len = (vx * vx + vy * vy).sqrt().max(1.0);
            let (ox, oy) = if push > 0.0 {
                ((vx / len * push) as i32, (vy / len * push) as i32)
            } else {
                (-10, -22)
            };
            let font = if push > 0.0 {
                font.pos(Pos::new(HPos::Center, VPos::Center))
            } else {
                font.pos(Pos::new(HPos::Right, VPos::Center))
            };
            chart
                .plotting_area()
                .draw(&(EmptyElement::at(at) + Text::new(label.clone(), (ox, oy), font)))
                .map_err(err)?;
        }
        colour_bar(&bar, lo, hi, &z_label)?;
        legend_below(&legend, &entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::render;

    fn bowl(x: f64, y: f64) -> f64 {
        x * x + 2.0 * y * y
    }

    fn surface(f: &dyn Fn(f64, f64) -> f64) -> Surface3d<'_> {
        Surface3d {
            title: "bowl".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            z_label: "f".into(),
            x: (-1.0, 1.0),
            y: (-1.0, 1.0),
            f,
            log: false,
            paths: vec![Series::new(
                "path",
                vec![(0.8, 0.8), (0.3, -0.2), (0.0, 0.0)],
            )],
            grid: 12,
            view: View::default(),
        }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("descent-surface3d-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn writes_png_and_svg() {
        let dir = scratch("ok");
        let files = render(&surface(&bowl), &dir, "bowl").unwrap();
        assert_eq!(files.len(), 2);
        for file in &files {
            let size = std::fs::metadata(file).unwrap().len();
            assert!(size > 1000, "{} has {size} bytes", file.display());
        }
        assert!(files[0].extension().unwrap() == "png" && files[1].extension().unwrap() == "svg");
        let svg = std::fs::read_to_string(&files[1]).unwrap();
        assert!(svg.contains("<polygon"), "the SVG has no surface cells");
        // The log scale and the conversion from a contour plot render too.
        let contour = Contour {
            title: "log bowl".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            x: (-1.0, 1.0),
            y: (-1.0, 1.0),
            f: &bowl,
            log: true,
            paths: vec![Series::new("minimum", vec![(0.0, 0.0)])],
        };
        render(&Surface3d::from(&contour), &dir, "log_bowl").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_bad_input_before_writing() {
        let dir = scratch("bad");
        let nan = |x: f64, y: f64| if x > 0.5 && y > 0.5 { f64::NAN } else { 1.0 };
        let inf = |_: f64, _: f64| f64::INFINITY;
        let cases: Vec<(Surface3d, &str)> = vec![
            (
                Surface3d {
                    grid: 0,
                    ..surface(&bowl)
                },
                "Surface3d: grid must be at least 2",
            ),
            (
                Surface3d {
                    grid: 1,
                    ..surface(&bowl)
                },
                "got 1",
            ),
            (
                Surface3d {
                    x: (1.0, 1.0),
                    ..surface(&bowl)
                },
                "Surface3d: x must be a finite range",
            ),
            (
                Surface3d {
                    y: (0.0, f64::NAN),
                    ..surface(&bowl)
                },
                "Surface3d: y must be a finite range",
            ),
            (surface(&nan), "is NaN; f must be finite on the whole grid"),
            (surface(&inf), "Surface3d: f(-1, -1) is inf"),
            (
                Surface3d {
                    paths: vec![Series::new("p", vec![(f64::NAN, 0.0)])],
                    ..surface(&bowl)
                },
                "Surface3d: paths[0] (\"p\") has a non-finite point",
            ),
        ];
        for (fig, expected) in cases {
            let e = render(&fig, &dir, "bad").unwrap_err();
            assert!(e.contains(expected), "{e:?} lacks {expected:?}");
        }
        assert!(!dir.join("bad.png").exists() && !dir.join("bad.svg").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
