"""Compilation targets of the plan: the CPU this runs on, or an NVIDIA GPU that need not be here.

    target = targets.load("h100")        # "cpu" | "h100" | "h200" | "a100" | a target-config file
    sharding = target.sharding()         # where the programs' abstract arguments live

A GPU target is compiled for without a GPU ("deviceless" ahead-of-time compilation): JAX's CUDA
plugin (`pip install -e '.[plan]'`) builds a topology from a `GpuTargetConfigProto` text proto
(`targets/*.txtpb`, shipped with the package; any other with `--device=<file>`), and
`jax.jit(f).lower(<arguments sharded on that topology>).compile()` runs XLA's GPU compiler here.
JAX must run with `JAX_PLATFORMS=cpu` (`ofe_jax.plan` sets it): otherwise the plugin's start-up
calls cuInit, which fails without a GPU.

The projection's constants (aot/model.py) are per target and sourced: peak FLOP/s (datasheets,
aot/peaks.py), memory bandwidth and size (the target config), a kernel-launch cost and a
host-synchronisation cost (see LAUNCH_S, SYNC_S).
"""

from __future__ import annotations

import dataclasses
import os
import re
from importlib import metadata

from ofe_jax.aot import peaks
from ofe_jax.errors import UserError

TARGET_DIR = os.path.join(os.path.dirname(__file__), "targets")
SHIPPED = {"h100": "h100.txtpb", "h200": "h200.txtpb", "a100": "a100.txtpb"}
PLUGIN_HINT = ("pip install -e '.[plan]' (JAX's CUDA plugin, jax[cuda12] at the installed jax "
               "version; about 3 GB)")

# Host-side cost of one kernel launch when kernels are too short to hide it (XLA:GPU launches
# every fusion and library call from the host). NVIDIA's "Getting Started with CUDA Graphs"
# (developer.nvidia.com/blog/cuda-graphs, V100): a 2.9 us kernel took 3.8 us per kernel launched
# back to back; launch latency measured at 4-6 us per launch on an RTX 5070 Ti (susun-blog.com,
# "pegainfer (3): From Launch Overhead to CUDA Graph"). We take 4 us.
LAUNCH_S = 4e-6
# One host synchronisation: XLA:GPU copies the predicate of a `conditional` and of each `while`
# iteration to the host and waits for it, which drains the GPU's queue. The same blog: 9.6 us
# per kernel with a stream synchronisation after each (vs 3.8 us without): ~6 us for the
# synchronisation and the queue refilling, plus a small device-to-host copy. We take 10 us.
SYNC_S = 10e-6
# On a CPU nothing is launched and XLA:CPU runs loops natively; host callbacks (C MuJoCo) are
# costed by their measured work instead (aot/physics.py).
CPU_LAUNCH_S = 0.0
CPU_SYNC_S = 0.0
# JAX preallocates this fraction of a GPU's memory (XLA_PYTHON_CLIENT_MEM_FRACTION's default).
PREALLOCATION = 0.75


@dataclasses.dataclass(frozen=True)
class Target:
    name: str  # "cpu", "h100", ..., or the file's name
    platform: str  # "cpu" | "cuda"
    device_kind: str
    memory_bytes: int  # device memory (the host's RAM for "cpu")
    usable_fraction: float  # of memory_bytes a run may use (JAX's preallocation on GPUs)
    bandwidth: float  # bytes/s of device memory
    host_bandwidth: float  # bytes/s between device and host (PCIe), for checkpoints
    peaks: dict  # {"fp32", "tf32", "bf16"} FLOP/s (dense); None where unknown
    launch_s: float
    sync_s: float
    sources: dict  # where each constant comes from
    config_text: str | None = None  # the target config handed to JAX (GPU targets)

    def topology(self):
        """The deviceless topology of one device of this target (GPU targets)."""
        return _topology(self)

    def sharding(self):
        """The single-device sharding the programs' arguments get for this target."""
        import jax
        from jax.sharding import NamedSharding, PartitionSpec

        if self.platform == "cpu":
            return jax.sharding.SingleDeviceSharding(jax.local_devices(backend="cpu")[0])
        from jax.experimental import topologies

        mesh = topologies.make_mesh(self.topology(), (1,), ("devices",))
        return NamedSharding(mesh, PartitionSpec())

    def peak_for(self, precision: str) -> float | None:
        """FLOP/s of float32 matmuls at `precision` ("default" | "tensorfloat32" | "highest")
        or of bfloat16 ("bfloat16"). JAX's default lets XLA:GPU use TF32 tensor cores for
        float32 matmuls on Ampere and newer; "highest" asks for true float32."""
        if self.platform == "cpu":
            return self.peaks["fp32"]
        key = {"highest": "fp32", "bfloat16": "bf16"}.get(precision, "tf32")
        return self.peaks.get(key) or self.peaks["fp32"]


_TOPOLOGIES: dict = {}


def _topology(target: Target):
    """jax.experimental.topologies (an experimental API: isolated here and tested in
    tests/test_plan.py::test_deviceless_h100_compile, which fails loudly if it changes)."""
    if target.name not in _TOPOLOGIES:
        from jax.experimental import topologies

        try:
            _TOPOLOGIES[target.name] = topologies.get_topology_desc(
                platform="cuda", target_config=target.config_text, topology="1x1x1")
        except Exception as e:  # noqa: BLE001 - the plugin raises several kinds
            raise UserError(f"cannot compile for {target.name} here: "
                            f"{_first_line(e)}; is JAX_PLATFORMS=cpu set?") from e
    return _TOPOLOGIES[target.name]


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


