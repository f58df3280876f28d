//! An optimizer race: every optimizer of descent on the seed problems, each with a small
//! learning-rate sweep, to answer "which optimizer should I use?" with data.
//!
//! Problems (each with a target loss):
//! - the quadratic bowl ½(x² + 10y²) and ½(x² + 100y²) from (3.5, 3.5), target 1e-6;
//! - Rosenbrock (1 − x)² + 100(y − x²)² from (−1.5, 2), target 1e-4;
//! - the fraud MLP (8 → 16 → 1, BCE with logits, mini-batches of 256, synthetic ~1% fraud),
//!   judged on the whole training set every 5 steps, target 0.025;
//! - softmax regression on iris (cross-entropy, full batch), target 0.1.
//!
//! Each optimizer runs with PyTorch's default options at the rates usual × {0.3, 1, 3, 10, 30}
//! (usual: PyTorch's default rate; SGD's 0.01; L-BFGS's and Prodigy's 1); the table gives the
//! best rate's steps and seconds to the target, its final loss, and how many rates diverged.
//! Muon, which takes matrices only, runs as Muon + AdamW where there is a matrix and is "n/a"
//! on the 2-D problems; schedule-free optimizers are judged at their evaluation point. An
//! optimizer that errors or panics is a row with its error. Prints one table per problem and a
//! summary, writes them as Markdown to `OUT/race.md`, and plots the loss curves at each
//! optimizer's best rate. `--quick`: fewer steps, two rates, every optimizer.
//!
//! `cargo run --release --example optimizer_race -- [--quick]` (or `benches/scripts/race.sh`)

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use burn::module::{Module, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use clap::Parser;
use descent::lab::cli::{self as cli, CliResult, Common, report_figures};
use descent::lab::models::{LinearModel, Mlp};
use descent::lab::plot::{LineChart, Series, render};
use descent::lab::real;
use descent::lab::synthetic;
use descent::lab::train::Batch;
use descent::losses::{BinaryCrossEntropyWithLogitsLossConfig, Reduction, cross_entropy};
use descent::optimizers::{
    AdamWConfig, AdjustLr, Lbfgs, MuonConfig, Prodigy, muon_with_adamw, registry,
    schedule_free_eval,
};

/// Every optimizer of descent on the seed problems, with a learning-rate sweep each.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
}

/// The rates swept, as multiples of each optimizer's usual rate.
const SWEEP: [f64; 5] = [0.3, 1.0, 3.0, 10.0, 30.0];
/// The rates of `--quick`.
const QUICK_SWEEP: [f64; 2] = [1.0, 10.0];

/// Loss curves per figure (ranked: the fastest in the first).
const PER_FIGURE: usize = 8;

/// A point in the plane as a Burn module: the parameters of the 2-D problems.
#[derive(Module, Debug)]
struct Point {
    xy: Param<Tensor<1>>,
}

impl Point {
    fn new(x: f32, y: f32, device: &Device) -> Self {
        Self {
            xy: Param::from_tensor(Tensor::from_floats([x, y], device)),
        }
    }

    /// (x, y) on the host, in f64.
    fn host(&self) -> (f64, f64) {
        let v: Vec<f32> = self.xy.val().to_data().iter::<f32>().collect();
        (v[0] as f64, v[1] as f64)
    }
}

/// The loss a step trains on (of the model and a batch).
type LossFn<M> = Box<dyn Fn(&M, &Batch) -> Tensor<1>>;

/// One problem of the race.
struct Problem<M> {
    /// File stem and short name.
    key: &'static str,
    /// What it is, for the table's heading.
    title: String,
    /// The loss to reach.
    target: f64,
    /// Steps per run.
    steps: usize,
    /// The loss is judged every this many steps.
    eval_every: usize,
    /// The starting model, the same for every run.
    model: M,
    /// Step k trains on `batches[k % len]`.
    batches: Vec<Batch>,
    /// The training loss of a batch.
    loss: LossFn<M>,
    /// The loss the target is judged on (the whole training set).
    eval: Box<dyn Fn(&M) -> f64>,
    /// For Muon: the module paths that stay on AdamW, or `None` where there is no matrix.
    muon_adamw_paths: Option<Vec<&'static str>>,
}

