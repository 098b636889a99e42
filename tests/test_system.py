from cathx.system import cpu_description, render_workers

EPYC = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n\nprocessor\t: 1\n"
XEON = "model name\t: Intel Xeon\nflags\t\t: fpu sse avx2 fma\n"


def test_cpu_description_names_model_and_widest_isa():
    assert cpu_description(EPYC).startswith("AMD EPYC, ") and cpu_description(EPYC).endswith("AVX-512 + VNNI")
    assert cpu_description(XEON).endswith("AVX2")
    assert cpu_description("").endswith("ISA unknown")


def test_cpu_description_tells_generations_apart_by_family_and_model():
    zen3 = "processor\t: 0\ncpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2\n"
    assert cpu_description(zen3).startswith("AMD EPYC (family 25 model 1), ")
    assert cpu_description(zen3.replace("model\t\t: 1\n", "")).startswith("AMD EPYC, ")  # model number missing


def test_render_workers_is_one_per_cpu_up_to_the_cap(monkeypatch):
    import os

    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # a system without affinity masks
    for cpus, cap, expected in [(1, 2, 1), (2, 2, 2), (16, 2, 2), (16, 4, 4), (None, 2, 1)]:
        monkeypatch.setattr(os, "cpu_count", lambda cpus=cpus: cpus)
        assert render_workers(cap) == expected, (cpus, cap)


def test_render_workers_and_the_cpu_line_count_the_cpus_this_process_may_use(monkeypatch):
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)  # taskset -c 0
    assert render_workers(2) == 1
    assert ", 1 CPUs, " in cpu_description(EPYC)


def test_bf16_training_falls_back_to_float32_where_the_cpu_would_emulate_it():
    from cathx.system import training_precision

    bf16_cpu = EPYC.replace("avx512_vnni", "avx512_vnni avx512_bf16")
    assert training_precision("bf16-mixed", True, bf16_cpu) == ("bf16-mixed", None)
    assert training_precision("bf16-mixed", True, XEON.replace("fma", "fma amx_bf16")) == ("bf16-mixed", None)
    precision, why = training_precision("bf16-mixed", True, XEON)
    assert precision == "32-true" and why.startswith("precision bf16-mixed needs a CPU with AVX-512 BF16 or AMX")
    assert "Intel Xeon" in why and why.endswith("training in 32-true instead")
    assert training_precision("bf16-mixed", True, EPYC)[0] == "32-true"  # AVX-512 without BF16
    assert training_precision("bf16-mixed", False, XEON) == ("bf16-mixed", None)  # a GPU does it natively
    assert training_precision("32-true", True, XEON) == ("32-true", None)
    assert training_precision("bf16-mixed", True, "") == ("bf16-mixed", None)  # flags unknown: trusted


def test_inference_precision_auto_is_bf16_only_where_the_cpu_computes_it():
    import pytest

    from cathx.system import inference_precision

    bf16_cpu = EPYC.replace("avx512_vnni", "avx512_vnni avx512_bf16")
    assert inference_precision("auto", "cpu", bf16_cpu) == ("bf16", None)
    assert inference_precision("auto", "cpu", XEON.replace("fma", "fma amx_bf16")) == ("bf16", None)
    assert inference_precision("auto", "cpu", EPYC) == ("fp32", None)  # AVX-512 without BF16
    assert inference_precision("auto", "cuda", bf16_cpu) == ("fp32", None)  # not measured on a GPU: as trained
    assert inference_precision("fp32", "cpu", bf16_cpu) == ("fp32", None)
    assert inference_precision("bf16", "cpu", bf16_cpu) == ("bf16", None)
    assert inference_precision("bf16", "cuda:1", XEON) == ("bf16", None)  # a GPU does it natively
    precision, why = inference_precision("bf16", "cpu", XEON)
    assert precision == "fp32" and why.startswith("precision bf16 needs a CPU with AVX-512 BF16 or AMX")
    assert "Intel Xeon" in why and why.endswith("predicting in fp32 instead")
    assert inference_precision("auto", "cpu", "") == ("fp32", None)  # flags unknown (not Linux): not guessed
    assert inference_precision("bf16", "cpu", "") == ("bf16", None)  # ... but an explicit ask is trusted
    with pytest.raises(ValueError, match=r"precision 'fp16': choose from auto, fp32, bf16"):
        inference_precision("fp16", "cpu", XEON)
