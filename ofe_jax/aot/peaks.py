"""Peak FLOP/s of devices: NVIDIA datasheets for GPUs (keyed by jax's `device_kind`), a
theoretical estimate for the CPU this runs on. Used by the plan's projection (`aot/model.py`)
and by the benchmarks' utilisation figures (`benchmarks/flops.py`). Pure Python, no jax."""

from __future__ import annotations

import os
import statistics

# (substring of jax's device_kind, product, dense FP32 FLOP/s (CUDA cores), dense TF32 and
# dense BF16 tensor-core FLOP/s (the datasheets quote tensor cores "with sparsity": 2x these),
# source). First match wins: the specific variants (NVL, PCIe) come before the plain name.
GPU_PEAKS = (
    ("H200 NVL", "H200 NVL", 60e12, 417.5e12, 835e12,
     "NVIDIA H200 datasheet: FP32 60 TFLOPS, TF32 835 and BF16 1,671 TFLOPS with sparsity"),
    ("H200", "H200 SXM", 67e12, 494.7e12, 989.4e12,
     "NVIDIA H200 datasheet: FP32 67 TFLOPS, TF32 989 and BF16 1,979 TFLOPS with sparsity"),
    ("H100 NVL", "H100 NVL", 60e12, 417.5e12, 835e12,
     "NVIDIA H100 datasheet: FP32 60 TFLOPS, TF32 835 and BF16 1,671 TFLOPS with sparsity"),
    ("H100 PCIe", "H100 PCIe", 51.2e12, 378e12, 756e12,
     "NVIDIA H100 datasheet / Hopper whitepaper: FP32 51.2, TF32 756, BF16 1,513 TFLOPS "
     "with sparsity"),
    ("H100", "H100 SXM5", 66.9e12, 494.7e12, 989.4e12,
     "NVIDIA H100 datasheet / Hopper whitepaper: FP32 66.9, TF32 989.4, BF16 1,979 TFLOPS "
     "with sparsity"),
    ("A100", "A100 SXM4 80GB", 19.5e12, 156e12, 312e12,
     "NVIDIA A100 datasheet: FP32 19.5 TFLOPS, TF32 312 and BF16 624 TFLOPS with sparsity"),
)


def gpu_peaks(device_kind: str) -> dict | None:
    """{"product", "fp32", "tf32", "bf16" (FLOP/s, dense), "source"} of a GPU, or None."""
    for key, product, fp32, tf32, bf16, source in GPU_PEAKS:
        if key.lower() in device_kind.lower():
            return {"product": product, "fp32": fp32, "tf32": tf32, "bf16": bf16,
                    "source": source}
    return None


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


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_peak() -> dict:
    """The CPU's theoretical fp32 FLOP/s: usable cores x clock x FLOP/cycle/core."""
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
        "vendor": info["vendor"], "family": info["family"],
        "source": ("cores: os.sched_getaffinity; clock: mean 'cpu MHz' in /proc/cpuinfo; "
                   "FLOP/cycle: from the ISA flags in /proc/cpuinfo (see isa)"),
        "caveats": ("'cpu MHz' is the clock the kernel reports (in a VM usually the nominal/"
                    "TSC clock); boost clocks can be higher, so utilisation above 100% is "
                    "possible. In a VM the vCPUs may be SMT siblings sharing one core's FMA "
                    "pipes, which would halve the real peak. Matmuls only: XLA's elementwise "
                    "work is not counted in the achieved FLOP/s."),
    }


def meminfo_bytes(field: str) -> int | None:
    """A /proc/meminfo field ("MemTotal", "MemAvailable") in bytes, None where unreadable."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