/// How an optimizer steps.
enum Stepper {
    /// A first-order optimizer of the registry (schedule-free ones judged at `x`).
    Module {
        optim: ModuleOptimizer,
        schedule_free: bool,
    },
    /// L-BFGS, one iteration per step, driven by a closure.
    Lbfgs(Lbfgs),
    /// Prodigy, stepping the whole module.
    Prodigy(Prodigy),
}

impl Stepper {
    // ANCHOR: step
    /// One step on `batch`; returns the model and the batch's loss before the step.
    fn step<M: Module + Clone>(
        &mut self,
        lr: f64,
        model: M,
        batch: &Batch,
        loss: &LossFn<M>,
    ) -> (M, f64) {
        let grads = |m: &M| {
            let value = loss(m, batch);
            let scalar = value.clone().into_scalar::<f64>();
            (scalar, GradientsParams::from_grads(value.backward(), m))
        };
        match self {
            Stepper::Module { optim, .. } => {
                let (value, g) = grads(&model);
                (optim.step(lr, model, g), value)
            }
            Stepper::Prodigy(p) => {
                let (value, g) = grads(&model);
                (p.step(lr, model, g), value)
            }
            Stepper::Lbfgs(l) => l.step(lr, model, |m| grads(&m)),
        }
    }
    // ANCHOR_END: step

    /// The model to judge: the schedule-free evaluation point `x`, else the model itself.
    fn judged<M: Module + Clone>(&self, model: &M) -> M {
        match self {
            Stepper::Module {
                optim,
                schedule_free: true,
            } => schedule_free_eval(optim, model.clone()),
            _ => model.clone(),
        }
    }

    /// Gradient evaluations so far (L-BFGS's line search takes several per step).
    fn evals(&self) -> Option<u64> {
        match self {
            Stepper::Lbfgs(l) => Some(l.state().func_evals),
            _ => None,
        }
    }
}

/// An optimizer of the race: its name and usual rate.
struct Entrant {
    name: &'static str,
    usual_lr: f64,
}

/// Every optimizer: the registry's, L-BFGS and Prodigy.
fn entrants() -> Vec<Entrant> {
    let mut all: Vec<Entrant> = registry::optimizer_names()
        .map(|name| {
            let usual_lr = match name {
                // PyTorch's SGD has no usual rate (the registry's default is 1e-3).
                "sgd" => 1e-2,
                _ => registry::OPTIMIZERS
                    .iter()
                    .chain(registry::WRAPPERS)
                    .find(|e| e.name == name)
                    .map_or(1e-3, |e| e.default_lr),
            };
            Entrant { name, usual_lr }
        })
        .collect();
    all.push(Entrant {
        name: "lbfgs",
        usual_lr: 1.0,
    });
    all.push(Entrant {
        name: "prodigy",
        usual_lr: 1.0,
    });
    all
}

/// Builds `entrant` for `problem`; `Ok(None)` when it cannot run there (Muon on vectors).
fn build<M: Module>(
    entrant: &Entrant,
    lr: f64,
    problem: &Problem<M>,
) -> Result<Option<Stepper>, String> {
    let e = |e: descent::optimizers::OptimError| e.to_string();
    Ok(Some(match entrant.name {
        "lbfgs" => {
            let json =
                serde_json::json!({"lr": lr, "max_iter": 1, "line_search_fn": "strong_wolfe"});
            Stepper::Lbfgs(registry::lbfgs(&json).map_err(e)?.0)
        }
        "prodigy" => Stepper::Prodigy(
            registry::prodigy(&serde_json::json!({"lr": lr}))
                .map_err(e)?
                .0,
        ),
        "muon" => {
            let Some(paths) = &problem.muon_adamw_paths else {
                return Ok(None);
            };
            let muon = MuonConfig::new().with_adjust_lr_fn(Some(AdjustLr::MatchRmsAdamw));
            Stepper::Module {
                optim: muon_with_adamw(&problem.model, &muon, &AdamWConfig::new(), paths)
                    .map_err(e)?,
                schedule_free: false,
            }
        }
        name => Stepper::Module {
            optim: registry::optimizer(name, &serde_json::json!({"lr": lr}))
                .map_err(e)?
                .optimizer,
            schedule_free: name.contains("schedule_free"),
        },
    }))
}

