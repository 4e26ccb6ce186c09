"""The spec: the built-in one carries the seed's numbers; a bad one is refused naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spectrumgen.errors import SpecError
from spectrumgen.schemas.spec import Spec
from spectrumgen.specs import load_spec


def _ranges(buckets) -> dict[str, tuple[float, float, float]]:
    return {b.name: (b.range.low, b.range.high, b.frequency) for b in buckets}


def test_builtin_spec_has_the_seeds_capacity_and_authenticity_buckets(spec: Spec) -> None:
    assert _ranges(spec.axes.capacity_level) == {
        "crisis": (0.5, 1.5, 0.15),
        "low": (2.0, 4.0, 0.25),
        "medium": (4.5, 6.5, 0.35),
        "high": (7.0, 9.5, 0.25),
    }
    assert _ranges(spec.axes.authenticity_target) == {
        "failed": (0.2, 0.4, 0.15),
        "struggling": (0.4, 0.6, 0.20),
        "authentic": (0.6, 0.8, 0.35),
        "excellent": (0.8, 1.0, 0.30),
    }


def test_builtin_spec_has_the_seeds_support_rule_and_minimums(spec: Spec) -> None:
    offsets = {
        t.name: (t.support_offset.low, t.support_offset.high, t.support_floor)
        for t in spec.axes.authenticity_target
    }
    assert offsets == {
        "failed": (4.0, 6.0, 0.0),
        "struggling": (1.5, 3.0, 0.0),
        "authentic": (-0.5, 1.5, 0.0),
        "excellent": (-2.0, -1.0, 1.0),
    }
    assert spec.support_rule.ceiling(3.0) == 5.0
    assert spec.support_rule.ceiling(9.5) == 10.0
    assert {t.name: t.min_examples for t in spec.axes.authenticity_target} == {
        "failed": 2,
        "struggling": 3,
        "authentic": 4,
        "excellent": 3,
    }
    assert {c.name: c.min_examples for c in spec.axes.complexity_type} == {
        "baseline": 2,
        "people_pleasing": 2,
        "misjudgment_over": 2,
        "misjudgment_under": 1,
        "defensive_lashing": 1,
        "emergency_override": 2,
        "cultural_indirect": 1,
        "mixed_emotions": 2,
    }
    thresholds = spec.quality_thresholds
    assert thresholds.min_examples == {"failed": 2, "struggling": 3, "people_pleasing": 2}
    assert thresholds.max_share == {"excellent": 0.4, "baseline": 0.3}
    assert thresholds.min_authenticity_spread == 0.3
    assert thresholds.min_complexity_types == 5


def _write(tmp_path: Path, data: object, name: str = "spec.yaml") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(path)


def _builtin_data(spec: Spec) -> dict:
    return spec.model_dump(mode="json")


def test_a_spec_file_of_ones_own_loads_and_hashes_differently(tmp_path: Path, spec: Spec) -> None:
    data = _builtin_data(spec)
    data["name"] = "my_variant"
    data["axes"]["capacity_level"][0]["range"] = {"low": 0.1, "high": 1.5}
    loaded = load_spec(_write(tmp_path, data))
    assert loaded.name == "my_variant"
    assert loaded.content_hash() != spec.content_hash()


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda d: d["axes"]["capacity_level"][0].update(frequency=0.5), "capacity_level"),
        (lambda d: d["axes"]["capacity_level"][1].update(range={"low": 4, "high": 2}), "range"),
        (lambda d: d["quality_thresholds"]["max_share"].update(nonsense=0.2), "nonsense"),
        (lambda d: d["quality_thresholds"]["max_share"].update(excellent=0.1), "excellent"),
        (lambda d: d.pop("character"), "character"),
        (lambda d: d.update(colour="blue"), "colour"),
        (lambda d: d["axes"]["authenticity_target"][0].pop("support_offset"), "support_offset"),
        # Each of these once hung a run, crashed it or burned its budget.
        (lambda d: d["axes"]["capacity_level"][0].update(range={"low": "nan", "high": 2}), "low"),
        (
            lambda d: d["axes"]["capacity_level"][0].update(range={"low": "-inf", "high": "inf"}),
            "range",
        ),
        (lambda d: d["axes"]["capacity_level"][0].update(range={"low": -3, "high": -1}), "0-10"),
        (lambda d: d["axes"]["authenticity_target"][0].update(range={"low": -5, "high": 7}), "0-1"),
        (
            lambda d: d["axes"]["capacity_level"][0].update(range={"low": 2, "high": 2}),
            "low < high",
        ),
        (lambda d: d["example_rules"].update(placeholder_patterns=["("]), "placeholder_patterns"),
        (lambda d: d["support_rule"].update(capacity_offset=-100), "capacity_offset"),
        (lambda d: d["support_rule"].update(capacity_offset=-5), "no support to give"),
        (lambda d: d["example_rules"].update(min_text_chars=100000), "min_text_chars"),
    ],
)
def test_a_bad_spec_is_refused_with_one_line_naming_the_field(
    tmp_path: Path, spec: Spec, mutate, named: str
) -> None:
    data = _builtin_data(spec)
    mutate(data)
    with pytest.raises(SpecError) as caught:
        load_spec(_write(tmp_path, data))
    message = str(caught.value)
    assert named in message
    assert "\n" not in message


def test_unreadable_and_missing_spec_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(_write(tmp_path, "axes: [unclosed", name="broken.yaml"))
    with pytest.raises(SpecError, match="no such file"):
        load_spec(str(tmp_path / "absent.yaml"))
    with pytest.raises(SpecError, match="mapping"):
        load_spec(_write(tmp_path, "- just\n- a list\n", name="list.yaml"))


def test_a_nan_written_as_yaml_is_refused_not_run(tmp_path: Path, spec: Spec) -> None:
    text = yaml.safe_dump(_builtin_data(spec)).replace("low: 0.2\n", "low: .nan\n", 1)
    assert ".nan" in text
    with pytest.raises(SpecError, match="finite"):
        load_spec(_write(tmp_path, text))


def test_specs_nested_too_deeply_or_too_big_are_refused_before_parsing_all(
    tmp_path: Path,
) -> None:
    deep = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(SpecError, match="nested too deeply"):
        load_spec(_write(tmp_path, deep, name="deep.yaml"))
    nested = "a: " + "[" * 30 + "]" * 30 + "\n"
    with pytest.raises(SpecError, match="nested too deeply"):
        load_spec(_write(tmp_path, nested, name="nested.yaml"))
    huge = tmp_path / "huge.yaml"
    huge.write_text("description: " + "x" * 2_000_000 + "\n")
    with pytest.raises(SpecError, match="too big for a spec"):
        load_spec(str(huge))
