"""Report pages: self-contained HTML tables, the front page, one page per patient and the
tables as a journal prints them. Pure functions on pandas tables; no Snakemake."""
