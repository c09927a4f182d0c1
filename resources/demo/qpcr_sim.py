"""Simulate Bio-Rad iCycler iQ "PCR Quant" plate exports for the demo cohort.

The file looks like what the iCycler software family (iCycler iQ, MyiQ, iQ5) writes: the
MyiQ column set with a leading empty column, wells ``A01``..``H12`` in plate order, only
the wells that were set up, ``N/A`` where there is no Ct, CRLF line ends, and the
software's own per-replicate-group ``Ct Mean`` / ``Ct Std. Dev`` and per-fluorophore pooled
``Starting Quantity`` for unknowns (numbers the pipeline must not trust, and does not use).

What is simulated is the chemistry, never an answer:

* each target on a plate has its own standard curve ``Ct = a + s * log10(q)`` with
  ``s = -1 / log10(1 + E)``; ``E`` (efficiency, 0.95-1.02 unless given) and ``a`` (Ct at one
  unit of quantity: 21-25 cycles for IM-9 relative units, 37.5-39 cycles for one plasmid copy)
  are drawn per plate and target;
* each well adds Gaussian replicate noise (SD ``noise_sd`` cycles, default 0.15);
* in ``copies`` the number of template molecules in a well is Poisson-distributed around
  the true copy number (a well may receive none: no amplification);
* a true quantity of 0, or a Ct at or beyond ``ct_limit`` (40 cycles), is written ``N/A``;
  NTC wells are always ``N/A``.

Valid ranges: quantities are reproduced for any positive value whose Ct stays below
``ct_limit``; for IM-9 relative units (``a`` 21-25) that is down to about 1e-5 (Ct ~ 38), and
the standards 1..0.001 span Ct ~ 21-35. In copies (``a`` 37.5-39), 1 copy gives Ct ~ 38 and
1e6 copies Ct ~ 18. Quantities outside the standards' range are simulated faithfully; the
pipeline flags them ``above_range`` / ``below_range``.

Deterministic: the same arguments and seed give a byte-identical file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

HEADER = [
    "",
    "Well",
    "Fluor",
    "Type",
    "Identifier",
    "Replicate #",
    "Threshold Cycle (Ct)",
    "Ct Mean",
    "Ct Std. Dev",
    "Starting Quantity (SQ)",
    "Log Starting Quantity",
    "SQ Mean",
    "SQ Std. Dev.",
    "Set Point",
]
ROWS = "ABCDEFGH"
COLS = 12
CT_LIMIT = 40.0
EFFICIENCY_RANGE = (0.95, 1.02)
INTERCEPT_RANGE = {"relative": (21.0, 25.0), "copies": (37.5, 39.0)}


def plate_wells() -> list[str]:
    """The 96 wells in the order the iCycler lists them: A01, A02, ..., H12."""
    return [f"{r}{c:02d}" for r in ROWS for c in range(1, COLS + 1)]


def _level_label(q: float) -> str:
    return f"STD-{q:g}"


def simulate_plate(
    plate: str,
    targets: Sequence[str],
    standards: Mapping[str, Sequence[float]],
    samples: Mapping[str, Mapping[str, float]],
    unit: str,
    replicates: int,
    seed: int,
    efficiency: Mapping[str, float] | None = None,
    intercept: Mapping[str, float] | None = None,
    noise_sd: float = 0.15,
    std_replicates: int | None = None,
    ntc_replicates: int = 1,
    ct_limit: float = CT_LIMIT,
) -> tuple[list[dict[str, object]], dict[str, dict[str, float]]]:
    """Simulate the wells of one plate.

    Returns ``(wells, curves)``: ``wells`` in plate order, each with ``well, type (Std|Unkn|
    NTC), target, sample, identifier, quantity (standards: input quantity; unknowns: true
    quantity), ct (NaN = N/A)``; ``curves[target] = {"efficiency", "slope", "intercept"}``
    (the true curve used). ``unit`` is ``relative`` (IM-9 units) or ``copies``.
    Standards are in ``std_replicates`` wells (default ``min(replicates, 2)``), unknowns in
    ``replicates``, NTCs in ``ntc_replicates`` per target. Raises ``ValueError`` when the
    layout needs more than 96 wells or a name cannot be written into ``Identifier``.
    """
    if unit not in INTERCEPT_RANGE:
        raise ValueError(f"unit must be 'relative' or 'copies', not {unit!r}")
    if replicates < 1:
        raise ValueError("replicates must be at least 1")
    std_reps = min(replicates, 2) if std_replicates is None else std_replicates
    for t in targets:
        if "_" in t or not t:
            raise ValueError(f"target {t!r}: Identifier is '{{target}}_{{sample}}', no '_' allowed")
    rng = np.random.default_rng(seed)

    curves: dict[str, dict[str, float]] = {}
    lo_e, hi_e = EFFICIENCY_RANGE
    lo_a, hi_a = INTERCEPT_RANGE[unit]
    for t in targets:
        e_draw = float(rng.uniform(lo_e, hi_e))
        a_draw = float(rng.uniform(lo_a, hi_a))
        e = float(efficiency[t]) if efficiency and t in efficiency else e_draw
        a = float(intercept[t]) if intercept and t in intercept else a_draw
        curves[t] = {"efficiency": e, "slope": -1.0 / math.log10(1.0 + e), "intercept": a}

    layout: list[tuple[str, str, str, float]] = []  # (type, target, sample, quantity)
    for t in targets:
        for q in standards.get(t, []):
            layout += [("Std", t, _level_label(float(q)), float(q))] * std_reps
    for s, quantities in samples.items():
        for t in targets:
            if t in quantities:
                layout += [("Unkn", t, str(s), float(quantities[t]))] * replicates
    for t in targets:
        layout += [("NTC", t, "NTC", 0.0)] * ntc_replicates
    wells = plate_wells()
    if len(layout) > len(wells):
        raise ValueError(
            f"plate {plate}: {len(layout)} wells needed (standards x{std_reps}, unknowns "
            f"x{replicates}, NTC x{ntc_replicates}) but a 96-well plate has {len(wells)}; "
            "put fewer samples or targets on the plate, or pass std_replicates=1"
        )

    out: list[dict[str, object]] = []
    for well, (kind, t, s, q) in zip(wells, layout, strict=False):
        c = curves[t]
        noise = float(rng.normal(0.0, noise_sd))
        if kind == "NTC" or q <= 0:
            ct = math.nan
        else:
            template = q
            if unit == "copies":
                template = float(rng.poisson(q)) if q < 1e6 else q
            if template <= 0:
                ct = math.nan
            else:
                ct = c["intercept"] + c["slope"] * math.log10(template) + noise
                if ct >= ct_limit:
                    ct = math.nan
        out.append(
            {
                "well": well,
                "type": kind,
                "target": t,
                "sample": s,
                "identifier": f"{t}_{s}",
                "quantity": q,
                "ct": ct,
            }
        )
    return out, curves


def _fmt_ct(x: float) -> str:
    return "N/A" if math.isnan(x) else f"{x:.2f}"


def _sample_sd(values: list[float]) -> float:
    n = len(values)
    if n < 2:
        return math.nan
    m = sum(values) / n
    return math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))


def render_icycler(wells: list[dict[str, object]], fluor: str = "FAM") -> str:
    """Render simulated wells as the iCycler/MyiQ "PCR Quant" CSV text (CRLF).

    The software's columns are filled as it fills them: ``Replicate #`` numbers replicate
    groups (same type and identifier) in order of appearance; ``Ct Mean`` / ``Ct Std. Dev``
    over the group's wells with a Ct (``00.00`` / ``N/A`` on a well without one; SD ``N/A``
    with a single Ct); ``Starting Quantity`` of unknowns from the software's pooled
    per-fluorophore OLS curve over all standards (0 without Ct); ``Log Starting Quantity``
    ``N/A`` when SQ is 1 or 0.
    """
    groups: dict[tuple[str, str], int] = {}
    for w in wells:
        groups.setdefault((str(w["type"]), str(w["identifier"])), len(groups) + 1)

    std = [(math.log10(float(w["quantity"])), float(w["ct"])) for w in wells if w["type"] == "Std"]
    std = [(x, y) for x, y in std if not math.isnan(y)]
    pooled: tuple[float, float] | None = None
    if len({x for x, _ in std}) >= 2:
        xs, ys = np.array([p[0] for p in std]), np.array([p[1] for p in std])
        slope = float(((xs - xs.mean()) * (ys - ys.mean())).sum() / ((xs - xs.mean()) ** 2).sum())
        pooled = (slope, float(ys.mean() - slope * xs.mean()))

    def sq_of(w: dict[str, object]) -> float:
        ct = float(w["ct"])
        if w["type"] == "Std":
            return float(w["quantity"])
        if w["type"] == "Unkn" and pooled and not math.isnan(ct):
            return 10 ** ((ct - pooled[1]) / pooled[0])
        return 0.0

    members: dict[int, list[dict[str, object]]] = {}
    for w in wells:
        members.setdefault(groups[(str(w["type"]), str(w["identifier"]))], []).append(w)

    lines = [",".join(HEADER)]
    for w in wells:
        g = groups[(str(w["type"]), str(w["identifier"]))]
        cts = [float(m["ct"]) for m in members[g] if not math.isnan(float(m["ct"]))]
        has_ct = not math.isnan(float(w["ct"]))
        sqs = [sq_of(m) for m in members[g] if not math.isnan(float(m["ct"]))]
        sq = sq_of(w)
        if has_ct:
            ct_mean = f"{sum(cts) / len(cts):.2f}"
            sd = _sample_sd(cts)
            ct_sd = "N/A" if math.isnan(sd) else f"{sd:.3f}"
            sq_mean = f"{sum(sqs) / len(sqs):.2E}"
            sq_sd_v = _sample_sd(sqs)
            sq_sd = f"{0.0 if math.isnan(sq_sd_v) else sq_sd_v:.2E}"
        else:
            ct_mean, ct_sd, sq_mean, sq_sd = "00.00", "N/A", "0.00E+00", "0.00E+00"
        log_sq = "N/A" if sq <= 0 or sq == 1.0 else f"{math.log10(sq):.3f}"
        lines.append(
            ",".join(
                [
                    "",
                    str(w["well"]),
                    fluor,
                    str(w["type"]),
                    str(w["identifier"]),
                    str(g),
                    _fmt_ct(float(w["ct"])),
                    ct_mean,
                    ct_sd,
                    f"{sq:.3E}",
                    log_sq,
                    sq_mean,
                    sq_sd,
                    "N/A",
                ]
            )
        )
    return "\r\n".join(lines) + "\r\n"


def write_icycler_plate(
    path: str | Path,
    plate: str,
    targets: list[str],
    standards: Mapping[str, Sequence[float]],
    samples: Mapping[str, Mapping[str, float]],
    unit: str,
    replicates: int,
    seed: int,
    efficiency: Mapping[str, float] | None = None,
    intercept: Mapping[str, float] | None = None,
    noise_sd: float = 0.15,
    std_replicates: int | None = None,
    ntc_replicates: int = 1,
    fluor: str = "FAM",
) -> None:
    """Simulate one plate (see :func:`simulate_plate`) and write its iCycler export.

    ``standards[target]``: input quantities of the standard dilutions in ``unit``;
    ``samples[sample][target]``: true quantity of each unknown in the same unit (0 = absent,
    written ``N/A``). Identifiers are ``{target}_{sample}`` (standards ``{target}_STD-{q}``,
    NTCs ``{target}_NTC``).
    """
    wells, _ = simulate_plate(
        plate,
        targets,
        standards,
        samples,
        unit,
        replicates,
        seed,
        efficiency=efficiency,
        intercept=intercept,
        noise_sd=noise_sd,
        std_replicates=std_replicates,
        ntc_replicates=ntc_replicates,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_icycler(wells, fluor).encode("ascii"))
