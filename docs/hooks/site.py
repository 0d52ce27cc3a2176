"""MkDocs hook (mkdocs.yml `hooks:`): pages and files that come from elsewhere in the repository,
added at build time so that nothing is copied into docs/ by hand.

- guide/notebook.md: notebooks/quickstart.ipynb as a page (its Markdown cells, its code cells
  as Python blocks; the notebook is committed without outputs: the tests execute it).
- results/figures/<name>.png: every figure in benchmarks/results/.
"""

import glob
import json
import os

from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOK = "notebooks/quickstart.ipynb"


def notebook_page(path: str) -> str:
    with open(path) as f:
        cells = json.load(f)["cells"]
    out = [f"!!! note \"Rendered from `{NOTEBOOK}`\"\n    Open it in Jupyter to run it; the "
           f"test suite executes it top to bottom with a tiny budget "
           f"(`tests/test_notebook.py`).\n"]
    for cell in cells:
        source = "".join(cell["source"]).rstrip()
        if cell["cell_type"] == "markdown":
            out.append(source)
        elif cell["cell_type"] == "code":
            out.append(f"```python\n{source}\n```")
    return "\n\n".join(out) + "\n"


def on_files(files, config):
    files.append(File.generated(config, "guide/notebook.md",
                                content=notebook_page(os.path.join(ROOT, NOTEBOOK))))
    for png in sorted(glob.glob(os.path.join(ROOT, "benchmarks", "results", "*.png"))):
        files.append(File.generated(config, f"results/figures/{os.path.basename(png)}",
                                    abs_src_path=png))
    return files
