"""Matmul FLOPs of a program, counted on its jaxpr (the math as traced, the same on every
target): 2 per multiply-add of every `dot_general`, with `scan` bodies times their length,
`while` bodies times `trips_for(name)` (else 1), the costliest branch of a `cond`, and every
nested jaxpr (jit, custom_jvp/vjp, remat, shard_map) once per call.

    flops = matmul_flops(jax.make_jaxpr(fn)(*abstract_args), trips_for)

Elementwise work is not counted (it is memory-bound on accelerators: the plan charges it as
bytes, aot/hlo.py). XLA may merge identical matmuls (CSE), so this can exceed the compiled
program's count slightly; it never misses a matmul the program needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import numpy as np
import jax.extend  # noqa: F401 - jax.extend.core.(Closed)Jaxpr


def dot_flops(eqn) -> int:
    """2 x (batch x M x K) x N of a dot_general."""
    lhs, rhs = (v.aval.shape for v in eqn.invars[:2])
    (_, rhs_contract), (_, rhs_batch) = eqn.params["dimension_numbers"]
    free = math.prod(d for i, d in enumerate(rhs) if i not in rhs_contract and i not in rhs_batch)
    return 2 * math.prod(lhs) * free


def _sub_jaxprs(value):
    if isinstance(value, jax.extend.core.ClosedJaxpr):
        yield value.jaxpr
    elif isinstance(value, jax.extend.core.Jaxpr):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _sub_jaxprs(v)


CALLBACKS = ("pure_callback", "io_callback", "callback")


def _walk(jaxpr, prefix: str, trips_for) -> np.ndarray:
    """[matmul flops, equations, host callbacks] of one execution of `jaxpr`."""
    total = np.zeros(3)
    for eqn in jaxpr.eqns:
        name = f"{prefix}/{eqn.source_info.name_stack}"
        primitive = eqn.primitive.name
        total[1] += 1
        if primitive == "dot_general":
            total[0] += dot_flops(eqn)
        elif primitive in CALLBACKS:
            total[2] += 1
        elif primitive == "scan":
            total += eqn.params["length"] * _walk(eqn.params["jaxpr"].jaxpr, name, trips_for)
        elif primitive == "while":
            trips = trips_for(name + "/while") or 1
            total += trips * (_walk(eqn.params["body_jaxpr"].jaxpr, name, trips_for)
                              + _walk(eqn.params["cond_jaxpr"].jaxpr, name, trips_for))
        elif primitive == "cond":
            total += max((_walk(b.jaxpr, name, trips_for) for b in eqn.params["branches"]),
                         key=lambda c: tuple(c))
        else:
            for value in eqn.params.values():
                for sub in _sub_jaxprs(value):
                    total += _walk(sub, name, trips_for)
    return total


def cost(closed_jaxpr, trips_for: Callable[[str], float | None] = lambda n: None) -> dict:
    """{"matmul_flops", "equations", "callbacks"} of one execution of `closed_jaxpr`, loops
    multiplied by their trips (module docstring): what the training loop's pacing estimates a
    call's time from before compiling it (equations: an upper bound on kernels)."""
    flops, equations, callbacks = _walk(closed_jaxpr.jaxpr, "", trips_for)
    return {"matmul_flops": float(flops), "equations": float(equations),
            "callbacks": float(callbacks)}


def matmul_flops(closed_jaxpr, trips_for: Callable[[str], float | None] = lambda n: None
                 ) -> float:
    """Matmul FLOPs of one execution of `closed_jaxpr` (module docstring)."""
    return cost(closed_jaxpr, trips_for)["matmul_flops"]
