"""Analytic FLOPs of one SAC/TD3 update, and the device's peak FLOP/s and free memory.

FLOPs are matrix-multiply FLOPs only (2 per multiply-add): forward = 1x, each of the weight and
input gradients = 1x, identical forwards on the same inputs counted once (XLA CSE), TD3's
delayed actor step counted 1/policy_delay of the time. No elementwise work: FLOP/s computed from
them is *useful* FLOP/s.

Peaks: on a CPU a theoretical estimate, usable logical cores x the clock in /proc/cpuinfo x
fp32 FLOP/cycle/core of the widest FMA the CPU has (`cpu_peak`); on NVIDIA GPUs the datasheet's
dense FP32 and TF32 tensor-core peaks keyed by `device_kind` (`GPU_PEAKS`).
"""

from __future__ import annotations

import statistics

from benchmarks.common import cpu_model, meminfo_bytes, usable_cores

# ----------------------------------------------------------------------------------------------
# FLOPs per update


def _torso(kind: str, units: int, layers: int, d_in: int) -> tuple[list, int]:
    if kind == "mlp":
        return [(d_in, units)] + [(units, units)] * (layers - 1), units
    return [(d_in + i * units, units) for i in range(layers)], d_in + layers * units


def _macs(layers: list, skip_first: bool = False) -> int:
    return sum(i * o for i, o in (layers[1:] if skip_first else layers))


def flops_per_update(config, obs_size: int, action_size: int,
                     delay_fraction: float | None = None) -> int:
    """Analytic matmul FLOPs of one update of one seed of the agent `config` (module docstring).

    delay_fraction: share of updates that run TD3's delayed actor step (default 1/policy_delay).
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
        target = o.target_dim if o.target_dim > 0 else obs_size
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
# Device peaks

# (substring of jax's device_kind, product, dense FP32 FLOP/s (CUDA cores), dense TF32
# tensor-core FLOP/s (the datasheets quote TF32 "with sparsity": 2x these), source).
# First match wins: the specific variants (NVL, PCIe) come before the plain name.
GPU_PEAKS = (
    ("H200 NVL", "H200 NVL", 60e12, 417.5e12,
     "NVIDIA H200 datasheet: FP32 60 TFLOPS, TF32 Tensor Core 835 TFLOPS with sparsity"),
    ("H200", "H200 SXM", 67e12, 494.7e12,
     "NVIDIA H200 datasheet: FP32 67 TFLOPS, TF32 Tensor Core 989 TFLOPS with sparsity"),
    ("H100 NVL", "H100 NVL", 60e12, 417.5e12,
     "NVIDIA H100 datasheet: FP32 60 TFLOPS, TF32 Tensor Core 835 TFLOPS with sparsity"),
    ("H100 PCIe", "H100 PCIe", 51.2e12, 378e12,
     "NVIDIA H100 datasheet / Hopper whitepaper: FP32 51.2 TFLOPS, TF32 756 with sparsity"),
    ("H100", "H100 SXM5", 66.9e12, 494.7e12,
     "NVIDIA H100 datasheet / Hopper whitepaper: FP32 66.9 TFLOPS, TF32 989.4 with sparsity"),
)


def _cpuinfo() -> dict:
    """vendor, family, flags and the mean 'cpu MHz' of the first /proc/cpuinfo entries."""
    info = {"vendor": "", "family": None, "flags": set(), "mhz": []}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = (part.strip() for part in line.partition(":"))
                if key == "vendor_id":
                    info["vendor"] = value
                elif key == "cpu family" and info["family"] is None:
                    info["family"] = int(value)
                elif key == "flags" and not info["flags"]:
                    info["flags"] = set(value.split())
                elif key == "cpu MHz":
                    info["mhz"].append(float(value))
    except OSError:
        pass
    return info


def cpu_fp32_flop_per_cycle(vendor: str, family: int | None, flags: set) -> tuple[int, str]:
    """fp32 FLOP per cycle per core of the widest FMA (2 FLOP per lane), assuming 2 FMA pipes."""
    if "avx512f" in flags:
        if vendor == "AuthenticAMD" and (family or 0) < 26:
            return 32, ("AVX-512 on AMD Zen 4 (family 25): executed on 2 x 256-bit FMA pipes = "
                        "16 fp32 FMA lanes x 2 FLOP = 32 FLOP/cycle/core")
        return 64, ("AVX-512 with 2 x 512-bit FMA pipes (Intel server cores, AMD Zen 5) = 32 "
                    "fp32 FMA lanes x 2 FLOP = 64 FLOP/cycle/core (parts with one 512-bit FMA "
                    "pipe have half)")
    if "avx2" in flags and "fma" in flags:
        return 32, "AVX2 + FMA: 2 x 256-bit FMA pipes = 16 fp32 lanes x 2 FLOP = 32"
    if "avx" in flags:
        return 16, "AVX without FMA: 256-bit add + 256-bit multiply = 16"
    return 8, "SSE: 128-bit add + 128-bit multiply = 8"


def cpu_peak() -> dict:
    info = _cpuinfo()
    cores = usable_cores()
    mhz = statistics.mean(info["mhz"]) if info["mhz"] else float("nan")
    per_cycle, isa = cpu_fp32_flop_per_cycle(info["vendor"], info["family"], info["flags"])
    peak = cores * mhz * 1e6 * per_cycle
    return {
        "flop_per_s": peak, "precision": "fp32",
        "kind": "theoretical estimate (not measured)",
        "formula": f"{cores} usable cores x {mhz:.0f} MHz x {per_cycle} FLOP/cycle/core "
                   f"= {peak / 1e9:.1f} GFLOP/s",
        "cores": cores, "clock_mhz": mhz, "flop_per_cycle_per_core": per_cycle, "isa": isa,
        "cpu": cpu_model(), "vendor": info["vendor"], "family": info["family"],
        "source": ("cores: os.sched_getaffinity; clock: mean 'cpu MHz' in /proc/cpuinfo; "
                   "FLOP/cycle: from the ISA flags in /proc/cpuinfo (see isa)"),
        "caveats": ("'cpu MHz' is the clock the kernel reports (in a VM usually the nominal/"
                    "TSC clock); boost clocks can be higher, so utilisation above 100% is "
                    "possible. In a VM the vCPUs may be SMT siblings sharing one core's FMA "
                    "pipes, which would halve the real peak. Matmuls only: XLA's elementwise "
                    "work is not counted in the achieved FLOP/s."),
    }


def gpu_peak(device_kind: str) -> dict:
    import jax

    precision = str(jax.config.jax_default_matmul_precision).lower()
    fp32_matmuls = precision in ("highest", "float32")
    for key, product, fp32, tf32, source in GPU_PEAKS:
        if key.lower() in device_kind.lower():
            primary = fp32 if fp32_matmuls else tf32
            return {
                "flop_per_s": primary, "precision": "fp32" if fp32_matmuls else "tf32",
                "kind": "vendor datasheet peak (dense, boost clock)",
                "product": product, "fp32_flop_per_s": fp32, "tf32_dense_flop_per_s": tf32,
                "source": source,
                "note": ("utilisation is against the TF32 tensor-core peak because JAX's "
                         "default matmul precision lets XLA use TF32 for float32 matmuls on "
                         "this GPU; against dense FP32: multiply by "
                         f"{tf32 / fp32:.2f}" if not fp32_matmuls else
                         "jax_default_matmul_precision asks for full float32: FP32 peak"),
            }
    return {"flop_per_s": None, "kind": f"unknown: no peak listed for {device_kind!r}",
            "source": "add it to GPU_PEAKS in benchmarks/flops.py"}


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
