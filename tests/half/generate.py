#!/usr/bin/env python3
"""PyTorch's own accuracy in half precision on the loss and optimizer cases: the tolerance each
case gets when the conformance suite replays it with f16 or bf16 inputs (`DESCENT_DTYPE`).

Pinned: torch==2.15.0 (CPU). Not run by CI; its output, `tests/half/tolerances.json`, is
committed: one JSON object keyed by case name, each entry `{"f16": {"err", "rel"}, "bf16": ..}`.

Losses: for every `kind: "loss"` case of tests/golden whose loss is a `torch.nn.functional`
function, the float inputs are cast to the dtype, the loss is computed by PyTorch in that dtype
on the CPU, and the largest error of its output against the case's float64 `output` is
recorded, as `err` and relative to max(1, |expected|) as `rel`.

Optimizers: for every `kind: "optimizer"` case of tests/golden whose optimizer is a
`torch.optim` class and whose options are that class's keyword arguments, the parameters are cast to the dtype and stepped by the class's plain
per-tensor implementation (`foreach=False`, not fused) on the CPU, which keeps its state in the
parameters' dtype. Each step's gradients are the case's `grads` cast to the dtype, or, for an
`objective` case, those of the objective computed in float32 from the half parameters (mixed
precision, as the conformance suite computes it) by autograd; L-BFGS calls that objective as
its closure; a `clip` is applied by
`torch.nn.utils.clip_grad_norm_` / `clip_grad_value_` in the dtype. `err` and `rel` are the
largest errors, over all steps and tensors, of the parameters (and, for `asgd`, of the
averaged parameters `expected_average`) against the case's float64 `expected`. Before the half
runs, every case is replayed the same way in float64 and must reproduce `expected` to 1e-12
(relative to max(1, |expected|)), with float64 as the default dtype (as the cases were made;
it is the dtype of the scalar state NAdam and ASGD keep as tensors, float32 in the half runs,
as PyTorch's default): that proves the mapping; a case that does not is left out.
Muon cases with `ns_precision: "full"` are left out (not PyTorch as shipped).

A case PyTorch cannot compute in that dtype on the CPU, or computes as NaN or infinity (L-BFGS
on Rosenbrock in f16), is left out.

    pip install torch==2.15.0
    python3 tests/half/generate.py          # writes tests/half/tolerances.json
"""

import glob
import inspect
import json
import os

import torch
import torch.nn.functional as F

assert torch.__version__.startswith("2.15."), torch.__version__
HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "golden")
DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16}


def tensor(t, dtype):
    if t["dtype"] == "int":
        return torch.tensor(t["data"], dtype=torch.int64).reshape(t["shape"])
    return torch.tensor(t["data"], dtype=torch.float64).reshape(t["shape"]).to(dtype)


def losses(out):
    for path in sorted(glob.glob(os.path.join(GOLDEN, "*.json"))):
        for case in json.load(open(path)):
            if case.get("kind") != "loss" or not hasattr(F, case["loss"]):
                continue
            expected = torch.tensor(case["output"]["data"], dtype=torch.float64)
            for name, dtype in DTYPES.items():
                options = dict(case.get("options") or {})
                for key in ("weight", "pos_weight"):
                    if isinstance(options.get(key), list):
                        options[key] = torch.tensor(options[key], dtype=dtype)
                inputs = {k: tensor(v, dtype) for k, v in case["inputs"].items()}
                try:
                    got = getattr(F, case["loss"])(**inputs, **options)
                except (RuntimeError, TypeError, NotImplementedError) as e:
                    print(f"{case['name']} {name}: PyTorch cannot: {str(e)[:80]}")
                    continue
                got = got.to(torch.float64).reshape(-1)
                err = (got - expected.reshape(-1)).abs()
                rel = err / expected.reshape(-1).abs().clamp(min=1.0)
                out.setdefault(case["name"], {})[name] = {
                    "err": float(err.max()),
                    "rel": float(rel.max()),
                }


