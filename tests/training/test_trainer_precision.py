"""build_trainer trains in float32 where bfloat16 would be emulated (and keeps bf16 where it is native)."""

from __future__ import annotations

import logging

import cathx.system
import cathx.training.trainer
from cathx.training.config import TrainerConfig
from cathx.training.trainer import build_trainer


def test_bf16_mixed_becomes_32_true_on_a_cpu_without_bfloat16(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(cathx.system, "_model_and_flags", lambda cpuinfo: ("Old CPU", {"avx2", "fma"}))
    monkeypatch.setattr(cathx.training.trainer, "_PRECISION_WARNINGS", set())
    with caplog.at_level(logging.WARNING):
        trainer = build_trainer(TrainerConfig(precision="bf16-mixed"), tmp_path, "stage", max_epochs=1)
        build_trainer(TrainerConfig(precision="bf16-mixed"), tmp_path, "stage2", max_epochs=1)
    assert trainer.precision == "32-true"
    assert "needs a CPU with AVX-512 BF16 or AMX" in caplog.text and "training in 32-true instead" in caplog.text
    assert caplog.text.count("needs a CPU with AVX-512 BF16") == 1  # once, not once per stage


def test_bf16_mixed_stays_where_the_cpu_has_it(tmp_path, monkeypatch):
    monkeypatch.setattr(cathx.system, "_model_and_flags", lambda cpuinfo: ("New CPU", {"avx512f", "avx512_bf16"}))
    trainer = build_trainer(TrainerConfig(precision="bf16-mixed"), tmp_path, "stage", max_epochs=1)
    assert trainer.precision == "bf16-mixed"
