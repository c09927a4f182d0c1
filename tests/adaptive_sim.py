"""A test cohort with the patient-to-patient and day-to-day variation adaptive gates face.

Built from the demo simulator's pieces (``resources/demo/flow_sim.py``: population draws,
FACSDiva and CellQuest channel models, keywords; ``fcswrite.py``: the FCS writer) without
changing the demo's files. What varies, per patient unless said (issue 12, "Done when"):

* the blast cluster's CD45 position: +-0.35 decade around the demo's; CD34+ blasts
  0.08-0.15 decade CD45-dimmer than CD34- ones; blast SSC x0.7-1.3;
* CD34 of CD34+ blasts: mode 10^3.4-10^4.7 (1.3 decades, dim to bright); of CD34- blasts
  10^1.8-10^3.0 (1.2 decades); the two modes at least 1.1 decades apart, and every fourth
  patient within 1.1-1.2 decades (SD 0.2 decade each);
* per-day detector gains +-0.2 decade on CD45 and on CD34 (three patients per day), which
  move every population of that day's tubes;
* blasts 35-80 % of events beside lymphocytes, monocytes, granulocytes, debris, dead cells
  and (FACSDiva files) 3 % doublets;
* the sorted tubes: the operator sorts at the patient's true CD34 valley (the density
  minimum of the two blast populations as measured that day); a tube holds a share ``c`` of
  blasts from the wrong side of that cut (a pass-level 0.3-1.2 % or a fail-level 3-7 %,
  never within 0.8 points of the 98 % rule: at 7,500 events per tube a purity of 97.9 or
  98.1 % is within any method's sampling noise).

The truth of each patient (``PatientTruth``): the share of CD34+ blasts among the pre-sort
blasts (by population label, not by any cut) and each sorted tube's purity (1 - c).
Same seed, same files.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo"
sys.path.insert(0, str(DEMO))
import flow_sim  # noqa: E402
from fcswrite import build_fcs, write_fcs  # noqa: E402

#: the demo's CD34- blast CD45 mode (log10 FACSDiva units)
BLAST_CD45 = 2.95
CD34_SD = 0.20
PATIENTS_PER_DAY = 3


@dataclass(frozen=True)
class PatientTruth:
    """What was simulated for one patient (log10 FACSDiva units unless said)."""

    patient: str
    style: str
    day: int
    gain_cd45: float
    gain_cd34: float
    blast_cd45: float
    cd45_dimmer: float
    ssc_factor: float
    cd34_neg_mode: float
    cd34_pos_mode: float
    share_pos: float
    blast_share: float
    operator_cut: float
    contamination: dict[str, float] = field(default_factory=dict)
    pct_cd34pos: float = 0.0  # truth: CD34+ blasts / blasts of the pre-sort tube, percent
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def purity(self) -> dict[str, float]:
        """True purity of each sorted tube (share of its blasts from the sorted side)."""
        return {f: 1.0 - c for f, c in self.contamination.items()}


def _valley(neg: float, pos: float, share_pos: float, sd: float) -> float:
    """The density minimum between the two blast populations' modes (log10 units)."""
    grid = np.linspace(neg, pos, 4001)
    dens = (1 - share_pos) * np.exp(-0.5 * ((grid - neg) / sd) ** 2) + share_pos * np.exp(
        -0.5 * ((grid - pos) / sd) ** 2
    )
    return float(grid[int(np.argmin(dens))])


def _blast_pops(t: PatientTruth) -> dict[str, flow_sim._Population]:
    ssc = (0.085 * t.ssc_factor, 0.015 * t.ssc_factor)
    return {
        "blasts_pos": flow_sim._Population(
            (0.24, 0.025), ssc, (t.blast_cd45 - t.cd45_dimmer, 0.18), (t.cd34_pos_mode, CD34_SD)
        ),
        "blasts_neg": flow_sim._Population(
            (0.235, 0.025), ssc, (t.blast_cd45, 0.18), (t.cd34_neg_mode, CD34_SD)
        ),
    }


def _cells(rng: np.random.Generator, t: PatientTruth, counts: dict[str, np.ndarray | int]):
    """True values (fsc, ssc, cd45, cd34 as flow_sim) of the given populations, day gains
    applied to the fluorescence; ``counts`` may give ready rows instead of a count."""
    pops = {**flow_sim._POP, **_blast_pops(t)}
    parts = []
    for name, n in counts.items():
        block = n if isinstance(n, np.ndarray) else flow_sim._draw(rng, pops[name], int(n))
        parts.append(block)
    cells = np.vstack([p for p in parts if len(p)])
    cells[:, 2] *= 10**t.gain_cd45
    cells[:, 3] *= 10**t.gain_cd34
    return cells


def _with_doublets(rng: np.random.Generator, cells: np.ndarray, rate: float):
    """Shuffle and pair ``rate`` of the events into doublets (areas add, height does not)."""
    cells = cells[rng.permutation(cells.shape[0])]
    n = cells.shape[0]
    ratio = rng.normal(0.82, 0.025, n)
    k = int(round(rate * n))
    if k:
        partners = cells[rng.permutation(n)[:k]]
        summed = cells[:k] + partners
        height = np.maximum(cells[:k, 0] * ratio[:k], partners[:, 0] * 0.82)
        ratio[:k] = height * rng.normal(1.12, 0.05, k) / summed[:, 0]
        cells[:k] = summed
    order = rng.permutation(n)
    return cells[order], ratio[order]