def cuda_plugin_version() -> str | None:
    for name in ("jax-cuda12-plugin", "jax-cuda13-plugin"):
        try:
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return None


def _wheel_versions() -> dict[str, tuple[int, ...]]:
    """(major, minor[, patch]) of the installed CUDA runtime and cuDNN wheels."""
    out = {}
    for key, names in (("runtime", ("nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime")),
                       ("dnn", ("nvidia-cudnn-cu12", "nvidia-cudnn-cu13"))):
        for name in names:
            try:
                out[key] = tuple(int(x) for x in metadata.version(name).split(".")[:3])
                break
            except (metadata.PackageNotFoundError, ValueError):
                continue
    return out


def _version_fields(text: str) -> str:
    """runtime_version / dnn_version_info matching the installed wheels, where the config
    lacks them (XLA checks the kernels it emits against them)."""
    versions, extra = _wheel_versions(), ""
    for field, key in (("runtime_version", "runtime"), ("dnn_version_info", "dnn")):
        if re.search(rf"^{field}\s*{{", text, re.M) is None and key in versions:
            major, minor = (versions[key] + (0, 0))[:2]
            extra += f"{field} {{\n  major: {major}\n  minor: {minor}\n}}\n"
    return extra


def _field(text: str, name: str, cast=float):
    match = re.search(rf"^\s*{name}:\s*\"?([^\"\n]+)\"?\s*$", text, re.M)
    return cast(match.group(1)) if match else None


def _gpu_target(name: str, text: str, source: str) -> Target:
    kind = _field(text, "device_description_str", str) or _field(text, "name", str) or name
    memory, bandwidth = _field(text, "device_memory_size", int), _field(text, "memory_bandwidth")
    if not memory or not bandwidth:
        raise UserError(f"target config {source} lacks gpu_device_info.device_memory_size or "
                        f"memory_bandwidth")
    known = peaks.gpu_peaks(kind)
    cores, fpus, clock = (_field(text, f) for f in ("core_count", "fpus_per_core",
                                                    "clock_rate_ghz"))
    fp32 = cores * fpus * 2 * clock * 1e9 if cores and fpus and clock else None
    table = known or {"fp32": fp32, "tf32": None, "bf16": None,
                      "source": "FP32 from the target config: core_count x fpus_per_core x 2 "
                                "x clock_rate_ghz; no tensor-core peak known for this device"}
    if table["fp32"] is None:
        raise UserError(f"target config {source}: no peak FLOP/s known for {kind!r} and the "
                        f"config lacks core_count / fpus_per_core / clock_rate_ghz")
    return Target(
        name=name, platform="cuda", device_kind=kind, memory_bytes=memory,
        usable_fraction=PREALLOCATION, bandwidth=bandwidth,
        host_bandwidth=_field(text, "pcie_bandwidth") or 32e9,
        peaks={k: table[k] for k in ("fp32", "tf32", "bf16")}, launch_s=LAUNCH_S,
        sync_s=SYNC_S, config_text=text + _version_fields(text),
        sources={"device": source, "peaks": table["source"],
                 "bandwidth": "gpu_device_info.memory_bandwidth of the target config",
                 "host_bandwidth": "pcie_bandwidth of the config, else PCIe 4 x16 (32 GB/s)",
                 "launch_s": "targets.LAUNCH_S (docstring: sources)",
                 "sync_s": "targets.SYNC_S (docstring: sources)",
                 "memory": f"device_memory_size x {PREALLOCATION} (JAX's preallocation)"})


def _cpu_target() -> Target:
    peak = peaks.cpu_peak()
    memory = peaks.meminfo_bytes("MemTotal") or 0
    return Target(
        name="cpu", platform="cpu", device_kind="cpu", memory_bytes=memory, usable_fraction=1.0,
        bandwidth=20e9, host_bandwidth=float("inf"),
        peaks={"fp32": peak["flop_per_s"], "tf32": None, "bf16": None},
        launch_s=CPU_LAUNCH_S, sync_s=CPU_SYNC_S,
        sources={"device": "this machine", "peaks": peak["formula"] + " (aot/peaks.py)",
                 "bandwidth": "20 GB/s: a nominal DRAM bandwidth for a few server cores "
                              "(not measured)",
                 "memory": "MemTotal of /proc/meminfo", "launch_s": "0: nothing is launched",
                 "sync_s": "0: XLA:CPU runs loops and branches natively"})


def needs_plugin(device: str) -> bool:
    return device != "cpu"


def load(device: str) -> Target:
    """The target named `device` ("cpu", a key of SHIPPED, or a target-config file)."""
    if device == "cpu":
        return _cpu_target()
    if device in SHIPPED:
        path, name = os.path.join(TARGET_DIR, SHIPPED[device]), device
    elif os.path.isfile(device):
        path, name = device, os.path.basename(device)
    else:
        raise UserError(f"--device must be cpu, one of {sorted(SHIPPED)} or a GpuTargetConfig "
                        f"text-proto file; got {device!r} (no such file)")
    if cuda_plugin_version() is None:
        raise UserError(f"--device={device} compiles for an NVIDIA GPU and needs JAX's CUDA "
                        f"plugin, which is not installed: {PLUGIN_HINT}")
    with open(path) as f:
        text = f.read()
    return _gpu_target(name, text, os.path.relpath(path) if device not in SHIPPED
                       else f"ofe_jax/aot/targets/{SHIPPED[device]}")
