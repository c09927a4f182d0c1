"""Gating strategies as data: load Gating-ML 2.0, a FlowJo 10 workspace or a BD FACSDiva
experiment, evaluate it on FCS data, write the gates applied as Gating-ML.

Calling convention: ``strategy = load_strategy(path)``, ``require_gates(strategy, ids)``,
``result = evaluate(strategy, fcs)`` (a :class:`GatingResult`: memberships and counts per
gate, the ``applied`` strategy), ``applied_gatingml(result.applied, fcs)`` for the text of the
gates used. Every name that other modules use is re-exported here; the package splits at
the seams FlowKit keeps apart:

* :mod:`.model` - the dataclasses (:class:`Strategy`, :class:`Gate`, ...), no I/O;
* :mod:`.gatingml` - reading: the XML check, the Gating-ML parser, :func:`load_strategy`;
* :mod:`.extension` - our adaptive searches in Gating-ML, and :func:`gatingml_text`;
* :mod:`.transforms`, :mod:`.engine`, :mod:`.adapt` - evaluation without FlowKit;
* :mod:`.flowkit_bridge` - FlowJo workspaces and FlowKit as fallback and reference
  (imported only when used);
* :mod:`.diva` - BD FACSDiva experiment XML: its tubes, gates and axes as our model
  (imported only when a Diva strategy is loaded);
* :mod:`.xmlns` - the Gating-ML namespaces.
"""

from __future__ import annotations

from .engine import evaluate, gate_view
from .extension import gatingml_text
from .flowkit_bridge import applied_gatingml, evaluate_flowkit, flowkit_sample
from .gatingml import load_strategy, read_xml_safely
from .model import (
    ClusterSearch,
    Dimension,
    Gate,
    GateView,
    GatingResult,
    Matrix,
    Strategy,
    Transform,
    ValleySearch,
    check_gate_ids,
    require_gates,
)
from .transforms import inverse_values, transform_values
from .xmlns import DT, GML, SPCR, XF

__all__ = [
    "DT",
    "GML",
    "SPCR",
    "XF",
    "ClusterSearch",
    "Dimension",
    "Gate",
    "GateView",
    "GatingResult",
    "Matrix",
    "Strategy",
    "Transform",
    "ValleySearch",
    "applied_gatingml",
    "evaluate",
    "evaluate_flowkit",
    "flowkit_sample",
    "gate_view",
    "gatingml_text",
    "inverse_values",
    "load_strategy",
    "read_xml_safely",
    "check_gate_ids",
    "require_gates",
    "transform_values",
]
