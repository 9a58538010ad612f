"""A step's FLOPs and bytes, counted from the optimised HLO that XLA compiled.

TensorFlow does not expose XLA's own cost analysis (``HloCostAnalysis``; JAX has
``compiled.cost_analysis()``), but it does expose the optimised HLO text
(``tf.function(jit_compile=True).experimental_get_compiler_ir(...)(stage="optimized_hlo")``).
This module counts that program with HloCostAnalysis's rules, simplified:

- ``dot``: ``2 x`` output elements ``x`` the contracted size;
- elementwise arithmetic, transcendental, ``compare``, ``select``, ``clamp``: one FLOP per
  output element; ``reduce``: (input - output elements) x the reducer's FLOPs;
  ``reduce-window``: output elements x window x the reducer's FLOPs;
- ``fusion`` and ``call``: the FLOPs of the computation they call;
- bytes: for every instruction of the entry computation (a fusion counts as one), the bytes
  of its operands and of its result, except where no data moves (``parameter``,
  ``constant``, ``tuple``, ``get-tuple-element``, ``bitcast``); a ``gather`` or slice, at top
  level or inside a fusion, reads only what it gathers.

So the bytes are the compiled program's traffic between its kernels, with nothing kept in
cache: more than a step's minimum when the program materialises intermediates or reads an
input twice. Instructions whose work cannot be read off the text (``while`` loops,
``custom-call`` such as a cuBLAS or oneDNN product, ``convolution``) raise
:class:`HloCostError` rather than return an undercount.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

ELEMENT_BYTES = {
    "pred": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "f16": 2, "bf16": 2, "s32": 4, "u32": 4, "f32": 4,
    "s64": 8, "u64": 8, "f64": 8, "c64": 8, "c128": 16,
}
ELEMENTWISE = frozenset({
    "abs", "add", "atan2", "cbrt", "ceil", "clamp", "compare", "cosine", "divide", "erf", "exponential",
    "exponential-minus-one", "floor", "log", "log-plus-one", "logistic", "maximum", "minimum", "multiply",
    "negate", "power", "remainder", "round-nearest-afz", "round-nearest-even", "rsqrt", "select", "sign",
    "sine", "sqrt", "subtract", "tan", "tanh",
})
TRANSCENDENTAL = frozenset({
    "atan2", "cbrt", "cosine", "erf", "exponential", "exponential-minus-one", "log", "log-plus-one",
    "logistic", "power", "rsqrt", "sine", "sqrt", "tan", "tanh",
})
NO_TRAFFIC = frozenset(
    {"parameter", "constant", "tuple", "get-tuple-element", "bitcast", "after-all", "partition-id", "replica-id"}
)
SLICING = frozenset({"gather", "dynamic-slice", "slice"})
UNCOUNTABLE = frozenset({"while", "custom-call", "convolution", "conditional", "fft", "triangular-solve", "cholesky"})

_SHAPE = re.compile(r"\b(" + "|".join(sorted(ELEMENT_BYTES, key=len, reverse=True)) + r")\[([\d,]*)\]")
_HEADER = re.compile(r"^(ENTRY\s+)?%?([\w.\-]+)\s*\(.*\)\s*->\s*.*\{\s*$")
_INSTRUCTION = re.compile(r"^\s*(ROOT\s+)?%?([\w.\-]+)\s*=\s*(.+?)\s([a-z][a-z0-9\-]*)\((.*)$")


class HloCostError(ValueError):
    """The HLO holds work this counter cannot read off the text."""


@dataclass(frozen=True)
class Instruction:
    name: str
    shapes: tuple[tuple[str, tuple[int, ...]], ...]
    opcode: str
    operands: tuple[str, ...]
    attributes: str
    number: int | None = None
    """``N`` of ``parameter(N)``."""

    @property
    def elements(self) -> int:
        """Elements of the (first) result array."""
        return math.prod(self.shapes[0][1]) if self.shapes else 0

    @property
    def bytes(self) -> int:
        """Bytes of the result (every array of a tuple)."""
        return sum(ELEMENT_BYTES[dtype] * math.prod(dims) for dtype, dims in self.shapes)

    def called(self, key: str) -> str | None:
        """The computation named by ``calls=`` or ``to_apply=``."""
        match = re.search(rf"\b{key}=%?([\w.\-]+)", self.attributes)
        return match.group(1) if match else None


@dataclass
class Computation:
    name: str
    instructions: dict[str, Instruction] = field(default_factory=dict)


@dataclass(frozen=True)
class HloCost:
    """What the counter found; ``transcendentals`` are among the ``flops``."""

    flops: float
    bytes: float
    transcendentals: float


def parse_shapes(text: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """``f32[100,10]{1,0}`` or a tuple of them, as ``((dtype, dims), ...)``."""
    return tuple((dtype, tuple(int(d) for d in dims.split(",") if d)) for dtype, dims in _SHAPE.findall(text))


def _split_operands(rest: str) -> tuple[str, str]:
    """``"a, b), attrs"`` -> (``"a, b"``, ``"attrs"``), respecting nested brackets."""
    depth = 0
    for index, char in enumerate(rest):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                return rest[:index], rest[index + 1 :]
            depth -= 1
    raise HloCostError(f"unbalanced instruction: {rest[:80]!r}")


def parse_module(text: str) -> tuple[dict[str, Computation], str]:
    """Every computation of an HLO module, and the name of the entry computation."""
    computations: dict[str, Computation] = {}
    entry = None
    current: Computation | None = None
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header and current is None:
            current = Computation(header.group(2))
            computations[current.name] = current
            if header.group(1):
                entry = current.name
            continue
        if line.strip() == "}":
            current = None
            continue
        match = _INSTRUCTION.match(line)
        if current is None or match is None:
            continue
        _, name, shape_text, opcode, rest = match.groups()
        operand_text, attributes = _split_operands(rest)
        operands = tuple(re.findall(r"%([\w.\-]+)", operand_text))
        number = int(operand_text) if opcode == "parameter" and operand_text.strip().isdigit() else None
        current.instructions[name] = Instruction(name, parse_shapes(shape_text), opcode, operands, attributes, number)
    if entry is None:
        raise HloCostError("no ENTRY computation in the HLO text")
    return computations, entry


class _Counter:
    def __init__(self, computations: dict[str, Computation]) -> None:
        self.computations = computations
        self.transcendentals = 0.0

    def computation_flops(self, name: str) -> float:
        computation = self.computations.get(name)
        if computation is None:
            raise HloCostError(f"computation {name!r} is called but not defined")
        return sum(self.flops(computation, instruction) for instruction in computation.instructions.values())

    def flops(self, computation: Computation, instruction: Instruction) -> float:
        opcode = instruction.opcode
        if opcode in UNCOUNTABLE:
            raise HloCostError(f"cannot count the work of {opcode} {instruction.name!r}")
        if opcode in ELEMENTWISE:
            if opcode in TRANSCENDENTAL:
                self.transcendentals += instruction.elements
            return float(instruction.elements)
        if opcode == "dot":
            lhs = computation.instructions[instruction.operands[0]]
            match = re.search(r"lhs_contracting_dims=\{([\d,]*)\}", instruction.attributes)
            contracted = [lhs.shapes[0][1][int(d)] for d in match.group(1).split(",") if d] if match else []
            return 2.0 * instruction.elements * math.prod(contracted)
        if opcode == "reduce":
            source = computation.instructions[instruction.operands[0]]
            reducer = instruction.called("to_apply")
            per = self.computation_flops(reducer) if reducer else 1.0
            return max(source.elements - instruction.elements, 0) * per
        if opcode == "reduce-window":
            match = re.search(r"size=([\dx]+)", instruction.attributes)
            window = math.prod(int(d) for d in match.group(1).split("x")) if match else 1
            reducer = instruction.called("to_apply")
            return instruction.elements * window * (self.computation_flops(reducer) if reducer else 1.0)
        if opcode in ("fusion", "call"):
            called = instruction.called("calls") or instruction.called("to_apply")
            if called is None:
                raise HloCostError(f"{opcode} {instruction.name!r} names no computation")
            return self.computation_flops(called)
        return 0.0

    def operand_bytes(self, computation: Computation, instruction: Instruction) -> float:
        """What ``instruction`` reads: all of each operand, or only the slices gathered from it."""
        if instruction.opcode in SLICING:
            indices = sum(computation.instructions[o].bytes for o in instruction.operands[1:] if o in computation.instructions)
            return float(instruction.bytes + indices)
        fused = self.computations.get(instruction.called("calls") or "") if instruction.opcode == "fusion" else None
        total = 0.0
        for position, operand in enumerate(instruction.operands):
            size: float = computation.instructions[operand].bytes if operand in computation.instructions else 0
            if fused is not None:
                size = min(size, self._read_inside(fused, position, size))
            total += size
        return total

    @staticmethod
    def _read_inside(fused: Computation, position: int, whole: float) -> float:
        """Bytes a fusion reads of its parameter ``position``: less than all of it only when
        every use is the sliced operand of a gather or slice."""
        parameter = next((i for i in fused.instructions.values() if i.opcode == "parameter" and i.number == position), None)
        if parameter is None:
            return whole
        users = [i for i in fused.instructions.values() if parameter.name in i.operands]
        if users and all(u.opcode in SLICING and u.operands[0] == parameter.name for u in users):
            return float(sum(u.bytes for u in users))
        return whole


def count(text: str) -> HloCost:
    """FLOPs, bytes and transcendentals of the entry computation of an HLO module's text."""
    computations, entry = parse_module(text)
    counter = _Counter(computations)
    main = computations[entry]
    flops = sum(counter.flops(main, instruction) for instruction in main.instructions.values())
    moved = 0.0
    for instruction in main.instructions.values():
        if instruction.opcode not in NO_TRAFFIC:
            moved += counter.operand_bytes(main, instruction) + instruction.bytes
    return HloCost(flops=flops, bytes=moved, transcendentals=counter.transcendentals)
