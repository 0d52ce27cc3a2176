"""Plots of the scaling parts, from their records (schema of benchmarks/common.py).

    plot_updates(record, path)   # scaling_updates: updates/s per seed and % of peak vs width
    plot_envs(record, path)      # scaling_envs: env-steps/s and updates/s vs env.num_envs
"""

from __future__ import annotations

import os

from benchmarks.flops import fmt_flops


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _caption(record: dict) -> str:
    """Device, jax, date, and the load around the run."""
    m, load = record["machine"], record["load"]
    before = load["load_average_before"][0]
    shared = m["platform"] == "cpu" and before > 0.5 * m["usable_cores"]
    return (f"{m['device_kind']} ({m['platform']}), jax {record['versions']['jax']}, "
            f"{record['date'][:10]}\n1-min load average {before:.1f} before, "
            f"{load['load_average_after'][0]:.1f} after, on {m['usable_cores']} cores"
            + (" (CPU shared with other processes)" if shared else ""))


def _save(fig, path: str) -> str:
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def _seeds_label(seeds: int) -> str:
    return f"{seeds} seed{'s' if seeds > 1 else ''}"


def plot_updates(record: dict, path: str) -> str:
    plt = _pyplot()
    import matplotlib.ticker

    params, results = record["parameters"], record["results"]
    peak, rows = results["peak"], results["rows"]
    fig, (ax_rate, ax_util) = plt.subplots(1, 2, figsize=(11, 4.2))
    for seeds in params["seeds"]:
        measured = [r for r in rows if r["seeds"] == seeds and r["status"] == "measured"]
        if not measured:
            continue
        w = [r["width"] for r in measured]
        (line,) = ax_rate.plot(w, [r["updates_per_s"] for r in measured], "o-",
                               label=_seeds_label(seeds))
        if peak.get("flop_per_s"):
            ax_util.plot(w, [100 * r["utilisation"] for r in measured], "o-",
                         color=line.get_color(), label=_seeds_label(seeds))
    for ax in (ax_rate, ax_util):
        ax.set_xscale("log", base=2)
        ax.set_xticks(params["widths"], [str(w) for w in params["widths"]])
        ax.set_xlabel("hidden units per layer (2 layers)")
        ax.grid(alpha=0.3, which="both")
    ax_rate.set_yscale("log")
    ax_rate.yaxis.set_major_locator(matplotlib.ticker.LogLocator(10, subs=(1.0, 2.0, 5.0)))
    ax_rate.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax_rate.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax_rate.set_ylabel("SAC updates/s per seed")
    ax_rate.set_title("updates/s per seed (total = seeds x this)")
    ax_util.set_ylabel("achieved matmul FLOP/s, % of peak")
    cpu = record["machine"]["platform"] == "cpu"
    ax_util.set_title(f"FLOP utilisation; peak {fmt_flops(peak.get('flop_per_s'))} "
                      f"{peak.get('precision', '')}"
                      + (" (theoretical)" if cpu else " (datasheet)"), fontsize=10)
    ax_util.set_ylim(bottom=0)
    skipped = [r for r in rows if r["status"] != "measured"]
    if skipped:
        kinds = sorted({r["status"].removeprefix("skipped ").strip("()") for r in skipped})
        text = f"not run ({', '.join(kinds)}):\n" + "\n".join(
            f"{_seeds_label(s)}: width " + ", ".join(
                str(r["width"]) for r in skipped if r["seeds"] == s)
            for s in params["seeds"] if any(r["seeds"] == s for r in skipped))
        ax_util.text(0.98, 0.02, text, transform=ax_util.transAxes, ha="right", va="bottom",
                     fontsize=7, bbox={"facecolor": "white", "alpha": 0.8, "lw": 0.5})
    for ax in (ax_rate, ax_util):
        if ax.lines:
            ax.legend(title="vmapped seeds", fontsize=8)
    net, sizes = params["network"], params["sizes"]
    fig.suptitle(f"SAC, {net['torso']} 2 x width{' + OFENet' if net['ofenet'] else ''}, batch "
                 f"{sizes['batch']}, obs {sizes['obs']}, act {sizes['action']} -- "
                 + _caption(record), fontsize=9)
    path = _save(fig, path)
    plt.close(fig)
    return path


def plot_envs(record: dict, path: str) -> str:
    plt = _pyplot()
    rows = [r for r in record["results"]["rows"] if r["status"] == "measured"]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    n = [r["num_envs"] for r in rows]
    ax.plot(n, [r["random_env_steps_per_s"] for r in rows], "o-", label="env-steps/s, random")
    ax.plot(n, [r["learning_env_steps_per_s"] for r in rows], "s-",
            label="env-steps/s, learning")
    ax.plot(n, [r["updates_per_s"] for r in rows], "^--", label="updates/s, learning")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(n, [str(x) for x in n])
    ax.set_xlabel("env.num_envs")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    cfg = record["parameters"]["config"]
    ax.set_title(f"{cfg['agent'].upper()} {cfg['network']}, {cfg['env']}, updates_per_step "
                 f"{cfg['updates_per_step']} -- " + _caption(record), fontsize=8)
    path = _save(fig, path)
    plt.close(fig)
    return path
