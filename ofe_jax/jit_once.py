"""`jit_once`: `jax.jit` for programs that run once (initialisation), compiled for compile time.

XLA:CPU spends most of the compile time of an initialisation program (dozens of PRNG draws and
initialisers) in LLVM's optimisation of code that then runs once. With XLA's backend
optimisations off the tests' tiny Trainer's `init_carry` compiled in 1.8 s instead of 8.0 s and
ran in 5 ms instead of 2 ms (2-core Xeon, jax 0.10.2). The results differ from an optimised build
by float rounding (<= 1 ulp of the drawn parameters), the same in every run on the platform.

Only on CPU: on GPU the compile is left as it is (not measured there). Called on tracers (under
an enclosing jit, or an eager vmap) it is a plain `jax.jit`: inside a jit it is inlined and
compiled with the enclosing program's options.
"""

import functools
from collections.abc import Callable

import jax

CPU_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def jit_once(fun: Callable, **jit_kwargs) -> Callable:
    """`jax.jit(fun, **jit_kwargs)`, compiled with CPU_COMPILER_OPTIONS on the CPU backend.
    `.for_platform("cpu" | "cuda" | ...)` is the jitted function used there (to lower it for
    a target that is not this process's backend, e.g. a GPU plan on a CPU)."""
    on_cpu = jax.jit(fun, compiler_options=CPU_COMPILER_OPTIONS, **jit_kwargs)
    elsewhere = jax.jit(fun, **jit_kwargs)

    @functools.wraps(fun)
    def call(*args, **kwargs):
        traced = any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves((args, kwargs)))
        fast = not traced and jax.default_backend() == "cpu"
        return (on_cpu if fast else elsewhere)(*args, **kwargs)

    call.for_platform = lambda platform: on_cpu if platform == "cpu" else elsewhere
    return call