def optimizer_inputs(case):
    """The `torch.optim` class and keyword arguments of an optimizer case, or the reason why not."""
    name = case["optimizer"]
    cls = {c.lower(): getattr(torch.optim, c) for c in dir(torch.optim)}.get(name)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, torch.optim.Optimizer):
        return None, f"{name} is not a torch.optim class"
    options = dict(case.get("options") or {})
    if name == "muon":
        if options.pop("ns_precision", "bfloat16") != "bfloat16":
            return None, "muon ns_precision other than bfloat16 is not PyTorch as shipped"
    accepted = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        return None, f"{cls.__name__} has no option {unknown}"
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    if "foreach" in accepted:
        options["foreach"] = False
    return (cls, options), None


def replay(case, cls, options, dtype):
    """Steps the case's optimizer in `dtype`; the largest (err, rel) over all steps and tensors."""
    params = [tensor(p, dtype).requires_grad_() for p in case["params"]]
    opt = cls(params, **options)
    objective = case.get("objective")
    clip = case.get("clip")

    def loss():
        # The objective over all parameters concatenated, computed in float32 from half
        # parameters (mixed precision, as the conformance suite does), by autograd.
        opt.zero_grad()
        wide = torch.float64 if dtype == torch.float64 else torch.float32
        x = torch.cat([p.reshape(-1) for p in params]).to(wide)
        if objective["name"] == "quadratic":
            f = 0.5 * (torch.tensor(objective["diag"], dtype=wide) * x**2).sum()
        elif objective["name"] == "rosenbrock":
            f = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
        else:
            raise NotImplementedError(f"objective {objective['name']}")
        f.backward()
        return f
    err_max = rel_max = 0.0

    def compare(got, want):
        nonlocal err_max, rel_max
        want = torch.tensor(want["data"], dtype=torch.float64).reshape(want["shape"])
        got = got.detach().to(torch.float64)
        if not torch.isfinite(got).all():
            raise FloatingPointError("non-finite parameters")
        err = (got - want).abs()
        rel = err / want.abs().clamp(min=1.0)
        err_max = max(err_max, float(err.max()))
        rel_max = max(rel_max, float(rel.max()))

    for t, expected in enumerate(case["expected"]):
        if cls is torch.optim.LBFGS:
            opt.step(loss)
            for p, want in zip(params, expected):
                compare(p, want)
            continue
        if objective is None:
            for p, g in zip(params, case["grads"][t]):
                p.grad = tensor(g, dtype)
        else:
            loss()
        if clip is not None:
            if "clip_value" in clip:
                torch.nn.utils.clip_grad_value_(params, clip["clip_value"], foreach=False)
            else:
                torch.nn.utils.clip_grad_norm_(
                    params, clip["max_norm"], norm_type=float(clip["norm_type"]), foreach=False
                )
        opt.step()
        for p, want in zip(params, expected):
            compare(p, want)
        if "expected_average" in case:
            for p, want in zip(params, case["expected_average"][t]):
                compare(opt.state[p]["ax"], want)
    return err_max, rel_max


def optimizers(out):
    for path in sorted(glob.glob(os.path.join(GOLDEN, "*.json"))):
        for case in json.load(open(path)):
            if case.get("kind") != "optimizer":
                continue
            inputs, why = optimizer_inputs(case)
            if inputs is None:
                print(f"{case['name']}: left out: {why}")
                continue
            cls, options = inputs
            # The scalar state some optimizers keep as tensors (NAdam's `mu_product`, ASGD's
            # `eta` and `mu`) takes the default dtype: float64 for the reference, PyTorch's
            # default float32 in the half runs.
            torch.set_default_dtype(torch.float64)
            try:
                _, rel = replay(case, cls, options, torch.float64)
            finally:
                torch.set_default_dtype(torch.float32)
            if rel > 1e-12:
                print(f"{case['name']}: left out: float64 replay off by {rel:.3g}")
                continue
            assert case["name"] not in out, f"optimizer case name {case['name']} collides"
            for name, dtype in DTYPES.items():
                try:
                    err, rel = replay(case, cls, options, dtype)
                except (RuntimeError, TypeError, NotImplementedError, FloatingPointError) as e:
                    print(f"{case['name']} {name}: PyTorch cannot: {str(e)[:80]}")
                    continue
                out.setdefault(case["name"], {})[name] = {"err": err, "rel": rel}


def main():
    out = {}
    losses(out)
    optimizers(out)
    with open(os.path.join(HERE, "tolerances.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    print(f"{len(out)} cases")


if __name__ == "__main__":
    main()
