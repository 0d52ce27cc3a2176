"""The command-line convention every ofe_jax command shares (main, plot, report, evaluate):
absl flags defined at module level, parsed here so that every bad flag, bad config file or
`UserError` becomes ONE line `error: <message>` on stderr and a non-zero exit code (2 for
flags, 1 otherwise), with no traceback; absl's logs (orbax's) are off."""

import os
import sys
import threading
from collections.abc import Callable

from absl import app, flags, logging

from ofe_jax.errors import UserError


def fail(message: str, code: int = 1):
    print(f"error: {message}", file=sys.stderr)
    _exit(code)


def _exit(code: int):
    """sys.exit, unless non-daemon threads are left (orbax's writer threads of a failed
    background save stay blocked for good and would keep the process alive): then flush and
    leave at once."""
    if any(t is not threading.main_thread() and not t.daemon and t.is_alive()
           for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _last_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return lines[-1] if lines else type(e).__name__


def unknown_field(e: Exception, argv: list[str] | None = None) -> str:
    """The message of an override of a config field the config lacks (`argv`: the overrides
    given, sys.argv by default; a `--config.grid.<field>` among them names the grid rule)."""
    message = e
    while isinstance(message, BaseException) and message.args:
        message = message.args[0]
    detail = " ".join(str(message).replace("'", "").split())
    field = next((a[len("--config."):].split("=")[0] for a in (sys.argv if argv is None else argv)
                  if a.startswith("--config.grid.")), None)
    if field is not None and detail in field:
        from ofe_jax.config.choices import GRID_FIELDS

        return (f"{field} cannot be gridded: only numeric hyperparameters that change no "
                f"shape can, grid.<one of {list(GRID_FIELDS)}>")
    return f"unknown config field {detail}; see ofe_jax/config/defaults.py"


def parse(argv: list[str]) -> list[str]:
    """absl's flag parsing; errors as one line. ml_collections loads the --config file while
    parsing, so a file that does not load fails here too."""
    try:
        return flags.FLAGS(argv)
    except AttributeError as e:
        if "get_config" in str(e):  # a config file (e.g. an empty one) without get_config()
            fail(f"cannot load --config: the file defines no get_config() ({_last_line(e)})", 2)
        fail(unknown_field(e), 2)  # an override of a field the config lacks
    except KeyError as e:
        fail(unknown_field(e), 2)
    except flags.Error as e:
        fail(_last_line(e), 2)
    except SyntaxError as e:
        fail(f"cannot load --config: syntax error in {e.filename}, line {e.lineno}: {e.msg}", 2)
    except Exception as e:  # noqa: BLE001 - anything else the user's config file raised
        fail(f"cannot load --config: {type(e).__name__}: {_last_line(e)}", 2)


def define_config(default: str, help_text: str):
    """`config_flags.DEFINE_config_file("config", default, ...)` (lock_config=True). With a
    default, ml_collections applies the command line's `--config.<field>` overrides while the
    flag is defined (before parsing, when no --config is given): an unknown field fails there,
    as one line too."""
    from ml_collections import config_flags

    try:
        return config_flags.DEFINE_config_file("config", default, help_text, lock_config=True)
    except (AttributeError, KeyError) as e:
        fail(unknown_field(e), 2)


def load_config(flag):
    """The value of a DEFINE_config_file flag; a file that failed to load (missing, a
    directory, ...) raises on first access: one line."""
    try:
        config = flag.value
        config.get("env")
        return config
    except Exception as e:  # noqa: BLE001 - any failure of the user's config file
        fail(f"cannot load --config: {_last_line(e)}", 2)


_GL_FAILURE: list[Exception] = []  # what import_mujoco met, once


def import_mujoco() -> Exception | None:
    """Imports mujoco, which loads the OpenGL library of the MUJOCO_GL backend as it is
    imported (osmesa, egl) and fails where that library is missing or the value is no backend.
    Then it is imported without rendering (MUJOCO_GL=disable), so that training, planning and
    scoring still work, and the first failure is returned (to report when a video is asked
    for; later calls return it again). A failure that does not go away with rendering disabled
    is not the backend's: it is raised. The commands call it before anything imports mujoco."""
    if "mujoco" in sys.modules:
        return _GL_FAILURE[0] if _GL_FAILURE else None
    try:
        import mujoco  # noqa: F401
        return None
    except (ImportError, AttributeError, OSError, RuntimeError) as e:  # the GL loaders' errors
        failure = e
    saved = {name: os.environ.get(name) for name in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    os.environ["MUJOCO_GL"] = "disable"
    try:
        import mujoco  # noqa: F401, F811 - the modules that failed are not in sys.modules
    except Exception:
        raise failure from None
    finally:
        for name, value in saved.items():  # what gymnasium reads when it renders
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    _GL_FAILURE.append(failure)
    return failure


def run(main: Callable[[list[str]], int | None], argv: list[str] | None = None) -> None:
    """Parses the flags and runs `main(argv)`; its return value is the exit code."""
    app.define_help_flags()
    remaining = parse(sys.argv if argv is None else argv)

    def guarded(args):
        # orbax logs every save at INFO and a failed background write as an ERROR with its
        # traceback; the command reports such failures itself, in one line.
        logging.set_verbosity(logging.FATAL)
        try:
            code = main(args) or 0
        except UserError as e:
            fail(str(e))
        _exit(code)

    app.run(guarded, flags_parser=lambda _: remaining)
