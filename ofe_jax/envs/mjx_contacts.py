"""C MuJoCo's plane-capsule contact frame for MJX (a fix for mujoco-mjx 3.17.0).

A contact's frame is [normal, tangent1, tangent2] (rows). With the pyramidal friction cone
(MuJoCo's default; Ant-v5 uses it with friction 1) the friction directions are +-tangent1 and
+-tangent2, so rotating the tangents about the normal changes the contact forces.

C MuJoCo (``mjc_PlaneCapsule`` in ``engine_collision_primitive.c``) emits one contact per end
sphere of the capsule, with the plane's normal as ``frame[0:3]`` and the capsule's axis as
``frame[3:6]``; ``mju_makeFrame`` (``engine_util_spatial.c``, called for every contact in
``mj_collideGeoms``) then projects that axis onto the plane and normalises it (``tangent1``;
``mju_normalize3`` returns (1, 0, 0) for a norm below ``mjMINVAL`` = 1e-15, i.e. a capsule
exactly perpendicular to the plane) and sets ``tangent2 = normal x tangent1``.

MJX 3.17.0 (``mujoco/mjx/_src/collision_primitive.py``, ``plane_capsule``) does the same only
while the projected axis is longer than 0.5 (the capsule less than 60 degrees from the plane);
steeper, it switches to a fixed (0, 1, 0) or (0, 0, 1). Ant's ankle capsules touch the floor at
roughly 25-75 degrees, along diagonal legs, so MJX turns the friction pyramid at foot contacts
and Ant-v5 leaves Gymnasium's trajectory within 4 steps (one env step from states of a C
rollout: qvel off by up to 1.4; with this module, 9e-6; measured).

:func:`c_plane_capsule_frames` swaps MJX's collision function for the (plane, capsule) pair for
:func:`plane_capsule_contacts` while the "mjx" backend traces its ``forward``/``step``; every
other geom pair, and MJX used outside that scope, is unchanged. The table is private to MJX, so
this module checks at import that the entry it replaces is the one it was written against.
"""

from __future__ import annotations

import contextlib
import inspect
import threading

import jax
import jax.numpy as jnp
from mujoco.mjx._src import collision_driver, collision_primitive
from mujoco.mjx._src.types import GeomType

PAIR = (GeomType.PLANE, GeomType.CAPSULE)
MJ_MINVAL = 1e-15  # mjMINVAL: below this norm mju_normalize3 returns (1, 0, 0)
_EXPECTED_PARAMS = ("m", "d", "_", "geom")  # collision_primitive.collider's calling convention


def _check_table() -> None:
    """Fails with one message unless MJX's table holds the function this module replaces."""
    table = getattr(collision_driver, "_COLLISION_FUNC", None)
    original = getattr(collision_primitive, "plane_capsule", None)
    entry = table.get(PAIR) if isinstance(table, dict) else None
    params = tuple(inspect.signature(entry).parameters) if callable(entry) else None
    if entry is None or entry is not original or params != _EXPECTED_PARAMS or (
            getattr(entry, "ncon", None) != 2):
        raise RuntimeError(
            "ofe_jax.envs.mjx_contacts was written against mujoco-mjx 3.17.0, where "
            "mujoco.mjx._src.collision_driver._COLLISION_FUNC[(PLANE, CAPSULE)] is "
            "collision_primitive.plane_capsule(m, d, _, geom) with ncon == 2; this MJX has "
            f"{entry!r} (parameters {params}, ncon {getattr(entry, 'ncon', None)}). Pin "
            "mujoco-mjx==3.17.0, or check whether its plane_capsule still picks the contact "
            "frame differently from C MuJoCo and update this module.")


_check_table()
_ORIGINAL = collision_driver._COLLISION_FUNC[PAIR]
_LOCK = threading.RLock()


def plane_capsule_contacts(plane_pos, plane_mat, capsule_pos, capsule_mat, capsule_size):
    """One plane-capsule pair as C MuJoCo collides it (``mjc_PlaneCapsule`` + ``mju_makeFrame``).

    Args:
      plane_pos: [3] plane origin; plane_mat: [3, 3] its rotation (normal = column 2).
      capsule_pos: [3] capsule centre; capsule_mat: [3, 3] rotation (axis = column 2);
      capsule_size: [3] (radius, half-length, unused).

    Returns:
      dist [2] (signed, negative = penetration), pos [2, 3] (midway between the surfaces),
      frame [2, 3, 3] (rows: normal, tangent1, tangent2) for the end spheres at centre + and -
      half-length * axis, in C's order.
    """
    radius, half_length = capsule_size[0], capsule_size[1]
    normal, axis = plane_mat[:, 2], capsule_mat[:, 2]
    centres = capsule_pos + jnp.stack([axis, -axis]) * half_length  # [2, 3] end spheres
    dist = (centres - plane_pos) @ normal - radius  # [2]
    pos = centres - normal * (radius + 0.5 * dist)[:, None]  # [2, 3]
    # mju_makeFrame: normal normalised; tangent1 = the axis minus its normal part, normalised.
    normal = normal / jnp.linalg.norm(normal)
    tangent = axis - normal * jnp.dot(normal, axis)
    length = jnp.linalg.norm(tangent)
    perpendicular = length < MJ_MINVAL
    tangent = jnp.where(perpendicular, jnp.array([1.0, 0.0, 0.0], tangent.dtype),
                        tangent / jnp.where(perpendicular, 1.0, length))
    frame = jnp.stack([normal, tangent, jnp.cross(normal, tangent)])  # [3, 3]
    return dist, pos, jnp.broadcast_to(frame, (2, 3, 3))


def _collide(m, d, _, geom):
    """MJX collision-table entry: geom [pairs, 2] (plane, capsule) -> contacts [2 * pairs],
    pair-major (the order in which collision_driver repeats each pair's contact record)."""
    plane, capsule = geom.T
    dist, pos, frame = jax.vmap(plane_capsule_contacts)(
        d.geom_xpos[plane], d.geom_xmat[plane], d.geom_xpos[capsule], d.geom_xmat[capsule],
        m.geom_size[capsule])
    return dist.reshape(-1), pos.reshape(-1, 3), frame.reshape(-1, 3, 3)


_collide.ncon = 2


@contextlib.contextmanager
def c_plane_capsule_frames():
    """Within this scope, MJX code being traced collides (plane, capsule) pairs as C MuJoCo.

    Enter it around the Python call that traces ``mjx.forward``/``mjx.step`` (MJX reads its
    table while tracing; the compiled program keeps what it read). Re-entrant; the table is
    restored on exit, even on error.
    """
    table = collision_driver._COLLISION_FUNC
    with _LOCK:
        previous = table[PAIR]
        if previous is not _ORIGINAL and previous is not _collide:
            raise RuntimeError(f"MJX's (plane, capsule) collision function was replaced by "
                               f"someone else ({previous!r}); not overriding it")
        table[PAIR] = _collide
        try:
            yield
        finally:
            table[PAIR] = previous
