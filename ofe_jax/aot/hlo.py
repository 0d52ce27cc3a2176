"""What a compiled program does when it runs, read from its optimised HLO (`compiled.as_text()`):
kernels launched, host synchronisations and bytes moved, with loops multiplied by their trips.

    counts = hlo.count(compiled.as_text(), trips_for)   # Counts(kernels, syncs, bytes, ...)

The walk starts at the ENTRY computation and follows what executes on the host's command: a
`while` runs its condition and body `trips` times (XLA's `known_trip_count`, else
`trips_for(op_name)`, else 1, recorded in `unknown_loops`); a `conditional` runs one branch (the
costliest is counted: an upper bound); a `call` runs its computation. Every other instruction
there is one kernel, except those that launch nothing (parameters, constants, tuples, bitcasts,
...). Library calls (cuBLAS, cuSOLVER, ...) are `custom-call`s; a host callback (jax's
pure_callback) is a custom-call that also synchronises.

Host synchronisations (XLA:GPU): each evaluation of a `while` condition (trips + 1 per loop),
each `conditional`, each host callback. On a CPU target the same ops are counted, but cost
nothing there (aot/targets.py).

Bytes are a kernel's operands plus its results, except where a fused computation only reads a
slice of a parameter (dynamic-slice, slice, gather: the slices' bytes) or writes into it in
place (dynamic-update-slice, scatter: the update's bytes): a replay sample or write then counts
the rows it touches, not the buffer.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable

NO_KERNEL = {"parameter", "constant", "get-tuple-element", "tuple", "bitcast", "after-all",
             "add-dependency", "opt-barrier", "partition-id", "replica-id", "domain",
             "copy-done", "async-done", "recv-done", "send-done", "all-reduce-done",
             "all-gather-done", "collective-permute-done", "get-dimension-size"}
SLICE_READS = {"dynamic-slice", "slice", "gather"}
IN_PLACE = {"dynamic-update-slice": 1, "scatter": 2}  # op -> operand index of the update
CALLBACK = re.compile(r"callback", re.I)  # jax's python callbacks (pure_callback, io_callback)
BYTES = {"pred": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "f16": 2, "bf16": 2, "s32": 4,
         "u32": 4, "f32": 4, "s64": 8, "u64": 8, "f64": 8, "c64": 8, "c128": 16,
         "f8e4m3fn": 1, "f8e5m2": 1, "s4": 1, "u4": 1}
_ARRAY = re.compile(r"\b([a-z]+[0-9]*[a-z0-9]*)\[([0-9,]*)\]")
_HEADER = re.compile(r"^(ENTRY\s+)?%([^\s(]+)\s*\(")
_NAME = re.compile(r"^\s*(?:ROOT\s+)?%([^\s=]+)\s*=\s*")


@dataclasses.dataclass
class Counts:
    kernels: float = 0.0  # kernel launches (fusions, library calls, copies, other ops)
    library_calls: float = 0.0  # of which custom-calls (cuBLAS, cuSOLVER, callbacks, ...)
    syncs: float = 0.0  # host synchronisations (while-condition evaluations, conditionals)
    callbacks: float = 0.0  # host callbacks (each also a sync)
    bytes: float = 0.0  # bytes read + written by the kernels
    whiles: int = 0  # while loops in the program (static count)
    conditionals: int = 0
    unknown_loops: list = dataclasses.field(default_factory=list)  # op_names counted 1 trip

    def add(self, other: "Counts", times: float = 1.0) -> None:
        for f in ("kernels", "library_calls", "syncs", "callbacks", "bytes"):
            setattr(self, f, getattr(self, f) + times * getattr(other, f))
        self.unknown_loops += [n for n in other.unknown_loops if n not in self.unknown_loops]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Instruction:
    name: str
    shape: str
    opcode: str
    operands: list  # operand names
    args: str  # the text inside the operand list (a parameter's number)
    attributes: str  # the text after the operand list

    def attr(self, key: str) -> str | None:
        match = re.search(rf"\b{key}=(%[^\s,]+|\{{[^}}]*\}}|\"[^\"]*\")", self.attributes)
        return match.group(1) if match else None

    @property
    def op_name(self) -> str:
        match = re.search(r'op_name="([^"]*)"', self.attributes)
        return match.group(1) if match else ""


def shape_bytes(shape: str) -> int:
    """Bytes of an HLO shape ("f32[8,6]{1,0}", tuples "(s32[], f32[8]{0})")."""
    total = 0
    for dtype, dims in _ARRAY.findall(shape):
        if dtype in BYTES:
            total += BYTES[dtype] * math.prod(int(d) for d in dims.split(",") if d)
    return total


def _balanced(text: str, start: int) -> int:
    """Index just past the bracket group opening at text[start]."""
    pairs = {"(": ")", "{": "}", "[": "]"}
    stack = []
    for i in range(start, len(text)):
        c = text[i]
        if c in pairs:
            stack.append(pairs[c])
        elif stack and c == stack[-1]:
            stack.pop()
            if not stack:
                return i + 1
        elif c == '"':  # skip strings (op names may hold brackets)
            end = text.find('"', i + 1)
            i = end if end > 0 else i
    return len(text)


def parse_instruction(line: str) -> Instruction | None:
    match = _NAME.match(line)
    if not match:
        return None
    rest = line[match.end():]
    if rest.startswith("("):
        end = _balanced(rest, 0)
    else:
        end = rest.find(" ")
    shape, rest = rest[:end], rest[end:].lstrip()
    paren = rest.find("(")
    if paren < 0:
        return None
    opcode = rest[:paren]
    close = _balanced(rest, paren)
    args = rest[paren + 1:close - 1]
    operands = re.findall(r"%([^\s,)]+)", args)
    return Instruction(match.group(1), shape, opcode, operands, args, rest[close:])


def parse_module(text: str) -> tuple[dict[str, list[Instruction]], str]:
    """{computation name: instructions}, and the ENTRY computation's name."""
    computations, entry, current = {}, None, None
    for line in text.splitlines():
        if current is None:
            header = _HEADER.match(line)
            if header and line.rstrip().endswith("{"):
                current = header.group(2)
                computations[current] = []
                if header.group(1):
                    entry = current
            continue
        if line.startswith("}"):
            current = None
            continue
        inst = parse_instruction(line)
        if inst is not None:
            computations[current].append(inst)
    if entry is None:
        raise ValueError("no ENTRY computation in the HLO text")
    return computations, entry