/// What one run (one optimizer at one rate) recorded.
#[derive(Clone, Debug)]
struct Run {
    lr: f64,
    /// (step, judged loss), from step 0.
    curve: Vec<(f64, f64)>,
    /// Steps, training seconds (evaluations excluded) and gradient evaluations (L-BFGS) at
    /// which the judged loss first fell below the target.
    reached: Option<(usize, f64, Option<u64>)>,
    final_loss: f64,
    /// A non-finite loss, or a final loss above the starting one.
    diverged: bool,
}

/// Runs `stepper` at `lr` on `problem`.
fn run<M: Module + Clone>(problem: &Problem<M>, mut stepper: Stepper, lr: f64) -> Run {
    let mut model = problem.model.clone();
    let start = (problem.eval)(&stepper.judged(&model));
    let mut curve = vec![(0.0, start)];
    let mut reached = None;
    let mut diverged = false;
    let mut seconds = 0.0;
    for step in 1..=problem.steps {
        let batch = &problem.batches[(step - 1) % problem.batches.len()];
        let clock = Instant::now();
        let (next, value) = stepper.step(lr, model, batch, &problem.loss);
        seconds += clock.elapsed().as_secs_f64();
        model = next;
        if !value.is_finite() {
            diverged = true;
            break;
        }
        if step % problem.eval_every == 0 || step == problem.steps {
            let judged = (problem.eval)(&stepper.judged(&model));
            curve.push((step as f64, judged));
            if !judged.is_finite() || judged > 1e4 * start {
                diverged = true;
                break;
            }
            if judged < problem.target && reached.is_none() {
                reached = Some((step, seconds, stepper.evals()));
            }
        }
    }
    let final_loss = curve.last().map_or(f64::NAN, |p| p.1);
    Run {
        lr,
        diverged: diverged || !final_loss.is_finite() || final_loss > start,
        curve,
        reached,
        final_loss,
    }
}

