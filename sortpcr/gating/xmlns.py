"""Gating-ML 2.0 names: the three namespaces, ours for adaptive gates, and tag helpers.

Calling convention: constants and pure one-line helpers; ``_g``/``_t``/``_d``/``_s`` take a
local name and return the Clark-notation tag (``{namespace}name``) in the gating,
transformations, data-type and sortpcr namespaces; :func:`_attr` reads an attribute with
or without its namespace. Shared by the reader (:mod:`.gatingml`), the adaptive extension
(:mod:`.extension`) and :mod:`.diva`.
"""

from __future__ import annotations

GML = "http://www.isac-net.org/std/Gating-ML/v2.0/gating"
XF = "http://www.isac-net.org/std/Gating-ML/v2.0/transformations"
DT = "http://www.isac-net.org/std/Gating-ML/v2.0/datatypes"
#: our namespace for adaptive gates, inside a gate's ``data-type:custom_info``
SPCR = "urn:sortpcr:adaptive-gating:1"


def _g(name: str) -> str:
    return f"{{{GML}}}{name}"


def _t(name: str) -> str:
    return f"{{{XF}}}{name}"


def _d(name: str) -> str:
    return f"{{{DT}}}{name}"


def _s(name: str) -> str:
    return f"{{{SPCR}}}{name}"


def _attr(el, ns: str, name: str) -> str | None:
    value = el.get(f"{{{ns}}}{name}")
    if value is None:
        value = el.get(name)
    return value


_GATE_TAGS = ("RectangleGate", "PolygonGate", "EllipsoidGate", "QuadrantGate", "BooleanGate")