def _write(out: Path, t: PatientTruth, tube: str, rng, cells: np.ndarray, doublets: float) -> Path:
    name = f"{t.patient}_{tube}.fcs"
    words = flow_sim._keywords(t.style, tube, name, {})
    if t.style == "diva":
        cells, ratio = _with_doublets(rng, cells, doublets)
        events = flow_sim._diva_events(rng, cells, ratio).astype(np.float32)
        data = build_fcs(events, flow_sim._diva_channels(), words, version="3.0", datatype="F",
                         byteorder="little", delimiter="|")  # fmt: skip
    else:
        cells = cells[rng.permutation(cells.shape[0])]
        data = build_fcs(flow_sim._cellquest_events(cells), flow_sim._cellquest_channels(),
                         words, version="2.0", datatype="I", byteorder="big", delimiter="\\",
                         text_start=256, data_align=256)  # fmt: skip
    return write_fcs(out / name, data)


def draw_patient(i: int, seed: int) -> PatientTruth:
    """The parameters of patient ``i`` (0-based) of the cohort with ``seed``."""
    day = i // PATIENTS_PER_DAY
    day_rng = np.random.default_rng([seed, 1, day])
    gain_cd45, gain_cd34 = (float(g) for g in day_rng.uniform(-0.2, 0.2, 2))
    rng = np.random.default_rng([seed, 2, i])
    neg = float(rng.uniform(1.8, 3.0))
    if i % 4 == 3:  # modes as close as 1.1 decades
        pos = min(neg + float(rng.uniform(1.1, 1.2)), 4.7)
        neg = min(neg, pos - 1.1)
    else:
        pos = float(rng.uniform(max(3.4, neg + 1.1), 4.7))
    share = float(rng.uniform(0.15, 0.85))
    contamination = {
        f: float(rng.uniform(0.03, 0.07) if rng.random() < 0.3 else rng.uniform(0.003, 0.012))
        for f in ("CD34pos", "CD34neg")
    }
    return PatientTruth(
        patient=f"A{i + 1:02d}",
        style="cellquest" if i % 3 == 2 else "diva",
        day=day,
        gain_cd45=gain_cd45,
        gain_cd34=gain_cd34,
        blast_cd45=BLAST_CD45 + float(rng.uniform(-0.35, 0.35)),
        cd45_dimmer=float(rng.uniform(0.08, 0.15)),
        ssc_factor=float(rng.uniform(0.7, 1.3)),
        cd34_neg_mode=neg,
        cd34_pos_mode=pos,
        share_pos=share,
        blast_share=float(rng.uniform(0.35, 0.80)),
        operator_cut=_valley(neg, pos, share, CD34_SD) + gain_cd34,
        contamination=contamination,
    )


def write_patient(out: Path, t: PatientTruth, seed: int, n_events: int) -> PatientTruth:
    """Write the patient's pre-sort and two sorted tubes; return the truth with paths."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 3, int(t.patient[1:])])
    other = {"debris": 0.07, "dead": 0.05}
    normal = {"lymphocytes": 0.40, "monocytes": 0.12, "granulocytes": 0.48}
    rest = 1.0 - t.blast_share - sum(other.values())
    weights = {**other, **{k: v * rest for k, v in normal.items()}, "blasts": t.blast_share}
    counts = flow_sim._split_counts(n_events, weights)
    blasts = counts.pop("blasts")
    counts["blasts_pos"] = int(round(t.share_pos * blasts))
    counts["blasts_neg"] = blasts - counts["blasts_pos"]
    paths = {"presort": _write(out, t, "presort", rng, _cells(rng, t, counts), 0.03)}

    # the sort: a pool of the patient's blasts, split at the operator's cut as measured
    n_sorted = n_events // 4
    pool = _cells(rng, t, {"blasts_pos": 4 * n_sorted, "blasts_neg": 4 * n_sorted})
    above = pool[np.log10(np.maximum(pool[:, 3], 1e-9)) >= t.operator_cut]
    below = pool[np.log10(np.maximum(pool[:, 3], 1e-9)) < t.operator_cut]
    for fraction, own, wrong in (("CD34pos", above, below), ("CD34neg", below, above)):
        tube = flow_sim._split_counts(
            n_sorted, {"debris": 0.04, "dead": 0.025, "lymphocytes": 0.004, "blasts": 0.931}
        )
        n_blasts = tube.pop("blasts")
        n_wrong = int(round(t.contamination[fraction] * n_blasts))
        take_own = own[rng.permutation(own.shape[0])[: n_blasts - n_wrong]]
        take_wrong = wrong[rng.permutation(wrong.shape[0])[:n_wrong]]
        # pool rows carry the day's gains already: divide them out, _cells applies them again
        ready = np.vstack([take_own, take_wrong])
        ready[:, 2] /= 10**t.gain_cd45
        ready[:, 3] /= 10**t.gain_cd34
        cells = _cells(rng, t, {**tube, "sorted": ready})
        paths[fraction] = _write(out, t, fraction, rng, cells, 0.01)
    pct = 100.0 * counts["blasts_pos"] / blasts
    return PatientTruth(**{**t.__dict__, "pct_cd34pos": pct, "paths": paths})


def write_cohort(out: Path, n_patients: int = 30, seed: int = 12, n_events: int = 30000):
    """Write the cohort's FCS files under ``out``; return the patients' truths."""
    return [
        write_patient(Path(out), draw_patient(i, seed), seed, n_events) for i in range(n_patients)
    ]
