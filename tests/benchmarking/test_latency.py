from __future__ import annotations

import json

from cathx.benchmarking.latency import STAGES, matmul_gflops, run_bench, time_postprocess


def test_matmul_probe_is_positive():
    assert matmul_gflops(seconds=0.05, size=128) > 0


def test_bench_writes_json_and_markdown(tiny_checkpoint, tmp_path):
    report = run_bench(weights=tiny_checkpoint, backends=["torch"], frames=2, warmup=1, input_size=64,
                       frame_size=64, out=tmp_path, probe_seconds=0.05,
                       with_ideal_postprocess=False, precisions=["fp32"])
    saved = json.loads((tmp_path / "latency.json").read_text())
    row = saved["variants"][0]
    assert row["variant"] == "tiny/torch" and set(row["latency_ms"]) == set(STAGES)
    assert row["latency_ms"]["total"]["p50"] >= row["latency_ms"]["network"]["p50"] > 0
    assert row["gflops"] > 0 and row["flop_floor_ms"] > 0 and saved["machine"]["matmul_gflops"] > 0
    assert "| tiny/torch |" in (tmp_path / "latency.md").read_text() == report["markdown"]


def test_postprocess_timing_on_ideal_outputs():
    result = time_postprocess(frames=2, input_size=64, frame_size=96, warmup=0)
    assert result["p95"] >= result["p50"] > 0


def test_bench_times_each_precision_once_as_it_resolves(tiny_checkpoint, tmp_path, monkeypatch):
    import cathx.system

    monkeypatch.setattr(cathx.system, "native_bf16", lambda cpuinfo=None, unknown=True: True)
    report = run_bench(weights=tiny_checkpoint, backends=["torch"], frames=1, warmup=1, input_size=64,
                       frame_size=64, out=None, probe_seconds=0.05, with_ideal_postprocess=False,
                       precisions=["fp32", "bf16", "auto"])
    assert [row["variant"] for row in report["variants"]] == ["tiny/torch", "tiny/torch-bf16"]
    monkeypatch.setattr(cathx.system, "native_bf16", lambda cpuinfo=None, unknown=True: False)
    report = run_bench(weights=tiny_checkpoint, backends=["torch"], frames=1, warmup=1, input_size=64,
                       frame_size=64, out=None, probe_seconds=0.05, with_ideal_postprocess=False,
                       precisions=["auto", "bf16"])
    assert [row["variant"] for row in report["variants"]] == ["tiny/torch"]  # bf16 would be emulated


def test_a_checkpoints_learned_type_decision_is_timed_with_it(tmp_path):
    """`cathx bench` built its predictors without the shipped network's type decision, so it timed
    a post-processing `cathx predict` does not run."""
    from cathx.benchmarking.latency import _variants
    from cathx.zoo import resolve_weights

    (variant,) = _variants(resolve_weights("cathx-fluoro"), [], ["torch"], False, 64, tmp_path, "cpu",
                           precisions=["fp32"])
    assert variant.predictor.type_classifier is not None
