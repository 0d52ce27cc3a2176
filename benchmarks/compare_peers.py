"""SAC throughput of ofe_jax against its peers sbx (JAX) and Stable-Baselines3 (PyTorch), on the
same machine in one process, on Hopper-v5 (obs 11, action 3), batch 256, Adam 3e-4, automatic
temperature, two critics, plain MLP actor and critics of width 256x2 and 2048x2.

Two measurements (runners: benchmarks/peer_runners.py; method text, ratios and the markdown
table: benchmarks/peer_report.py):

1. Gradient-update throughput (updates/s). Each library's replay buffer holds the same 10,000
   uniform-random Hopper-v5 transitions (collected once with ``gymnasium.make``); one timed call
   is K updates, each sampling a fresh minibatch of 256 from that buffer and doing one full SAC
   step (critic, actor, temperature, Polyak):
     ofe_jax  ``ofe_jax.training.learn`` jitted (agent state and replay donated): the training
              loop's own learner, K x (replay sample + agent.update + replay update) in a scan;
     sbx      ``model.train(gradient_steps=K, batch_size=256)`` (samples K x 256 from its SB3
              numpy buffer on the host, then one jitted fori_loop of K updates);
     SB3      ``model.train(gradient_steps=K', batch_size=256)``, K' = max(1, K // 10) (a Python
              loop of single updates: K' only sets the call length), run twice: with torch
              threads = usable cores ("sb3") and with 1 thread ("sb3_1t"). On a shared,
              oversubscribed CPU torch's OpenMP team of 2 threads can be several times slower
              than 1 thread on small nets; ratios use the faster SB3 setting.
   The first call of every cell (compilation, allocation) is excluded. Calls of the
   libraries are interleaved in rounds of about ``--quantum`` seconds each, so that a change of
   background load hits all alike, until each has ``--seconds`` of timed calls;
   updates/s = K / median call time (the mean rate over all calls is stored as well).

2. Full training loop (env steps/s with one update per env step, width 256): 1,000 random-action
   steps, then 1,000-step chunks of act + env step + store + 1 update:
     ofe_jax  ``Trainer.run_chunk`` (the default config, Hopper-v5, C MuJoCo backend, 1 env,
              updates_per_step 1, random_steps 1000, log_every 1000; no evaluation);
     sbx/SB3  ``SAC("MlpPolicy", "Hopper-v5", learning_starts=1000, train_freq=1,
              gradient_steps=1).learn(1000, reset_num_timesteps=False)`` per chunk (SB3 with the
              faster torch thread count of the width-256 update cell).
   The random chunk and the first learning chunk (compilation) are excluded; chunks of the three
   are interleaved; env steps/s = 1000 / median chunk time.

    python -m benchmarks.compare_peers --out benchmarks/results/compare_peers_cpu.json
    python -m benchmarks.compare_peers --quick --out /tmp/peers.json    # smoke check, a few minutes
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from benchmarks import common, peer_report
from benchmarks.peer_runners import (BATCH, LOOP_CHUNK, LOOP_RANDOM_STEPS, OfeLoop, PeerLoop,
                                     collect_random, sb3_k, update_runner)

FILL = 10_000  # transitions in the replay for the update measurement
WIDTHS = (256, 2048)
DEFAULT_K = {256: 200, 2048: 2}  # updates per timed call
# sb3: torch threads = usable cores; sb3_1t: 1 torch thread (see the module docstring).
UPDATE_RUNS = ("ofe_jax", "sbx", "sb3", "sb3_1t")
LOOP_RUNS = ("ofe_jax", "sbx", "sb3")


def interleave(runners: dict, seconds: float, quantum: float, min_calls: int) -> dict:
    """Round-robin over the runners, about `quantum` seconds (at least one call) per runner per
    round, until every runner has `seconds` of timed calls and `min_calls` calls."""
    times = {name: [] for name in runners}
    rounds = 0
    while any(sum(t) < seconds or len(t) < min_calls for t in times.values()):
        rounds += 1
        for name, run in runners.items():
            spent = 0.0
            while spent == 0.0 or spent < quantum:
                start = time.perf_counter()
                run()
                elapsed = time.perf_counter() - start
                times[name].append(elapsed)
                spent += elapsed
    return {"times": times, "rounds": rounds}


def measure_updates(width: int, k: int, data: dict, seconds: float, quantum: float,
                    min_calls: int, cores: int) -> tuple[list[dict], dict]:
    probe = common.LoadProbe()
    runners, setup = {}, {}
    for lib in UPDATE_RUNS:
        start = time.perf_counter()
        runner = update_runner(lib, width, k, data, cores)
        built = time.perf_counter() - start
        start = time.perf_counter()
        runner()  # compilation (ofe_jax, sbx), allocation and caches: excluded
        setup[lib] = {"build_s": built, "first_call_s": time.perf_counter() - start}
        runners[lib] = runner
        print(f"  {lib:7s} width {width}: first call (compile/warm-up) "
              f"{setup[lib]['first_call_s']:.1f} s", flush=True)
    result = interleave(runners, seconds, quantum, min_calls)
    load = probe.finish()
    rows = []
    for lib in UPDATE_RUNS:
        t, runner = result["times"][lib], runners[lib]
        median = statistics.median(t)
        rows.append({
            "lib": lib, "width": width, "batch": BATCH, "updates_per_call": runner.k,
            "torch_threads": runner.torch_threads, "updates_per_s": runner.k / median,
            "mean_updates_per_s": runner.k * len(t) / sum(t), **common.call_stats(t),
            "call_s": [round(x, 4) for x in t], "first_call_s": setup[lib]["first_call_s"],
            "build_s": setup[lib]["build_s"], "finite_losses": runner.finite()})
        print(f"  {lib:7s} width {width}: {runner.k / median:10.1f} updates/s (K={runner.k}, "
              f"{len(t)} calls, median {median:.3f} s)", flush=True)
    return rows, {**load, "rounds": result["rounds"]}


def measure_loop(width: int, seconds: float, min_chunks: int, cores: int,
                 sb3_threads: int) -> tuple[list[dict], dict]:
    probe = common.LoadProbe()
    runners, warmup = {}, {}
    for lib in LOOP_RUNS:
        if lib == "ofe_jax":
            runner = OfeLoop(width, cores)
        else:
            runner = PeerLoop(lib, width, cores if lib == "sbx" else sb3_threads)
        spans = []
        for _ in range(2):  # the random-action chunk, then the first learning chunk (compile)
            start = time.perf_counter()
            runner()
            spans.append(time.perf_counter() - start)
        warmup[lib] = spans
        runners[lib] = runner
        print(f"  {lib:7s} loop: random chunk {spans[0]:.1f} s, first learning chunk "
              f"{spans[1]:.1f} s (excluded)", flush=True)
    before = {lib: runners[lib].counters() for lib in LOOP_RUNS}
    result = interleave(runners, seconds, quantum=0.0, min_calls=min_chunks)
    load = probe.finish()
    rows = []
    for lib in LOOP_RUNS:
        t = result["times"][lib]
        after = runners[lib].counters()
        steps = after["env_steps"] - before[lib]["env_steps"]
        updates = after["updates"] - before[lib]["updates"]
        median = statistics.median(t)
        rows.append({
            "lib": lib, "width": width, "batch": BATCH, "chunk_env_steps": LOOP_CHUNK,
            "torch_threads": getattr(runners[lib], "torch_threads", None),
            "env_steps_per_s": LOOP_CHUNK / median, "mean_env_steps_per_s": steps / sum(t),
            "chunks": len(t), "median_chunk_s": median, "min_chunk_s": min(t),
            "max_chunk_s": max(t), "chunk_s": [round(x, 3) for x in t],
            "timed_env_steps": steps, "timed_updates": updates,
            "updates_per_env_step": updates / steps, "random_steps": LOOP_RANDOM_STEPS,
            "excluded_chunks_s": [round(x, 2) for x in warmup[lib]], "counters_after": after})
        print(f"  {lib:7s} loop: {LOOP_CHUNK / median:8.1f} env steps/s ({len(t)} chunks, "
              f"{updates} updates in {steps} steps)", flush=True)
    return rows, {**load, "rounds": result["rounds"]}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = common.argument_parser(__doc__, "benchmarks/results/compare_peers.json",
                                    quick="smoke check: 2 s per cell, one timed loop chunk")
    parser.add_argument("--seconds", type=float, default=None,
                        help="timed span per library and cell (default 10; 2 with --quick)")
    parser.add_argument("--quantum", type=float, default=1.0,
                        help="seconds per library per interleaving round (update cells)")
    parser.add_argument("--widths", nargs="*", type=int, default=list(WIDTHS), choices=WIDTHS)
    parser.add_argument("--k256", type=int, default=DEFAULT_K[256],
                        help="updates per timed call at width 256 (SB3: a tenth)")
    parser.add_argument("--k2048", type=int, default=DEFAULT_K[2048],
                        help="updates per timed call at width 2048 (SB3: a tenth, at least 1)")
    parser.add_argument("--no-loop", action="store_true", help="skip the training-loop part")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch threads of the 'sb3' runs (default: usable cores)")
    parser.add_argument("--loop-sb3-threads", type=int, default=None,
                        help="torch threads of SB3's training loop (default: the faster "
                             "setting of the width-256 update cell)")
    args = parser.parse_args(argv)
    args.seconds = args.seconds if args.seconds is not None else (2.0 if args.quick else 10.0)
    return args


def main(argv: list[str] | None = None) -> dict:
    argv = common.default_argv(argv)
    args = parse_args(argv)
    min_calls = 2 if args.quick else 3
    min_chunks = 1 if args.quick else 3
    ks = {256: args.k256, 2048: args.k2048}

    import torch

    cores = args.torch_threads or common.usable_cores()
    torch.set_num_threads(cores)
    warnings.filterwarnings("ignore", message=".*[Ee]xplicitly requested dtype.*")
    run = common.Run("compare_peers", argv, {
        "env": "Hopper-v5", "quick": args.quick, "seconds_per_cell": args.seconds,
        "quantum": args.quantum, "widths": args.widths, "k": {str(w): ks[w] for w in args.widths},
        "fill": FILL, "loop": not args.no_loop, "min_calls": min_calls,
        "min_chunks": min_chunks, "torch_threads": cores,
        "torch_interop_threads": torch.get_num_interop_threads()},
        peers=common.PEER_PACKAGES)
    print(run.banner(f"torch threads {cores} (and 1)"), flush=True)
    data = collect_random(FILL)
    update_rows, parts = [], {}
    for width in args.widths:
        print(f"# update throughput, width {width}x2, K={ks[width]} (SB3 {sb3_k(ks[width])})",
              flush=True)
        rows, parts[f"updates_{width}x2"] = measure_updates(
            width, ks[width], data, args.seconds, args.quantum, min_calls, cores)
        update_rows += rows
    loop_rows = []
    if not args.no_loop:
        sb3_threads = args.loop_sb3_threads
        if sb3_threads is None:
            rows256 = [r for r in update_rows if r["width"] == 256]
            sb3_threads = (peer_report.best_sb3(rows256, "updates_per_s")["torch_threads"]
                           if rows256 else 1)
        print(f"# training loop, width 256x2 (SB3 with {sb3_threads} torch threads)", flush=True)
        loop_rows, parts["loop_256x2"] = measure_loop(256, args.seconds, min_chunks, cores,
                                                      sb3_threads)
    results = {"update_rows": update_rows, "loop_rows": loop_rows, "load_per_part": parts,
               "ratios": peer_report.compute_ratios(update_rows, loop_rows)}
    record = run.finish(results, peer_report.method(cores, FILL, args.quantum, args.seconds,
                                                    min_calls, min_chunks), args.note)
    results["table_markdown"] = peer_report.markdown(update_rows, loop_rows, record)
    common.write_json(args.out, record)
    print(f"# {record['load']['wall_s']:.0f} s; other processes used "
          f"{100 * (record['load'].get('other_processes_cpu_share') or 0):.0f}% of the CPU; "
          f"wrote {args.out}\n")
    print(results["table_markdown"])
    return record


if __name__ == "__main__":
    main()
