from cathx.system import cpu_description

EPYC = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n\nprocessor\t: 1\n"
XEON = "model name\t: Intel Xeon\nflags\t\t: fpu sse avx2 fma\n"


def test_cpu_description_names_model_and_widest_isa():
    assert cpu_description(EPYC).startswith("AMD EPYC, ") and cpu_description(EPYC).endswith("AVX-512 + VNNI")
    assert cpu_description(XEON).endswith("AVX2")
    assert cpu_description("").endswith("ISA unknown")
