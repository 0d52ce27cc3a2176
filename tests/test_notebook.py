"""notebooks/quickstart.ipynb: stored clean, and it runs top to bottom with a tiny budget.

The notebook is executed with nbclient in a kernel started by THIS interpreter (a kernelspec
written to a temporary directory whose argv is sys.executable), so it works in a fresh
virtualenv whatever kernelspecs are installed, and the test checks that the kernel really runs
in this environment (same sys.prefix).
"""

import json
import os
import sys

import pytest

from _cli import cli_env

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(REPO, "notebooks", "quickstart.ipynb")
TINY_BUDGET = {"OFE_JAX_NOTEBOOK_STEPS": "400", "OFE_JAX_NOTEBOOK_LOG_EVERY": "200",
               "OFE_JAX_NOTEBOOK_RANDOM_STEPS": "100"}
PROBE = ("import sys\nprint('KERNEL_PREFIX=' + sys.prefix)\n"
         "print('KERNEL_EXECUTABLE=' + sys.executable)")


def _text(cell) -> str:
    """Everything a code cell printed (streams and text/plain results)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def _kernel_manager(tmp_path):
    """A KernelManager whose 'python3' kernel is `sys.executable -m ipykernel_launcher`."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    kernel_dir = tmp_path / "kernels" / "python3"
    kernel_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (test interpreter)", "language": "python"}
    (kernel_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    return KernelManager(kernel_name="python3", kernel_spec_manager=specs)


def test_notebook_is_stored_clean():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert "OFE_JAX_NOTEBOOK_STEPS" in code[0].source  # the budget is read in the first cell


@pytest.mark.timeout(600)
def test_notebook_runs_with_tiny_budget(tmp_path, monkeypatch):
    for name, value in TINY_BUDGET.items():
        monkeypatch.setenv(name, value)  # inherited by the kernel process
    monkeypatch.setenv("XLA_FLAGS", cli_env()["XLA_FLAGS"])  # compile-bound: see tests/_cli.py
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
    client = nbclient.NotebookClient(
        nb, km=_kernel_manager(tmp_path), kernel_name="python3", timeout=300,
        allow_errors=False, resources={"metadata": {"path": REPO}})
    client.execute()  # raises CellExecutionError on the first failing cell

    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
    probe = _text(code[0])
    assert f"KERNEL_PREFIX={sys.prefix}\n" in probe, probe
    assert f"KERNEL_EXECUTABLE={sys.executable}\n" in probe, probe

    printed = "\n".join(_text(c) for c in code)
    assert "budget: 400 env steps per seed, chunks of 200, 100 random steps, 4 seeds" in printed
    # Two chunks trained and evaluated; learning started in the first (random_steps=100).
    step_lines = [line for line in printed.splitlines() if line.startswith("step ")]
    assert len(step_lines) == 2 and step_lines[-1].startswith("step    400"), step_lines
    assert "nan" not in step_lines[-1], step_lines
    assert "final evaluation return per seed:" in printed
    # The learning-curve plot was shown inline.
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs
               if o.output_type == "display_data")
    # The update step on the hand-made batch: one seed, then 4 vmapped seeds.
    assert "buffer holds 4096 transitions" in printed
    assert "after 20 updates:" in printed and "  critic_loss: " in printed
    assert "  actor_loss: " in printed and "  alpha: " in printed
    assert "4 seeds, 20 updates each:" in printed and "  critic_loss per seed: [" in printed
