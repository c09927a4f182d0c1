"""RDML 1.0-1.4: a zip holding one XML document (any member name) or plain XML.

A reaction without ``<cq>`` is undetermined; one marked ``<excl>`` becomes role ``other``.
Sample types ``std``/``unkn``/``ntc`` (``nac``, ``ntp`` count as NTC; ``pos``, ``nrt``,
``opt`` are ``other``); wells from ``react`` ids (``A1`` or a number on the run's
``pcrFormat``). Read and parsed by :mod:`sortpcr.safe_input` (a regular file of bounded
size; DTDs and entities are refused). One row per well
and target; a row's location is its experiment, run and react.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sortpcr.errors import QPCRFormatError
from sortpcr.safe_input import XML_MAX_BYTES, parse_xml, read_user_file

from .cells import normalise_well, parse_number
from .contract import Dialect, RawWell

if TYPE_CHECKING:
    from sortpcr.settings import QpcrSettings

#: RDML ``<quantity><unit>`` -> the plate unit it states (``cop`` = copies; a dilution or a
#: fold is relative; ng, nMol and other state none of ours)
_RDML_UNITS = {"cop": "copies", "dil": "relative", "fold": "relative"}

_RDML_ROLES = {
    "std": "standard",
    "unkn": "unknown",
    "ntc": "ntc",
    "nac": "ntc",
    "ntp": "ntc",
}


def _rdml_xml(path: Path) -> tuple[bytes, str]:
    raw = read_user_file(path, error=QPCRFormatError, max_bytes=XML_MAX_BYTES, kind="RDML file")
    if raw[:2] != b"PK":
        return raw, path.name
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            xmls = [i for i in members if i.filename.lower().endswith((".xml", ".rdml"))]
            chosen = [i for i in xmls if Path(i.filename).name == "rdml_data.xml"] or xmls
            chosen = chosen or members
            if not chosen:
                raise QPCRFormatError(path, "the RDML zip archive is empty")
            info = chosen[0]
            if info.file_size > 500 * 1024 * 1024:
                raise QPCRFormatError(path, f"zip member {info.filename!r} is implausibly large")
            return zf.read(info), info.filename
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # corrupt directory or member data, unsupported compression, encrypted member
        raise QPCRFormatError(path, f"not a readable zip archive ({exc})") from exc


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(el: Any, name: str) -> Any:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _children(el: Any, name: str) -> list[Any]:
    return [c for c in el if _local(c.tag) == name]


def _text(el: Any) -> str:
    return (el.text or "").strip() if el is not None else ""


def _read_rdml(path: Path, settings: QpcrSettings, supplied: frozenset[str]) -> list[RawWell]:
    data, member = _rdml_xml(path)
    where = f"zip member {member!r}" if member != path.name else None
    root = parse_xml(data, path, error=QPCRFormatError, where=where)
    if _local(root.tag) != "rdml":
        raise QPCRFormatError(path, f"root element is <{_local(root.tag)}>, not <rdml>", where)

    # Samples: type (optionally per target, RDML >= 1.3) and quantity.
    samples: dict[str, dict[str, Any]] = {}
    for s in _children(root, "sample"):
        sid = s.get("id", "")
        types: dict[str | None, str] = {}
        for t in _children(s, "type"):
            types[t.get("targetId")] = _text(t).lower()
        qty: dict[str | None, float] = {}
        units: dict[str | None, str] = {}
        for q in _children(s, "quantity"):
            try:
                value = parse_number(_text(_child(q, "value")))
            except ValueError:  # not a number or infinite: no quantity
                continue
            if not math.isnan(value):
                qty[q.get("targetId")] = value
                units[q.get("targetId")] = _text(_child(q, "unit")).lower()
        samples[sid] = {"types": types, "quantity": qty, "unit": units}
    targets_dye: dict[str, str] = {}
    for t in _children(root, "target"):
        dye = _child(t, "dyeId")
        targets_dye[t.get("id", "")] = (dye.get("id") or _text(dye)) if dye is not None else ""

    out = []
    for exp in _children(root, "experiment"):
        for run in _children(exp, "run"):
            fmt = _child(run, "pcrFormat")
            ncols = 12
            if fmt is not None and _child(fmt, "columns") is not None:
                try:
                    ncols = int(_text(_child(fmt, "columns")))
                except ValueError:
                    ncols = 12
            run_where = f"experiment {exp.get('id')!r}, run {run.get('id')!r}"
            if ncols < 1:
                raise QPCRFormatError(
                    path, f"<pcrFormat><columns> is {ncols}; a plate has at least one", run_where
                )
            for react in _children(run, "react"):
                rid = react.get("id", "")
                if rid.isdigit():
                    n = int(rid) - 1
                    if not 0 <= n < 26 * ncols:  # rows A-Z
                        raise QPCRFormatError(
                            path,
                            f"react id {rid} is outside a plate of {ncols} columns and rows A-Z",
                            run_where,
                        )
                    well = f"{chr(65 + n // ncols)}{n % ncols + 1:02d}"
                else:
                    well = normalise_well(rid, path, f"{run_where}, react id {rid!r}")
                sample_el = _child(react, "sample")
                sid = sample_el.get("id", "") if sample_el is not None else ""
                info = samples.get(sid, {"types": {}, "quantity": {}, "unit": {}})
                for d in _children(react, "data"):
                    tar = _child(d, "tar")
                    tid = tar.get("id", "") if tar is not None else ""
                    rtype = info["types"].get(tid, info["types"].get(None, ""))
                    role = _RDML_ROLES.get(rtype, "other")
                    cq_el = _child(d, "cq")
                    if cq_el is None or not _text(cq_el):
                        ct = math.nan
                    else:
                        try:
                            ct = parse_number(_text(cq_el))
                        except ValueError:
                            raise QPCRFormatError(
                                path,
                                f"<cq> {_text(cq_el)!r} is not a number",
                                f"{run_where}, well {well}, target {tid!r}",
                            ) from None
                        if ct < 0:  # RDML uses -1 for "no Cq" in some writers
                            ct = math.nan
                    key = tid if tid in info["quantity"] else None
                    q = info["quantity"].get(key, math.nan)
                    unit = info["unit"].get(key, "")
                    dq = _child(d, "quantity")
                    if (q is None or math.isnan(q)) and dq is not None:
                        try:
                            q = parse_number(_text(_child(dq, "value")))
                        except ValueError:
                            q = math.nan
                        unit = _text(_child(dq, "unit")).lower()
                    excl = _child(d, "excl")
                    if excl is not None:  # excluded by the lab in the instrument software
                        role = "other"
                    out.append(
                        {
                            "well": well,
                            "target": tid,
                            "sample": sid,
                            "role": role,
                            "ct": ct,  # ct_max is applied by the shared step (plate.py)
                            "quantity": q if role == "standard" else math.nan,
                            "fluor": targets_dye.get(tid, ""),
                            "_at": f"{run_where}, react {rid}",
                            "_where": f"{run_where}, react {rid}",
                            "_matched": True,
                            "_sample": sid,
                            "_unit": _RDML_UNITS.get(unit, ""),
                            "_unit_text": unit,
                        }
                    )
    if not out:
        raise QPCRFormatError(path, "the RDML document holds no <react> with <data>", where)
    return out


def _missing_quantity(rec: RawWell) -> tuple[str, str]:
    return (
        f"standard <sample id={rec['_sample']!r}> has no positive <quantity><value> "
        f"for target {rec['target']!r} (nor does the react's <data><quantity>); "
        "give it in the RDML file or in the plate layout's 'quantity' column",
        rec["_where"],
    )


RDML = Dialect(
    name="rdml",
    read=_read_rdml,
    duplicate_key="target",
    sniff_file=lambda zipped, text: zipped or re.search(r"<\s*rdml\b", text[:4096]) is not None,
    missing_quantity=_missing_quantity,
)
