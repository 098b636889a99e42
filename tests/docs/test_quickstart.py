"""docs/quickstart.ipynb runs end to end (tiny model, 64 px frames) and shows what it promises."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_notebook_executes(tiny_checkpoint, tmp_path, monkeypatch):
    import nbclient
    import nbformat

    monkeypatch.setenv("CATHX_QUICKSTART_WEIGHTS", str(tiny_checkpoint))
    monkeypatch.setenv("CATHX_QUICKSTART_SIZE", "64")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        "commit the notebook without outputs"
    # nbclient waits only 4 s for a cell's output by default and then drops it with a warning: on a
    # busy 2-core CI machine that lost the `model` cell's repr once. Wait longer, and fail loudly.
    nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3", iopub_timeout=60,
                            raise_on_iopub_timeout=True,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    text = "\n".join(str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
                     for output in outputs)
    assert not [o for o in outputs if o.output_type == "error"]
    for expected in ("Model(", "Results('frame': 64x64", "CathxError: predict: expected"):
        assert expected in text, f"{expected!r} missing from the notebook's output:\n{text}"
    assert any("image/png" in output.get("data", {}) for output in outputs)  # Results drew itself
    assert any("video/mp4" in str(output.get("data", {}).get("text/html", "")) for output in outputs)
