"""What checkpoints cost: bytes on disk, the time a save blocks training, and the time it takes
in the background (hidden by asynchronous saving), for a Humanoid-v5 carry whose replay holds
1M transitions per seed.

    python -m benchmarks.checkpoint_cost --seeds 1 4 --out benchmarks/results/checkpoint_cost_cpu.json

The carry is the OJK21 SAC config's (configs/paper.py Humanoid-v5,sac,dense: OFENet + DenseNet
2x2048) with bfloat16 observations in the replay; every replay slot is filled with random
numbers first (a fresh buffer is zeros, which orbax compresses to almost nothing; real data does
not compress). Per seed count: one synchronous save (what ofe_jax did before async saving), then
one asynchronous save: the time until `save` returns (training blocked), the time until the
write has finished, and a stand-in for training -- one jitted update of a small agent called in
a loop while the save writes -- whose calls made during the save are counted against the same
loop without a save (on a 2-core CPU the writer and training share the cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from benchmarks import common

SPEC = "Humanoid-v5,sac,dense"


def humanoid_carry(seeds: int):
    """(trainer, carry) with every replay slot filled with random data."""
    import jax
    import jax.numpy as jnp

    from ofe_jax.config import paper
    from ofe_jax.training import Trainer

    c = paper.get_config(SPEC)
    c.seeds, c.env.backend, c.replay.obs_dtype = seeds, "mujoco", "bfloat16"
    trainer = Trainer(c)
    carry = trainer.init(trainer.seed_keys())

    def fill_leaf(key, x):  # [members, capacity, ...]: random rows, 50k at a time, in place
        if not jnp.issubdtype(x.dtype, jnp.floating):
            return x
        if x.ndim < 2 or x.shape[1] % 50_000:
            return jax.random.normal(key, x.shape, x.dtype)
        block = 50_000

        def body(i, x):
            rows = jax.random.normal(jax.random.fold_in(key, i), (x.shape[0], block,
                                                                  *x.shape[2:]), x.dtype)
            return jax.lax.dynamic_update_slice_in_dim(x, rows, i * block, axis=1)

        return jax.lax.fori_loop(0, x.shape[1] // block, body, x)

    def fill(data):
        leaves, tree = jax.tree.flatten(data)
        keys = jax.random.split(jax.random.PRNGKey(0), len(leaves))
        return tree.unflatten([fill_leaf(k, x) for k, x in zip(keys, leaves)])

    # donated and in blocks: 4 seeds of 1M Humanoid transitions are 7 GB, and whole-leaf random
    # numbers (float32 beside the zeros, or threefry's intermediates) ran 24 GB out of memory
    data = jax.jit(fill, donate_argnums=0)(carry.buffer.data)
    storage = carry.buffer.replace(data=data,
                                   size=jnp.full_like(carry.buffer.size, c.replay.capacity))
    return trainer, jax.block_until_ready(carry.replace(buffer=storage))


def directory_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, files in os.walk(path) for name in files)


def training_stand_in():
    """A jitted SAC update (MLP 256x2, batch 256, Humanoid sizes) and its state: a call."""
    import jax

    from ofe_jax import agents

    agent = agents.make(agents.default_config("sac"), 348, 17)
    state = agent.init(jax.random.PRNGKey(0))
    batch = agents.make_transition(jax.random.normal(jax.random.PRNGKey(1), (256, 348)),
                                   jax.random.uniform(jax.random.PRNGKey(2), (256, 17)),
                                   jax.numpy.zeros(256), jax.numpy.zeros(256),
                                   jax.random.normal(jax.random.PRNGKey(3), (256, 348)), 0.99)
    update = jax.jit(agent.update)
    holder = {"state": jax.block_until_ready(update(state, batch)[0])}

    def call():
        holder["state"] = jax.block_until_ready(update(holder["state"], batch)[0])
    return call


def calls_while(call, busy) -> tuple[int, float]:
    start, calls = time.perf_counter(), 0
    while busy():
        call()
        calls += 1
    return calls, time.perf_counter() - start


def measure(seeds: int, root: str, call) -> dict:
    from ofe_jax.checkpoint import Checkpointer

    trainer, carry = humanoid_carry(seeds)
    policy = trainer.policy(carry)
    meta = {"seeds": seeds}
    row = {"seeds": seeds, "carry_bytes": sum(x.nbytes for x in __import__("jax").tree.leaves(
        carry))}
    sync = Checkpointer(os.path.join(root, f"sync_{seeds}"), keep=1, asynchronous=False)
    start = time.perf_counter()
    sync.save(1, carry, policy, meta)
    sync.wait()
    row["sync_save_s"] = time.perf_counter() - start
    sync.close()
    row["bytes_on_disk"] = directory_bytes(os.path.join(root, f"sync_{seeds}"))
    shutil.rmtree(os.path.join(root, f"sync_{seeds}"))
    calls, alone_s = calls_while(call, lambda t0=time.perf_counter(): time.perf_counter() - t0
                                 < row["sync_save_s"])
    row["stand_in_calls_per_s_alone"] = calls / alone_s
    checkpoints = Checkpointer(os.path.join(root, f"async_{seeds}"), keep=1)
    start = time.perf_counter()
    checkpoints.save(1, carry, policy, meta)
    row["async_blocking_s"] = time.perf_counter() - start
    manager = checkpoints._manager
    calls, during_s = calls_while(call, manager.is_saving_in_progress)
    checkpoints.wait()
    row["async_total_s"] = time.perf_counter() - start
    row["hidden_s"] = row["async_total_s"] - row["async_blocking_s"]
    row["stand_in_calls_per_s_during_save"] = calls / max(during_s, 1e-9)
    checkpoints.close()
    shutil.rmtree(os.path.join(root, f"async_{seeds}"))
    return row


def main(argv=None) -> dict:
    argv = common.default_argv(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--dir", default=None, help="where to write (default: a temp dir)")
    parser.add_argument("--out", default="benchmarks/results/checkpoint_cost_cpu.json")
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    run = common.Run("checkpoint_cost", argv, {**vars(args), "config": SPEC,
                                               "replay_capacity": 1_000_000,
                                               "obs_dtype": "bfloat16"})
    print(run.banner(f"{SPEC} carry, 1M replay per seed, seeds {args.seeds}"), flush=True)
    root = tempfile.mkdtemp(prefix="ofe_ckpt_", dir=args.dir)
    call, rows = training_stand_in(), []
    try:
        for seeds in args.seeds:
            rows.append(measure(seeds, root, call))
            r = rows[-1]
            print(f"{seeds} seed(s): {r['bytes_on_disk'] / 1e9:.2f} GB on disk "
                  f"(carry {r['carry_bytes'] / 1e9:.2f} GB); sync save {r['sync_save_s']:.1f} s; "
                  f"async: blocks {r['async_blocking_s']:.2f} s, writes {r['async_total_s']:.1f} s "
                  f"({r['hidden_s']:.1f} s hidden); stand-in training "
                  f"{r['stand_in_calls_per_s_during_save']:.1f} vs "
                  f"{r['stand_in_calls_per_s_alone']:.1f} calls/s alone", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    record = run.finish({"rows": rows}, method=__doc__.split("\n\n")[2].replace("\n", " "),
                        note=args.note)
    common.write_json(args.out, record)
    return record


if __name__ == "__main__":
    main()
