"""Orbax checkpoints: per step, the whole training carry (agents, optimisers, replay, envs,
keys, counters: exact resume) and beside it the policy artifact (every seed's deterministic
policy alone + a JSON of what rebuilds it), so that scoring a run never reads the replay.

    workdir/checkpoints/<step>/carry/         the Carry (restore_carry)
    workdir/checkpoints/<step>/policy/        agents.Policy of every seed [S, ...]
    workdir/checkpoints/<step>/policy_meta/   agent config, env name, sizes, bounds, seeds

Orbax writes each step into a temporary directory and renames it when complete, so a checkpoint
is either whole or absent (a process killed mid-save leaves only a temporary directory, which is
never read); only the last `keep` are kept.

Saving is asynchronous by default (orbax's async checkpointing): `save` returns once the arrays
are handed to a background writer and training goes on while they are written; the next `save`
and `wait` (called before the program exits) wait for it. A write that fails (disk full, the
directory removed or read-only) surfaces at that wait as a CheckpointError naming the step's
path and the cause; the previous checkpoint is left whole. On a CPU the writer reads the
carry's own buffers, so the next chunk cannot update them in place while they are written
(JAX copies the donated carry instead): peak memory is about twice the carry during a save.

A checkpoint that cannot be read back (a data file zeroed, truncated or removed, a manifest or
metadata file missing or garbled, an empty step directory) is a CheckpointError of one line:
the step, the damaged file (relative to the step's directory: TensorStore names the database
and the array; the data file holding that array is found in its B+tree) and what to do, move
the step away to resume from the previous one. Nothing resumes from an older checkpoint by
itself: that would throw work away unseen. Not detected: bytes changed inside an array's
compressed data that still decode (zstd frames carry no checksum here), which restore other
values. A step without its _CHECKPOINT_METADATA (timestamps, handler names) reads whole."""

import json
import os
import re
import sys

import orbax.checkpoint as ocp

from ofe_jax.errors import CheckpointError

ITEMS = ("carry", "policy", "policy_meta")


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _cause(e: BaseException) -> str:
    """The OS error behind an exception (orbax wraps them), e.g. "No space left on device"."""
    seen, current = set(), e
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror + (f": {current.filename}" if current.filename else "")
        current = current.__cause__ or current.__context__
    return _first_line(e)


