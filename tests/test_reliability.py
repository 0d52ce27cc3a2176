"""Long runs on shared machines: preemption signals, one writer per workdir, checkpoints that
fail cleanly, and read-only commands beside a running run."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from _cli import SHORT, cli_env, digest, error_lines, run_main
from ofe_jax.checkpoint import Checkpointer

LONG = [*SHORT, "--config.total_steps=200000", "--config.checkpoint_every=200"]


def start_main(workdir, *args):
    return subprocess.Popen([sys.executable, "-m", "ofe_jax.main", f"--workdir={workdir}", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env())


def wait_for_rows(workdir, rows: int, process, timeout: float = 240) -> None:
    """Until metrics.csv has `rows` data rows (the run is past its compilation)."""
    metrics = os.path.join(workdir, "metrics.csv")
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if os.path.exists(metrics) and len(open(metrics).read().splitlines()) > rows:
            return
        time.sleep(0.2)
    raise AssertionError(f"no {rows} rows in {metrics}: {process.poll()}")


def pause(process, timeout: float = 30) -> None:
    """SIGSTOP, then wait until every thread of the process is stopped. kill() returns before
    the threads stop: one inside a syscall (an orbax rename, say) finishes it first, and a
    digest taken at once can see the rename half-way (CI saw manifest.ocdbt change under it)."""
    process.send_signal(signal.SIGSTOP)
    tasks, deadline = f"/proc/{process.pid}/task", time.time() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"the run exited ({process.returncode}) before it was paused")
        states = []
        for tid in os.listdir(tasks):
            try:
                with open(f"{tasks}/{tid}/stat") as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            except FileNotFoundError:  # a thread that ended meanwhile
                continue
        if all(state in "Tt" for state in states):
            return
        if time.time() > deadline:
            raise AssertionError(f"process {process.pid} not stopped: thread states {states}")
        time.sleep(0.01)


def latest_step(workdir):
    checkpoints = Checkpointer(os.path.join(workdir, "checkpoints"), create=False)
    try:
        return checkpoints.latest_step()
    finally:
        checkpoints.close()


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143),
                                         (signal.SIGUSR1, 138)])
def test_stop_flag_records_the_first_signal(signum, code):
    """The first stop signal is recorded (exit code 128 + signum); the handler stays, so that
    a second one is ours too (it ends the process: test_slow_calls_...)."""
    from ofe_jax.training.run import StopFlag

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
    stop = StopFlag()
    try:
        assert not stop.requested and signal.getsignal(signum) == stop._handle
        os.kill(os.getpid(), signum)
        time.sleep(0.1)
        assert stop.requested and stop.exit_code == code
        assert signal.getsignal(signum) == stop._handle
    finally:
        stop.restore()
    assert {s: signal.getsignal(s) for s in previous} == previous


# A run whose log interval would take minutes on this CPU (SAC 2 x 1024 on the quick-start task:
# ~0.1 s per update here; 1800 learning iterations before the first log row): its calls are
# bounded by call_seconds (5 s) instead.
SLOW = ["--config=configs/quickstart.py", "--config.agent.network.units=1024",
        "--config.total_steps=100000", "--config.log_every=2000", "--config.random_steps=200",
        "--config.eval_every=100000", "--config.checkpoint_every=100000",
        "--config.eval_episodes=2", "--config.replay.capacity=5000"]


class StderrReader:
    """A process's stderr read as it comes (its stdout drained), to act on a line it prints."""

    def __init__(self, process):
        self.lines, self._found, self._wanted = [], threading.Event(), None
        self._threads = [threading.Thread(target=self._read, args=(process.stderr,), daemon=True),
                         threading.Thread(target=process.stdout.read, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line)
            if self._wanted and self._wanted in line:
                self._found.set()

    def wait_for(self, text: str, timeout: float) -> bool:
        self._wanted = text
        if any(text in line for line in self.lines):
            return True
        return self._found.wait(timeout)

    def text(self) -> str:
        """Everything printed so far; after the process ended, everything."""
        for thread in self._threads:
            thread.join(timeout=10)
        return "".join(self.lines)


def wait_for_start(workdir, process, seconds: float) -> None:
    """`seconds` after the run set up its workdir (it is then compiling or learning)."""
    config, deadline = os.path.join(workdir, "config.json"), time.time() + 120
    while not os.path.exists(config) and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert os.path.exists(config), process.poll()
    time.sleep(seconds)
    assert process.poll() is None


def test_slow_calls_stop_within_a_minute_and_a_second_signal_at_once(tmp_path):
    """SIGTERM during a log interval of minutes: a checkpoint mid-interval within 60 s; then,
    resumed, two signals: the process ends within 5 s of the second with one line, and the
    complete checkpoint is left as it was."""
    workdir = str(tmp_path / "run")
    process = start_main(workdir, *SLOW)
    wait_for_start(workdir, process, 30)
    sent = time.time()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=300)
    assert time.time() - sent < 60, f"{time.time() - sent:.0f} s: {stderr[-1500:]}"
    assert process.returncode == 143, stderr[-2000:]
    step = latest_step(workdir)
    assert step is not None and 200 < step < 2000, step  # inside the first log interval
    assert f"interrupted: checkpoint saved at step {step} (SIGTERM)" in stderr
    before = digest(os.path.join(workdir, "checkpoints", str(step)))

    # Resumed, both signals while the first is still being handled: once the run says it
    # resumed, it traces and compiles its learning program (seconds) before the call that the
    # first signal waits for, and then saves. (Sent a fixed time after the start instead, the
    # first signal could land at the end of a short call and the save finish before the
    # second: seen once on a loaded CPU.) 0.5 s apart: two before the handler runs are one.
    process = start_main(workdir, *SLOW)
    stderr = StderrReader(process)
    assert stderr.wait_for("resumed from the checkpoint", timeout=240), stderr.text()
    process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    sent = time.time()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
    assert time.time() - sent < 5, f"{time.time() - sent:.1f} s"
    stderr = stderr.text()
    assert process.returncode == 143, stderr[-2000:]
    again = [line for line in stderr.splitlines() if line.startswith("interrupted again")]
    assert again == [f"interrupted again (SIGTERM): stopped at once; the last complete "
                     f"checkpoint is at step {step}; run the same command to resume"], stderr
    assert latest_step(workdir) == step
    assert digest(os.path.join(workdir, "checkpoints", str(step))) == before


