"""Licence rules decide by SPDX id or category, without case; provider data holds no secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lineage.catalog.schemas import ExternalCreate, LicenceRule
from lineage.catalog.service import licence_refusal


@pytest.mark.parametrize(
    ("rule", "licence", "refused"),
    [
        (LicenceRule(), "CC-BY-NC-4.0", False),
        (LicenceRule(refused=["non-commercial"]), "CC-BY-NC-4.0", True),
        (LicenceRule(refused=["non-commercial"]), "CC-BY-NC-SA-4.0", True),
        (LicenceRule(refused=["non-commercial"]), "research only, non-commercial", True),
        (LicenceRule(refused=["non-commercial"]), "CC-BY-4.0", False),
        (LicenceRule(refused=["non-commercial"]), "Apache-2.0", False),
        (LicenceRule(refused=["gpl-3.0"]), "GPL-3.0", True),
        (LicenceRule(allowed=["MIT", "Apache-2.0"]), "apache-2.0", False),
        (LicenceRule(allowed=["MIT"]), "BSD-3-Clause", True),
        (LicenceRule(allowed=["non-commercial"]), "CC-BY-NC-4.0", False),
        (LicenceRule(allowed=["MIT"], refused=["MIT"]), "MIT", True),
    ],
)
def test_licence_rules(rule: LicenceRule, licence: str, refused: bool) -> None:
    assert (licence_refusal(rule, licence) is not None) == refused


def test_external_entries_carry_no_credentials() -> None:
    with pytest.raises(ValidationError, match="credentials"):
        ExternalCreate(name="m", licence="MIT", provider={"api_key": "sk-123"})
    ok = ExternalCreate(name="m", licence="MIT", provider={"api": "openai-compatible"})
    assert ok.provider == {"api": "openai-compatible"}
