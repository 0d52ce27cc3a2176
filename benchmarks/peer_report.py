"""Reporting of benchmarks/compare_peers.py: the method text, the ratios, the markdown table."""

from __future__ import annotations

from benchmarks.peer_runners import BATCH, BUFFER_SIZE, LEARNING_RATE, LOOP_CHUNK, LOOP_RANDOM_STEPS

METHOD = (
    "All libraries run on the same CPU inside one Python process, their timed calls interleaved "
    "(so that changes of the background load hit all alike). Same SAC for all: plain MLP actor "
    "and two critics of width x 2, ReLU, batch {batch}, Adam lr {lr} (actor, critics, "
    "temperature), automatic temperature from 1.0 with target entropy -|A|, tau 0.005, gamma "
    "0.99, float32 maths, replay capacity {capacity:,}. ofe_jax and sbx use JAX/XLA's CPU thread "
    "pool (default flags); SB3 is measured with torch.set_num_threads({cores}) (= usable cores, "
    "'sb3') and with 1 thread ('sb3_1t'), because on a shared, oversubscribed 2-core CPU "
    "torch's OpenMP with 2 threads was several times slower than 1 thread for the small 256x2 "
    "nets; ratios against SB3 use the faster of the two. "
    "(1) Update throughput: every library's replay holds the same {fill:,} uniform-random "
    "Hopper-v5 transitions from gymnasium.make (written directly into ofe_jax's replay and into "
    "the SB3 ReplayBuffer that sbx also uses). One timed call = K updates, each drawing a fresh "
    "uniform minibatch of {batch} from the replay and doing a full SAC step (critic, actor, "
    "temperature, Polyak): ofe_jax = one jax.jit (agent state and replay donated) of "
    "ofe_jax.training.learn, the training loop's learner (a lax.scan of replay sample + "
    "agent.update + replay update), on one seed of a run with one env and updates_per_step K; "
    "sbx = model.train(gradient_steps=K, batch_size={batch}) (host-side "
    "numpy sampling of K x {batch}, then one jitted fori_loop); SB3 = model.train(gradient_steps="
    "K', batch_size={batch}) with K' = max(1, K // 10) (its train() is a Python loop of single "
    "updates, so K' only sets the call length). The first call of every (library, width) is "
    "excluded (compilation, allocation); calls are interleaved in rounds of about {quantum:g} s "
    "per library until each has {seconds:g} s of timed calls (at least {min_calls}); "
    "updates_per_s = K / median call time (mean_updates_per_s = timed updates / timed seconds). "
    "(2) Training loop, width 256x2: {random} uniform-random steps, then act + env step + store "
    "+ 1 gradient update per env step, timed in chunks of {chunk} env steps: ofe_jax = "
    "Trainer.run_chunk (the default config with Hopper-v5, env.backend 'mujoco' = C MuJoCo via "
    "jax.pure_callback, 1 env, updates_per_step 1, random_steps {random}, log_every {chunk}; "
    "run_chunk never evaluates and no checkpoint/CSV host work is timed); sbx and SB3 = "
    "SAC('MlpPolicy', 'Hopper-v5', learning_starts={random}, train_freq=1, gradient_steps=1, "
    "same sizes).learn({chunk}, reset_num_timesteps=False) per chunk (gymnasium env, Monitor, "
    "DummyVecEnv; their per-learn() set-up is inside the timed span); SB3 with the faster torch "
    "thread count of part (1) at width 256. The random chunk and the first learning chunk "
    "(compilation) are excluded; chunks are interleaved across libraries until each has "
    "{seconds:g} s and at least {min_chunks} chunks; env_steps_per_s = {chunk} / median chunk "
    "time; timed_updates / timed_env_steps checks 1 update per env step. Load: os.getloadavg "
    "and /proc/stat around each part; other_processes_cpu_share = (machine busy CPU time - this "
    "process's CPU time) / machine CPU time over the part.")


