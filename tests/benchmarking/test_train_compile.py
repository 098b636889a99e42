"""The pure parts of benchmarks/train_compile.py (the script itself compiles for minutes)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_compile.py"
spec = importlib.util.spec_from_file_location("train_compile", SCRIPT)
train_compile = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_compile)


def test_report_compares_each_variant_with_eager_of_the_same_precision_and_layout(tmp_path):
    rows = [{"variant": "eager-bf16", "compile": None, "precision": "bf16", "channels_last": True,
             "first_step_s": 0.2, "step_s_median": 0.2},
            {"variant": "compile-bf16", "compile": "default", "precision": "bf16", "channels_last": True,
             "first_step_s": 40.0, "step_s_median": 0.3},
            {"variant": "compile-bf16-nchw", "compile": "default", "precision": "bf16", "channels_last": False,
             "first_step_s": 40.0, "step_s_median": 0.25},  # no eager NCHW row: no ratio
            {"variant": "compile-fp32", "error": "RuntimeError: boom"}]
    train_compile.write_report(tmp_path, "configs/demo.yaml", rows, "test CPU")
    table = (tmp_path / "table.md").read_text().splitlines()
    assert table[2] == "| eager-bf16 | 0.2 | 0.2 | 1.00x |"
    assert table[3] == "| compile-bf16 | 40.0 | 0.3 | 1.50x |"
    assert table[4] == "| compile-bf16-nchw | 40.0 | 0.25 | - |"
    assert table[5] == "| compile-fp32 | failed: RuntimeError: boom | | |"


def test_unknown_variant_is_one_line_listing_the_choices():
    done = subprocess.run([sys.executable, str(SCRIPT), "--variants", "eager-bf17"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: --variants: unknown 'eager-bf17'; choose from {', '.join(train_compile.VARIANTS)}"]