class _Walker:
    def __init__(self, computations, trips_for: Callable[[str], float | None]):
        self.computations = computations
        self.trips_for = trips_for
        self.memo: dict[str, Counts] = {}
        self.fusion_bytes: dict[str, tuple] = {}

    def computation(self, name: str) -> Counts:
        if name not in self.memo:
            counts = Counts()
            shapes = {i.name: i.shape for i in self.computations[name]}
            for inst in self.computations[name]:
                self.instruction(inst, shapes, counts)
            self.memo[name] = counts
        return self.memo[name]

    def instruction(self, inst: Instruction, shapes: dict, counts: Counts) -> None:
        op = inst.opcode
        if op in NO_KERNEL:
            return
        if op == "while":
            counts.whiles += 1
            trips = _known_trips(inst.attributes)
            if trips is None:
                trips = self.trips_for(inst.op_name)
            if trips is None:
                trips = 1
                counts.unknown_loops.append(inst.op_name or inst.name)
            body, cond = (self.computation(inst.attr(k)[1:]) for k in ("body", "condition"))
            counts.add(body, trips)
            counts.add(cond, trips + 1)
            counts.syncs += trips + 1
            counts.whiles += body.whiles + cond.whiles
            counts.conditionals += body.conditionals + cond.conditionals
            return
        if op == "conditional":
            branches = _branches(inst)
            costs = [self.computation(b) for b in branches]
            worst = max(costs, key=lambda c: (c.kernels, c.bytes))
            counts.add(worst)
            counts.syncs += 1
            counts.conditionals += 1 + sum(c.conditionals for c in costs)
            counts.whiles += sum(c.whiles for c in costs)
            return
        if op == "call":
            inner = self.computation(inst.attr("to_apply")[1:])
            counts.add(inner)
            counts.whiles += inner.whiles
            counts.conditionals += inner.conditionals
            return
        counts.kernels += 1
        if op == "custom-call":
            counts.library_calls += 1
            if CALLBACK.search(inst.attr("custom_call_target") or ""):
                counts.callbacks += 1
                counts.syncs += 1
        counts.bytes += self.kernel_bytes(inst, shapes)

    def kernel_bytes(self, inst: Instruction, shapes: dict) -> int:
        operand_bytes = [shape_bytes(shapes.get(o, "")) for o in inst.operands]
        if inst.opcode == "fusion":
            reads, writes = self.fused_access(inst.attr("calls")[1:])
            total = sum(b if r is None else r for b, r in zip(operand_bytes, reads))
            return total + (shape_bytes(inst.shape) if writes is None else writes)
        if inst.opcode in IN_PLACE and len(operand_bytes) > IN_PLACE[inst.opcode]:
            update = IN_PLACE[inst.opcode]  # read and written; indices read; the rest untouched
            indices = operand_bytes[2:] if update == 1 else operand_bytes[1:2]
            return 2 * operand_bytes[update] + sum(indices)
        if inst.opcode in SLICE_READS:
            out = shape_bytes(inst.shape)
            return 2 * out + sum(operand_bytes[1:])
        return sum(operand_bytes) + shape_bytes(inst.shape)

    def fused_access(self, name: str) -> tuple[list, int | None]:
        """Per parameter of a fused computation: the bytes it reads (None = all of it), and
        the bytes the fusion writes (None = its whole result)."""
        if name in self.fusion_bytes:
            return self.fusion_bytes[name]
        insts = self.computations[name]
        by_name = {i.name: i for i in insts}
        users: dict[str, list[Instruction]] = {}
        for inst in insts:
            for o in inst.operands:
                users.setdefault(o, []).append(inst)
        params = sorted((i for i in insts if i.opcode == "parameter"), key=lambda i: int(i.args))
        reads = [self._param_read(p, users) for p in params]
        root = insts[-1] if insts else None
        writes = None
        if root is not None:
            outs = [by_name[o] for o in root.operands if o in by_name] \
                if root.opcode == "tuple" else [root]
            if any(o.opcode in IN_PLACE for o in outs):
                writes = sum(shape_bytes(by_name[o.operands[IN_PLACE[o.opcode]]].shape)
                             if o.opcode in IN_PLACE and len(o.operands) > IN_PLACE[o.opcode]
                             and o.operands[IN_PLACE[o.opcode]] in by_name
                             else shape_bytes(o.shape) for o in outs)
        self.fusion_bytes[name] = (reads, writes)
        return reads, writes

    @staticmethod
    def _param_read(param: Instruction, users: dict) -> int | None:
        uses = users.get(param.name, [])
        if not uses:
            return 0
        total = 0
        for use in uses:
            if use.opcode in SLICE_READS and use.operands and use.operands[0] == param.name:
                total += shape_bytes(use.shape)
            elif use.opcode in IN_PLACE and use.operands and use.operands[0] == param.name:
                continue  # the buffer written in place: not read
            else:
                return None
        return total


def _known_trips(attributes: str) -> int | None:
    match = re.search(r'"known_trip_count":\{"n":"(\d+)"\}', attributes)
    return int(match.group(1)) if match else None


def _branches(inst: Instruction) -> list[str]:
    listed = inst.attr("branch_computations")
    if listed:
        return re.findall(r"%([^\s,}]+)", listed)
    return [inst.attr(k)[1:] for k in ("true_computation", "false_computation")]


def count(text: str, trips_for: Callable[[str], float | None] = lambda name: None) -> Counts:
    """Counts of one execution of the module in `text` (module docstring)."""
    computations, entry = parse_module(text)
    return _Walker(computations, trips_for).computation(entry)
