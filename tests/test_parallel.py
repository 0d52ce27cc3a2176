"""Seeds and data axes on a device mesh. The multi-device checks run in a subprocess with
XLA_FLAGS=--xla_force_host_platform_device_count=4, so the rest of the suite keeps one device."""

import os
import subprocess
import sys

import pytest

from ofe_jax.config import defaults as default
from ofe_jax.config import validation
from ofe_jax.training import mesh


def test_sharded_runs_on_four_cpu_devices():
    here = os.path.dirname(__file__)
    result = subprocess.run([sys.executable, os.path.join(here, "_parallel_checks.py")],
                            capture_output=True, text=True, timeout=900, cwd=here)
    lines = [line for line in result.stdout.splitlines() if line.startswith("ok ")]
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert lines == ["ok seeds_sharded_equals_one_device",
                     "ok data_parallel_update_equals_global_batch",
                     "ok data_parallel_training_runs"]


@pytest.mark.parametrize("overrides,message", [
    ({"seeds": 3, "parallel.seeds_devices": 2},
     "parallel.seeds_devices=2 does not divide seeds=3"),
    ({"env.num_envs": 3, "parallel.data_devices": 2},
     "parallel.data_devices=2 does not divide env.num_envs=3"),
    ({"env.num_envs": 2, "parallel.data_devices": 4, "replay.prioritized": True},
     "prioritised replay on a data axis of 4 devices needs at least as many envs, got "
     "env.num_envs=2"),
    ({"parallel.num_processes": 2},
     "parallel.num_processes=2 needs parallel.coordinator_address"),
    ({"parallel.heartbeat_timeout_s": 0}, "parallel.heartbeat_timeout_s must be an int >= 1"),
    ({"parallel.seeds_devices": 4, "parallel.data_devices": 2, "seeds": 4, "env.num_envs": 2},
     "parallel.seeds_devices x parallel.data_devices = 4 x 2 = 8 devices, but only 4"),
])
def test_bad_mesh_names_the_numbers(overrides, message):
    c = default.get_config()
    for field, value in overrides.items():
        section, _, name = field.rpartition(".")
        (c[section] if section else c)[name] = value
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validation.validate_mesh(c, device_count=4)


def test_one_device_needs_no_mesh():
    assert mesh.make_mesh(default.get_config()) is None