class Checkpointer:
    def __init__(self, directory: str, keep: int = 3, create: bool = True,
                 asynchronous: bool = True):
        """create=True: the run's writer (removes temporary directories of interrupted saves);
        create=False: a reader (evaluate, load_policy) that changes nothing on disk."""
        self.directory = os.path.abspath(directory)
        self._pending: int | None = None  # step of a save that may still be writing
        self._writer = create
        try:
            self._manager = ocp.CheckpointManager(
                self.directory, item_names=ITEMS,
                options=ocp.CheckpointManagerOptions(
                    max_to_keep=keep, create=create, read_only=not create,
                    cleanup_tmp_directories=create, enable_async_checkpointing=asynchronous))
        except OSError as e:
            raise CheckpointError(f"cannot use the checkpoint directory {self.directory}: "
                                  f"{e.strerror or e}") from e

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def _failed(self, step: int | None, e: BaseException) -> CheckpointError:
        path = os.path.join(self.directory, str(step)) if step is not None else self.directory
        return CheckpointError(f"cannot write checkpoint {path}: {_cause(e)}")

    def save(self, step: int, carry, policy, policy_meta: dict) -> None:
        """Starts writing checkpoint `step` (and waits for the previous one first)."""
        self.wait()
        try:
            self._manager.save(step, args=ocp.args.Composite(
                carry=ocp.args.StandardSave(carry), policy=ocp.args.StandardSave(policy),
                policy_meta=ocp.args.JsonSave(policy_meta)), force=True)
        except Exception as e:  # noqa: BLE001 - orbax wraps OS errors in many types
            raise self._failed(step, e) from e
        self._pending = step

    def wait(self) -> None:
        """Waits until the last save is on disk; CheckpointError if it failed."""
        step, self._pending = self._pending, None
        try:
            self._manager.wait_until_finished()
        except Exception as e:  # noqa: BLE001
            raise self._failed(step, e) from e

    def _restore(self, step: int | None, **items):
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"no checkpoint in {self.directory}")
        if step not in self.all_steps():
            raise CheckpointError(f"no checkpoint at step {step} in {self.directory} (steps "
                                  f"{self.all_steps()})")
        _silence_abandoned_reads()  # before: orbax closes its loop before it raises
        try:
            return self._manager.restore(step, args=ocp.args.Composite(**items))
        except Exception as e:  # orbax raises many types for truncated/garbled files
            raise CheckpointError(self._unreadable(step, next(iter(items)), e)) from e

    def _unreadable(self, step: int, item: str, e: BaseException) -> str:
        """One line: the step, the damaged file and what to do; or, where every file looks
        whole, that the checkpoint does not match what reads it (orbax's first line)."""
        step_dir = os.path.join(self.directory, str(step))
        damage = _damage(step_dir, item, e)
        if damage is None:
            reader = "this config" if item == "carry" else "its policy_meta"
            return (f"checkpoint step {step} ({step_dir}) does not match {reader} or this "
                    f"version of ofe_jax: {_short(e)}")
        return str(self.damaged(step, damage.replace(step_dir + os.sep, "")))

    def damaged(self, step: int, damage: str) -> CheckpointError:
        """The error of a damaged checkpoint `step` ("<file relative to the step's directory>
        <what is wrong>"), with what to do: move it away to resume from the previous one (a
        run), or read the previous one (a reader)."""
        step_dir = os.path.join(self.directory, str(step))
        earlier = [s for s in self.all_steps() if s < step]
        if self._writer:
            advice = (f"move {step_dir} away to resume from step {earlier[-1]}" if earlier else
                      f"move {step_dir} away to start the run again from step 0")
        else:
            advice = (f"read step {earlier[-1]} instead, or move {step_dir} away" if earlier
                      else "it is the only checkpoint")
        return CheckpointError(f"checkpoint step {step} is damaged ({damage}); {advice}")

    def restore_carry(self, abstract_carry, step: int | None = None):
        return self._restore(step, carry=ocp.args.StandardRestore(abstract_carry)).carry

    def restore_policy_meta(self, step: int | None = None) -> dict:
        return self._restore(step, policy_meta=ocp.args.JsonRestore()).policy_meta

    def restore_policy(self, abstract_policy, step: int | None = None):
        return self._restore(step, policy=ocp.args.StandardRestore(abstract_policy)).policy

    def close(self) -> None:
        """Waits for a pending save (errors are raised by `wait`, call it first) and closes."""
        try:
            self._manager.close()
        except Exception:  # noqa: BLE001 - a failed save was reported by wait()
            pass


# The damaged file, named from the file system and from TensorStore's message (which names
# the OCDBT database and the array key, not the data file that holds the key's bytes).
_LOCAL_FILE = re.compile(r'local file "([^"]+)"')
_ARRAY_KEY = re.compile(r'(?:Error reading|Metadata at) "([^"]+)" in OCDBT database')


def _messages(e: BaseException) -> str:
    seen, current, texts = set(), e, []
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts.append(str(current))
        current = current.__cause__ or current.__context__
    return "\n".join(texts)


def _short(e: BaseException) -> str:
    """Orbax's first line without TensorStore's multi-line spec, at most 120 characters."""
    text = _first_line(e).split(" See full TensorStore details")[0]
    return text if len(text) <= 120 else text[:117] + "..."


def _json_problem(path: str) -> str | None:
    if not os.path.isfile(path):
        return f"{path} is missing"
    try:
        with open(path) as f:
            json.load(f)
    except (OSError, ValueError):
        return f"{path} is not valid JSON"
    return None


