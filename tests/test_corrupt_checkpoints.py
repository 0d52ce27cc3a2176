"""Damaged checkpoints and a video without its OpenGL library: each is one `error:` line (the
step, the damaged file, what to do), a non-zero exit, no traceback from any thread, and
nothing changed on disk. One finished quick-start run is shared (tests/_cli.py); each case
corrupts a copy of it."""

import ctypes.util
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ofe_jax
from _cli import SHORT, cli_env, digest, finished_quickstart
from ofe_jax.checkpoint import Checkpointer
from ofe_jax.errors import CheckpointError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEP = "checkpoints/600"  # the newest checkpoint of the finished run; the previous one is 400


@pytest.fixture(scope="module")
def finished(tmp_path_factory, worker_id):
    return finished_quickstart(tmp_path_factory, worker_id)  # read-only: cases copy it


def largest(directory: str) -> str:
    files = [os.path.join(r, n) for r, _, names in os.walk(directory) for n in names]
    return max(files, key=os.path.getsize)


def zero_64_bytes(path: str) -> None:
    with open(path, "r+b") as f:
        f.write(bytes(64))


def garble(path: str) -> None:
    with open(path, "wb") as f:
        f.write(b"\x00not json{")


def carry_data(workdir: str) -> str:
    return largest(os.path.join(workdir, STEP, "carry", "ocdbt.process_0", "d"))


def policy_data(workdir: str) -> str:
    return largest(os.path.join(workdir, STEP, "policy", "ocdbt.process_0", "d"))


