"""Read qPCR instrument exports into one tidy table of wells.

Supported formats (``fmt``), one module each, listed in :mod:`.registry`:

``icycler`` and ``cfx`` (:mod:`.biorad`)
    Bio-Rad iCycler iQ / MyiQ / iQ5 "PCR Quant"; CFX Manager and Maestro (csv, txt, xlsx).
``rdml`` (:mod:`.rdml`)
    RDML 1.0-1.4, zipped or plain XML, parsed with DTDs and entities refused.
``generic`` (:mod:`.generic`)
    CSV/TSV with the tidy columns ``well, target, sample, role, ct`` (+ ``quantity``).

A plate map (:mod:`.layout`) may override any well. Each dialect module reads rows of
:class:`RawWell` and describes itself in a :class:`Dialect` record (:mod:`.contract`); the
shared steps after the read (:mod:`.plate`, :mod:`.checks`) ask that record, never a name.

Every text dialect seen in real exports is accepted: a leading empty column or not; ``,``
``;`` or TAB separators; decimal comma; CRLF; quoting; ``N/A``, ``NaN``, blank and
``Undetermined`` for no Ct; Excel debris (``#####``, ``-1#,INF``) in columns we do not use.
The export's own means (``Ct Mean``, ``SQ Mean``) and computed quantities of unknowns are
ignored: every number downstream is recomputed from single wells.

Output columns (one row per well and target):

- ``plate``: the plate ID from the sheet
- ``well``: ``A01`` style (row letter + two-digit column)
- ``target``: canonical target name (aliases resolved); ``""`` for an NTC or blank well whose
  target is not stated (such an NTC covers every target of the plate read in its fluor)
- ``sample``: sample name as written on the plate (``""`` when not stated)
- ``role``: ``standard``, ``unknown``, ``ntc`` or ``other``
- ``replicate_group``: ``target|sample`` for unknowns, ``target|std|quantity`` for
  standards, ``target|ntc`` for NTCs, ``""`` for other wells
- ``ct``: threshold cycle (cycles); NaN = undetermined (no amplification, or Ct >=
  ``settings.ct_max``)
- ``quantity``: input quantity of a standard in ``unit`` (NaN for all other wells)
- ``unit``: ``copies`` when the plate carries a target of ``settings.copy_targets``,
  else ``relative`` (IM-9 relative units); the plate's ``unit`` in plates.tsv overrides
- ``fluor``: the dye/channel where the export names it (``""`` otherwise)
"""

from __future__ import annotations

from .cells import canonical_target, is_debris, is_missing, normalise_well, parse_number
from .checks import check_sample_collisions
from .contract import COLUMNS, ROLES, Dialect, RawWell
from .layout import read_layout
from .plate import read_plate, read_plate_records
from .registry import DIALECTS, FORMATS, detect_format

__all__ = [
    "COLUMNS",
    "DIALECTS",
    "FORMATS",
    "ROLES",
    "Dialect",
    "RawWell",
    "canonical_target",
    "check_sample_collisions",
    "detect_format",
    "is_debris",
    "is_missing",
    "normalise_well",
    "parse_number",
    "read_layout",
    "read_plate",
    "read_plate_records",
]
