from __future__ import annotations

from cathx.errors import first_line


def test_first_line_of_a_foreign_error_or_its_type():
    assert first_line(RuntimeError("  [ONNXRuntimeError] : 10 : INVALID_GRAPH\n  at node 3\n")) == \
        "[ONNXRuntimeError] : 10 : INVALID_GRAPH"
    assert first_line(KeyError()) == "KeyError"
    assert first_line(ValueError("   ")) == "ValueError"
