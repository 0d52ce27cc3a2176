"""Analytic FLOPs of one SAC/TD3 update, and the device's peak FLOP/s and free memory.

FLOPs are matrix-multiply FLOPs only (2 per multiply-add): forward = 1x, each of the weight and
input gradients = 1x, identical forwards on the same inputs counted once (XLA CSE), TD3's
delayed actor step counted 1/policy_delay of the time. No elementwise work: FLOP/s computed from
them is *useful* FLOP/s.

Peaks (ofe_jax/aot/peaks.py): on a CPU a theoretical estimate, usable logical cores x the clock
in /proc/cpuinfo x fp32 FLOP/cycle/core of the widest FMA the CPU has; on NVIDIA GPUs the
datasheet's dense FP32 and TF32 tensor-core peaks keyed by `device_kind` (`GPU_PEAKS`).
"""

from __future__ import annotations

from benchmarks.common import cpu_model, meminfo_bytes
from ofe_jax.agents.encoder import ofenet_target_dim
from ofe_jax.aot import peaks

# ----------------------------------------------------------------------------------------------
# FLOPs per update


def _torso(kind: str, units: int, layers: int, d_in: int) -> tuple[list, int]:
    if kind == "mlp":
        return [(d_in, units)] + [(units, units)] * (layers - 1), units
    return [(d_in + i * units, units) for i in range(layers)], d_in + layers * units


def _macs(layers: list, skip_first: bool = False) -> int:
    return sum(i * o for i, o in (layers[1:] if skip_first else layers))


def flops_per_update(config, obs_size: int, action_size: int,
                     delay_fraction: float | None = None, contact_force_size: int = 0) -> int:
    """Analytic matmul FLOPs of one update of one seed of the agent `config` (module docstring).

    delay_fraction: share of updates that run TD3's delayed actor step (default 1/policy_delay).
    contact_force_size: as for `agents.make` (OFENet's target_dim "auto" leaves them out).
    """
    n, o = config.network, config.ofenet
    actor_in, critic_in = obs_size, obs_size + action_size
    ofe_macs = 0.0
    if o.enabled:
        g = o.total_units // o.layers
        phi_o = [(obs_size + i * g, g) for i in range(o.layers)]
        phi_o_out = obs_size + o.layers * g
        phi_oa = [(phi_o_out + action_size + i * g, g) for i in range(o.layers)]
        phi_oa_out = phi_o_out + action_size + o.layers * g
        target = ofenet_target_dim(o.target_dim, obs_size, contact_force_size)
        full = phi_o + phi_oa + [(phi_oa_out, target)]
        # Auxiliary step: forward, weight grads, input grads (none for the raw observation).
        ofe_macs += _macs(full) * 2 + _macs(full, skip_first=True)
        actor_in, critic_in = phi_o_out, phi_oa_out
    actor_torso, h_a = _torso(n.kind, n.units, n.layers, actor_in)
    actor = actor_torso + [(h_a, action_size)] * (2 if config.name == "sac" else 1)
    critic_torso, h_c = _torso(n.kind, n.units, n.layers, critic_in)
    critic = (critic_torso + [(h_c, 1)]) * config.num_critics  # C independent nets
    fa, fc = _macs(actor), _macs(critic)
    critic_step = fc * 2 + _macs(critic, skip_first=True)  # fwd, weight grads, inner input grads
    actor_step = fa * 2 + _macs(actor, skip_first=True) + fc * 2  # + critic fwd and input grads
    if config.name == "sac":
        # pi(s') fwd, Q'(s', a') fwd, critic step, actor step (through Q(s, pi(s))).
        macs = fa + fc + critic_step + actor_step
        if o.enabled:  # phi_o(s'), phi_o(s); phi_oa(s', a'), (s, a), (s, pi(s)) + its input grads
            macs += 2 * _macs(phi_o) + 4 * _macs(phi_oa)
    else:
        f = 1.0 / config.policy_delay if delay_fraction is None else delay_fraction
        macs = fa + fc + critic_step + f * actor_step
        if o.enabled:  # as SAC; the delayed branch recomputes phi_o(s) (no CSE across cond)
            macs += (2 + f) * _macs(phi_o) + (2 + 3 * f) * _macs(phi_oa)
    macs += ofe_macs
    return round(2 * config.batch_size * macs)


def fmt_flops(x: float | None) -> str:
    if x is None:
        return "n/a"
    for unit, scale in (("TFLOP/s", 1e12), ("GFLOP/s", 1e9)):
        if x >= scale:
            return f"{x / scale:,.1f} {unit}"
    return f"{x / 1e6:,.1f} MFLOP/s"


# ----------------------------------------------------------------------------------------------
# Device peaks (the table and the CPU estimate live in the library: ofe_jax/aot/peaks.py)


def cpu_peak() -> dict:
    return {**peaks.cpu_peak(), "cpu": cpu_model()}


def gpu_peak(device_kind: str) -> dict:
    import jax

    precision = str(jax.config.jax_default_matmul_precision).lower()
    fp32_matmuls = precision in ("highest", "float32")
    known = peaks.gpu_peaks(device_kind)
    if known is None:
        return {"flop_per_s": None, "kind": f"unknown: no peak listed for {device_kind!r}",
                "source": "add it to GPU_PEAKS in ofe_jax/aot/peaks.py"}
    fp32, tf32 = known["fp32"], known["tf32"]
    return {
        "flop_per_s": fp32 if fp32_matmuls else tf32, "precision": "fp32" if fp32_matmuls
        else "tf32", "kind": "vendor datasheet peak (dense, boost clock)",
        "product": known["product"], "fp32_flop_per_s": fp32, "tf32_dense_flop_per_s": tf32,
        "bf16_dense_flop_per_s": known["bf16"], "source": known["source"],
        "note": ("utilisation is against the TF32 tensor-core peak because JAX's "
                 "default matmul precision lets XLA use TF32 for float32 matmuls on "
                 f"this GPU; against dense FP32: multiply by {tf32 / fp32:.2f}"
                 if not fp32_matmuls else
                 "jax_default_matmul_precision asks for full float32: FP32 peak"),
    }


def device_peak(device) -> dict:
    if device.platform == "cpu":
        return cpu_peak()
    return gpu_peak(device.device_kind)


def free_memory_bytes(device) -> int | None:
    """Bytes the device can still allocate: MemAvailable on a CPU, bytes_limit - in use else."""
    if device.platform == "cpu":
        return meminfo_bytes("MemAvailable")
    stats = device.memory_stats() or {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    return None
