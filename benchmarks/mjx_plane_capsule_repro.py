"""MJX: plane-capsule contact frame differs from C MuJoCo for steep capsules (pyramidal cone).

Bug report, reproducible with ``python -m benchmarks.mjx_plane_capsule_repro`` (needs only
mujoco, mujoco-mjx, jax and numpy; runs in float64 so that C and MJX can agree to ~1e-12).

Versions: mujoco 3.17.0, mujoco-mjx 3.17.0, jax 0.10 (CPU); the script prints its own.

Expected: for a capsule touching a plane, MJX's contacts equal C MuJoCo's, frame included. In C,
``mjc_PlaneCapsule`` (``src/engine/engine_collision_primitive.c``) puts the capsule's axis in
``frame[3:6]`` and ``mju_makeFrame`` (``src/engine/engine_util_spatial.c``, called for every
contact by ``mj_collideGeoms``) projects it onto the plane and normalises it: the first tangent
is the capsule axis projected on the plane at every angle (only an exactly perpendicular capsule,
projection below mjMINVAL, falls back to (1, 0, 0)).

What happens: ``mujoco/mjx/_src/collision_primitive.py``, ``plane_capsule``, keeps the projected
axis only while its length is at least 0.5 (``b = jp.where(b_norm < 0.5, ...)``), i.e. for
capsules less than 60 degrees from the plane; steeper capsules get a fixed (0, 1, 0) or
(0, 0, 1) tangent instead. With the pyramidal friction cone (MuJoCo's default) the friction
directions are +-tangent1 and +-tangent2, so the pyramid is turned about the normal by the
capsule's azimuth and the contact force changes: qvel after one ``mjx.step`` differs from
``mj_step``. Unless the azimuth is a multiple of 90 degrees: then the two pyramids coincide.

Impact: Gymnasium's Ant-v5 (ankle capsules touch the floor at roughly 25-75 degrees, on legs at
45 degrees azimuth) leaves the C MuJoCo trajectory within 4 env steps on MJX; with C's
convention substituted, MJX in float64 stays within 3e-10 of it over 60 steps.

Suggested fix: in ``plane_capsule``, fall back to the fixed axis only when the projection is
(numerically) zero, as ``mju_makeFrame`` does, instead of below 0.5.

The script: one capsule (radius 0.05, half-length 0.2) 1 mm into a plane, its axis at azimuth
45 degrees, sliding at 0.5 m/s along x, at several tilts from the plane; for each, C's and
MJX's first tangent of the lower contact and max |qvel_C - qvel_MJX| after one step.
"""

from __future__ import annotations

import importlib.metadata
import inspect

import jax

jax.config.update("jax_enable_x64", True)  # compare with C MuJoCo's float64 to ~1e-12

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
from mujoco import mjx  # noqa: E402
from mujoco.mjx._src import collision_primitive  # noqa: E402  (only to print the line)

RADIUS, HALF_LENGTH, DEPTH, AZIMUTH = 0.05, 0.2, 1e-3, np.radians(45.0)
TILTS = (30.0, 55.0, 65.0, 80.0)  # degrees between the capsule axis and the plane
XML = f"""
<mujoco>
  <option timestep="0.002" cone="pyramidal"/>
  <worldbody>
    <geom name="floor" type="plane" size="5 5 0.1" friction="1 0.005 0.0001"/>
    <body name="capsule">
      <freejoint/>
      <geom type="capsule" size="{RADIUS} {HALF_LENGTH}" friction="1 0.005 0.0001"/>
    </body>
  </worldbody>
</mujoco>
"""


def initial_state(model: mujoco.MjModel, tilt_deg: float) -> mujoco.MjData:
    """Capsule axis at ``tilt_deg`` from the plane and AZIMUTH about z; lower end DEPTH deep."""
    tilt = np.radians(tilt_deg)
    quat = np.zeros(4)  # rotate z (the capsule axis) down by 90 - tilt about a horizontal axis
    hinge = np.array([-np.sin(AZIMUTH), np.cos(AZIMUTH), 0.0])
    mujoco.mju_axisAngle2Quat(quat, hinge, np.pi / 2 - tilt)
    data = mujoco.MjData(model)
    data.qpos[:3] = [0.0, 0.0, RADIUS - DEPTH + HALF_LENGTH * np.sin(tilt)]
    data.qpos[3:7] = quat
    data.qvel[0] = 0.5  # sliding along x: the friction force is not along either tangent
    mujoco.mj_forward(model, data)
    return data


def source_line() -> str:
    lines, _ = inspect.getsourcelines(collision_primitive)
    for number, line in enumerate(lines, start=1):
        if "b_norm < 0.5" in line:
            return f"{inspect.getsourcefile(collision_primitive)}:{number}: {line.strip()}"
    return "(no b_norm < 0.5 switch in this version's collision_primitive.py)"


def main() -> None:
    print(f"mujoco {mujoco.__version__}, mujoco-mjx {importlib.metadata.version('mujoco-mjx')}, "
          f"jax {jax.__version__} ({jax.default_backend()}, float64)")
    print(f"MJX switch: {source_line()}")
    model = mujoco.MjModel.from_xml_string(XML)
    mjx_model = mjx.put_model(model)
    forward = jax.jit(mjx.forward)
    step = jax.jit(mjx.step)
    for tilt in TILTS:
        c_data = initial_state(model, tilt)
        assert c_data.ncon == 1, "expected one contact (the lower end sphere)"
        c_tangent = c_data.contact.frame[0][3:6].copy()
        mjx_data = mjx.put_data(model, c_data)
        contact = forward(mjx_model, mjx_data)._impl.contact
        lower = int(np.argmin(np.asarray(contact.dist)))  # MJX reports both end spheres
        mjx_tangent = np.asarray(contact.frame[lower, 1])
        mujoco.mj_step(model, c_data)
        mjx_qvel = np.asarray(step(mjx_model, mjx_data).qvel)
        projected = np.cos(np.radians(tilt))
        print(f"tilt {tilt:4.0f} deg (projected axis {projected:.2f}): tangent1 C "
              f"{np.array2string(c_tangent, precision=3, suppress_small=True)} MJX "
              f"{np.array2string(mjx_tangent, precision=3, suppress_small=True)}; "
              f"max |qvel_C - qvel_MJX| after one step {np.abs(c_data.qvel - mjx_qvel).max():.1e}")


if __name__ == "__main__":
    main()
