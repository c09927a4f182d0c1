"""sortpcr: from FACS-sorted CD34+/CD34- blast fractions and their qPCR plates to
per-patient drug-resistance gene calls (Shman et al., childhood ALL).

All logic lives in this package; it never imports Snakemake. Heavy libraries
(FlowKit, matplotlib, scipy.stats) are imported inside the modules that need them.
"""

__version__ = "0.1.0"
