"""write_dataset(engine="ray"): Ray tasks over seed ranges write the same files as the local run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cathx.data.synthetic import SynthConfig, write_dataset
from cathx.errors import CathxError


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_ray_engine_writes_the_same_files_as_the_local_run(tmp_path, local_ray):
    if not local_ray:  # ran in a child pytest (tests/conftest.py)
        return
    local = write_dataset(tmp_path / "local", 11, size=64, seed=4, sequences=1, frames=3, workers=1)
    on_ray = write_dataset(tmp_path / "ray", 11, size=64, seed=4, sequences=1, frames=3, workers=2, engine="ray")
    other = write_dataset(tmp_path / "other", 11, size=64, seed=5, sequences=1, frames=3, workers=2, engine="ray")
    assert len(_files(local)) > 11 and _files(on_ray) == _files(local)
    assert _files(other) != _files(local)


@pytest.mark.slow
def test_a_failing_ray_task_is_one_line_and_leaves_nothing(tmp_path, local_ray):
    if not local_ray:  # ran in a child pytest (tests/conftest.py)
        return
    broken = replace(SynthConfig())  # set past SynthConfig's checks: fails inside the task only
    object.__setattr__(broken, "pixel_spacing_mm", ("wide", "narrow"))
    with pytest.raises(CathxError, match=r"^Ray task for units 0-\d+ failed \(.*could not convert") as error:
        write_dataset(tmp_path / "ds", 6, size=64, workers=2, config=broken, engine="ray")
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []
