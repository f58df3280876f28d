#![allow(missing_docs)] // criterion_group! generates an undocumented function.
//! The memory bound of an optimizer step on this machine: how fast the fused loop's memory
//! traffic alone can go, measured, so that the optimizers' times have a floor to be read
//! against.
//!
//! - `bandwidth/triad/<size>`: STREAM's triad `a = b + k·c` over the threads of the rayon
//!   pool (`RAYON_NUM_THREADS`), plain stores: 12 bytes per element counted, 16 moved (the
//!   store first reads its line).
//! - `bandwidth/triad_nt/<size>`: the same with non-temporal stores (x86-64 with AVX), which
//!   skip that read: 12 bytes moved.
//! - `bandwidth/adam_traffic/<size>`: `descent_kernel::zip::update` with a rule that does no
//!   arithmetic beyond one add per stream (`θ += g`, `m += g`, `v += g`): Adam's traffic,
//!   4 reads and 3 in-place writes, 28 bytes per element, through the same loop, lanes and
//!   chunking as the optimizers. Adam's step cannot be faster than this.
//! - `passes/empty/{team,rayon}`: one parallel pass of two empty tasks from the main thread,
//!   on descent's team (`descent_kernel::team`) and on rayon's pool: what each pass of a step
//!   costs before any work (an optimizer step through `ModuleOptimizer` is one pass per
//!   parameter tensor).
//!
//! `cargo bench --bench bandwidth` (`DESCENT_BENCH_SIZES=1M,10M,100M`, default `1M,10M`).
//! Criterion prints each as bytes per second (`thrpt`).

#[path = "support/env.rs"]
mod env;

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use descent::kernel::Num;
use descent::kernel::team;
use descent::kernel::zip::{self, CHUNK, LaneRule};
use env::list;
use rayon::prelude::*;

/// Adam's streams with one add each.
#[derive(Clone, Copy)]
struct Traffic;

impl LaneRule<2> for Traffic {
    #[inline(always)]
    fn apply<T: Num + Copy>(&self, p: T, g: T, [m, v]: &mut [T; 2]) -> T {
        *m = *m + g;
        *v = *v + g;
        p + g
    }
}

fn size(name: &str) -> usize {
    match name {
        "1M" => 1 << 20,
        "10M" => 10 << 20,
        "100M" => 100 << 20,
        other => panic!("DESCENT_BENCH_SIZES: unknown size {other:?} (1M, 10M, 100M)"),
    }
}

/// `a = b + k·c`, in parallel chunks.
fn triad(a: &mut [f32], b: &[f32], c: &[f32], k: f32) {
    a.par_chunks_mut(CHUNK)
        .zip(b.par_chunks(CHUNK).zip(c.par_chunks(CHUNK)))
        .for_each(|(a, (b, c))| {
            for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                *a = b + k * c;
            }
        });
}

/// [`triad`] with non-temporal stores where the processor has AVX; `false` where it cannot.
#[cfg(target_arch = "x86_64")]
fn triad_nt(a: &mut [f32], b: &[f32], c: &[f32], k: f32) -> bool {
    if !std::arch::is_x86_feature_detected!("avx") {
        return false;
    }
    a.par_chunks_mut(CHUNK)
        .zip(b.par_chunks(CHUNK).zip(c.par_chunks(CHUNK)))
        // SAFETY: AVX is available (checked above).
        .for_each(|(a, (b, c))| unsafe { triad_nt_chunk(a, b, c, k) });
    true
}

#[cfg(not(target_arch = "x86_64"))]
fn triad_nt(_: &mut [f32], _: &[f32], _: &[f32], _: f32) -> bool {
    false
}

/// # Safety
/// The processor must have AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn triad_nt_chunk(a: &mut [f32], b: &[f32], c: &[f32], k: f32) {
    use std::arch::x86_64::{
        _mm_sfence, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_stream_ps,
    };
    let n = a.len().min(b.len()).min(c.len());
    // Non-temporal stores need 32-byte alignment: plain stores up to the first aligned
    // element.
    let head = a.as_ptr().align_offset(32).min(n);
    for i in 0..head {
        a[i] = b[i] + k * c[i];
    }
    let kv = _mm256_set1_ps(k);
    let mut i = head;
    while i + 8 <= n {
        // SAFETY: `i + 8 <= n` elements of each slice; `a.add(i)` is 32-byte aligned.
        unsafe {
            let x = _mm256_add_ps(
                _mm256_loadu_ps(b.as_ptr().add(i)),
                _mm256_mul_ps(kv, _mm256_loadu_ps(c.as_ptr().add(i))),
            );
            _mm256_stream_ps(a.as_mut_ptr().add(i), x);
        }
        i += 8;
    }
    for j in i..n {
        a[j] = b[j] + k * c[j];
    }
    _mm_sfence();
}

fn bench(c: &mut Criterion) {
    for name in list("DESCENT_BENCH_SIZES", "1M,10M") {
        let n = size(&name);
        let mut group = c.benchmark_group("bandwidth");
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        let (mut a, b, cc) = (vec![0.0f32; n], vec![1.0f32; n], vec![2.0f32; n]);
        group.throughput(Throughput::Bytes(12 * n as u64));
        group.bench_function(format!("triad/{name}"), |bench| {
            bench.iter(|| triad(&mut a, &b, &cc, 0.5))
        });
        if triad_nt(&mut a, &b, &cc, 0.5) {
            group.bench_function(format!("triad_nt/{name}"), |bench| {
                bench.iter(|| triad_nt(&mut a, &b, &cc, 0.5))
            });
        }
        assert!(a.iter().all(|&x| x == 2.0), "triad: wrong result");
        let (mut p, g, mut m, mut v) = (vec![0.0f32; n], vec![1e-3f32; n], a, vec![0.0; n]);
        group.throughput(Throughput::Bytes(28 * n as u64));
        group.bench_function(format!("adam_traffic/{name}"), |bench| {
            bench.iter(|| zip::update(&mut p, &g, [&mut m, &mut v], Traffic))
        });
        group.finish();
    }
    let mut group = c.benchmark_group("passes");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("empty/team", |bench| {
        bench.iter(|| team::all(vec![(), ()], |()| true))
    });
    group.bench_function("empty/rayon", |bench| {
        bench.iter(|| {
            vec![(), ()]
                .into_par_iter()
                .map(|()| true)
                .reduce(|| true, |a, b| a && b)
        })
    });
    group.finish();
    assert!(team::passes()[0] > 0, "the team ran no pass");
}

criterion_group!(benches, bench);
criterion_main!(benches);
