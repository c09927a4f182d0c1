"""Snakemake adapter: paired statistics per gene and lineage (statistics.tsv), the
between-lineage comparison (lineage.tsv) and the study's claims beside ours (claims.tsv)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.claims import evaluate_claims, load_claims  # noqa: E402
from sortpcr.cohort import statistics  # noqa: E402
from sortpcr.io import read_tsv, write_tsv  # noqa: E402
from sortpcr.lineage import lineage_comparison  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402
from sortpcr.settings import ClassifySettings  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    genes = ClassifySettings.from_config(sm.params.classification).genes
    calls, groups = read_tsv(sm.input.calls), read_tsv(sm.input.groups)
    table = statistics(calls, groups, genes)
    log.info("statistics: %d rows", len(table))
    write_tsv(sm.output.statistics, table)
    lineage = lineage_comparison(calls, groups, genes)
    log.info("lineage: %d rows", len(lineage))
    write_tsv(sm.output.lineage, lineage)
    tables = {
        "calls": calls,
        "resistance_groups": groups,
        "table1": read_tsv(sm.input.table1),
        "fusion": read_tsv(sm.input.fusion),
        "lineage": lineage,
    }
    claims = evaluate_claims(load_claims(sm.input.claims), tables)
    log.info("claims: %d of %d agree", int(claims["agree"].sum()), len(claims))
    write_tsv(sm.output.claims, claims)


run_step(sm.rule, sm.log[0], main)
