"""The standard-curve figure: interval level stated, copies axis, unknowns named by sample."""

from matplotlib.figure import Figure

from sortpcr.plots.qpcr import _label_samples, _panel, axis_label, unit_of


def curve(unit):
    return {
        "slope": -3.32, "intercept": 38.0, "range_low": 10.0, "range_high": 1e6,
        "efficiency": 1.0, "efficiency_low": 0.96, "efficiency_high": 1.04, "r2": 0.999,
        "points": 10, "status": "pass", "reason": "", "unit": unit, "ci_level": 0.95,
    }  # fmt: skip


def unknown(sample, log10q, status="ok"):
    ct = None if log10q is None else 38.0 - 3.32 * log10q
    return {"sample": sample, "log10_quantity": log10q, "ct_mean": ct,
            "status": status, "unit": "copies"}  # fmt: skip


def test_axis_label_names_copies_and_relative_units():
    assert axis_label("copies") == "log10 copies"
    assert "IM-9" in axis_label("relative")
    assert axis_label("") == "log10 quantity"
    assert unit_of(None, [{"unit": "copies"}]) == "copies"
    assert unit_of(curve("relative"), [{"unit": "copies"}]) == "relative"


def test_panel_states_level_labels_samples_and_copies():
    ax = Figure().add_subplot(1, 1, 1)
    std = [
        {"quantity": q, "ct": 38.0 - 3.32 * e, "used": True, "exclusion": ""}
        for e, q in ((1, 10.0), (3, 1e3), (6, 1e6))
    ]
    unknowns = [unknown("P06pos", 4.2), unknown("P06neg", 3.9), unknown("P07pos", None)]
    _panel(ax, "TEL-AML1", std, curve("copies"), unknowns, 40.0)
    texts = [t.get_text() for t in ax.texts]
    assert any("(95% CI)" in t for t in texts)
    assert ax.get_xlabel() == "log10 copies"
    # the two placed unknowns are named; the one without a quantity is not placed
    assert "P06pos" in texts and "P06neg" in texts and "P07pos" not in texts


def test_labels_ordered_by_ct_so_leader_lines_do_not_cross():
    ax = Figure().add_subplot(1, 1, 1)
    _label_samples(ax, [unknown("high_ct", 1.0), unknown("low_ct", 5.0)])
    by_name = {t.get_text(): t.xyann[1] for t in ax.texts}
    assert by_name["low_ct"] < by_name["high_ct"]  # lowest Ct gets the lowest label
