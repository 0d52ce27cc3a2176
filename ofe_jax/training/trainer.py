"""The Trainer: a config turned into the loop's compiled programs (loop.py), sharded over the
mesh where there is one, each call of a chunk program bounded in wall time (schedule.py).

    trainer = Trainer(config)
    carry = trainer.init(trainer.seed_keys())          # agents, replay buffers, envs, keys
    carry = trainer.call(carry)                        # the next compiled call (donated)
    carry, metrics = trainer.run_chunk(carry)          # calls up to the next log boundary
    returns = trainer.eval_return(carry)               # [members] deterministic eval return
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from ofe_jax.jit_once import jit_once
from ofe_jax.training import loop, mesh, multihost, plan as plan_lib, schedule
from ofe_jax.training.loop import Carry


class Trainer:
    """init(keys [M, 2]) -> Carry; call(carry) -> carry (the next program call, donated);
    run_chunk(carry) -> (carry, metrics [M]) for one log interval; eval_return(carry) -> [M];
    policy(carry) -> {"agent": every member's `agents.Policy`, "obs_stats": their observation
    statistics or None}: what acting needs."""

    def __init__(self, config: ml_collections.ConfigDict, platform: str | None = None):
        self.platform = platform or jax.default_backend()
        self.parts = plan_lib.build(config, self.platform)  # validates the config, once
        self.config, self.plan = config, self.parts.plan
        self.agent, self.env = self.parts.agent, self.parts.env
        self.mesh = mesh.make_mesh(config)
        self.specs = None  # the carry's PartitionSpecs on the mesh
        if self.mesh is not None:
            self.specs = mesh.carry_specs(jax.eval_shape(
                functools.partial(loop.init_carry, self.parts.without_axis()), self.seed_keys(),
                self.member_hparams()))
        members = P(mesh.SEEDS)
        self._init = jit_once(self._sharded(functools.partial(loop.init_carry, self.parts),
                                            (members, members), self.specs))
        self.eval_return = jax.jit(self._sharded(functools.partial(loop.eval_return,
                                                                   self.parts),
                                                 (self.specs,), members))
        self.policy = jax.jit(lambda carry: {"agent": jax.vmap(self.agent.policy)(carry.agent),
                                             "obs_stats": carry.obs_stats})
        self.pacing = schedule.Pacing(self.plan, config.call_seconds, agree=multihost.agree_min)
        self._executables: dict = {}  # (kind, length) -> compiled program
        self.compile_s = 0.0  # time spent compiling chunk programs in this process
        self.last_call: tuple[str, int] | None = None  # (kind, length) of the latest call

    def _sharded(self, fn, in_specs, out_specs):
        return fn if self.mesh is None else mesh.shard(self.mesh, fn, in_specs, out_specs)

    # ------------------------------------------------------------------------------------------
    # The chunk programs

    def program(self, kind: str, length: int = 0):
        """The jitted (donated) program `kind` ("collect" | "learn": `length` iterations;
        "pretrain": plan.pretrain_call updates)."""
        fn = {"collect": functools.partial(loop.collect_chunk, self.parts, length=length),
              "learn": functools.partial(loop.learn_chunk, self.parts, length=length),
              "pretrain": functools.partial(loop.pretrain_call, self.parts)}[kind]
        return jax.jit(self._sharded(fn, (self.specs,), self.specs), donate_argnums=0)

    def _executable(self, kind: str, carry, length: int):
        """The compiled program (kind, length), or that of the shorter length the pacing picks
        the first time it sees `kind`. compile_s counts all of it, the trace at the discarded
        length too (tens of seconds for an MJX program on a CPU): the pacing would otherwise
        read that time as a slow call and shorten every later call."""
        key = (kind, length)
        if key not in self._executables:
            tick = time.perf_counter()
            traced = self.program(kind, length).trace(carry)
            chosen = self.pacing.choose(kind, length, traced, self)
            if chosen != length:  # the estimate says a shorter call: trace that one instead
                self.compile_s += time.perf_counter() - tick
                return self._executable(kind, carry, chosen)
            self._executables[key] = traced.lower().compile()
            self.compile_s += time.perf_counter() - tick
        return self._executables[key]

    def next_call(self, carry) -> tuple[str, int]:
        """(kind, length) of the call that continues `carry` (schedule.next_call)."""
        return schedule.next_call(self.plan, int(carry.step), int(carry.pretrained),
                                  self.pacing.length)

    def call(self, carry, kind_length: tuple[str, int] | None = None) -> Carry:
        """The next compiled call on `carry` (donated; dispatched asynchronously)."""
        kind, length = kind_length or self.next_call(carry)
        executable = self._executable(kind, carry, length)
        if self.pacing.length.get(kind, length) != length:  # chosen shorter while compiling
            return self.call(carry)
        self.last_call = kind, length  # what ran: the pacing observes this length
        return executable(carry)

    def run_chunk(self, carry) -> tuple[Carry, dict]:
        """The calls up to the next log boundary (paced as in the training run); metrics [M]
        of that log interval (host arrays)."""
        end = schedule.log_end(self.plan, int(carry.step))
        while int(carry.step) < end:
            kind, length = self.next_call(carry)
            tick = time.perf_counter()
            compiled_before = self.compile_s
            carry = jax.block_until_ready(self.call(carry, (kind, length)))
            self.pacing.observe(*self.last_call, time.perf_counter() - tick
                                - (self.compile_s - compiled_before))
        return carry, loop.summary(carry.log)

    # ------------------------------------------------------------------------------------------
    # Members, init, shapes

    def member_seeds(self) -> list[int]:
        return plan_lib.member_seeds(self.plan)

    def member_points(self) -> list[dict]:
        return plan_lib.member_points(self.plan)

    def seed_keys(self) -> np.ndarray:
        """[M, 2]: member m's key is that of its seed, so seed s of any run (and of any grid
        point) follows the same random stream as a single-seed run of seed s. A host (numpy)
        value, the same in every process of a multi-host run."""
        return np.stack([np.asarray(jax.random.PRNGKey(s)) for s in self.member_seeds()])

    def member_hparams(self) -> dict | None:
        """{field: [M] float32} of the gridded fields, or None without a grid."""
        points = self.member_points()
        if not points[0]:
            return None
        return {f: np.asarray([p[f] for p in points], np.float32) for f in points[0]}

    def init(self, keys) -> Carry:
        return self._init(keys, self.member_hparams())

    def abstract_carry(self, sharding=None) -> Carry:
        """Shapes, dtypes and shardings of the carry, without allocating: the restore target.
        The shardings are this run's, whatever devices or processes wrote the checkpoint;
        `sharding`: one sharding for every leaf instead (one device, e.g. a plan's target)."""
        shapes = jax.eval_shape(self.init, self.seed_keys())
        if self.mesh is None or sharding is not None:
            device = sharding or jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
            shardings = jax.tree.map(lambda _: device, shapes)
        else:
            shardings = jax.tree.map(lambda spec: NamedSharding(self.mesh, spec), self.specs,
                                     is_leaf=lambda x: isinstance(x, P))
        return jax.tree.map(lambda x, sharding: jax.ShapeDtypeStruct(
            x.shape, x.dtype, sharding=sharding), shapes, shardings)

    def programs(self, platform: str, sharding) -> dict:
        """{name: (jitted function, abstract arguments)} of every program a run executes, at
        the lengths its calls would have (schedule.Pacing's estimate, on this machine), with
        arguments on `sharding` (one device), built as for `platform`: what ofe_jax.plan
        compiles. Names as in schedule.program_runs."""
        carry = self.abstract_carry(sharding)
        keys = jax.ShapeDtypeStruct(self.seed_keys().shape, jnp.uint32, sharding=sharding)
        hparams = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype,
                                                              sharding=sharding),
                               self.member_hparams())
        out = {"init": (self._init.for_platform(platform), (keys, hparams))}
        for kind in schedule.chunk_kinds(self.plan):
            length = self.pacing.estimated_length(kind, carry, self)
            out[kind] = (self.program(kind, length), (carry,))
        out["eval_return"] = (self.eval_return, (carry,))
        out["policy"] = (self.policy, (carry,))
        return out

    def to_env_action(self, action: jax.Array) -> jax.Array:
        return plan_lib.to_env_action(self.parts, action)
