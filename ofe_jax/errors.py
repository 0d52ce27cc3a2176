"""Errors that reach the user as one `error: <message>` line and a non-zero exit code.

Every command (`ofe_jax.main`, `plot`, `report`, `evaluate`) catches `UserError` and prints its
message; anything else is a bug and keeps its traceback."""


class UserError(Exception):
    """Bad input or a bad state of the user's files, explained in one line."""


class ConfigError(UserError, ValueError):
    """A config value that is wrong: names the field, the value and what is allowed."""


class RunError(UserError, RuntimeError):
    """A problem with the workdir or the run."""


class CheckpointError(UserError, RuntimeError):
    """A checkpoint exists but cannot be read back (or written)."""


class RenderError(UserError, RuntimeError):
    """A video cannot be rendered: no OpenGL library for the MUJOCO_GL backend, or the file
    cannot be written."""


class ReportError(UserError):
    """A problem with the runs given to the analysis commands."""
