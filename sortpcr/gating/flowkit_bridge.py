"""The FlowKit bridge: FlowJo workspaces, the fallback and reference evaluation, FlowKit exports.

Calling convention: functions that take our :class:`Strategy` and :class:`FCSData` and hand
them to FlowKit, returning our :class:`GatingResult` or text; ``flowkit`` is imported inside
each function, only when one is called (``import flowkit`` costs ~2.6 s, pandas and
matplotlib with it), so the gating job of a Gating-ML or Diva strategy never imports it.
FlowKit's errors -> :class:`GatingError` naming the file (bad channels) or the strategy.

FlowKit sees exactly the values we read (:func:`flowkit_sample` via
:func:`sortpcr.fcs.flowio_view`); channel names with ``/`` are matched as FlowJo writes
them (``_``). A workspace's gating is per sample, chosen by the FCS file name (absent sample
-> :class:`GatingError` listing those it has).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import GatingError
from .extension import gatingml_text
from .model import GatingResult, Strategy, _result
from .xmlns import GML

if TYPE_CHECKING:
    from ..fcs import FCSData


def _flowkit_gatingml(path: str, handle=None):
    import flowkit

    try:
        return flowkit.parse_gating_xml(path if handle is None else handle)
    except Exception as err:  # FlowKit raises ValueError and friends
        raise GatingError(path, f"FlowKit cannot parse this Gating-ML: {err}") from None


def _flowkit_parent(fk_strategy, gate_id: str, gate_path: tuple[str, ...]) -> str | None:
    parent = gate_path[-1] if gate_path else "root"
    return None if parent == "root" else parent


def applied_gatingml(strategy: Strategy, fcs: FCSData | None, note: str = "") -> str:
    """Gating-ML 2.0 text of the gates ``strategy`` applies: :func:`gatingml_text` for a
    Gating-ML file we parsed; the file's own text for one FlowKit evaluates; for a FlowJo
    workspace, FlowKit's Gating-ML export of the gating of ``fcs``'s sample (its file name).
    A workspace or Diva experiment gates each file by its name: without a file read
    (``fcs`` None) the result is an empty Gating-ML document that says so.
    """
    if strategy.source is not None:
        return gatingml_text(strategy, note)
    if fcs is None and strategy.kind in ("flowjo", "diva"):
        what = "FlowJo workspace" if strategy.kind == "flowjo" else "Diva experiment"
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<!-- {note} No file of this patient could be read, so the {what}'s gates for "
            "it could not be written. -->\n"
            f'<gating:Gating-ML xmlns:gating="{GML}" />\n'
        )
    if strategy.kind in ("diva", "diva-tube"):  # the file's tube only, never the experiment
        from .diva import tube_gatingml

        return tube_gatingml(strategy, fcs, note)
    if strategy.kind != "flowjo":
        return Path(strategy.path).read_text(encoding="utf-8")
    import io
    import warnings

    import flowkit

    if fcs is None:
        raise GatingError(strategy.path, "a FlowJo workspace's gates depend on the sample")
    name = Path(fcs.path).name
    sample = flowkit_sample(fcs, sample_id=name)
    sample.pnn_labels = [label.replace("/", "_") for label in sample.pnn_labels]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            wsp = flowkit.Workspace(strategy.path, fcs_samples=[sample])
            out = io.BytesIO()
            flowkit.export_gatingml(wsp.get_gating_strategy(name), out, sample_id=name)
        except Exception as err:
            raise GatingError(
                strategy.path, f"FlowKit cannot write this workspace's gates as Gating-ML: {err}"
            ) from None
    return out.getvalue().decode("utf-8")


def flowkit_sample(fcs: FCSData, sample_id: str = "sample"):
    """A ``flowkit.Sample`` holding exactly the values we read (via :func:`fcs.flowio_view`),
    with the spillover matrix the sheet chose for it (the file's, a given one, or none)."""
    import flowkit

    from ..fcs import flowio_view, spillover_text

    dataset = fcs.dataset if fcs.n_datasets > 1 else None
    view = flowio_view(fcs.path, dataset=dataset, spillover=spillover_text(fcs))
    return flowkit.Sample(view, sample_id=sample_id)


def _flowkit_strategy(strategy: Strategy):
    if strategy._flowkit is None:
        if strategy.adaptations:  # applied coordinates: FlowKit reads what we would write
            import io

            text = gatingml_text(strategy).encode("utf-8")
            strategy._flowkit = _flowkit_gatingml(strategy.path, io.BytesIO(text))
        else:
            strategy._flowkit = _flowkit_gatingml(strategy.path)
    return strategy._flowkit


def evaluate_flowkit(strategy: Strategy, fcs: FCSData, sample=None) -> GatingResult:
    """Gate with FlowKit's ``GatingStrategy.gate_sample`` (reference and fallback path).

    ``sample``: an existing ``flowkit.Sample`` (e.g. FlowKit reading the file itself);
    default: built from our reader's values.
    """
    if strategy.kind == "flowjo":
        return _evaluate_workspace(strategy, fcs, Path(fcs.path).name, sample=sample)
    fk_strategy = _flowkit_strategy(strategy)
    if sample is None:
        sample = flowkit_sample(fcs)
    try:
        results = fk_strategy.gate_sample(sample)
    except (LookupError, ValueError) as err:
        raise GatingError(fcs.path, f"FlowKit cannot gate this file: {err}", "channels") from None
    except Exception as err:  # NotImplementedError (mixed compensation) and the like
        raise GatingError(strategy.path, f"FlowKit cannot evaluate this strategy: {err}") from None
    return _from_flowkit_results(strategy.path, fcs, fk_strategy.get_gate_ids(), results)


def _from_flowkit_results(strategy_path, fcs, gate_ids, results) -> GatingResult:
    members, parents, paths = {}, {}, {}
    for gid, gpath in gate_ids:
        try:
            members[gid] = np.asarray(results.get_gate_membership(gid, gate_path=gpath), bool)
        except Exception:  # quadrant containers have no single membership
            continue
        paths[gid] = tuple(gpath)
        parents[gid] = None if gpath[-1] == "root" else gpath[-1]
    return _result(strategy_path, fcs, members, parents, paths, "flowkit")


def _evaluate_workspace(strategy: Strategy, fcs: FCSData, sample_name: str, sample=None):
    import warnings

    import flowkit

    if strategy.sample_ids and sample_name not in strategy.sample_ids:
        raise GatingError(
            strategy.path,
            f"the FlowJo workspace has no sample {sample_name!r}; it has: "
            f"{', '.join(strategy.sample_ids)}",
            "samples",
        )
    if sample is None:
        sample = flowkit_sample(fcs, sample_id=sample_name)
    sample.id = sample_name
    sample.pnn_labels = [label.replace("/", "_") for label in sample.pnn_labels]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            wsp = flowkit.Workspace(strategy.path, fcs_samples=[sample])
        except Exception as err:
            raise GatingError(strategy.path, f"FlowKit cannot read the workspace: {err}") from None
    if sample_name not in wsp.get_sample_ids():
        raise GatingError(
            strategy.path,
            f"the FlowJo workspace has no sample {sample_name!r}; it has: "
            f"{', '.join(wsp.get_sample_ids(loaded_only=False)) or 'none'}",
            "samples",
        )
    try:
        wsp.analyze_samples(sample_id=sample_name, use_mp=False)
    except (LookupError, ValueError) as err:
        raise GatingError(fcs.path, f"FlowKit cannot gate this file: {err}", "channels") from None
    results = wsp.get_gating_results(sample_name)
    return _from_flowkit_results(strategy.path, fcs, wsp.get_gate_ids(sample_name), results)
