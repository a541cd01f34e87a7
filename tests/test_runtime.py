"""Where and how computation runs: what the CPU offers and the precision chosen for it."""
import pytest
import torch

from colorlib.runtime import compute_description, cpu_bf16_instructions, resolve_precision


@pytest.mark.parametrize("flags, expected", [
    ("fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile", "amx_bf16"),  # AMX first: the faster units
    ("fpu avx2 avx512f avx512_bf16", "avx512_bf16"),
    ("fpu avx2 avx512f", None),
    ("fpu avx2 xamx_bf16x", None),  # whole flags only
])
def test_bf16_instructions_are_read_from_the_cpu_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert cpu_bf16_instructions(flags) == expected


def test_without_avx512_kernels_no_bf16_instructions_are_used(monkeypatch):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert cpu_bf16_instructions("avx512_bf16 amx_bf16") is None


def test_auto_precision_is_bf16_on_a_cpu_exactly_where_it_has_bf16_instructions():
    cpu = torch.device("cpu")
    described = compute_description(cpu)
    assert described["device"] == "cpu"
    assert described["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert isinstance(described["cpu_model"], str) and described["cpu_model"]
    assert described["auto_precision"] == ("bf16" if described["cpu_bf16"] else "fp32")
    assert resolve_precision("fp32", cpu) == "fp32"
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        resolve_precision("fp16", cpu)
