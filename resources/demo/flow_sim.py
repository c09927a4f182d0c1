"""Simulated FACS files of the demo cohort: one pre-sort tube and two post-sort re-analyses.

We simulate the biology, not the answers. A bone-marrow mononuclear-cell suspension is a
mixture of populations, each with its own size (FSC), granularity (SSC), CD45 and CD34:

=============  ===========================  =============  ===========================
population     scatter                       CD45           CD34
=============  ===========================  =============  ===========================
debris         very low FSC, broad low SSC   low, broad     low, broad
dead cells     low FSC, raised SSC           low-medium     negative
lymphocytes    small, agranular              bright         negative
monocytes      medium, some SSC              bright         negative
granulocytes   large, high SSC               intermediate   negative
blasts         small-medium, low SSC         dim            + or - (the patient's split)
doublets       two cells in one event        (sums)         (sums)
=============  ===========================  =============  ===========================

The post-sort tubes hold the sorted blasts (CD34+ or CD34-) at the requested purity (the
rest are blasts of the other fraction), with the debris, dead cells and the few normal cells
a sort stream carries. Percentages are measured back through the gating strategy by the
pipeline; nothing here writes a result.

Two instrument styles (documented in ``resources/gating/README.md``):

* ``diva`` - FACSDiva FCS 3.0, float32, little-endian, channels FSC-A/H/W, SSC-A/H/W,
  FITC-A (``$PnS`` "CD45 FITC"), PE-A ("CD34 PE"), no Time channel (files stay small);
  linear scale 0-262143; the data are written *uncompensated* (FITC spills into PE) with
  the matrix in ``$SPILLOVER``.
* ``cellquest`` - CellQuest FCS 2.0, 16-bit big-endian integers, 1024 channels: FSC-H,
  SSC-H linear, FL1-H (CD45) and FL2-H (CD34) on 4-decade log amplifiers (``$PnE 4,0``),
  no ``$PnS``, no matrix (compensated in hardware), no FSC-A so no singlet gate.

Doublets (two cells in one event, 3 % of the pre-sort tube) are simulated for FACSDiva
files only, where the singlet gate removes them; CellQuest files have no FSC-A, so their
tubes are simulated without doublets rather than with a contamination nothing could remove.

Both carry the identifying keywords a real file has (``$FIL``, ``$SRC``, ``$OP``, ``$DATE``,
``PATIENT NAME`` ... from ``identity``) so that the privacy rule can be tested.

Same arguments (seed included) give byte-identical files.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fcswrite import Channel, build_fcs, write_fcs  # noqa: E402

__all__ = ["DEMO_STYLE", "SPILLOVER_DIVA", "style_for", "write_patient_fcs"]

#: Suggested instrument style per demo patient: P01-P08 FACSDiva, P09-P17 CellQuest.
DEMO_STYLE = {f"P{i:02d}": ("diva" if i <= 8 else "cellquest") for i in range(1, 18)}

#: FACSDiva spillover (rows: emitting dye's detector, columns: receiving detector).
SPILLOVER_DIVA = {"channels": ("FITC-A", "PE-A"), "matrix": ((1.0, 0.22), (0.015, 1.0))}

_DIVA_TOP = 262143.0  # 18-bit ADC full scale (pile-up value)
_CQ_TOP = 1023  # 10-bit CellQuest channel pile-up value


def style_for(patient: str) -> str:
    """The suggested instrument style of a demo patient (``diva`` or ``cellquest``)."""
    return DEMO_STYLE.get(patient, "diva")


@dataclass(frozen=True)
class _Population:
    """Distribution of one cell population in instrument-neutral units.

    ``fsc``/``ssc``: mean and SD as fractions of the FACSDiva full scale (linear).
    ``cd45``/``cd34``: mean and SD of log10 intensity in FACSDiva units (true, compensated).
    """

    fsc: tuple[float, float]
    ssc: tuple[float, float]
    cd45: tuple[float, float]
    cd34: tuple[float, float]
    ssc_lognormal: bool = False


_POP = {
    "debris": _Population((0.045, 0.025), (0.035, 0.6), (1.6, 0.6), (1.7, 0.5), True),
    "dead": _Population((0.135, 0.028), (0.22, 0.06), (2.5, 0.45), (2.0, 0.35)),
    "lymphocytes": _Population((0.20, 0.018), (0.060, 0.012), (4.40, 0.15), (1.9, 0.25)),
    "monocytes": _Population((0.30, 0.030), (0.160, 0.025), (4.00, 0.15), (2.0, 0.25)),
    "granulocytes": _Population((0.33, 0.040), (0.42, 0.070), (3.60, 0.15), (2.0, 0.25)),
    "blasts_pos": _Population((0.24, 0.025), (0.085, 0.015), (2.90, 0.18), (4.00, 0.22)),
    "blasts_neg": _Population((0.235, 0.025), (0.082, 0.015), (2.95, 0.18), (2.00, 0.22)),
}


def _split_counts(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Largest-remainder rounding of ``total`` events over population weights."""
    names = list(weights)
    w = np.array([weights[n] for n in names], dtype=float)
    w = w / w.sum()
    raw = w * total
    counts = np.floor(raw).astype(int)
    short = total - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:short]] += 1
    return dict(zip(names, counts.tolist(), strict=True))


