"""Benchmark suites mirroring the paper's tables: train and evaluate variants over seeds, then
write markdown / CSV tables and PNG plots (``cathx benchmark``).

Modules: ``suites`` (variants as config overrides), ``runner`` (training, evaluation, budget,
resume), ``tables`` (mean and std over seeds), ``plots``, ``profiling`` (parameters, FLOPs,
latency). Nothing is imported here so that the CLI starts without loading torch.
"""
