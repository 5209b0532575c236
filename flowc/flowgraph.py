"""``flow._graph``: the flow's graph as Metaflow's ``FlowGraph`` shows it (``graph["a"].type``,
``.in_funcs``, ``.out_funcs``, ``.parallel_step``), built from flowc's IR. Code written for
Metaflow reads it, from a step or from a script that instantiates the flow."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from flowc.ir import FlowIR, NodeKind, TransitionKind


@dataclass
class GraphNode:
    """One step, with Metaflow's node attribute names."""

    name: str
    type: str
    out_funcs: list[str]
    in_funcs: set[str] = field(default_factory=set)
    parallel_step: bool = False
    parallel_foreach: bool = False
    foreach_param: str | None = None
    condition: str | None = None
    switch_cases: dict[str, str] = field(default_factory=dict)
    doc: str = ""


class FlowGraph:
    """Nodes by step name, iterable in the flow's order."""

    def __init__(self, ir: FlowIR):
        from flowc.graph import order

        self.name = ir.name
        self.doc = ir.doc or ""
        self.nodes: dict[str, GraphNode] = {}
        for s in ir.steps:
            tr = s.transition
            kind = s.kind.value
            if s.kind is NodeKind.SWITCH:
                kind = "split-switch"
            elif tr is not None and tr.kind is TransitionKind.PARALLEL:
                kind = "foreach"
            self.nodes[s.name] = GraphNode(
                name=s.name,
                type=kind,
                out_funcs=list(tr.targets) if tr is not None else [],
                parallel_step=s.decorator("parallel") is not None,
                parallel_foreach=tr is not None and tr.kind is TransitionKind.PARALLEL,
                foreach_param=tr.foreach if tr is not None else None,
                condition=tr.condition if tr is not None else None,
                switch_cases=dict(tr.cases) if tr is not None else {},
                doc=s.doc or "",
            )
        for node in self.nodes.values():
            for target in node.out_funcs:
                if target in self.nodes:
                    self.nodes[target].in_funcs.add(node.name)
        self.sorted_nodes = [n for n in order(ir) if n in self.nodes]

    def __getitem__(self, name: str) -> GraphNode:
        return self.nodes[name]

    def __contains__(self, name: str) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[GraphNode]:
        return iter(self.nodes[n] for n in self.sorted_nodes)


def graph_of(cls: type) -> FlowGraph:
    """The graph of flow class ``cls``, analyzed from its source file once per class."""
    cached = cls.__dict__.get("__flowc_graph__")
    if cached is not None:
        return cached
    from flowc.analyzer import analyze_file

    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if not path:
        raise AttributeError(f"{cls.__name__}._graph: the flow's source file is unknown")
    analysis = analyze_file(path, cls.__name__)
    ir = next((f for f in analysis.flows if f.name == cls.__name__), None)
    if ir is None:
        raise AttributeError(f"{cls.__name__}._graph: {path} holds no flow {cls.__name__}")
    graph = FlowGraph(ir)
    cls.__flowc_graph__ = graph
    return graph
