"""Physics backends: the same MuJoCo model stepped in-graph by MJX or on the host by C MuJoCo.

A backend knows nothing of tasks. It turns a physical state (qpos, qvel) into a *physics*
pytree, advances it by ``frame_skip`` MuJoCo substeps under a control, and exposes the named
``mjData`` quantities a task asked for (``qpos``, ``qvel``, ``xipos``, ``cinert``, ``cvel``,
``qfrc_actuator``, ``cfrc_ext``, ``site_xpos``, ...), as they stand after the step. The task
logic (observation, reward, termination; ``locomotion.py``) is written once on top of them.

Both backends follow Gymnasium's ``MujocoEnv`` exactly (``gymnasium/envs/mujoco/mujoco_env.py``):

* reset: ``mj_resetData``; set qpos/qvel; ``mj_forward``. No ``mj_rnePostConstraint``, so
  ``cfrc_ext`` is zero in the first observation, as in Gymnasium.
* step: ``ctrl = action`` (not clipped here: MuJoCo clamps ctrl to ``ctrlrange`` internally);
  ``mj_step`` ``frame_skip`` times; then ``mj_rnePostConstraint`` so that ``cfrc_ext`` (and
  ``cacc``, ``cfrc_int``) are filled. Position-dependent quantities (``xipos``, ``cinert``,
  ``site_xpos`` ...) are those of the last substep's forward pass, one substep behind ``qpos``:
  that is what Gymnasium observes, so it is what the tasks see.

``"mujoco"``: C MuJoCo behind ``jax.pure_callback``. The physics pytree is
:class:`MujocoPhysics`: the full physics state vector ``mj_getState(..., mjSTATE_FULLPHYSICS |
mjSTATE_WARMSTART)`` stored *bit-exactly* as float64 reinterpreted as ``uint32[2 * size]`` (JAX
runs in float32; this keeps replay and Gymnasium parity exact), plus the requested quantities
in float32. The solver warm start is included so a replayed step is bit-identical to a step of
a live ``MjData`` (Gymnasium's). Every call is pure: same state + control -> same result.
Batched calls (``vmap`` over envs, and over seeds around it) reach the host as ONE callback
(``vmap_method="broadcast_all"``); leading axes are flattened there and the envs are stepped in
a loop, split over a thread pool when the batch is large (MuJoCo releases the GIL).

``"mjx"``: ``mujoco.mjx`` in the graph (``put_model``/``make_data``/``step``/
``rne_postconstraint``); the physics pytree is an ``mjx.Data``. Plane-capsule contacts get C
MuJoCo's contact frame (``mjx_contacts.py``: MJX 3.17 rotates it for steep capsules, which
breaks Ant-v5). Speed options (all OFF by default; each changes the physics relative to
Gymnasium): see :class:`MjxBackend`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import threading
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from ofe_jax.config import choices
from ofe_jax.jit_once import jit_once

# Full physics state + the solver's warm start (see module docstring).
STATE_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS | mujoco.mjtState.mjSTATE_WARMSTART
# Below this many envs per callback the host loop runs in the calling thread. Measured
# (benchmarks/results/mjx_options_cpu.json, part threads: MujocoHost.step, a 2-core Xeon shared
# with a training run and other jobs, median of 3 rounds): at the paper configs' 8 envs a pool
# of 2 / 4 threads ran Hopper-v5 at 0.51 / 0.54x and Humanoid-v5 at 0.93 / 0.95x the speed of
# one thread (best calls 0.92-1.06x); no batch up to 16 gained from it; at 32 the best calls
# did (Hopper 1.15x with 4 threads, Humanoid 1.72x with 2), the medians not (the other jobs
# held the second core). Hence 32: the smallest batch where the pool paid off at all here.
THREAD_MIN_BATCH = 32
# MJX is traced at this matmul precision (its step and its reset's forward): JAX's GPU default
# runs float32 matmuls as TF32 on Ampere and newer (10-bit mantissa), which degrades MJX physics
# (MuJoCo Playground issue #86: github.com/google-deepmind/mujoco_playground/issues/86); the
# parity tolerances here were measured in exact float32. No effect on CPU.
PHYSICS_MATMUL_PRECISION = "highest"
# MJX model options by name (MjxBackend's integrator / jacobian; config/choices.py lists them).
INTEGRATORS = {"euler": mujoco.mjtIntegrator.mjINT_EULER, "rk4": mujoco.mjtIntegrator.mjINT_RK4,
               "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST}
JACOBIANS = {"dense": mujoco.mjtJacobian.mjJAC_DENSE, "sparse": mujoco.mjtJacobian.mjJAC_SPARSE}
assert ("", *INTEGRATORS) == choices.MJX_INTEGRATORS, "envs.backends and config.choices disagree"
assert ("", *JACOBIANS) == choices.MJX_JACOBIANS, "envs.backends and config.choices disagree"


@flax.struct.dataclass
class MujocoPhysics:
    """Physics of the "mujoco" backend: ``state`` uint32[2 * state_size] (float64 bits of the
    MuJoCo state vector), ``fields``: dict name -> float32 array of the mjData quantity."""

    state: jax.Array
    fields: dict[str, jax.Array]


def _field_shapes(model: mujoco.MjModel, names: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    data = mujoco.MjData(model)
    return {name: tuple(getattr(data, name).shape) for name in names}


class _ThreadedBatch:
    """Runs ``work(data, indices)`` over a batch of envs on the host: in the calling thread for
    small batches, else split over ``num_threads`` threads, one scratch ``MjData`` each (MuJoCo
    releases the GIL)."""

    def __init__(self, model: mujoco.MjModel, num_threads: int):
        self.model = model
        self.num_threads = num_threads
        self._pool = None  # created lazily: thread pools do not pickle / fork well
        self._datas: list[mujoco.MjData] = []
        # With several XLA devices (a sharded mesh on CPU) callbacks can arrive concurrently
        # from different threads; they share the MjData scratch space, so one runs at a time.
        self._call_lock = threading.Lock()

    def _ensure_datas(self, count: int) -> list[mujoco.MjData]:
        while len(self._datas) < count:
            self._datas.append(mujoco.MjData(self.model))
        return self._datas

    def __call__(self, batch: int, work) -> None:
        with self._call_lock:
            if batch < THREAD_MIN_BATCH or self.num_threads <= 1:
                work(self._ensure_datas(1)[0], range(batch))
                return
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(self.num_threads)
            datas = self._ensure_datas(self.num_threads)
            bounds = np.linspace(0, batch, self.num_threads + 1).astype(int)
            futures = [self._pool.submit(work, datas[t], range(bounds[t], bounds[t + 1]))
                       for t in range(self.num_threads)]
            for future in futures:
                future.result()


class MujocoHost:
    """The host side of the "mujoco" backend, in numpy: batched reset and step of C MuJoCo on
    float64 state vectors (``STATE_SPEC``), returning the state bits and the named fields."""

    def __init__(self, model: mujoco.MjModel, frame_skip: int, fields: tuple[str, ...],
                 num_threads: int):
        self.model = model
        self.frame_skip = int(frame_skip)
        self.field_names = tuple(fields)
        self.field_shapes = _field_shapes(model, self.field_names)
        self.state_size = mujoco.mj_stateSize(model, STATE_SPEC)
        self.run = _ThreadedBatch(model, num_threads)

    def _outputs(self, batch: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        states = np.empty((batch, self.state_size), np.float64)
        fields = {k: np.empty((batch, *s), np.float32) for k, s in self.field_shapes.items()}
        return states, fields

    def _record(self, data, i, states, fields) -> None:
        mujoco.mj_getState(self.model, data, states[i], STATE_SPEC)
        for name in self.field_names:
            fields[name][i] = getattr(data, name)

    def _pack(self, lead, states, fields):
        state_bits = states.view(np.uint32).reshape(*lead, 2 * self.state_size)
        return state_bits, {k: v.reshape(*lead, *v.shape[1:]) for k, v in fields.items()}

    def init(self, qpos: np.ndarray, qvel: np.ndarray):
        """[..., nq], [..., nv] (any float dtype) -> (uint32 state bits, fields) as numpy."""
        lead = np.shape(qpos)[:-1]
        qpos = np.asarray(qpos, np.float64).reshape(-1, self.model.nq)
        qvel = np.asarray(qvel, np.float64).reshape(-1, self.model.nv)
        states, fields = self._outputs(qpos.shape[0])

        def work(data, indices):
            for i in indices:
                mujoco.mj_resetData(self.model, data)  # Gymnasium reset(): mj_resetData,
                data.qpos[:] = qpos[i]  # set_state(qpos, qvel): copy, then mj_forward.
                data.qvel[:] = qvel[i]
                mujoco.mj_forward(self.model, data)
                self._record(data, i, states, fields)

        self.run(qpos.shape[0], work)
        return self._pack(lead, states, fields)

    def step(self, state_bits: np.ndarray, ctrl: np.ndarray):
        """[..., 2S] uint32, [..., nu] -> (uint32 state bits, fields) after frame_skip substeps."""
        lead = np.shape(state_bits)[:-1]
        in_states = np.ascontiguousarray(state_bits, np.uint32).reshape(-1, 2 * self.state_size)
        in_states = in_states.view(np.float64)  # [B, S]
        ctrl = np.asarray(ctrl, np.float64).reshape(-1, self.model.nu)
        states, fields = self._outputs(in_states.shape[0])

        def work(data, indices):
            for i in indices:
                mujoco.mj_setState(self.model, data, in_states[i], STATE_SPEC)
                data.ctrl[:] = ctrl[i]
                mujoco.mj_step(self.model, data, nstep=self.frame_skip)
                mujoco.mj_rnePostConstraint(self.model, data)  # fills cfrc_ext, as Gymnasium
                self._record(data, i, states, fields)

        self.run(in_states.shape[0], work)
        return self._pack(lead, states, fields)


class MujocoBackend:
    """C MuJoCo stepped on the host (:class:`MujocoHost`) behind ``jax.pure_callback`` (CPU
    training backend).

    Args:
      model: the compiled MuJoCo model (Gymnasium's XML, unchanged).
      frame_skip: MuJoCo substeps per env step.
      fields: names of mjData quantities the task reads.
      num_threads: host threads for batches of >= ``THREAD_MIN_BATCH`` envs (default: CPU count,
        at most 8). Results do not depend on it.
    """

    name = "mujoco"

    def __init__(self, model: mujoco.MjModel, frame_skip: int, fields: tuple[str, ...],
                 num_threads: int | None = None):
        self.model = model
        self.frame_skip = int(frame_skip)
        self.host = MujocoHost(model, frame_skip, fields,
                               int(num_threads or min(os.cpu_count() or 1, 8)))

    def _result_shapes(self):
        state = jax.ShapeDtypeStruct((2 * self.host.state_size,), jnp.uint32)
        fields = {k: jax.ShapeDtypeStruct(s, jnp.float32)
                  for k, s in self.host.field_shapes.items()}
        return state, fields

    def init(self, qpos, qvel) -> MujocoPhysics:
        """Physics at (qpos [nq], qvel [nv]). Concrete numpy inputs are used in float64 on the
        host directly (exact parity with a float64 Gymnasium state); traced ones via callback."""
        if isinstance(qpos, np.ndarray) and isinstance(qvel, np.ndarray):
            state, fields = self.host.init(qpos, qvel)
            return MujocoPhysics(jnp.asarray(state), jax.tree.map(jnp.asarray, fields))
        state, fields = jax.pure_callback(
            self.host.init, self._result_shapes(), jnp.asarray(qpos, jnp.float32),
            jnp.asarray(qvel, jnp.float32), vmap_method="broadcast_all")
        return MujocoPhysics(state, fields)

    def step(self, physics: MujocoPhysics, ctrl: jax.Array) -> MujocoPhysics:
        state, fields = jax.pure_callback(
            self.host.step, self._result_shapes(), physics.state, ctrl,
            vmap_method="broadcast_all")
        return MujocoPhysics(state, fields)

    def fields(self, physics: MujocoPhysics) -> dict[str, jax.Array]:
        return physics.fields


class MjxBackend:
    """MuJoCo XLA, stepped inside the compiled graph (accelerator backend).

    Speed options, all ``None`` (= the XML's setting, i.e. Gymnasium's physics) by default
    (training passes them from ``config.env.mjx``: ``envs.config_options``). Measured parity
    cost and speed of each: benchmarks/results/mjx_options_cpu.json.

    Args:
      solver: a ``mujoco.mjtSolver``; the tasks set Newton only where the XML asks for PGS,
        which MJX lacks (Humanoid-v5, the one documented deviation).
      solver_iterations: max constraint-solver iterations (``opt.iterations``, XML: 50/100).
        Fewer is faster; the solve stops earlier, so contacts are less converged. (MJX's solver
        is a while loop that stops at convergence; under vmap it runs until the slowest env
        has converged.)
      ls_iterations: max line-search iterations (``opt.ls_iterations``, XML: 50). Same
        trade-off; MJX's line search is a scan of this length, and under vmap every step of it
        runs (its early exit is a ``lax.cond``, which vmap turns into a select).
      integrator: ``"euler"``, ``"rk4"`` or ``"implicitfast"`` (``opt.integrator``; the XMLs use
        RK4, HalfCheetah Euler). RK4 runs four forward passes (and constraint solves) per
        substep, Euler one. MJX has no ``"implicit"``.
      jacobian: ``"dense"`` or ``"sparse"`` constraint Jacobian (``opt.jacobian``). Numerically
        the same model; the XML's "auto" is dense for these models off TPU (nv < 60).
      impl: ``"jax"`` (default) or ``"warp"`` (needs warp-lang and an NVIDIA GPU; a different
        implementation, agreement with C MuJoCo only up to solver tolerance).

    The step and the reset are traced at matmul precision ``PHYSICS_MATMUL_PRECISION``.
    """

    name = "mjx"

    def __init__(self, model: mujoco.MjModel, frame_skip: int, fields: tuple[str, ...],
                 solver: int | None = None, solver_iterations: int | None = None,
                 ls_iterations: int | None = None, integrator: str | None = None,
                 jacobian: str | None = None, impl: str | None = None):
        from mujoco import mjx  # imported lazily: it imports warp probes at import time

        from ofe_jax.envs import mjx_contacts

        self._mjx = mjx
        # C MuJoCo's plane-capsule contact frame while MJX is traced (read by the "jax" impl;
        # "warp" has its own collision code and does not consult the table).
        self._contacts = mjx_contacts.c_plane_capsule_frames
        model = _copy_model(model)
        if solver is not None:
            model.opt.solver = solver
        if solver_iterations is not None:
            model.opt.iterations = int(solver_iterations)
        if ls_iterations is not None:
            model.opt.ls_iterations = int(ls_iterations)
        if integrator is not None:
            model.opt.integrator = _named("integrator", integrator, INTEGRATORS)
        if jacobian is not None:
            model.opt.jacobian = _named("jacobian", jacobian, JACOBIANS)
        self.model = model
        self.frame_skip = int(frame_skip)
        self.field_names = tuple(fields)
        self.mjx_model = mjx.put_model(model, impl=impl)
        # One compiled MJX forward (eagerly it would run op by op), compiled for compile time.
        self._init = jit_once(self._init_impl)
        self._data_fields = {f.name for f in dataclasses.fields(mjx.Data)}

    def init(self, qpos, qvel):
        return self._init(jnp.asarray(qpos, jnp.float32), jnp.asarray(qvel, jnp.float32))

    def _init_impl(self, qpos, qvel):
        mjx = self._mjx
        qpos = jnp.asarray(qpos, jnp.float32)
        data = mjx.make_data(self.mjx_model).replace(qpos=qpos, qvel=jnp.asarray(qvel, jnp.float32))
        with self._contacts(), jax.default_matmul_precision(PHYSICS_MATMUL_PRECISION):
            data = mjx.forward(self.mjx_model, data)
        # MJX's forward writes normalised free-joint quaternions back into qpos; C mj_forward
        # does not (Gymnasium's first Ant/Humanoid observation shows the noisy, unnormalised
        # quaternion). Keep the given qpos; integration normalises it at the first step in both.
        return data.replace(qpos=qpos)

    def step(self, data, ctrl):
        mjx = self._mjx
        data = data.replace(ctrl=jnp.asarray(ctrl, jnp.float32))
        with self._contacts(), jax.default_matmul_precision(PHYSICS_MATMUL_PRECISION):
            data = jax.lax.fori_loop(0, self.frame_skip,
                                     lambda _, d: mjx.step(self.mjx_model, d), data)
            return mjx.rne_postconstraint(self.mjx_model, data)  # fills cfrc_ext, as Gymnasium

    def fields(self, data) -> dict[str, jax.Array]:
        out = {}
        for name in self.field_names:
            source = data if name in self._data_fields else data._impl  # cinert, cfrc_ext
            out[name] = getattr(source, name)
        return out


def _named(field: str, value: str, table: dict) -> int:
    if value not in table:
        raise ValueError(f"{field} must be one of {sorted(table)}, got {value!r}")
    return table[value]


def _copy_model(model: mujoco.MjModel) -> mujoco.MjModel:
    import copy

    return copy.copy(model)


BACKENDS = choices.BACKENDS


def resolve(backend: str) -> str:
    """"auto" -> "mjx" on an accelerator, "mujoco" on CPU; validates the name."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    if backend == "auto":
        return "mjx" if jax.default_backend() != "cpu" else "mujoco"
    if backend == "warp":
        try:
            import warp  # noqa: F401
        except ImportError as err:
            raise ValueError(
                f"backend 'warp' needs warp-lang (pip install warp-lang), which is not "
                f"installed; choose one of {BACKENDS}") from err
    return backend


def build(backend: str, model: mujoco.MjModel, frame_skip: int, fields: tuple[str, ...],
          mjx_solver: int | None = None, **options: Any):
    """Backend object for a resolved name. ``options`` are the backend keyword options."""
    allowed = set(choices.BACKEND_OPTIONS["mujoco" if backend == "mujoco" else "mjx"])
    _check_options(backend, options, allowed)
    if backend == "mujoco":
        return MujocoBackend(model, frame_skip, fields, **options)
    if backend == "warp":
        options = {**options, "impl": "warp"}
    return MjxBackend(model, frame_skip, fields, solver=mjx_solver, **options)


def _check_options(backend, options, allowed):
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(f"options {sorted(unknown)} are not valid for backend {backend!r}; "
                         f"valid backend options: {sorted(allowed)}")
