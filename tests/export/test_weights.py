"""export_safetensors: a training checkpoint as the shipped format, written only when faithful."""

from __future__ import annotations

import pytest
import torch

from cathx.errors import CathxError
from cathx.export.weights import export_safetensors


def test_a_copy_that_does_not_reload_equal_is_never_left_at_the_users_path(tiny_checkpoint, tmp_path, monkeypatch):
    out = tmp_path / "m.safetensors"
    written = export_safetensors(tiny_checkpoint, out)
    assert out.is_file() and written["tensors"] > 0
    before = out.read_bytes()
    monkeypatch.setattr(torch, "equal", lambda a, b: False)  # stands in for a copy that came back different
    with pytest.raises(CathxError, match=r"m.safetensors: tensor .* differs after writing; not written"):
        export_safetensors(tiny_checkpoint, out)
    assert out.read_bytes() == before  # the earlier good file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # no partial file left
