"""Learning-curve statistics on hand-computed values."""

import numpy as np

from ofe_jax import plotting


def test_mean_and_ci_hand_computed():
    returns = np.array([[1.0, 2.0, 3.0], [10.0, 10.0, 10.0], [4.0, np.nan, 6.0]])
    mean, half = plotting.mean_and_ci(returns)
    np.testing.assert_allclose(mean, [2.0, 10.0, 5.0])
    # row 0: std 1, n 3, t(2) = 4.303 -> 4.303 / sqrt(3); row 2: std sqrt(2), n 2, t(1) = 12.706
    np.testing.assert_allclose(half, [4.303 / np.sqrt(3), 0.0, 12.706 * np.sqrt(2) / np.sqrt(2)],
                               rtol=1e-6)


def test_learning_curve_from_metrics_csv(tmp_path):
    (tmp_path / "metrics.csv").write_text(
        "step,seed,episode_return,eval_return\n"
        "100,0,1.0,5.0\n100,1,1.0,7.0\n200,0,2.0,\n200,1,2.0,\n300,0,3.0,9.0\n300,1,3.0,11.0\n")
    steps, returns = plotting.load_eval_curves(str(tmp_path))
    np.testing.assert_array_equal(steps, [100, 300])
    np.testing.assert_array_equal(returns, [[5.0, 7.0], [9.0, 11.0]])
    out = plotting.learning_curve(str(tmp_path))
    assert out.endswith("learning_curve.png") and (tmp_path / "learning_curve.png").stat().st_size > 0
