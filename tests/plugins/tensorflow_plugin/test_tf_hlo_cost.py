"""Counting a step's work from XLA's optimised HLO text (no TensorFlow needed)."""

from __future__ import annotations

import pytest
from bench_tensorflow.hlo_cost import HloCostError, count, parse_module, parse_shapes

# A hand-written module in the shape of XLA's optimised output: a gather fused with a
# bitcast, a dot, a fused elementwise update and a reduce with its reducer.
MODULE = """\
HloModule step, is_scheduled=true, entry_computation_layout={(s64[4]{0}, f32[1000,8]{1,0}, f32[8,3]{1,0})->(f32[], f32[8,3]{1,0})}

%add (x: f32[], y: f32[]) -> f32[] {
  %x = f32[] parameter(0)
  %y = f32[] parameter(1)
  ROOT %sum = f32[] add(%x, %y)
}

%gather_fusion (param_0: f32[1000,8], param_1: s64[4]) -> f32[4,8] {
  %param_0 = f32[1000,8]{1,0} parameter(0)
  %param_1 = s64[4]{0} parameter(1)
  %bitcast.1 = s64[4,1]{1,0} bitcast(%param_1)
  %gather.1 = f32[4,1,8]{2,1,0} gather(%param_0, %bitcast.1), offset_dims={1,2}, collapsed_slice_dims={}, start_index_map={0}, index_vector_dim=1, slice_sizes={1,8}
  ROOT %bitcast.2 = f32[4,8]{1,0} bitcast(%gather.1)
}

%update_fusion (param_0.1: f32[8,3], param_1.1: f32[8,3]) -> f32[8,3] {
  %param_0.1 = f32[8,3]{1,0} parameter(0)
  %param_1.1 = f32[8,3]{1,0} parameter(1)
  %lr = f32[] constant(0.5)
  %lr.b = f32[8,3]{1,0} broadcast(%lr), dimensions={}
  %scaled = f32[8,3]{1,0} multiply(%lr.b, %param_1.1), metadata={op_type="Mul" op_name="mul(x, y)"}
  %e = f32[8,3]{1,0} exponential(%scaled)
  ROOT %new = f32[8,3]{1,0} subtract(%param_0.1, %e)
}

ENTRY %main (arg0: s64[4], arg1: f32[1000,8], arg2: f32[8,3]) -> (f32[], f32[8,3]) {
  %arg0 = s64[4]{0} parameter(0), parameter_replication={false}, metadata={op_name="XLA_Args"}
  %arg1 = f32[1000,8]{1,0} parameter(1)
  %arg2 = f32[8,3]{1,0} parameter(2)
  %rows = f32[4,8]{1,0} fusion(%arg1, %arg0), kind=kLoop, calls=%gather_fusion
  %logits = f32[4,3]{1,0} dot(%rows, %arg2), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  %grad = f32[8,3]{1,0} dot(%rows, %logits), lhs_contracting_dims={0}, rhs_contracting_dims={0}
  %zero = f32[] constant(0)
  %loss = f32[] reduce(%logits, %zero), dimensions={0,1}, to_apply=%add
  %updated = f32[8,3]{1,0} fusion(%arg2, %grad), kind=kLoop, calls=%update_fusion
  ROOT %out = (f32[], f32[8,3]{1,0}) tuple(%loss, %updated)
}
"""


def test_parse_shapes():
    assert parse_shapes("f32[100,10]{1,0}") == (("f32", (100, 10)),)
    assert parse_shapes("(f32[], s64[3]{0})") == (("f32", ()), ("s64", (3,)))
    assert parse_shapes("pred[2,2]") == (("pred", (2, 2)),)


def test_parse_module_finds_every_instruction():
    computations, entry = parse_module(MODULE)
    assert entry == "main" and set(computations) == {"add", "gather_fusion", "update_fusion", "main"}
    main = computations["main"]
    assert main.instructions["logits"].operands == ("rows", "arg2") and main.instructions["arg1"].number == 1
    assert computations["update_fusion"].instructions["scaled"].operands == ("lr.b", "param_1.1")


def test_counts_flops_and_bytes_by_hand():
    cost = count(MODULE)
    logits = 2 * 4 * 3 * 8   # (4x8).(8x3)
    grad = 2 * 8 * 3 * 4     # (8x4).(4x3)
    reduce = 4 * 3 - 1       # 12 elements to one, one add each
    update = 3 * 8 * 3       # multiply, exponential, subtract
    assert cost.flops == logits + grad + reduce + update
    assert cost.transcendentals == 24
    gather = (4 * 8 * 4) + 4 * 8 + (4 * 8 * 4)  # reads only the 4 gathered rows and the indices; writes them
    dots = (128 + 96 + 48) + (128 + 48 + 96)     # operands and result of each product
    loss = 48 + 4 + 4                            # logits and the init value in, the scalar out
    updated = (96 + 96) + 96
    assert cost.bytes == gather + dots + loss + updated


@pytest.mark.parametrize("text, message", [
    (MODULE.replace("%loss = f32[] reduce(%logits, %zero), dimensions={0,1}, to_apply=%add",
                    '%loss = f32[] custom-call(%logits), custom_call_target="__onednn$matmul"'), "custom-call"),
    ("HloModule empty\n", "ENTRY"),
    (MODULE.replace("calls=%update_fusion", "calls=%missing"), "missing"),
])
def test_what_it_cannot_count_is_an_error_not_an_undercount(text, message):
    with pytest.raises(HloCostError, match=message):
        count(text)
