"""License table and decisions. Our company's use is commercial (products ship the fine-tuned
model and the code around it), so non-commercial and no-derivatives terms refuse."""

import pytest

from tmr.domain.licenses import LICENSES, check_finetune_inference, lgpl_compatibility, normalize


@pytest.mark.parametrize(
    ("spelling", "spdx"),
    [
        ("apache-2.0", "Apache-2.0"),
        ("Apache License 2.0", "Apache-2.0"),
        ("apache 2.0", "Apache-2.0"),
        ("Apache License, Version 2.0", "Apache-2.0"),
        ("MIT", "MIT"),
        ("mit license", "MIT"),
        ("bsd-3-clause", "BSD-3-Clause"),
        ('BSD 2-Clause "Simplified" License', "BSD-2-Clause"),
        ("GNU General Public License v3.0", "GPL-3.0"),
        ("gpl-3.0-or-later", "GPL-3.0"),
        ("GPL-2.0+", "GPL-2.0"),
        ("LGPL-2.1-only", "LGPL-2.1"),
        ("agpl-3.0", "AGPL-3.0"),
        ("cc-by-4.0", "CC-BY-4.0"),
        ("cc-by-nc-sa-4.0", "CC-BY-NC-SA-4.0"),
        ("CC0 1.0", "CC0-1.0"),
        ("openrail++", "OpenRAIL"),
        ("openrail", "OpenRAIL"),
        ("creativeml-openrail-m", "CreativeML-OpenRAIL-M"),
        ("bigscience-openrail-m", "BigScience-OpenRAIL-M"),
        ("llama2", "Llama-2"),
        ("llama3", "Llama-3"),
        ("llama3.1", "Llama-3.1"),
        ("llama3.2", "Llama-3.2"),
        ("gemma", "Gemma"),
        ("other", "other"),
        ("unknown", "unknown"),
    ],
)
def test_spellings_normalise(spelling, spdx):
    terms = normalize(spelling)
    assert terms is not None and terms.spdx == spdx


@pytest.mark.parametrize("spelling", [None, "", "   ", "my-own-license"])
def test_missing_or_unlisted_licenses_do_not_normalise(spelling):
    assert normalize(spelling) is None


@pytest.mark.parametrize(
    ("license_id", "expected"),
    [
        ("MIT", 1.0),
        ("apache-2.0", 1.0),
        ("bsd-3-clause", 1.0),
        ("cc0-1.0", 1.0),
        ("lgpl-2.1", 1.0),
        ("cc-by-4.0", 1.0),
        ("mpl-2.0", 0.8),
        ("lgpl-3.0", 0.7),
        ("openrail", 0.5),
        ("gemma", 0.5),
        ("cc-by-sa-4.0", 0.3),
        ("llama3", 0.25),
        ("other", 0.25),
        ("something-else", 0.25),
        ("gpl-3.0", 0.0),
        ("agpl-3.0", 0.0),
        ("cc-by-nc-4.0", 0.0),
        ("cc-by-nd-4.0", 0.0),
        ("unknown", 0.0),
        (None, 0.0),
    ],
)
def test_lgpl_compatibility(license_id, expected):
    score, reason = lgpl_compatibility(license_id)
    assert score == expected
    assert reason


def test_every_license_has_consistent_terms():
    for terms in LICENSES:
        assert 0.0 <= terms.lgpl_score <= 1.0 and terms.lgpl_reason
        if terms.non_commercial or terms.no_derivatives:
            assert terms.lgpl_score == 0.0
        assert normalize(terms.spdx) is terms


@pytest.mark.parametrize(
    ("code", "model", "allowed", "reason_has"),
    [
        ("MIT", "apache-2.0", True, "permits derivatives"),
        ("Apache-2.0", "bsd-3-clause", True, "obligation"),
        ("MIT", "llama3.1", True, "acceptable use policy"),
        ("MIT", "openrail", True, "use-based restrictions"),
        ("GPL-3.0", "apache-2.0", True, "combined work under the GPL"),
        ("AGPL-3.0", "mit", True, "network"),
        ("GPL-3.0", "llama2", False, "forbids adding restrictions"),
        ("GPL-2.0", "creativeml-openrail-m", False, "forbids adding restrictions"),
        ("MIT", "cc-by-nc-4.0", False, "commercial"),
        ("MIT", "cc-by-nd-4.0", False, "derivative"),
        ("CC-BY-NC-4.0", "mit", False, "commercial use of the code"),
        ("MIT", "unknown", False, "unknown"),
        (None, "mit", False, "unknown"),
        ("MIT", None, False, "unknown"),
        ("MIT", "other", False, "reviewed by hand"),
        ("MIT", "made-up-license", False, "unknown"),
    ],
)
def test_finetune_and_inference_decisions(code, model, allowed, reason_has):
    decision = check_finetune_inference(code, model)
    assert decision.allowed is allowed
    assert any(reason_has in r for r in decision.reasons), decision.reasons