def _damage(step_dir: str, item: str, e: BaseException) -> str | None:
    """"<path> <what is wrong with it>" for a damaged checkpoint, None if no file looks
    damaged (then the checkpoint is of another config or code version)."""
    item_dir = os.path.join(step_dir, item)
    if not os.path.isdir(step_dir) or not os.listdir(step_dir):
        return "its directory is empty"
    if not os.path.isdir(item_dir):
        return f"{item_dir}{os.sep} is missing"
    if item == "policy_meta":  # a JSON item: one file
        return _json_problem(os.path.join(item_dir, "metadata"))
    listed = os.path.join(item_dir, "array_metadatas")  # JSON per process, where written
    names = sorted(os.listdir(listed)) if os.path.isdir(listed) else []
    for path in [os.path.join(item_dir, "_METADATA"), *(os.path.join(listed, n) for n in names)]:
        if problem := _json_problem(path):
            return problem
    if not os.path.isfile(os.path.join(item_dir, "manifest.ocdbt")):
        return f"{os.path.join(item_dir, 'manifest.ocdbt')} is missing"
    text = _messages(e)
    named = [f for f in _LOCAL_FILE.findall(text) if not f.endswith("/")]
    if named:  # TensorStore names the file itself (a manifest, say)
        return f"{named[-1]} " + ("is missing" if not os.path.exists(named[-1])
                                 else "cannot be decoded")
    key = _ARRAY_KEY.search(text)
    if key is None or "NOT_FOUND" in text:
        return None
    array = key.group(1).rsplit("/", 1)[0]
    path = _data_file(item_dir, key.group(1))
    if path is None:
        return f"{item_dir}{os.sep} (array {array}) cannot be read"
    if not os.path.exists(path):
        return f"{path} is missing"
    return path + (" is truncated" if "OUT_OF_RANGE" in text else " cannot be decoded")


def _data_file(database: str, key: str) -> str | None:
    """The file of the OCDBT database (an item's directory) that holds `key`'s bytes: a walk
    down its B+tree from the manifest (ts.ocdbt.dump); None where that fails too."""
    import tensorstore as ts

    target = key.encode()
    try:
        base = ts.KvStore.open({"driver": "file", "path": database.rstrip("/") + "/"}).result()
        location = ts.ocdbt.dump(base).result()["versions"][-1]["root"]["location"]
        while location.startswith("btreenode:"):
            entries = ts.ocdbt.dump(base, location).result()["entries"]
            leaf = {bytes(e["key"]): e for e in entries if "location" not in e}
            if target in leaf:
                location = leaf[target].get("indirect_value", "")
                break
            below = [e for e in entries if "location" in e and bytes(e["key"]) <= target]
            location = below[-1]["location"] if below else ""
    except Exception:  # noqa: BLE001 - a damaged tree: name the directory instead
        return None
    parts = location.split(":")  # value:<base path>:<relative path>:<offset>:<length>
    if len(parts) != 5 or parts[0] != "value":
        return None
    return os.path.join(database, parts[1] + parts[2])


_silenced = False


def _silence_abandoned_reads() -> None:
    """A restore that fails has orbax close its event loop with the restore's other reads
    still in flight: as each one ends, TensorStore calls the closed loop (RuntimeError "Event
    loop is closed" in call_soon_threadsafe) and orbax's abandoned coroutines are collected
    with their exceptions; each would print a traceback through sys.unraisablehook, at any
    time later (even before orbax raises). The failure is reported as a CheckpointError: from
    the first restore on, this process drops exactly those two kinds and passes anything else
    to the previous hook."""
    global _silenced
    if _silenced:
        return
    _silenced = True
    previous = sys.unraisablehook

    def hook(unraisable):
        error, thing = unraisable.exc_value, unraisable.object
        tb = unraisable.exc_traceback
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        closed_loop = (isinstance(error, RuntimeError) and tb is not None
                       and tb.tb_frame.f_code.co_name == "_check_closed")
        code = getattr(thing, "cr_code", None)
        abandoned = code is not None and f"{os.sep}orbax{os.sep}" in code.co_filename
        if not (closed_loop or abandoned):
            previous(unraisable)

    sys.unraisablehook = hook