def _draw(rng: np.random.Generator, pop: _Population, n: int) -> np.ndarray:
    """True (compensated) values: columns fsc, ssc (fractions), cd45, cd34 (linear units)."""
    fsc = rng.normal(pop.fsc[0], pop.fsc[1], n)
    if pop.ssc_lognormal:
        ssc = pop.ssc[0] * 10 ** rng.normal(0.0, pop.ssc[1] / 2.3, n)
    else:
        ssc = rng.normal(pop.ssc[0], pop.ssc[1], n)
    fsc = np.clip(fsc, 0.004, None)
    ssc = np.clip(ssc, 0.002, None)
    cd45 = 10 ** rng.normal(pop.cd45[0], pop.cd45[1], n)
    cd34 = 10 ** rng.normal(pop.cd34[0], pop.cd34[1], n)
    return np.column_stack([fsc, ssc, cd45, cd34])


def _tube(
    rng: np.random.Generator, counts: dict[str, int], doublet_rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """Events of one tube (shuffled) and the pulse height/area ratio of each event.

    A doublet is two cells passing together: areas (and fluorescence) add up while the
    pulse height grows much less, so its height/area ratio is about half a singlet's.
    """
    parts = [_draw(rng, _POP[name], n) for name, n in counts.items() if n > 0]
    cells = np.vstack(parts)
    rng.shuffle(cells, axis=0)
    n = cells.shape[0]
    ratio = rng.normal(0.82, 0.025, n)
    n_doublets = int(round(doublet_rate * n))
    if n_doublets:
        partners = cells[rng.permutation(n)[:n_doublets]]
        first = cells[:n_doublets]
        height_first = first[:, 0] * ratio[:n_doublets]
        height_partner = partners[:, 0] * rng.normal(0.82, 0.025, n_doublets)
        summed = first + partners
        height = np.maximum(height_first, height_partner) * rng.normal(1.12, 0.05, n_doublets)
        cells[:n_doublets] = summed
        ratio[:n_doublets] = height / summed[:, 0]
    order = rng.permutation(n)
    return cells[order], ratio[order]


def _diva_events(rng: np.random.Generator, cells: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """FACSDiva channels (uncompensated, spillover applied) from true values."""
    n = cells.shape[0]
    top = _DIVA_TOP
    fsc_a = cells[:, 0] * 262144 + rng.normal(0, 400, n)
    ssc_a = cells[:, 1] * 262144 + rng.normal(0, 300, n)
    fsc_h = fsc_a * ratio
    ssc_h = ssc_a * rng.normal(0.84, 0.03, n)
    fitc_true = cells[:, 2] + rng.normal(0, 25, n)
    pe_true = cells[:, 3] + rng.normal(0, 30, n)
    matrix = np.array(SPILLOVER_DIVA["matrix"])
    observed = np.column_stack([fitc_true, pe_true]) @ matrix
    fsc_a = np.clip(fsc_a, 0, top)
    ssc_a = np.clip(ssc_a, 0, top)
    fsc_h = np.clip(fsc_h, 0, top)
    ssc_h = np.clip(ssc_h, 0, top)
    fsc_w = np.clip(np.where(fsc_h > 0, fsc_a / np.maximum(fsc_h, 1.0), 0) * 65536, 0, top)
    ssc_w = np.clip(np.where(ssc_h > 0, ssc_a / np.maximum(ssc_h, 1.0), 0) * 65536, 0, top)
    fluo = np.clip(observed, -200.0, top)
    return np.column_stack([fsc_a, fsc_h, fsc_w, ssc_a, ssc_h, ssc_w, fluo[:, 0], fluo[:, 1]])


def _cellquest_events(cells: np.ndarray) -> np.ndarray:
    """CellQuest channel numbers (0-1023) from true values.

    FSC/SSC on linear amplifiers; FL1/FL2 on 4-decade log amplifiers where channel c means
    the scale value 10**(4 c / 1024); CellQuest scale values are the FACSDiva ones / 20.
    """
    fsc = cells[:, 0] * 1024 * 1.5
    ssc = cells[:, 1] * 1024 * 1.8
    fl1 = 256.0 * np.log10(np.maximum(cells[:, 2] / 20.0, 1e-3))
    fl2 = 256.0 * np.log10(np.maximum(cells[:, 3] / 20.0, 1e-3))
    channels = np.column_stack([fsc, ssc, fl1, fl2])
    return np.clip(np.floor(channels), 0, _CQ_TOP)


def _diva_channels() -> list[Channel]:
    names = ["FSC-A", "FSC-H", "FSC-W", "SSC-A", "SSC-H", "SSC-W"]
    channels = [Channel(n, bits=32, range=262144, gain=1.0) for n in names]
    channels.append(Channel("FITC-A", "CD45 FITC", 32, 262144, gain=1.0))
    channels.append(Channel("PE-A", "CD34 PE", 32, 262144, gain=1.0))
    return channels


def _cellquest_channels() -> list[Channel]:
    return [
        Channel("FSC-H", bits=16, range=1024),
        Channel("SSC-H", bits=16, range=1024),
        Channel("FL1-H", bits=16, range=1024, log_decades=4, log_zero=0),
        Channel("FL2-H", bits=16, range=1024, log_decades=4, log_zero=0),
    ]


def _spillover_text() -> str:
    names = SPILLOVER_DIVA["channels"]
    values = [v for row in SPILLOVER_DIVA["matrix"] for v in row]
    return ",".join([str(len(names)), *names, *(repr(float(v)) for v in values)])


def _keywords(style: str, tube: str, file_name: str, identity: dict[str, str]) -> dict[str, str]:
    """Instrument keywords, then the identifying ones as a real file carries them."""
    if style == "diva":
        words = {
            "$CYT": "FACSVantage SE (FACSDiva option)",
            "$SYS": "Windows XP 5.1",
            "CREATOR": "BD FACSDiva Software Version 4.1.2",
            "$SPILLOVER": _spillover_text(),
            "APPLY COMPENSATION": "FALSE",
            "TUBE NAME": tube,
        }
    else:
        words = {
            "$CYT": "FACSVantage SE",
            "$SYS": "Macintosh System Software 9.0.4",
            "CREATOR": "CellQuest Pro 4.0.2",
            "TUBE NAME": tube,
        }
    ident = dict(identity)
    ident.setdefault("$FIL", file_name)
    words.update(ident)
    return words


def write_patient_fcs(
    out_dir: Path,
    patient: str,
    cd34_fraction: float,
    style: str,
    seed: int,
    identity: dict[str, str],
    purity: dict[str, float] | None = None,
    n_events: int = 20000,
) -> dict[str, Path]:
    """Write ``{patient}_presort.fcs``, ``{patient}_CD34pos.fcs``, ``{patient}_CD34neg.fcs``.

    ``cd34_fraction`` (0-1) is the share of CD34+ cells among the patient's blasts;
    ``purity`` maps ``CD34pos``/``CD34neg`` to the share of the sorted blasts that belong to
    the sorted fraction (default: a seed-dependent value between 0.988 and 0.996);
    ``identity`` holds identifying keywords written into every file (``$SRC``, ``$OP``,
    ``$DATE``, ``PATIENT NAME`` ...; ``$FIL`` defaults to the file name). The pre-sort tube
    has ``n_events`` events, each sorted tube a quarter of that. Returns fraction -> path
    (``presort``, ``CD34pos``, ``CD34neg``).
    """
    if style not in ("diva", "cellquest"):
        raise ValueError(f"style must be 'diva' or 'cellquest', not {style!r}")
    if not 0.0 <= cd34_fraction <= 1.0:
        raise ValueError(f"cd34_fraction must be within 0-1, got {cd34_fraction}")
    out_dir = Path(out_dir)
    root = np.random.SeedSequence([int(seed), 34])
    rng_patient, rng_pre, rng_pos, rng_neg = (np.random.default_rng(s) for s in root.spawn(4))

    # Per-patient composition of the marrow (blast infiltration varies between patients).
    blast_share = rng_patient.uniform(0.62, 0.80)
    default_purity = {f: float(rng_patient.uniform(0.988, 0.996)) for f in ("CD34pos", "CD34neg")}
    purity = {**default_purity, **(purity or {})}
    normal = {"lymphocytes": 0.40, "monocytes": 0.12, "granulocytes": 0.48}
    other = {"debris": 0.07, "dead": 0.05}
    normal_share = 1.0 - blast_share - sum(other.values())

    tubes: dict[str, tuple[np.random.Generator, dict[str, int], float]] = {}
    pre_weights = {**other, **{k: v * normal_share for k, v in normal.items()}}
    pre = _split_counts(n_events, {**pre_weights, "blasts": blast_share})
    n_blasts = pre.pop("blasts")
    pre["blasts_pos"] = int(round(cd34_fraction * n_blasts))
    pre["blasts_neg"] = n_blasts - pre["blasts_pos"]
    tubes["presort"] = (rng_pre, pre, 0.03)

    n_sorted = max(n_events // 4, 1)
    sorted_weights = {"debris": 0.04, "dead": 0.025, "lymphocytes": 0.004, "blasts": 0.931}
    for fraction, rng in (("CD34pos", rng_pos), ("CD34neg", rng_neg)):
        counts = _split_counts(n_sorted, sorted_weights)
        blasts = counts.pop("blasts")
        own = int(round(purity[fraction] * blasts))
        same, other_name = (
            ("blasts_pos", "blasts_neg") if fraction == "CD34pos" else ("blasts_neg", "blasts_pos")
        )
        counts[same] = own
        counts[other_name] = blasts - own
        tubes[fraction] = (rng, counts, 0.01)

    paths: dict[str, Path] = {}
    for tube, (rng, counts, doublets) in tubes.items():
        file_name = f"{patient}_{tube}.fcs"
        cells, ratio = _tube(rng, counts, doublets if style == "diva" else 0.0)
        keywords = _keywords(style, tube, file_name, identity)
        if style == "diva":
            data = build_fcs(
                _diva_events(rng, cells, ratio).astype(np.float32),
                _diva_channels(),
                keywords,
                version="3.0",
                datatype="F",
                byteorder="little",
                delimiter="|",
            )
        else:
            data = build_fcs(
                _cellquest_events(cells),
                _cellquest_channels(),
                keywords,
                version="2.0",
                datatype="I",
                byteorder="big",
                delimiter="\\",
                text_start=256,
                data_align=256,
            )
        paths[tube] = write_fcs(out_dir / file_name, data)
    return paths
