"""The CPU named beside every bench figure: family and model numbers and the wide-vector flags, read from a
hand-built /proc/cpuinfo (a virtual machine that only says "AMD EPYC" hides whether it has AVX-512 and bfloat16)."""

from __future__ import annotations

from bench._common import cpu_name

TWO_PROCESSORS = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 26
model\t\t: 2
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx2 fma avx512f avx512bw avx512_bf16 avx512_vnni

processor\t: 1
cpu family\t: 25
model\t\t: 1
model name\t: Another CPU
flags\t\t: fpu amx_bf16
"""


def test_the_first_processor_is_named_with_its_numbers_and_wide_flags():
    assert cpu_name(TWO_PROCESSORS) == "AMD EPYC (cpu family 26, model 2; avx2 avx512f avx512_bf16)"


def test_a_cpu_without_avx512_says_only_what_it_has():
    older = "cpu family\t: 23\nmodel\t\t: 49\nmodel name\t: AMD EPYC 7B12\nflags\t\t: fma avx2\n"
    assert cpu_name(older) == "AMD EPYC 7B12 (cpu family 23, model 49; avx2)"


def test_no_model_name_gives_nothing():
    assert cpu_name("processor\t: 0\nflags\t\t: avx2\n") == ""