def test_preemption_signal_saves_and_exits_with_its_code(tmp_path):
    """No checkpoint is due before step 100000: the one found was saved because of the signal.
    (SIGINT: the end of test_one_writer_per_workdir; SIGUSR1: the same path.)"""
    signum, code = signal.SIGTERM, 143
    workdir = str(tmp_path / "run")
    process = start_main(workdir, *LONG, "--config.checkpoint_every=100000")
    wait_for_rows(workdir, 2, process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr[-2000:]
    name = signal.Signals(signum).name
    lines = [line for line in stderr.splitlines() if line.startswith("interrupted:")]
    assert len(lines) == 1 and f"({name}); run the same command to resume" in lines[0]
    step = latest_step(workdir)
    assert step is not None and f"checkpoint saved at step {step} " in lines[0]
    with open(os.path.join(workdir, "metrics.csv")) as f:
        last_row = int(f.read().splitlines()[-1].split(",")[0])
    assert last_row <= step < last_row + 200  # saved after the call the signal came in


def test_signal_during_compilation_exits_cleanly_and_resumes(tmp_path):
    """SIGTERM before the first call is done: the call finishes, its checkpoint is whole, and
    the same command then finishes the run from there."""
    workdir = str(tmp_path / "run")
    process = start_main(workdir, *SHORT)
    config = os.path.join(workdir, "config.json")
    deadline = time.time() + 120
    while not os.path.exists(config) and time.time() < deadline:
        time.sleep(0.05)  # the workdir is set up: the first chunk is compiling
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=240)
    assert process.returncode == 143, stderr[-2000:]
    step = latest_step(workdir)
    assert step is not None and 0 < step <= 200  # the first call, saved whole
    result = run_main("--config=configs/quickstart.py", f"--workdir={workdir}", *SHORT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"resumed from the checkpoint at step {step}" in result.stderr
    assert latest_step(workdir) == 600


def test_one_writer_per_workdir(tmp_path):
    """A second run on a workdir in use exits at once naming the holder and changes nothing;
    read-only commands work beside the run; a dead holder's lock file does not block."""
    workdir = str(tmp_path / "run")
    first = start_main(workdir, *LONG)
    try:
        wait_for_rows(workdir, 2, first)
        assert latest_step(workdir) is not None
        pause(first)  # hold its files still while the second one tries
        try:
            before = digest(workdir)
            second = run_main(f"--workdir={workdir}", *LONG, timeout=120)
            assert digest(workdir) == before
            for command in (["ofe_jax.plot", f"--workdir={workdir}", f"--out={tmp_path / 'c.png'}"],
                            ["ofe_jax.evaluate", f"--workdir={workdir}", "--episodes=1"],
                            ["ofe_jax.report", f"--runs={workdir}", f"--out={tmp_path / 'r'}"]):
                done = subprocess.run([sys.executable, "-m", *command], capture_output=True,
                                      text=True, timeout=300, env=cli_env())
                assert done.returncode == 0, (command, done.stderr[-2000:])
        finally:
            first.send_signal(signal.SIGCONT)
        assert second.returncode == 1
        lines = error_lines(second)
        assert len(lines) == 1 and "is in use by host" in lines[0], second.stderr[-2000:]
        assert f"pid {first.pid}" in lines[0]
    finally:
        first.send_signal(signal.SIGINT)  # Ctrl-C: the chunk ends, a checkpoint, exit 130
        _, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stderr[-2000:]
    step = latest_step(workdir)
    assert f"interrupted: checkpoint saved at step {step} (SIGINT)" in stderr
    assert step >= 400
    # The lock file stays behind with the dead holder's pid; it does not block.
    assert f"pid {first.pid}" in open(os.path.join(workdir, ".lock")).read()
    result = run_main(f"--workdir={workdir}", *LONG, "--config.total_steps=800")
    assert result.returncode == 0, result.stderr[-2000:]


def _make_read_only(path: str) -> str | None:
    """Makes a directory unwritable for this process: chattr +i as root (root ignores mode
    bits), chmod otherwise. Returns how, or None where neither is possible here."""
    if os.geteuid() != 0:
        os.chmod(path, 0o555)
        return "chmod"
    done = subprocess.run(["chattr", "+i", path], capture_output=True)
    return "chattr" if done.returncode == 0 else None


def _make_writable(path: str, how: str) -> None:
    if how == "chattr":
        subprocess.run(["chattr", "-i", path], check=True)
    else:
        os.chmod(path, 0o755)


@pytest.mark.parametrize("fault", ["read_only", "removed"])
def test_failed_save_stops_with_one_line_and_resumes_later(tmp_path, fault):
    """After the first checkpoint the checkpoint directory becomes read-only, or is removed
    (a file stands in its place): the run stops with one line naming the path and the cause;
    the earlier checkpoint is left whole and a later run resumes from it."""
    workdir = str(tmp_path / "run")
    checkpoints = os.path.join(workdir, "checkpoints")
    process = start_main(workdir, *SHORT, "--config.checkpoint_every=200",
                         "--config.total_steps=200000")
    wait_for_rows(workdir, 1, process)
    deadline = time.time() + 120
    while latest_step(workdir) is None and time.time() < deadline:
        time.sleep(0.2)
    pause(process)
    how = None
    if fault == "read_only":
        how = _make_read_only(checkpoints)
        if how is None:
            process.kill()
            pytest.skip("cannot make a directory read-only for root here (chattr failed)")
    else:
        shutil.move(checkpoints, str(tmp_path / "moved"))
        open(checkpoints, "w").close()
    process.send_signal(signal.SIGCONT)
    try:
        _, stderr = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        raise AssertionError(f"the run did not stop: {stderr[-3000:]}")
    finally:
        if how:
            _make_writable(checkpoints, how)
    assert process.returncode == 1, stderr[-2000:]
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-3000:]
    assert lines[0].startswith(f"error: cannot write checkpoint {checkpoints}/"), lines[0]
    cause = {"read_only": ("Operation not permitted", "Permission denied"),
             "removed": ("Not a directory", "File exists")}[fault]
    assert any(c in lines[0] for c in cause), lines[0]
    if fault == "removed":
        os.remove(checkpoints)
        shutil.move(str(tmp_path / "moved"), checkpoints)
    step = latest_step(workdir)
    assert step is not None
    result = run_main(f"--workdir={workdir}", *SHORT, "--config.checkpoint_every=200",
                      f"--config.total_steps={step + 200}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"resumed from the checkpoint at step {step}" in result.stderr
