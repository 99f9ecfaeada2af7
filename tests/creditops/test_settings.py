"""Settings: every one is documented where people configure the platform."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from creditops.settings import PROJECT_ROOT, Settings


def test_every_setting_is_in_env_example():
    example = (PROJECT_ROOT / ".env.example").read_text()
    missing = [
        name
        for name in Settings.model_fields
        if f"CREDITOPS_{name.upper()}=" not in example and name != "database_url"
    ]
    assert missing == []
    assert "DATABASE_URL=" in example


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ingestion_interval_seconds", 0),
        ("drift_interval_minutes", 0),
        ("drift_interval_minutes", 60),
    ],
)
def test_schedules_out_of_range_are_refused(name, value):
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})