def halve(path: str) -> None:
    os.truncate(path, os.path.getsize(path) // 2)


def in_step(*parts: str):
    """workdir -> a path in the newest checkpoint."""
    return lambda workdir: os.path.join(workdir, STEP, *parts)


# case -> (the damaged path of a workdir, what is done to it, "what is wrong" in the message)
RESUME_CASES = {
    "zeroed data file": (carry_data, zero_64_bytes, "cannot be decoded"),
    "truncated data file": (carry_data, halve, "is truncated"),
    "deleted manifest": (in_step("carry", "manifest.ocdbt"), os.remove, "is missing"),
    "garbled manifest": (in_step("carry", "manifest.ocdbt"), garble, "cannot be decoded"),
}


def copy_of(finished: str, tmp_path) -> str:
    workdir = str(tmp_path / "run")
    shutil.copytree(finished, workdir)
    return workdir


def assert_unchanged(before: dict, workdir: str, finished: str) -> None:
    """Every file as it was, config.json included (a run records its config only once its
    checkpoint has been read: training/workdir.record_config)."""
    assert digest(workdir) == before


def one_error_line(stderr: str, workdir: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr[-3000:]
    assert len(lines[0].replace(workdir, "W")) <= 200, lines[0]
    return lines[0]


def resume(workdir: str, **env) -> subprocess.CompletedProcess:
    """The quick start again with a longer total_steps: it resumes from the newest checkpoint."""
    return subprocess.run([sys.executable, "-m", "ofe_jax.main", "--config=configs/quickstart.py",
                           f"--workdir={workdir}", *SHORT, "--config.total_steps=800"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env=cli_env(**env))


@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_a_damaged_checkpoint_stops_the_resume_with_one_line(finished, tmp_path, case):
    target, corrupt, problem = RESUME_CASES[case]
    workdir = copy_of(finished, tmp_path)
    damaged = target(workdir)  # before the corruption (it may change which file is largest)
    corrupt(damaged)
    damaged = os.path.relpath(damaged, os.path.join(workdir, STEP))
    before = digest(workdir)
    dump = tmp_path / "xla"  # the HLO of every program compiled
    result = resume(workdir, XLA_FLAGS=f"--xla_dump_to={dump}")
    assert result.returncode == 1, result.stderr[-3000:]
    line = one_error_line(result.stderr, workdir)
    assert line == (f"error: checkpoint step 600 is damaged ({damaged} {problem}); move "
                    f"{workdir}/{STEP} away to resume from step 400")
    assert_unchanged(before, workdir, finished)
    # It stops before compiling a chunk (a resume that goes on dumps jit_learn_chunk modules).
    compiled = os.listdir(dump) if dump.exists() else []
    assert not [name for name in compiled if "chunk" in name or "pretrain" in name]


def test_an_empty_step_directory_is_the_newest_checkpoint_and_named(finished, tmp_path):
    """An empty checkpoints/800 (no files at all): latest_step() says 800 without failing, and
    the resume stops naming it, with step 600 to resume from."""
    workdir = copy_of(finished, tmp_path)
    os.mkdir(os.path.join(workdir, "checkpoints", "800"))
    checkpoints = Checkpointer(os.path.join(workdir, "checkpoints"), create=False)
    try:
        assert checkpoints.latest_step() == 800 and checkpoints.all_steps() == [400, 600, 800]
    finally:
        checkpoints.close()
    before = digest(workdir)
    result = resume(workdir)
    assert result.returncode == 1
    assert one_error_line(result.stderr, workdir) == (
        f"error: checkpoint step 800 is damaged (its directory is empty); move "
        f"{workdir}/checkpoints/800 away to resume from step 600")
    assert_unchanged(before, workdir, finished)


@pytest.mark.parametrize("case", ["zeroed policy data file", "garbled policy_meta"])
def test_evaluate_of_a_damaged_policy_artifact_is_one_line(finished, tmp_path, case):
    workdir = copy_of(finished, tmp_path)
    if case == "garbled policy_meta":
        damaged, problem = f"{workdir}/{STEP}/policy_meta/metadata", "is not valid JSON"
        garble(damaged)
    else:
        damaged, problem = policy_data(workdir), "cannot be decoded"
        zero_64_bytes(damaged)
    before = digest(workdir)
    result = subprocess.run([sys.executable, "-m", "ofe_jax.evaluate", f"--workdir={workdir}",
                             "--episodes=1"], capture_output=True, text=True, timeout=300,
                            cwd=ROOT)
    assert result.returncode == 1 and result.stdout == ""
    rel = os.path.relpath(damaged, os.path.join(workdir, STEP))
    assert one_error_line(result.stderr, workdir) == (
        f"error: checkpoint step 600 is damaged ({rel} {problem}); read step 400 instead, "
        f"or move {workdir}/{STEP} away")
    assert digest(workdir) == before


def without_env(path: str) -> None:
    with open(path, "w") as f:
        json.dump({"format": 2}, f)  # valid JSON, but not the artifact's


LOAD_CASES = {  # as RESUME_CASES
    "truncated policy data file": (policy_data, halve, "is truncated"),
    "deleted policy_meta": (in_step("policy_meta", "metadata"), os.remove, "is missing"),
    "policy_meta without env": (in_step("policy_meta", "metadata"), without_env, "has no env"),
    "garbled _METADATA": (in_step("policy", "_METADATA"), garble, "is not valid JSON"),
    "deleted policy/": (in_step("policy"), shutil.rmtree, "is missing"),
}


@pytest.mark.parametrize("case", list(LOAD_CASES))
def test_load_policy_of_a_damaged_artifact_raises_one_line(finished, tmp_path, case):
    target, corrupt, problem = LOAD_CASES[case]
    workdir = copy_of(finished, tmp_path)
    damaged = target(workdir)
    corrupt(damaged)
    rel = os.path.relpath(damaged, os.path.join(workdir, STEP))
    rel += "/" if case == "deleted policy/" else ""  # a directory is named with its slash
    before = digest(workdir)
    with pytest.raises(CheckpointError) as raised:
        ofe_jax.load_policy(workdir)
    message = str(raised.value)
    assert "\n" not in message and len(message.replace(workdir, "W")) <= 200, message
    assert message == (f"checkpoint step 600 is damaged ({rel} {problem}); read step 400 "
                       f"instead, or move {workdir}/{STEP} away")
    assert digest(workdir) == before
    assert ofe_jax.load_policy(workdir, step=400).step == 400  # the previous one is whole


@pytest.mark.parametrize("change", ["deleted", "garbled"])
def test_a_step_without_its_checkpoint_metadata_still_reads_whole(finished, tmp_path, change):
    """_CHECKPOINT_METADATA holds timestamps and handler names only: without it (or with it
    garbled) every array reads back as written, so the checkpoint is used, not refused."""
    workdir = copy_of(finished, tmp_path)
    path = os.path.join(workdir, STEP, "_CHECKPOINT_METADATA")
    if change == "deleted":
        os.remove(path)
    else:
        garble(path)
    obs = np.linspace(-1, 1, 4 * 8, dtype=np.float32).reshape(8, 4)
    policy, reference = ofe_jax.load_policy(workdir), ofe_jax.load_policy(finished)
    assert policy.step == 600
    np.testing.assert_array_equal(policy(obs), reference(obs))


ABANDONED_READS = textwrap.dedent("""
    import os, sys, time
    import jax, jax.numpy as jnp, numpy as np
    from absl import logging
    from ofe_jax.checkpoint import Checkpointer
    from ofe_jax.errors import CheckpointError
    logging.set_verbosity(logging.ERROR)
    directory = sys.argv[1]
    tree = {f"a{i}": jnp.asarray(np.random.default_rng(i).standard_normal((500, 500)),
                                 jnp.float32) for i in range(8)}
    writer = Checkpointer(directory)
    writer.save(1, tree, {"p": jnp.ones(3)}, {"a": 1})
    writer.wait()
    writer.close()
    data = os.path.join(directory, "1", "carry", "ocdbt.process_0", "d")
    files = sorted((os.path.join(data, n) for n in os.listdir(data)), key=os.path.getsize)
    with open([f for f in files if os.path.getsize(f) > 100_000][0], "r+b") as f:
        f.write(bytes(64))  # the smallest large file: it fails while the others are read
    reader = Checkpointer(directory, create=False)
    try:
        reader.restore_carry({k: jax.ShapeDtypeStruct(v.shape, v.dtype) for k, v in tree.items()})
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
    reader.close()
    time.sleep(1)  # the process goes on (a notebook, say) while the abandoned reads end
""")


def test_a_failed_restore_leaves_no_traceback_from_its_abandoned_reads(tmp_path):
    """A restore that fails on one array while others are still being read: orbax closes its
    event loop under them, and as they end each would print a RuntimeError traceback ("Event
    loop is closed", from TensorStore's threads), before or after the error line (without
    checkpoint._silence_abandoned_reads: 1 to 14 of them in each of 5 runs here)."""
    # JAX_PLATFORMS=cpu: where the [plan] extra's CUDA plugin is installed on a machine without
    # a GPU, JAX logs its failed start-up (cuInit error 303) on stderr, which is not ours
    result = subprocess.run([sys.executable, "-c", ABANDONED_READS, str(tmp_path / "ck")],
                            capture_output=True, text=True, timeout=300, cwd=ROOT,
                            env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if not line.startswith(("W0000",
                                                                                "I0000"))]
    assert len(lines) == 1 and lines[0].startswith("error: checkpoint step 1 is damaged ("), (
        result.stderr[-3000:])
    assert "cannot be decoded); it is the only checkpoint" in lines[0]


@pytest.mark.parametrize("backend", ["osmesa", "bogus"])
def test_a_video_without_its_gl_library_is_one_line_after_the_scores(finished, tmp_path,
                                                                     backend):
    """MUJOCO_GL=osmesa where OSMesa is missing (mujoco fails as it is imported), or a value
    that is no backend: the scores first, then one line naming the library or the value and
    the backends to try, exit 1, no video (not even a partial one)."""
    if backend == "osmesa" and ctypes.util.find_library("OSMesa"):
        pytest.skip("this machine has OSMesa: MUJOCO_GL=osmesa renders")
    out = tmp_path / "videos"
    out.mkdir()
    result = subprocess.run([sys.executable, "-m", "ofe_jax.evaluate", f"--workdir={finished}",
                             "--episodes=1", f"--video={out / 'e.mp4'}"], capture_output=True,
                            text=True, timeout=300, cwd=ROOT, env={**os.environ,
                                                                   "MUJOCO_GL": backend})
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stdout.startswith("seed 0: mean return ") and "over 1 Gymnasium" in (
        result.stdout)
    line = one_error_line(result.stderr, finished)
    named = {"osmesa": "MUJOCO_GL=osmesa needs the OSMesa library (apt install libosmesa6), "
                       "which is not installed; try ",
             "bogus": "MUJOCO_GL=bogus is not a backend Gymnasium renders with (egl, osmesa or "
                      "glfw); try "}[backend]
    assert line.startswith(f"error: cannot render the video: {named}"), line
    assert "MUJOCO_GL=egl" in line or "apt install libegl1" in line
    assert os.listdir(out) == []
