"""The C-MuJoCo plane-capsule contact for MJX (``ofe_jax/envs/mjx_contacts.py``).

Cheap checks (no MJX step is compiled): the contacts against C MuJoCo's own ``d.contact`` along
an Ant-v5 rollout, the degenerate perpendicular capsule, and the guard on MJX's private table.
"""

import jax
import mujoco
import numpy as np
import pytest
from mujoco.mjx._src import collision_driver

from ofe_jax.envs import mjx_contacts

PLANE, CAPSULE = mujoco.mjtGeom.mjGEOM_PLANE, mujoco.mjtGeom.mjGEOM_CAPSULE


def test_contacts_match_c_mujoco_along_ant_rollout():
    """Every plane-capsule contact C MuJoCo reports over 300 full-range Ant-v5 steps (dist,
    pos, and the whole frame) is reproduced to float32 precision, steep feet included."""
    import gymnasium

    env = gymnasium.make("Ant-v5", disable_env_checker=True)
    env.reset(seed=3)
    model, data = env.unwrapped.model, env.unwrapped.data
    contacts = jax.jit(mjx_contacts.plane_capsule_contacts)
    rng = np.random.default_rng(0)
    checked = steep = 0
    for _ in range(300):
        env.step(rng.uniform(-1, 1, model.nu).astype(np.float32))
        for con in data.contact[:data.ncon]:
            plane, capsule = con.geom
            if (model.geom_type[plane], model.geom_type[capsule]) != (PLANE, CAPSULE):
                continue
            dist, pos, frame = (np.asarray(x) for x in contacts(
                data.geom_xpos[plane], data.geom_xmat[plane].reshape(3, 3),
                data.geom_xpos[capsule], data.geom_xmat[capsule].reshape(3, 3),
                model.geom_size[capsule]))
            end = np.argmin(np.linalg.norm(pos - con.pos, axis=1))  # which end sphere
            np.testing.assert_allclose(dist[end], con.dist, atol=1e-6)
            np.testing.assert_allclose(pos[end], con.pos, atol=1e-6)
            np.testing.assert_allclose(frame[end], con.frame.reshape(3, 3), atol=1e-6)
            checked += 1
            axis = data.geom_xmat[capsule].reshape(3, 3)[:, 2]
            steep += np.hypot(axis[0], axis[1]) < 0.5  # where MJX 3.17 picks another frame
    env.close()
    assert checked > 50 and steep > 0


def test_perpendicular_capsule_matches_c_fallback_axis():
    """A capsule exactly perpendicular to the plane: no projected axis; C's mju_normalize3 falls
    back to tangent1 = (1, 0, 0). Checked against C MuJoCo's contact for the same scene."""
    model = mujoco.MjModel.from_xml_string("""
      <mujoco><worldbody><geom type="plane" size="1 1 0.1"/>
        <body pos="0 0 0.39"><freejoint/><geom type="capsule" size="0.1 0.3"/></body>
      </worldbody></mujoco>""")
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    assert data.ncon == 1  # the lower end sphere, 0.01 deep
    dist, pos, frame = mjx_contacts.plane_capsule_contacts(
        data.geom_xpos[0], data.geom_xmat[0].reshape(3, 3), data.geom_xpos[1],
        data.geom_xmat[1].reshape(3, 3), model.geom_size[1])
    np.testing.assert_allclose(dist[1], data.contact.dist[0], atol=1e-6)
    np.testing.assert_allclose(pos[1], data.contact.pos[0], atol=1e-6)
    np.testing.assert_allclose(frame[1], data.contact.frame[0].reshape(3, 3), atol=1e-7)
    np.testing.assert_allclose(frame[1, 1], [1, 0, 0])


def test_scope_swaps_only_the_plane_capsule_entry_and_restores_it():
    table = collision_driver._COLLISION_FUNC
    before = dict(table)
    with mjx_contacts.c_plane_capsule_frames():
        changed = {k for k in table if table[k] is not before[k]}
        assert changed == {mjx_contacts.PAIR}
        assert table[mjx_contacts.PAIR].ncon == 2
    assert table == before


def test_guard_refuses_an_unexpected_table_entry(monkeypatch):
    monkeypatch.setitem(collision_driver._COLLISION_FUNC, mjx_contacts.PAIR, lambda m, d: None)
    with pytest.raises(RuntimeError, match="written against mujoco-mjx 3.17.0"):
        mjx_contacts._check_table()
    with pytest.raises(RuntimeError, match="replaced by someone else"):
        with mjx_contacts.c_plane_capsule_frames():
            pass
