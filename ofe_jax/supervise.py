"""A process of a multi-host run, started from the command line, runs the training in a child
process and watches it; this module is the watcher (it imports no jax).

Why: when another process of the run dies, JAX's coordination service may end this one from
C++ (its client logs "Terminating process because the JAX distributed service detected fatal
errors" and aborts, with a stack dump): at once when process 0, which hosts the service, is
gone; after `parallel.heartbeat_timeout_s` when another process stops answering. jax offers no
hook for it, so it can only be reported from outside the process. The watcher

  - runs the same command as a child (environment CHILD_ENV=1), in its own session, and
    forwards SIGINT, SIGTERM and SIGUSR1 to it (so Ctrl-C reaches it once); the child is
    killed if the watcher dies (Linux);
  - passes the child's stdout through and its stderr too, except that lines of C++ logs are
    held for up to HOLD_S seconds: when the termination above follows, they and everything
    after are replaced by one `error:` line and the exit code is 1; when the child's own line
    saying that it lost contact with another process follows, they are dropped; otherwise
    they are passed on unchanged;
  - exits with the child's exit code.

Failures that surface in Python (a collective that fails because the other process died) are
reported by the child itself (ofe_jax.training.multihost.exit_now).
"""

import os
import re
import select
import signal
import subprocess
import sys
import time

CHILD_ENV = "OFE_JAX_SUPERVISED"
HOLD_S = 1.0
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)
LOST_CONTACT = "lost contact with another process"  # in the child's line (multihost.describe)
TERMINATED = b"Terminating process because the JAX distributed service detected fatal errors"
_LOG_LINE = re.compile(rb"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [^\]]+\] ")
_LOG_START = re.compile(rb"^[IWEF](\d|$)")  # the start of a line that may become one


def is_child() -> bool:
    return os.environ.get(CHILD_ENV) == "1"


def _die_with_parent(parent: int):
    """preexec_fn of the child: SIGKILL when the watcher dies (Linux prctl PR_SET_PDEATHSIG)."""
    def set_up():
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:  # the watcher died before prctl
            os.kill(os.getpid(), signal.SIGKILL)
    return set_up


def _cause(text: bytes) -> str:
    if b"heartbeat timeout" in text or b"stopped sending heartbeats" in text:
        return ("another process stopped sending heartbeats for parallel.heartbeat_timeout_s "
                "(it has probably died; see its output)")
    if b"Failed to send RPC to coordination service" in text:
        return ("the coordination service on process 0 cannot be reached (process 0 has "
                "probably died; see its output)")
    return "the JAX distributed service reported a failure of another process (see its output)"


class _Filter:
    """stderr of the child -> ours, with C++ log lines held (see the module docstring)."""

    def __init__(self):
        self.pending = b""  # bytes of an unfinished line
        self.held: list[bytes] = []
        self.held_since = 0.0
        self.terminated = b""  # the termination message and what followed it

    def feed(self, data: bytes) -> None:
        if self.terminated:
            self.terminated += data
            return
        self.pending += data
        while True:
            ends = [i for i in (self.pending.find(b"\n"), self.pending.find(b"\r")) if i >= 0]
            if not ends:
                break
            end = min(ends) + 1
            line, self.pending = self.pending[:end], self.pending[end:]
            self._line(line)
            if self.terminated:
                self.terminated += self.pending
                self.pending = b""
                return
        if self.pending and not self.held and not _LOG_START.match(self.pending):
            self._write(self.pending)  # e.g. a progress bar being redrawn
            self.pending = b""

    def _line(self, line: bytes) -> None:
        if TERMINATED in line:
            self.terminated, self.held = line, []
        elif line.startswith(b"error: ") and LOST_CONTACT.encode() in line:
            self.held = []  # the C++ logs of the same failure (the coordination service's)
            self._write(line)
        elif self.held or _LOG_LINE.match(line):  # a log line and what follows it, for now
            if not self.held:
                self.held_since = time.monotonic()
            self.held.append(line)
        else:
            self._write(line)

    def tick(self, final: bool = False) -> None:
        """Passes held lines on once they are HOLD_S old (or at the end)."""
        if self.held and (final or time.monotonic() - self.held_since >= HOLD_S):
            self._write(b"".join(self.held))
            self.held = []
        if final and self.pending and not self.terminated:
            self._write(self.pending)
            self.pending = b""

    @staticmethod
    def _write(data: bytes) -> None:
        sys.stderr.buffer.write(data)
        sys.stderr.buffer.flush()


def run_child(process_id: int) -> int:
    """Runs this command (`python -m ofe_jax.main <the same flags>`) as a watched child."""
    child = subprocess.Popen([sys.executable, "-m", "ofe_jax.main", *sys.argv[1:]],
                             env={**os.environ, CHILD_ENV: "1"}, stderr=subprocess.PIPE,
                             start_new_session=True, preexec_fn=_die_with_parent(os.getpid()))
    previous = {s: signal.signal(s, lambda signum, _: child.send_signal(signum))
                for s in FORWARDED}
    out, fd = _Filter(), child.stderr.fileno()
    try:
        while True:
            try:
                ready, _, _ = select.select([fd], [], [], 0.2)
            except InterruptedError:
                continue
            if ready:
                data = os.read(fd, 65536)
                if not data:
                    break
                out.feed(data)
            out.tick()
        code = child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    out.tick(final=True)
    if out.terminated:
        print(f"error: process {process_id} stopped by JAX's coordination service: "
              f"{_cause(out.terminated)}", file=sys.stderr, flush=True)
        return 1
    return 128 - code if code < 0 else code
