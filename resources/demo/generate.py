"""Generate the demo cohort: the 17 patients of Shman et al. as raw instrument files.

Run from the repository root::

    .venv/bin/python resources/demo/generate.py            # writes resources/demo/ + config/*.tsv
    .venv/bin/python resources/demo/generate.py --out DIR --sheets DIR  # elsewhere
    .venv/bin/python resources/demo/generate.py --patients 1000 --out D --sheets D  # scale

Deterministic: the same seed gives byte-identical files. What is simulated is the biology
(cell populations, expression levels, PCR efficiency, replicate noise), never the answers:
the pipeline has to recover the study's calls from the raw files.

* Flow: P01-P08 as FACSDiva-style FCS 3.0 (float, little-endian, $SPILLOVER), P09-P17
  as CellQuest-style FCS 2.0 (16-bit big-endian, 4-decade log in $PnE); the
  CellQuest patients name ``resources/gating/cellquest.xml`` in samples.tsv ``gating``.
* qPCR: iCycler "PCR Quant" exports; expression plates with IM-9 dilutions 1, 0.1, 0.01,
  0.001 for BCL2, MDR1, LRP, BCRP and GUS, two patients per plate; one fusion plate with
  plasmid copy standards for TEL-AML1 and GUS. Some plates in duplicate, some triplicate.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import cohort_spec  # noqa: E402
import flow_sim  # noqa: E402
import qpcr_sim  # noqa: E402

SEED = 20091
EXPRESSION_TARGETS = ["BCL2", "MDR1", "LRP", "BCRP", "GUS"]
IM9_STANDARDS = [1.0, 0.1, 0.01, 0.001]
FUSION_STANDARDS = {"TEL-AML1": [1e1, 1e2, 1e3, 1e5, 1e6], "GUS": [1e3, 1e4, 1e5]}
FRACTION_SAMPLE = {"CD34pos": "pos", "CD34neg": "neg"}

#: made-up identities: the kind of keywords a real file carries, for the privacy tests
FIRST = ["Anna", "Ivan", "Olga", "Pavel", "Maria", "Sergei", "Elena", "Dmitri", "Irina"]
LAST = ["Kowalska", "Petrov", "Novak", "Sokolova", "Volkov", "Horvath", "Lebedev", "Kuznets"]


def identity(index: int) -> dict[str, str]:
    """Identifying FCS keywords a real sort file carries (all invented), for the privacy
    tests: none of these values may reach a result or the report."""
    first, last = FIRST[index % len(FIRST)], LAST[(index * 3) % len(LAST)]
    return {
        "$FIL": f"{last}_{first}_BM_sort.fcs",
        "$SRC": f"{last}, {first}",
        "PATIENT NAME": f"{first} {last}",
        "PATIENT ID": f"MRN-{731000 + 17 * index}",
        "$OP": "J. Doe",
        "$INST": "Childrens Hospital Flow Lab",
        "$DATE": f"{(index % 27) + 1:02d}-MAR-2009",
    }


def cohort(n_patients: int = 17) -> tuple[list[dict], dict, dict[str, str]]:
    """Table 1 rows, true quantities and instrument style per patient.

    17 = the study (P01..P17). A larger cohort (benchmarks) repeats the study's patients in
    order under new IDs (P0001..), each keeping its template's biology and instrument.
    """
    rows = cohort_spec.PATIENTS
    truth = cohort_spec.true_quantities()
    if n_patients == len(rows):
        return list(rows), truth, {r["patient"]: flow_sim.style_for(r["patient"]) for r in rows}
    width = len(str(n_patients))
    specs, quantities, styles = [], {}, {}
    for i in range(n_patients):
        template = rows[i % len(rows)]
        patient = f"P{i + 1:0{width}d}"
        specs.append(dict(template, patient=patient))
        quantities[patient] = truth[template["patient"]]
        styles[patient] = flow_sim.style_for(template["patient"])
    return specs, quantities, styles


def expression_plates(patients: list[str]) -> list[tuple[str, list[str], int]]:
    """(plate ID, patients on it, replicates): two patients per plate in duplicate; every
    third plate holds one patient in triplicate (a 96-well plate fits no more beside the
    five standard curves)."""
    plates, start, number = [], 0, 1
    while start < len(patients):
        triplicate = number % 3 == 0
        size = 1 if triplicate else 2
        plates.append((f"EXPR{number:02d}", patients[start : start + size], 3 if triplicate else 2))
        start += size
        number += 1
    return plates


def plate_seed(seed: int, plate: str) -> int:
    """Seed of one plate's simulation, from the plate's number (EXPRnn: seed + 999 + nn,
    FUSnn: seed + 5000 + nn)."""
    number = int(plate[-2:])
    return seed + (999 + number if plate.startswith("EXPR") else 5000 + number)


def sample_name(patient: str, fraction: str) -> str:
    """The name the lab typed on the plate (e.g. ``P01pos``)."""
    return f"{patient}{FRACTION_SAMPLE[fraction]}"


def generate(
    out: Path, sheets: Path, n_patients: int = 17, seed: int = SEED, events: int = 10000
) -> None:
    """Write FCS files and plate exports below ``out`` and the three sheets into ``sheets``.

    Layout: ``out/fcs/*.fcs``, ``out/qpcr/*.csv``; ``sheets/samples.tsv``, ``units.tsv``,
    ``plates.tsv`` with paths relative to ``sheets`` (as users write them).
    """
    specs, truth, styles = cohort(n_patients)
    patients = [row["patient"] for row in specs]
    fcs_dir, qpcr_dir = out / "fcs", out / "qpcr"
    fcs_dir.mkdir(parents=True, exist_ok=True)
    qpcr_dir.mkdir(parents=True, exist_ok=True)
    sheets.mkdir(parents=True, exist_ok=True)
    gating = os.path.relpath(ROOT / "resources" / "gating" / "cellquest.xml", sheets)
    rel = os.path.relpath(out, sheets)

    samples_rows, unit_rows, plate_rows = [], [], []
    for index, row in enumerate(specs):
        patient = row["patient"]
        style = styles[patient]
        files = flow_sim.write_patient_fcs(
            fcs_dir,
            patient,
            cd34_fraction=row["cd34_pct"] / 100.0,
            style=style,
            seed=seed + index,
            identity=identity(index),
            n_events=events,
        )
        samples_rows.append(
            [
                patient,
                row["lineage"],
                row["age"],
                row["status"],
                row["fusion"],
                row["markers"],
                f"{rel}/fcs/{files['presort'].name}",
                gating if style == "cellquest" else "",
            ]
        )

    fusion_patients = [r["patient"] for r in specs if r["fusion"] == "TEL-AML1"]
    plans = [
        (plate, members, replicates, "relative", {t: IM9_STANDARDS for t in EXPRESSION_TARGETS})
        for plate, members, replicates in expression_plates(patients)
    ] + [
        (f"FUS{n:02d}", fusion_patients[start : start + 8], 2, "copies", FUSION_STANDARDS)
        for n, start in enumerate(range(0, len(fusion_patients), 8), start=1)
    ]
    for plate, members, replicates, unit, standards in plans:
        samples = {
            sample_name(p, f): {t: truth[p][f][unit][t] for t in standards}
            for p in members
            for f in FRACTION_SAMPLE
        }
        path = qpcr_dir / f"{plate}.csv"
        qpcr_sim.write_icycler_plate(
            path,
            plate=plate,
            targets=list(standards),
            standards=standards,
            samples=samples,
            unit=unit,
            replicates=replicates,
            seed=plate_seed(seed, plate),
        )
        plate_rows.append([plate, f"{rel}/qpcr/{path.name}", "icycler"])
        for p in members:
            for f in FRACTION_SAMPLE:
                unit_rows.append([p, f, f"{rel}/fcs/{p}_{f}.fcs", plate, sample_name(p, f)])

    order = {p: i for i, p in enumerate(patients)}
    unit_rows.sort(key=lambda r: (order[r[0]], r[1] != "CD34pos", r[3]))
    write_sheet(
        sheets / "samples.tsv",
        ["patient", "lineage", "age", "status", "fusion", "markers", "presort_fcs", "gating"],
        samples_rows,
    )
    write_sheet(
        sheets / "units.tsv",
        ["patient", "fraction", "sorted_fcs", "plate", "qpcr_sample"],
        unit_rows,
    )
    write_sheet(sheets / "plates.tsv", ["plate", "path", "format"], plate_rows)


def write_sheet(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """A tab-separated sheet with LF line ends."""
    lines = ["\t".join(header)] + ["\t".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder for FCS and plate files")
    parser.add_argument(
        "--sheets",
        type=Path,
        default=None,
        help="folder for the three sheets (default: config/ for the bundled demo, else --out)",
    )
    parser.add_argument("--patients", type=int, default=17, help="cohort size (17 = the study)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--events", type=int, default=10000, help="pre-sort events per file")
    args = parser.parse_args(argv)
    sheets = args.sheets or (ROOT / "config" if args.out == HERE else args.out)
    generate(args.out, sheets, n_patients=args.patients, seed=args.seed, events=args.events)


if __name__ == "__main__":
    main()
