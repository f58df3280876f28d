//! Loss surfaces, as in the seed notebook: MSE over (w, b) for a line fit, and cross-entropy
//! over (w₁, w₂) for logistic regression on two blobs, each with its minimum marked; each
//! drawn as filled contours and as a shaded 3-D surface (`*_3d`).
//!
//! `cargo run --release --example loss_surfaces -- [--quick]`

use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::plot::{Contour, Series, Surface3d, render};
use descent::lab::synthetic;

/// MSE and cross-entropy loss surfaces.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
}

fn main() {
    cli::main(|| run(Args::parse()));
}

fn run(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("loss_surfaces")?;
    // ANCHOR: mse
    let line = synthetic::seed_regression(args.common.seed);
    let mse = |w: f64, b: f64| {
        line.x
            .iter()
            .zip(&line.y)
            .map(|(x, y)| (w * *x as f64 + b - *y as f64).powi(2))
            .sum::<f64>()
            / line.len() as f64
    };
    // ANCHOR_END: mse
    // Least-squares minimum in closed form.
    let n = line.len() as f64;
    let (sx, sy) = (
        line.x.iter().map(|v| *v as f64).sum::<f64>(),
        line.y.iter().map(|v| *v as f64).sum::<f64>(),
    );
    let sxx: f64 = line.x.iter().map(|v| (*v as f64).powi(2)).sum();
    let sxy: f64 = line
        .x
        .iter()
        .zip(&line.y)
        .map(|(x, y)| *x as f64 * *y as f64)
        .sum();
    let w_star = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    let b_star = (sy - w_star * sx) / n;
    println!(
        "MSE minimum at w = {w_star:.3}, b = {b_star:.3} (data: y = 1.2x − 0.7 + noise), MSE {:.4}",
        mse(w_star, b_star)
    );

    // ANCHOR: cross_entropy
    let blobs = synthetic::two_blobs(100, args.common.seed);
    let ce = |w1: f64, w2: f64| {
        (0..blobs.len())
            .map(|i| {
                let r = blobs.row(i);
                let z = w1 * r[0] as f64 + w2 * r[1] as f64;
                let y = blobs.y[i] as f64;
                // log(1 + e^z) − y z, computed stably.
                z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z
            })
            .sum::<f64>()
            / blobs.len() as f64
    };
    // ANCHOR_END: cross_entropy
    // Each surface as filled contours and, beside it, as a 3-D view: the MSE bowl by its
    // height, the cross-entropy valley by its log.
    let mse_contour = Contour {
        title: "MSE over (w, b)".into(),
        x_label: "w".into(),
        y_label: "b".into(),
        x: (-1.0, 3.5),
        y: (-3.0, 2.0),
        f: &mse,
        log: true,
        paths: vec![Series::new("minimum", vec![(w_star, b_star)])],
    };
    let mut files = render(&mse_contour, &out, "mse_surface")?;
    files.extend(render(
        &Surface3d {
            z_label: "MSE".into(),
            log: false,
            ..Surface3d::from(&mse_contour)
        },
        &out,
        "mse_surface_3d",
    )?);
    let ce_contour = Contour {
        title: "Cross-entropy over (w₁, w₂), two blobs, no bias".into(),
        x_label: "w₁".into(),
        y_label: "w₂".into(),
        x: (-4.0, 6.0),
        y: (-4.0, 6.0),
        f: &ce,
        log: true,
        paths: vec![],
    };
    files.extend(render(&ce_contour, &out, "cross_entropy_surface")?);
    files.extend(render(
        &Surface3d {
            z_label: "CE".into(),
            ..Surface3d::from(&ce_contour)
        },
        &out,
        "cross_entropy_surface_3d",
    )?);
    report_figures(&files);
    Ok(())
}
