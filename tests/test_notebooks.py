"""The notebooks run clean from top to bottom (they are documentation that must not rot)."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from creditops.settings import PROJECT_ROOT


@pytest.mark.slow
def test_the_data_errors_notebook_runs_clean(tmp_path):
    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / "data_errors.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert printed.count("injected:") >= 12 and "criticality high" in printed