def method(cores: int, fill: int, quantum: float, seconds: float, min_calls: int,
           min_chunks: int) -> str:
    return METHOD.format(batch=BATCH, lr=LEARNING_RATE, capacity=BUFFER_SIZE, cores=cores,
                         fill=fill, quantum=quantum, seconds=seconds, min_calls=min_calls,
                         random=LOOP_RANDOM_STEPS, chunk=LOOP_CHUNK, min_chunks=min_chunks)


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def best_sb3(rows: list[dict], key: str) -> dict:
    """The faster of the SB3 runs (torch threads = cores, or 1) among `rows`."""
    return max((r for r in rows if r["lib"].startswith("sb3")), key=lambda r: r[key])


def _groups(update_rows: list[dict], loop_rows: list[dict]) -> list[tuple]:
    """(name, rows, key) of each compared cell: one per update width, and the loop."""
    groups = [(f"updates_{w}x2", [r for r in update_rows if r["width"] == w], "updates_per_s")
              for w in sorted({r["width"] for r in update_rows})]
    if loop_rows:
        groups.append(("loop_env_steps_256x2", loop_rows, "env_steps_per_s"))
    return groups


def compute_ratios(update_rows: list[dict], loop_rows: list[dict]) -> dict:
    ratios = {}
    for name, rows, key in _groups(update_rows, loop_rows):
        by = {r["lib"]: r[key] for r in rows}
        best = best_sb3(rows, key)
        ratios[name] = {"ofe_jax/sbx": ratio(by["ofe_jax"], by["sbx"]),
                        "ofe_jax/sb3_best": ratio(by["ofe_jax"], best[key]),
                        "sb3_best_torch_threads": best["torch_threads"]}
        for lib in ("sb3", "sb3_1t"):
            if lib in by:
                ratios[name][f"ofe_jax/{lib}"] = ratio(by["ofe_jax"], by[lib])
    return ratios


def markdown(update_rows: list[dict], loop_rows: list[dict], record: dict) -> str:
    """The README's table, and a line on the machine, versions, load and command."""
    cores = record["parameters"]["torch_threads"]
    lines = [f"| Hopper-v5, SAC, batch 256 | width | ofe_jax | sbx | SB3, 1 torch thread | "
             f"SB3, {cores} torch threads | ofe_jax / sbx | ofe_jax / SB3 (faster) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, rows, key in _groups(update_rows, loop_rows):
        width = rows[0]["width"]
        if name.startswith("loop"):
            what, fmt = "training loop env steps/s (1 update/step)", "{:,.0f}"
        else:
            what = "gradient updates/s (sample + update)"
            fmt = "{:,.0f}" if width < 1000 else "{:,.2f}"
        by = {r["lib"]: r for r in rows}
        sb3_rows = {r["torch_threads"]: r[key] for r in rows if r["lib"].startswith("sb3")}
        cell = lambda v: "—" if v is None else fmt.format(v)
        best = best_sb3(rows, key)[key]
        lines.append(
            f"| {what} | {width}x2 | {cell(by['ofe_jax'][key])} | {cell(by['sbx'][key])} | "
            f"{cell(sb3_rows.get(1))} | {cell(sb3_rows.get(cores))} | "
            f"{ratio(by['ofe_jax'][key], by['sbx'][key]):.2f}x | "
            f"{ratio(by['ofe_jax'][key], best):.2f}x |")
    v, m, load = record["versions"], record["machine"], record["load"]
    lines.append("")
    lines.append(
        f"{m['cpu']} CPU, {m['usable_cores']} cores, all libraries in one process, "
        f"interleaved, {record['date'][:10]}; jax {v['jax']}, flax {v['flax']}, sbx "
        f"{v['sbx-rl']}, SB3 {v['stable_baselines3']}, torch {v['torch']}. Load average "
        f"{load['load_average_before'][0]:.1f} before / {load['load_average_after'][0]:.1f} "
        f"after; other processes used "
        f"{100 * (load.get('other_processes_cpu_share') or 0):.0f}% of the CPU during the run. "
        f"`{record['command']}`")
    return "\n".join(lines)