/// How an optimizer did on a problem.
enum Outcome {
    /// It cannot run on this problem.
    NotApplicable(&'static str),
    /// One result per swept rate: a run, or the error it stopped with.
    Swept(Vec<Result<Run, String>>),
}

impl Outcome {
    /// The best rate's run: the fewest steps to the target (ties: fewer gradient evaluations,
    /// then the lower final loss), else the lowest final loss, of the runs that did not diverge.
    fn best(&self) -> Option<&Run> {
        let Outcome::Swept(runs) = self else {
            return None;
        };
        let key = |r: &Run| match r.reached {
            Some((steps, _, evals)) => (0, steps as f64, evals.unwrap_or(0) as f64, r.final_loss),
            None => (1, r.final_loss, 0.0, 0.0),
        };
        runs.iter()
            .filter_map(|r| r.as_ref().ok())
            .filter(|r| !r.diverged)
            .min_by(|a, b| {
                key(a)
                    .partial_cmp(&key(b))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
    }

    /// Rates that diverged (a non-finite or growing loss, or a step that stopped on a
    /// non-finite number).
    fn diverged(&self) -> usize {
        match self {
            Outcome::NotApplicable(_) => 0,
            Outcome::Swept(runs) => runs
                .iter()
                .filter(|r| match r {
                    Ok(run) => run.diverged,
                    Err(e) => is_divergence(e),
                })
                .count(),
        }
    }

    /// Rates that reached the target.
    fn reached(&self) -> usize {
        match self {
            Outcome::NotApplicable(_) => 0,
            Outcome::Swept(runs) => runs
                .iter()
                .filter(|r| r.as_ref().is_ok_and(|r| r.reached.is_some()))
                .count(),
        }
    }

    /// The first error that is not a divergence.
    fn error(&self) -> Option<&str> {
        match self {
            Outcome::NotApplicable(_) => None,
            Outcome::Swept(runs) => runs
                .iter()
                .filter_map(|r| r.as_ref().err())
                .find(|e| !is_divergence(e))
                .map(String::as_str),
        }
    }
}

/// Whether an optimizer's error says the numbers went non-finite (the run diverged).
fn is_divergence(message: &str) -> bool {
    message.contains("finite") || message.contains("NaN")
}

/// The text of a caught panic.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panicked".into())
}

/// Races every entrant on `problem` at the rates `usual × sweep`; an optimizer that errors or
/// panics gives an error row, never a crash.
fn race<M: Module + Clone>(
    problem: &Problem<M>,
    entrants: &[Entrant],
    sweep: &[f64],
) -> Vec<Outcome> {
    entrants
        .iter()
        .map(|entrant| {
            let mut runs = Vec::new();
            for factor in sweep {
                let lr = entrant.usual_lr * factor;
                let one = catch_unwind(AssertUnwindSafe(|| match build(entrant, lr, problem) {
                    Ok(Some(stepper)) => Ok(Some(run(problem, stepper, lr))),
                    Ok(None) => Ok(None),
                    Err(e) => Err(e),
                }))
                .unwrap_or_else(|payload| Err(panic_message(payload)));
                match one {
                    Ok(None) => return Outcome::NotApplicable("n/a (matrices only)"),
                    Ok(Some(r)) => runs.push(Ok(r)),
                    Err(e) => runs.push(Err(e)),
                }
            }
            Outcome::Swept(runs)
        })
        .collect()
}

/// A rate in short form: 0.001 → "1e-3", 0.0075 → "7.5e-3".
fn rate(lr: f64) -> String {
    let s = format!("{lr:.2e}");
    let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
    format!("{mantissa}e{exponent}")
}

/// The rows of a problem's table (a header first).
fn table(entrants: &[Entrant], outcomes: &[Outcome], sweep: &[f64]) -> Vec<Vec<String>> {
    let swept = sweep.len();
    let mut rows = vec![
        [
            "optimizer",
            "best lr",
            "steps to target",
            "s to target",
            "final loss",
            "diverged",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for (entrant, outcome) in entrants.iter().zip(outcomes) {
        let mut name = entrant.name.to_string();
        if name.contains("schedule_free") {
            name.push_str(" (at x)");
        }
        if name == "muon" {
            name.push_str(" (+ adamw)");
        }
        let cells = match (outcome, outcome.best()) {
            (Outcome::NotApplicable(why), _) => vec![
                why.to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
            (_, Some(best)) => {
                let (steps, secs) = match best.reached {
                    Some((s, secs, Some(evals))) => {
                        (format!("{s} ({evals} grads)"), format!("{secs:.4}"))
                    }
                    Some((s, secs, None)) => (s.to_string(), format!("{secs:.4}")),
                    None => ("not reached".into(), "–".into()),
                };
                let usual = entrant.usual_lr;
                let edge = if best.lr >= usual * sweep[swept - 1] * 0.999 {
                    " ↑"
                } else if best.lr <= usual * sweep[0] * 1.001 {
                    " ↓"
                } else {
                    ""
                };
                vec![
                    format!("{}{edge}", rate(best.lr)),
                    steps,
                    secs,
                    format!("{:.3e}", best.final_loss),
                    format!("{}/{swept}", outcome.diverged()),
                ]
            }
            (_, None) => {
                let why = outcome
                    .error()
                    .map_or("every rate diverged".to_string(), |e| format!("error: {e}"));
                vec![
                    why,
                    String::new(),
                    String::new(),
                    String::new(),
                    format!("{}/{swept}", outcome.diverged()),
                ]
            }
        };
        rows.push(std::iter::once(name).chain(cells).collect());
    }
    rows
}

/// `rows` as aligned text (first column left, the others right).
fn text_table(rows: &[Vec<String>]) -> String {
    let width = |c: usize| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..rows[0].len()).map(width).collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (cell, w))| {
                    if i == 0 {
                        format!("{cell:<w$}")
                    } else {
                        format!("{cell:>w$}")
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `rows` as a Markdown table.
fn markdown_table(rows: &[Vec<String>]) -> String {
    let line = |r: &Vec<String>| format!("| {} |", r.join(" | "));
    let mut out = vec![line(&rows[0])];
    out.push(format!("|{}", "---|".repeat(rows[0].len())));
    out.extend(rows[1..].iter().map(line));
    out.join("\n")
}

/// Each entrant's rank on a problem (1 = best): reached the target in fewer steps (ties: the
/// lower final loss), else a lower final loss; errors and all-diverged last; `None` where it
/// does not run.
fn ranks(outcomes: &[Outcome]) -> Vec<Option<usize>> {
    let key = |o: &Outcome| match o.best() {
        Some(Run {
            reached: Some((s, _, _)),
            final_loss,
            ..
        }) => (0, *s as f64, *final_loss),
        Some(r) => (1, r.final_loss, 0.0),
        None => (2, 0.0, 0.0),
    };
    outcomes
        .iter()
        .map(|o| {
            if matches!(o, Outcome::NotApplicable(_)) {
                return None;
            }
            let mine = key(o);
            let better = outcomes
                .iter()
                .filter(|p| !matches!(p, Outcome::NotApplicable(_)))
                .filter(|p| key(p).partial_cmp(&mine) == Some(std::cmp::Ordering::Less))
                .count();
            Some(better + 1)
        })
        .collect()
}

/// A finished problem: what the report and the figures need.
struct Raced {
    key: &'static str,
    heading: String,
    outcomes: Vec<Outcome>,
}

fn main() {
    cli::main(|| example(Args::parse()));
}

fn example(args: Args) -> CliResult<()> {
    let out = args.common.out_dir("optimizer_race")?;
    let device = args.common.device()?;
    let quick = args.common.quick;
    let seed = args.common.seed;
    let sweep: &[f64] = if quick { &QUICK_SWEEP } else { &SWEEP };
    let entrants = entrants();

    // The 2-D problems: one "batch" (the function itself), the loss judged on the host.
    let none = || {
        Batch::of(
            &descent::lab::data::Dataset::new(vec![0.0], vec![0.0], 1),
            &device,
        )
    };
    let bowl = |b: f64| Problem {
        key: if b == 10.0 { "bowl10" } else { "bowl100" },
        title: format!("quadratic bowl ½(x² + {b}y²) from (3.5, 3.5), target 1e-6"),
        target: 1e-6,
        steps: if quick { 150 } else { 2000 },
        eval_every: 1,
        model: Point::new(3.5, 3.5, &device),
        batches: vec![none()],
        loss: Box::new(move |p: &Point, _: &Batch| {
            let w = Tensor::<1>::from_floats([0.5, 0.5 * b as f32], &p.xy.val().device());
            (p.xy.val().powi_scalar(2) * w).sum()
        }),
        eval: Box::new(move |p: &Point| {
            let (x, y) = p.host();
            0.5 * (x * x + b * y * y)
        }),
        muon_adamw_paths: None,
    };
    let bowls = [bowl(10.0), bowl(100.0)];
    let rosenbrock = Problem {
        key: "rosenbrock",
        title: "Rosenbrock (1 − x)² + 100(y − x²)² from (−1.5, 2), target 1e-4".into(),
        target: 1e-4,
        steps: if quick { 150 } else { 5000 },
        eval_every: 1,
        model: Point::new(-1.5, 2.0, &device),
        batches: vec![none()],
        loss: Box::new(|p: &Point, _: &Batch| {
            let xy = p.xy.val();
            let x = xy.clone().slice(0..1);
            let y = xy.slice(1..2);
            let a = x.clone().neg().add_scalar(1.0).powi_scalar(2);
            let b = (y - x.powi_scalar(2)).powi_scalar(2).mul_scalar(100.0);
            (a + b).sum()
        }),
        eval: Box::new(|p: &Point| {
            let (x, y) = p.host();
            (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
        }),
        muon_adamw_paths: None,
    };

    // The fraud MLP: mini-batches of 256, a new shuffle each epoch, judged on the whole set.
    let mut fraud = synthetic::fraud(if quick { 3000 } else { 10_000 }, 0.01, seed);
    let (mean, std) = fraud.moments();
    fraud.standardize_with(&mean, &std);
    let epochs = if quick { 1 } else { 5 };
    let batch = 256;
    let mut batches = Vec::new();
    for epoch in 0..epochs {
        let (shuffled, _) = fraud.split(0.0, seed ^ (epoch as u64 + 1));
        let rows: Vec<usize> = (0..shuffled.len()).collect();
        batches.extend(
            rows.chunks(batch)
                .map(|r| Batch::of(&shuffled.subset(r), &device)),
        );
    }
    let bce = BinaryCrossEntropyWithLogitsLossConfig::new().init();
    let bce_loss = move |m: &Mlp, b: &Batch| {
        let n = b.y.dims()[0];
        bce.forward(
            m.forward(b.x.clone()).reshape([n]),
            b.y.clone().reshape([n]),
        )
    };
    let whole = Batch::of(&fraud, &device);
    let mlp = Problem {
        key: "fraud_mlp",
        title: format!(
            "fraud MLP 8 → 16 → 1, BCE with logits, {} rows (~1% fraud), batch {batch}, {epochs} epochs, judged every 5 steps on the whole set, target 0.025",
            fraud.len()
        ),
        target: 0.025,
        steps: batches.len(),
        eval_every: 5,
        model: Mlp::new(fraud.features, &[16], 1, &device),
        batches,
        loss: Box::new(bce_loss.clone()),
        eval: Box::new(move |m: &Mlp| bce_loss(m, &whole).into_scalar::<f64>()),
        // Muon for the hidden layer's weights; AdamW for the biases and the output layer.
        muon_adamw_paths: Some(vec!["layers.1"]),
    };

    // Softmax regression on iris: all 150 flowers standardised, full batch.
    let mut iris = real::iris();
    let (mean, std) = iris.moments();
    iris.standardize_with(&mean, &std);
    let all = Batch::of(&iris, &device);
    let ce = |m: &LinearModel, b: &Batch| {
        cross_entropy(m.forward(b.x.clone()), b.classes.clone(), Reduction::Mean)
    };
    let softmax = Problem {
        key: "iris",
        title: "softmax regression on iris (150 flowers, standardised), cross-entropy, full batch, target 0.1".into(),
        target: 0.1,
        steps: if quick { 100 } else { 1000 },
        eval_every: 1,
        model: LinearModel::new(4, 3, true, &device),
        batches: vec![Batch::of(&iris, &device)],
        loss: Box::new(ce),
        eval: Box::new(move |m: &LinearModel| ce(m, &all).into_scalar::<f64>()),
        // Muon for the weight matrix, AdamW for the bias.
        muon_adamw_paths: Some(vec![]),
    };

    // The race. A panicking optimizer is a row: keep its message off the terminal meanwhile.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let clock = Instant::now();
    let mut raced = Vec::new();
    macro_rules! race_problem {
        ($p:expr) => {{
            let p = &$p;
            let t = Instant::now();
            let outcomes = race(p, &entrants, sweep);
            eprintln!("{}: {:.1} s", p.key, t.elapsed().as_secs_f64());
            raced.push(Raced {
                key: p.key,
                heading: format!("{} ({} steps)", p.title, p.steps),
                outcomes,
            });
        }};
    }
    race_problem!(bowls[0]);
    race_problem!(bowls[1]);
    race_problem!(rosenbrock);
    race_problem!(mlp);
    race_problem!(softmax);
    std::panic::set_hook(hook);
    let total = clock.elapsed().as_secs_f64();

    // The report: one table per problem, then the summary.
    let rates: Vec<String> = sweep.iter().map(|f| format!("{f}")).collect();
    let mut md = vec![
        "# Optimizer race".to_string(),
        format!(
            "Rates swept: usual × {{{}}} (usual: PyTorch's default rate; SGD 0.01; L-BFGS and Prodigy 1), \
             PyTorch's default options otherwise. L-BFGS: strong-Wolfe line search, one iteration per step \
             (its gradient evaluations in brackets). Muon: Muon (`match_rms_adamw`) on the hidden weight \
             matrices + AdamW on the rest, one rate. Schedule-free optimizers are judged at their evaluation \
             point x (`schedule_free_eval`), what one deploys. Seconds: training time to the target, \
             evaluations excluded, device {}{}. Diverged: rates whose loss went non-finite or ended above \
             its start. ↑/↓: the best rate is the sweep's highest/lowest.",
            rates.join(", "),
            args.common.device,
            if quick {
                "; --quick: fewer steps and rates"
            } else {
                ""
            }
        ),
    ];
    for r in &raced {
        let rows = table(&entrants, &r.outcomes, sweep);
        println!("\n{}\n{}", r.heading, text_table(&rows));
        md.push(format!("## {}\n\n{}", r.heading, markdown_table(&rows)));
    }

    // Summary: mean rank over the problems an optimizer runs on, targets reached at the best
    // rate, and how forgiving it is of the rate (rates that reached the target).
    let all_ranks: Vec<Vec<Option<usize>>> = raced.iter().map(|r| ranks(&r.outcomes)).collect();
    let mut summary: Vec<(f64, Vec<String>, bool, f64)> = entrants
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mine: Vec<usize> = all_ranks.iter().filter_map(|r| r[i]).collect();
            let ran = mine.len();
            let mean = mine.iter().sum::<usize>() as f64 / ran.max(1) as f64;
            let reached = raced
                .iter()
                .filter(|r| r.outcomes[i].best().is_some_and(|b| b.reached.is_some()))
                .count();
            let rates_ok: usize = raced.iter().map(|r| r.outcomes[i].reached()).sum();
            let diverged: usize = raced.iter().map(|r| r.outcomes[i].diverged()).sum();
            let seconds: Vec<f64> = raced
                .iter()
                .filter_map(|r| r.outcomes[i].best().and_then(|b| b.reached).map(|x| x.1))
                .collect();
            let row = vec![
                e.name.to_string(),
                format!("{mean:.1}"),
                format!("{reached}/{ran}"),
                format!("{rates_ok}/{}", ran * sweep.len()),
                format!("{diverged}/{}", ran * sweep.len()),
                match seconds.len() {
                    0 => "–".to_string(),
                    _ => format!("{:.3}", seconds.iter().sum::<f64>()),
                },
            ];
            let forgiving = rates_ok as f64 / (ran * sweep.len()).max(1) as f64;
            (mean, row, ran > 0 && reached == ran, forgiving)
        })
        .collect();
    summary.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    let mut rows = vec![
        [
            "optimizer",
            "mean rank",
            "targets reached",
            "rates reaching target",
            "rates diverged",
            "s to targets reached (sum)",
        ]
        .map(String::from)
        .to_vec(),
    ];
    rows.extend(summary.iter().map(|s| s.1.clone()));
    let robust: Vec<&str> = summary
        .iter()
        .filter(|s| s.2)
        .take(3)
        .map(|s| s.1[0].as_str())
        .collect();
    let heading = "Which optimizer should I use? Mean rank over the problems it runs on (rank: fewer steps to the target at the best rate, else lower final loss)";
    let mut by_forgiveness: Vec<&(f64, Vec<String>, bool, f64)> = summary.iter().collect();
    by_forgiveness.sort_by(|a, b| b.3.partial_cmp(&a.3).unwrap_or(std::cmp::Ordering::Equal));
    let forgiving: Vec<String> = by_forgiveness
        .iter()
        .take(3)
        .map(|s| format!("{} ({:.0}%)", s.1[0], 100.0 * s.3))
        .collect();
    let verdict = format!(
        "Fastest robust choices (every target reached, lowest mean rank): {}. \
         Most forgiving of the rate (share of swept rates reaching the target): {}.",
        if robust.is_empty() {
            "none".to_string()
        } else {
            robust.join(", ")
        },
        forgiving.join(", ")
    );
    println!("\n{heading}\n{}\n{verdict}", text_table(&rows));
    md.push(format!(
        "## {heading}\n\n{}\n\n{verdict}",
        markdown_table(&rows)
    ));
    md.push(format!(
        "Race time {total:.1} s ({} runs).",
        raced.len() * entrants.len() * sweep.len()
    ));
    let report = out.join("race.md");
    std::fs::write(&report, md.join("\n\n") + "\n")
        .map_err(|e| format!("{}: {e}", report.display()))?;
    println!(
        "race time {total:.1} s; table written to {}",
        report.display()
    );

    // Figures: per problem, each optimizer at its best rate, ranked, eight to a chart.
    let mut files = Vec::new();
    for (r, ranks) in raced.iter().zip(&all_ranks) {
        let mut ranked: Vec<(usize, Series)> = entrants
            .iter()
            .zip(&r.outcomes)
            .zip(ranks)
            .filter_map(|((e, o), rank)| {
                let best = o.best()?;
                let points = best.curve.iter().map(|(s, l)| (*s, l.max(1e-12))).collect();
                Some((
                    rank.unwrap_or(usize::MAX),
                    Series::new(format!("{} {}", e.name, rate(best.lr)), points),
                ))
            })
            .collect();
        ranked.sort_by_key(|(rank, _)| *rank);
        let series: Vec<Series> = ranked.into_iter().map(|(_, s)| s).collect();
        for (part, chunk) in series.chunks(PER_FIGURE).enumerate() {
            let (first, last) = (part * PER_FIGURE + 1, part * PER_FIGURE + chunk.len());
            files.extend(render(
                &LineChart {
                    title: format!("{}: ranks {first}–{last}, each at its best rate", r.key),
                    x_label: "step".into(),
                    y_label: "loss (floored at 1e-12)".into(),
                    series: chunk.to_vec(),
                    log_y: true,
                    ..Default::default()
                },
                &out,
                &format!("race_{}_{}", r.key, part + 1),
            )?);
        }
    }
    report_figures(&files);
    Ok(())
}
