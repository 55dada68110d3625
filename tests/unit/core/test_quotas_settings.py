"""The quotas' template parameters and core/settings.py agree: the same defaults, the same
bounds, each parameter reaching every function as the variable settings reads."""

import pytest
from pydantic import ValidationError

from stepwise.core import settings
from stepwise.core.settings import QUOTA_PARAMETERS, Quotas
from stepwise_local.template import load_template


def test_each_quota_is_a_parameter_with_the_settings_default_and_bounds():
    template = load_template()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    for name, field in Quotas.model_fields.items():
        parameter = template["Parameters"][QUOTA_PARAMETERS[name]]
        assert parameter["Default"] == field.default, name
        assert variables[field.alias] == {"Ref": QUOTA_PARAMETERS[name]}, name
        bounds = {type(m).__name__: m for m in field.metadata}
        if "Ge" in bounds:
            assert parameter["MinValue"] == bounds["Ge"].ge, name
        if "Le" in bounds:
            assert parameter["MaxValue"] == bounds["Le"].le, name


def test_without_the_variables_the_defaults_hold(monkeypatch):
    for field in Quotas.model_fields.values():
        monkeypatch.delenv(field.alias, raising=False)
    assert Quotas.model_validate({}) == Quotas.model_validate(
        {f.alias: f.default for f in Quotas.model_fields.values()}
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("QUOTA_FOR_EACH_ITEMS", settings.MAX_FOR_EACH_ITEMS + 1),
        ("QUOTA_RENDERED_BYTES", settings.MAX_RENDERED_BYTES + 1),
        ("QUOTA_NODES_PER_WORKFLOW", settings.MAX_NODES_PER_WORKFLOW + 1),
    ],
)
def test_a_quota_cannot_raise_a_hard_maximum(variable, value):
    with pytest.raises(ValidationError):
        Quotas.model_validate({variable: str(value)})


def test_the_default_descendants_quota_fits_in_the_default_open_runs_quota():
    """One run's tree alone cannot fill its org's open runs (its root counts too)."""
    defaults = Quotas()
    assert defaults.descendants_per_run + 1 < defaults.open_runs_per_org
