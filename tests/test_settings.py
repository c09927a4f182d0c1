"""The config and the settings objects agree: every key the schema allows is read by a step's
settings object (:mod:`sortpcr.settings`) or, for the few the Snakefile uses itself, by the
rules, so no key a user writes is silently ignored; and every object builds from the shipped
config and from one that states only what the schema requires."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml

from sortpcr.settings import settings_problems
from tests.conftest import ROOT, validated_config

#: keys the Snakefile reads itself: the sheets' paths and the default gating strategy
READ_BY_RULES = {"samples", "units", "plates", "gating.strategy"}


class Recording(Mapping):
    """A read-only view of a config that notes every key read (dotted paths)."""

    def __init__(self, data: Mapping[str, Any], seen: set[str], prefix: str = "") -> None:
        self._data, self._seen, self._prefix = data, seen, prefix

    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        path = f"{self._prefix}{key}"
        self._seen.add(path)
        return Recording(value, self._seen, path + ".") if isinstance(value, dict) else value

    def __contains__(self, key: object) -> bool:  # asking is not reading
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def schema_keys(schema: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of the schema's settings: an object with named properties is walked
    into, anything else (a number, a list, a free map such as target_aliases) is a key."""
    keys = set()
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        if sub.get("properties"):
            keys |= schema_keys(sub, path + ".")
        else:
            keys.add(path)
    return keys


def read_keys(config: dict[str, Any]) -> set[str]:
    """The keys the settings objects read from a validated config."""
    seen: set[str] = set()
    assert settings_problems(Recording(config, seen)) == []
    return seen


def test_every_schema_key_is_read_by_a_settings_object():
    schema = yaml.safe_load((ROOT / "config" / "schemas" / "config.schema.yaml").read_text())
    allowed = schema_keys(schema)
    assert {"qpcr.curves.copies.slope_min", "figures.png_dpi", "qc.purity_min"} <= allowed
    older = validated_config()
    older["qpcr"] = {k: v for k, v in older["qpcr"].items() if k != "reference_genes"}
    older["qpcr"]["reference_gene"] = "GUS"  # the older form, read when the newer is absent
    read = read_keys(validated_config()) | read_keys(older)
    assert sorted(allowed - READ_BY_RULES - read) == []
    # nothing read that the schema does not know (sections and entries of a free map aside)
    unknown = [
        path
        for path in read - allowed
        if not any(key.startswith(path + ".") or path.startswith(key + ".") for key in allowed)
    ]
    assert unknown == []


def test_settings_build_from_only_what_the_schema_requires():
    """A config of the required keys alone: the schema fills the rest and every step's
    settings build; the shipped config.yaml builds too."""
    shipped = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    bare = {
        "samples": shipped["samples"],
        "units": shipped["units"],
        "plates": shipped["plates"],
        "gating": {k: shipped["gating"][k] for k in ("strategy", "blast_gate", "fraction_gates")},
        "qc": {"purity_min": 0.98, "cd34_range": [0.1, 0.9]},
        "qpcr": {"reference_genes": ["GUS"]},
        "classification": {"fold_threshold": 2.0, "genes": ["MDR1"]},
    }
    from snakemake.utils import validate

    validate(bare, str(ROOT / "config" / "schemas" / "config.schema.yaml"))
    assert bare["figures"] == {"png_dpi": 150} and bare["qpcr"]["ct_max"] == 40.0
    assert settings_problems(bare) == []
    assert settings_problems(validated_config()) == []


@pytest.mark.parametrize(
    ("section", "changes", "words"),
    [
        ("qc", {"cd34_range": [0.9, 0.1]}, "config qc.cd34_range [0.9, 0.1]: low is above high"),
        (
            "qpcr",
            {"curves": {"relative": {"efficiency_min": 1.2}}},
            "config qpcr.curves.relative [1.2, 1.1]: efficiency_min is above efficiency_max",
        ),
        (
            "qpcr",
            {"identifier_regex": r"^(?P<x>.*)$"},
            "config qpcr.identifier_regex: '^(?P<x>.*)$' lacks the named group(s) target, sample "
            "(write (?P<target>...))",
        ),
    ],
)
def test_what_the_schema_cannot_state_is_one_named_problem(section, changes, words):
    assert settings_problems(validated_config(**{section: changes})) == [words]


def test_an_empty_identifier_regex_is_refused_by_the_schema():
    from snakemake.exceptions import WorkflowError

    with pytest.raises(WorkflowError, match="identifier_regex"):
        validated_config(qpcr={"identifier_regex": ""})


def test_settings_are_immutable_all_through():
    """Frozen objects whose maps are read-only views: a step cannot change another's."""
    import dataclasses

    from tests.conftest import flowqc_settings, qpcr_settings

    qpcr, flow = qpcr_settings(), flowqc_settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        qpcr.ct_max = 35.0  # type: ignore[misc]
    for mapping in (qpcr.curves, qpcr.target_aliases, flow.markers, flow.fraction_gates):
        with pytest.raises(TypeError):
            mapping["x"] = None  # type: ignore[index]
    assert qpcr == qpcr_settings()  # equal by content
