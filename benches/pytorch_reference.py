#!/usr/bin/env python3
"""PyTorch CPU timings of the same work as `benches/optimizers.rs` and `benches/losses.rs`.

Not part of the build: run it beside `cargo bench` on the same machine, then give its JSON to
the report, which prints a PyTorch column next to descent's and Burn's:

    python3 benches/pytorch_reference.py --threads 2 --out target/pytorch.json
    cargo run --release --example bench_report -- --pytorch target/pytorch.json

Each time is the median of `--repeat` timed runs after warm-up runs, in nanoseconds, keyed by
the criterion group name it compares with (the device part is `torch`).
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

# (name, weight shape, bias length, block shape), as in benches/optimizers.rs.
SIZES = [
    ("10k", (96, 96), 96, (8, 86)),
    ("1M", (1024, 768), 768, (200, 1064)),
    ("10M", (4096, 2048), 2048, (1024, 1570)),
]


def timed(fn, repeat, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times)


def optimizers():
    """(name, variant, factory) for each optimizer PyTorch has, in each implementation."""
    o = torch.optim
    return [
        ("sgd", "fused", lambda p: o.SGD(p, lr=1e-3, fused=True)),
        ("sgd", "foreach", lambda p: o.SGD(p, lr=1e-3, foreach=True)),
        ("momentum", "fused", lambda p: o.SGD(p, lr=1e-3, momentum=0.9, fused=True)),
        ("momentum", "foreach", lambda p: o.SGD(p, lr=1e-3, momentum=0.9, foreach=True)),
        ("adagrad", "fused", lambda p: o.Adagrad(p, lr=1e-3, fused=True)),
        ("adagrad", "foreach", lambda p: o.Adagrad(p, lr=1e-3, foreach=True)),
        ("rmsprop", "foreach", lambda p: o.RMSprop(p, lr=1e-3, foreach=True)),
        ("adam", "fused", lambda p: o.Adam(p, lr=1e-3, fused=True)),
        ("adam", "foreach", lambda p: o.Adam(p, lr=1e-3, foreach=True)),
        ("adamw", "fused", lambda p: o.AdamW(p, lr=1e-3, fused=True)),
        ("adamw", "foreach", lambda p: o.AdamW(p, lr=1e-3, foreach=True)),
        ("adamax", "foreach", lambda p: o.Adamax(p, lr=1e-3, foreach=True)),
        ("nadam", "foreach", lambda p: o.NAdam(p, lr=1e-3, foreach=True)),
        ("radam", "foreach", lambda p: o.RAdam(p, lr=1e-3, foreach=True)),
        ("adadelta", "foreach", lambda p: o.Adadelta(p, lr=1e-3, foreach=True)),
    ]


def bench_optimizers(results, repeat, sizes):
    for size, w, b, e in SIZES:
        if size not in sizes:
            continue
        for name, variant, make in optimizers():
            params = [
                torch.nn.Parameter(torch.randn(*s) * 0.1) for s in (w, (b,), e)
            ]
            for p in params:
                p.grad = torch.randn_like(p) * 0.1
            opt = make(params)
            opt.step()  # states exist from here on
            key = f"step/{name}/torch/{size}"
            results.setdefault(key, {})[f"pytorch_{variant}"] = timed(opt.step, repeat)


def sigmoid_focal(x, y, alpha=0.25, gamma=2.0):
    """torchvision.ops.sigmoid_focal_loss, mean reduction."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    alpha_t = alpha * y + (1 - alpha) * (1 - y)
    return (alpha_t * loss).mean()


def bench_losses(results, repeat):
    n = 1 << 20
    logits = torch.randn(4096, 1000, requires_grad=True)
    classes = torch.randint(0, 1000, (4096,))
    x = (torch.randn(n) * 2).requires_grad_()
    y = torch.bernoulli(torch.full((n,), 0.3))
    t = torch.randn(n)
    cases = [
        ("cross_entropy_4096x1000", logits, lambda: F.cross_entropy(logits, classes)),
        ("bce_with_logits_1M", x, lambda: F.binary_cross_entropy_with_logits(x, y)),
        ("sigmoid_focal_1M", x, lambda: sigmoid_focal(x, y)),
        ("mse_1M", x, lambda: F.mse_loss(x, t)),
    ]
    for name, leaf, loss in cases:

        def step():
            leaf.grad = None
            loss().backward()

        results.setdefault(f"loss/{name}/torch", {})["pytorch"] = timed(step, repeat)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--sizes", default="10k,1M,10M")
    parser.add_argument("--out", default="pytorch.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results = {}
    bench_optimizers(results, args.repeat, args.sizes.split(","))
    bench_losses(results, args.repeat)
    meta = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
    with open(args.out, "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1, sort_keys=True)
    for group, fns in sorted(results.items()):
        for variant, ns in sorted(fns.items()):
            print(f"{group:<36} {variant:<18} {ns / 1e6:10.3f} ms")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
