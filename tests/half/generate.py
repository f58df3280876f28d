#!/usr/bin/env python3
"""PyTorch's own accuracy in half precision on the loss cases: the tolerance each case gets when
the conformance suite replays it with f16 or bf16 inputs (`DESCENT_DTYPE`).

Pinned: torch==2.15.0 (CPU). Not run by CI; its output, `tests/half/tolerances.json`, is
committed. For every `kind: "loss"` case of tests/golden whose loss is a
`torch.nn.functional` function, the float inputs are cast to the dtype, the loss is computed by
PyTorch in that dtype on the CPU, and the largest error of its output against the case's
float64 `output` is recorded, as `err` and relative to max(1, |expected|) as `rel`. A case
PyTorch cannot compute in that dtype on the CPU is left out.

    pip install torch==2.15.0
    python3 tests/half/generate.py          # writes tests/half/tolerances.json
"""

import glob
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


def main():
    out = {}
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
    with open(os.path.join(HERE, "tolerances.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    print(f"{len(out)} cases")


if __name__ == "__main__":
    main()
