import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    assert all(len(c.source.splitlines()) <= 12 for c in code)  # logic belongs in src/


# Logic lives in the package: a notebook imports it, and only what shows its output.
DISPLAY = {"matplotlib.pyplot", "IPython.display"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_import_only_the_package(path):
    nb = nbformat.read(path, as_version=4)
    modules = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Import):
                    modules += [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    modules.append(node.module)
    assert modules
    assert [m for m in modules if m.split(".")[0] != "churn_causal" and m not in DISPLAY] == []
