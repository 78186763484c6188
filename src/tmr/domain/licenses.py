"""License terms as data, and the two decisions the registry takes from them.

The table below records, for each license a model, dataset or code repository commonly carries,
what it permits, what it obliges and what it restricts, in the vocabulary of the ModelGo work
(Duan et al., "ModelGo: A Practical Tool for Machine Learning License Analysis", WWW 2024):
commercial use, derivatives (a fine-tune is a derivative of its base model), copyleft strength,
share-alike, use-based restrictions (RAIL, Llama and Gemma terms). Spellings found in the wild
(``"Apache License 2.0"``, ``"apache 2.0"``, Hugging Face ids like ``llama3.1``, ``openrail++``)
are normalised by :func:`normalize`.

Two decisions read the table:

* :func:`lgpl_compatibility` scores how well a model's license fits the company's own license,
  LGPL-2.1 (the ``license`` metric): 1 compatible, 0 incompatible or missing, unclear in between.
* :func:`check_finetune_inference` answers whether a GitHub project's code may be used with a model
  for fine-tuning and inference. The company's use is **commercial**, and the fine-tuned model and
  the code around it are assumed to ship inside the company's products (the conservative reading),
  so non-commercial, no-derivatives and unknown terms refuse, and strong copyleft code refuses when
  the model's terms add restrictions that copyleft forbids passing on.

Pure data and logic: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Family = Literal[
    "public_domain",
    "permissive",
    "weak_copyleft",
    "strong_copyleft",
    "network_copyleft",
    "creative_commons",
    "responsible_ai",
    "model_community",
    "unknown",
]
Copyleft = Literal["none", "file", "library", "strong", "network"]


@dataclass(frozen=True)
class LicenseTerms:
    """Permissions, obligations and restrictions of one license."""

    spdx: str
    name: str
    family: Family
    commercial_use: bool = True
    derivatives: bool = True
    copyleft: Copyleft = "none"
    share_alike: bool = False
    attribution: bool = True
    use_restrictions: bool = False
    patent_grant: bool = False
    lgpl_score: float = 0.0
    lgpl_reason: str = ""
    obligations: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def non_commercial(self) -> bool:
        return not self.commercial_use

    @property
    def no_derivatives(self) -> bool:
        return not self.derivatives


def _perm(spdx: str, name: str, *aliases: str, patent: bool = False) -> LicenseTerms:
    return LicenseTerms(
        spdx,
        name,
        "permissive",
        patent_grant=patent,
        lgpl_score=1.0,
        lgpl_reason=f"{spdx} is permissive: code under it may be combined with LGPL-2.1 code",
        obligations=("keep the copyright and license notice",),
        aliases=aliases,
    )


def _cc(
    spdx: str, name: str, *aliases: str, nc: bool = False, nd: bool = False, sa: bool = False
) -> LicenseTerms:
    if nc or nd:
        score, why = 0.0, "non-commercial or no-derivatives terms conflict with LGPL-2.1 freedoms"
    elif sa:
        score, why = 0.3, "share-alike requires derivatives under CC-BY-SA, not LGPL-2.1"
    else:
        score, why = 1.0, "attribution-only terms add no restriction beyond LGPL-2.1's notices"
    return LicenseTerms(
        spdx,
        name,
        "creative_commons",
        commercial_use=not nc,
        derivatives=not nd,
        copyleft="strong" if sa else "none",
        share_alike=sa,
        lgpl_score=score,
        lgpl_reason=why,
        obligations=("give attribution",) + (("share derivatives alike",) if sa else ()),
        aliases=aliases,
    )


def _rail(spdx: str, name: str, *aliases: str) -> LicenseTerms:
    return LicenseTerms(
        spdx,
        name,
        "responsible_ai",
        use_restrictions=True,
        lgpl_score=0.5,
        lgpl_reason=f"{spdx} allows commercial use but adds use-based restrictions that "
        "LGPL-2.1 does not allow to pass on: unclear",
        obligations=("pass the use-based restrictions on to every downstream user",),
        aliases=aliases,
    )


def _llama(spdx: str, name: str, *aliases: str) -> LicenseTerms:
    return LicenseTerms(
        spdx,
        name,
        "model_community",
        use_restrictions=True,
        lgpl_score=0.25,
        lgpl_reason=f"{name}: commercial use capped (700M monthly users), acceptable-use policy "
        "and naming duties; not an open-source license",
        obligations=(
            "follow the acceptable use policy",
            "display 'Built with Llama'",
            "ask Meta for a license above 700M monthly active users",
        ),
        aliases=aliases,
    )


LICENSES: tuple[LicenseTerms, ...] = (
    LicenseTerms(
        "CC0-1.0",
        "Creative Commons Zero 1.0",
        "public_domain",
        attribution=False,
        lgpl_score=1.0,
        lgpl_reason="public-domain dedication: no conditions",
        aliases=("cc0", "cc0-1.0", "cc-zero"),
    ),
    LicenseTerms(
        "Unlicense",
        "The Unlicense",
        "public_domain",
        attribution=False,
        lgpl_score=1.0,
        lgpl_reason="public-domain dedication: no conditions",
        aliases=("unlicense", "the unlicense"),
    ),
    _perm("MIT", "MIT License", "mit", "expat", "mit license"),
    _perm(
        "BSD-2-Clause",
        'BSD 2-Clause "Simplified" License',
        "bsd-2-clause",
        "bsd 2-clause",
        "simplified bsd",
        "bsd-2",
    ),
    _perm(
        "BSD-3-Clause",
        'BSD 3-Clause "New" or "Revised" License',
        "bsd-3-clause",
        "bsd 3-clause",
        "new bsd",
        "bsd-3",
        "bsd",
        "bsd-3-clause-clear",
    ),
    _perm("ISC", "ISC License", "isc"),
    _perm("Zlib", "zlib License", "zlib"),
    _perm("BSL-1.0", "Boost Software License 1.0", "bsl-1.0", "boost"),
    _perm(
        "Apache-2.0",
        "Apache License 2.0",
        "apache-2.0",
        "apache 2.0",
        "apache2",
        "apache-2",
        "apache license 2.0",
        "apache license, version 2.0",
        "apache",
        "apache2.0",
        patent=True,
    ),
    LicenseTerms(
        "MPL-2.0",
        "Mozilla Public License 2.0",
        "weak_copyleft",
        copyleft="file",
        patent_grant=True,
        lgpl_score=0.8,
        lgpl_reason="MPL-2.0 is compatible with LGPL-2.1+ (secondary-license clause) "
        "but keeps file-level copyleft",
        obligations=("publish changes to MPL-covered files",),
        aliases=("mpl-2.0", "mpl 2.0", "mozilla public license 2.0", "mpl"),
    ),
    LicenseTerms(
        "LGPL-2.1",
        "GNU Lesser General Public License v2.1",
        "weak_copyleft",
        copyleft="library",
        lgpl_score=1.0,
        lgpl_reason="the company's own license",
        obligations=("publish changes to the library", "allow relinking"),
        aliases=("lgpl-2.1", "lgpl2.1", "lgplv2.1", "lgpl-2.1-only", "lgpl-2.1-or-later", "lgpl"),
    ),
    LicenseTerms(
        "LGPL-3.0",
        "GNU Lesser General Public License v3.0",
        "weak_copyleft",
        copyleft="library",
        patent_grant=True,
        lgpl_score=0.7,
        lgpl_reason="LGPL-3.0 combines with LGPL-2.1 only when that is 'or later': "
        "the combination becomes LGPL-3.0",
        obligations=("publish changes to the library", "allow relinking"),
        aliases=("lgpl-3.0", "lgpl3", "lgplv3", "lgpl-3.0-only", "lgpl-3.0-or-later"),
    ),
    LicenseTerms(
        "GPL-2.0",
        "GNU General Public License v2.0",
        "strong_copyleft",
        copyleft="strong",
        share_alike=True,
        lgpl_score=0.0,
        lgpl_reason="strong copyleft: the combined work would have to be GPL-2.0, not LGPL-2.1",
        obligations=(
            "license the whole combined work under the GPL",
            "publish source with every distribution",
        ),
        aliases=("gpl-2.0", "gpl2", "gplv2", "gpl-2.0-only", "gpl-2.0-or-later"),
    ),
    LicenseTerms(
        "GPL-3.0",
        "GNU General Public License v3.0",
        "strong_copyleft",
        copyleft="strong",
        share_alike=True,
        patent_grant=True,
        lgpl_score=0.0,
        lgpl_reason="strong copyleft: the combined work would have to be GPL-3.0, not LGPL-2.1",
        obligations=(
            "license the whole combined work under the GPL",
            "publish source with every distribution",
        ),
        aliases=("gpl-3.0", "gpl3", "gplv3", "gpl-3.0-only", "gpl-3.0-or-later", "gpl"),
    ),
    LicenseTerms(
        "AGPL-3.0",
        "GNU Affero General Public License v3.0",
        "network_copyleft",
        copyleft="network",
        share_alike=True,
        patent_grant=True,
        lgpl_score=0.0,
        lgpl_reason="network copyleft: serving the work obliges releasing everything "
        "under AGPL-3.0",
        obligations=("license the combined work under the AGPL", "offer source to network users"),
        aliases=("agpl-3.0", "agpl3", "agplv3", "agpl-3.0-only", "agpl-3.0-or-later", "agpl"),
    ),
    _cc(
        "CC-BY-4.0",
        "Creative Commons Attribution 4.0",
        "cc-by-4.0",
        "cc by 4.0",
        "cc-by",
        "cc-by-3.0",
        "cc-by-2.0",
    ),
    _cc(
        "CC-BY-SA-4.0",
        "Creative Commons Attribution-ShareAlike 4.0",
        "cc-by-sa-4.0",
        "cc by-sa 4.0",
        "cc-by-sa",
        "cc-by-sa-3.0",
        sa=True,
    ),
    _cc(
        "CC-BY-NC-4.0",
        "Creative Commons Attribution-NonCommercial 4.0",
        "cc-by-nc-4.0",
        "cc by-nc 4.0",
        "cc-by-nc",
        "cc-by-nc-3.0",
        "cc-by-nc-2.0",
        nc=True,
    ),
    _cc(
        "CC-BY-NC-SA-4.0",
        "Creative Commons Attribution-NonCommercial-ShareAlike 4.0",
        "cc-by-nc-sa-4.0",
        "cc-by-nc-sa",
        "cc-by-nc-sa-3.0",
        "cc-by-nc-sa-2.0",
        nc=True,
        sa=True,
    ),
    _cc(
        "CC-BY-ND-4.0",
        "Creative Commons Attribution-NoDerivatives 4.0",
        "cc-by-nd-4.0",
        "cc-by-nd",
        "cc-by-nd-3.0",
        nd=True,
    ),
    _cc(
        "CC-BY-NC-ND-4.0",
        "Creative Commons Attribution-NonCommercial-NoDerivatives 4.0",
        "cc-by-nc-nd-4.0",
        "cc-by-nc-nd",
        "cc-by-nc-nd-3.0",
        nc=True,
        nd=True,
    ),
    _rail("OpenRAIL", "Open Responsible AI License", "openrail", "openrail++"),
    _rail("OpenRAIL-M", "Open RAIL for models", "openrail-m"),
    _rail("CreativeML-OpenRAIL-M", "CreativeML Open RAIL-M", "creativeml-openrail-m"),
    _rail("BigScience-OpenRAIL-M", "BigScience Open RAIL-M", "bigscience-openrail-m"),
    _rail("BigScience-BLOOM-RAIL-1.0", "BigScience BLOOM RAIL 1.0", "bigscience-bloom-rail-1.0"),
    _llama("Llama-2", "Llama 2 Community License", "llama2", "llama-2", "llama 2"),
    _llama("Llama-3", "Meta Llama 3 Community License", "llama3", "llama-3", "llama 3"),
    _llama("Llama-3.1", "Llama 3.1 Community License", "llama3.1", "llama-3.1"),
    _llama("Llama-3.2", "Llama 3.2 Community License", "llama3.2", "llama-3.2"),
    _llama("Llama-3.3", "Llama 3.3 Community License", "llama3.3", "llama-3.3"),
    LicenseTerms(
        "Gemma",
        "Gemma Terms of Use",
        "model_community",
        use_restrictions=True,
        lgpl_score=0.5,
        lgpl_reason="Gemma terms allow commercial use but impose a prohibited-use "
        "policy on every derivative: unclear",
        obligations=("pass the prohibited-use policy on", "keep the Gemma notice"),
        aliases=("gemma", "gemma terms of use"),
    ),
    LicenseTerms(
        "other",
        "Other (terms in the card)",
        "unknown",
        lgpl_score=0.25,
        lgpl_reason="license declared as 'other': terms must be read by hand",
        aliases=("other",),
    ),
    LicenseTerms(
        "unknown",
        "Unknown",
        "unknown",
        lgpl_score=0.0,
        lgpl_reason="license declared unknown: nothing is granted",
        aliases=("unknown", "unlicensed", "noassertion", "none", "proprietary"),
    ),
)


def _key(text: str) -> str:
    """A spelling-insensitive key: lower case, no 'license'/'version' words, only [a-z0-9.+]."""
    s = text.strip().lower().replace("licence", "license")
    s = re.sub(r"\b(the|license|version)\b", " ", s)
    s = re.sub(r"\bv(?=\d)", "", s)
    return re.sub(r"[^a-z0-9.+]", "", s)


_BY_KEY: dict[str, LicenseTerms] = {}
for _terms in LICENSES:
    for _spelling in (_terms.spdx, _terms.name, *_terms.aliases):
        _BY_KEY.setdefault(_key(_spelling), _terms)


def normalize(license_id: str | None) -> LicenseTerms | None:
    """The terms for a license spelling, or None when missing or not in the table."""
    if license_id is None or not license_id.strip():
        return None
    key = _key(license_id)
    found = _BY_KEY.get(key)
    if found is None:
        # "gpl-3.0-or-later" / "apache-2.0+" / "mit license (mit)": try a shorter key.
        for suffix in ("orlater", "only", "+"):
            if key.endswith(suffix) and (hit := _BY_KEY.get(key[: -len(suffix)])):
                return hit
        stripped = re.sub(r"\(.*\)", "", license_id)
        if stripped != license_id:
            return normalize(stripped)
    return found


def lgpl_compatibility(license_id: str | None) -> tuple[float, str]:
    """Score in [0, 1] of a license's compatibility with LGPL-2.1, and the reason."""
    if license_id is None or not license_id.strip():
        return 0.0, "no license declared: nothing is granted"
    terms = normalize(license_id)
    if terms is None:
        return 0.25, f"license '{license_id}' is not in our table: unclear until reviewed"
    return terms.lgpl_score, terms.lgpl_reason


@dataclass
class LicenseDecision:
    allowed: bool
    reasons: list[str] = field(default_factory=list)
    code_license: str | None = None
    model_license: str | None = None


def check_finetune_inference(
    code_license: str | None, model_license: str | None
) -> LicenseDecision:
    """May code under ``code_license`` be used with a model under ``model_license`` to fine-tune it
    and run inference, in the company's commercial products? Reasons name every finding."""
    code, model = normalize(code_license), normalize(model_license)
    decision = LicenseDecision(
        True, [], code.spdx if code else code_license, model.spdx if model else model_license
    )
    refuse = decision.reasons.append

    def deny(reason: str) -> None:
        decision.allowed = False
        refuse(reason)

    for role, raw, terms in (("code", code_license, code), ("model", model_license, model)):
        if terms is None or terms.spdx == "unknown":
            deny(f"the {role} license '{raw or 'missing'}' is unknown: no right to use is granted")
        elif terms.spdx == "other":
            deny(f"the {role} license is 'other': its terms must be reviewed by hand")
    if code is None or model is None or not decision.allowed:
        return decision

    if model.non_commercial:
        deny(f"{model.spdx} forbids commercial use of the model, and our use is commercial")
    if model.no_derivatives:
        deny(f"{model.spdx} forbids derivatives, and a fine-tuned model is a derivative")
    if code.non_commercial:
        deny(f"{code.spdx} forbids commercial use of the code")
    if code.no_derivatives:
        deny(f"{code.spdx} forbids adapting the code, which fine-tuning pipelines require")
    restricted_model = model.use_restrictions or model.non_commercial or model.no_derivatives
    if code.copyleft in ("strong", "network") and restricted_model:
        deny(
            f"{code.spdx} forbids adding restrictions to the combined work, but {model.spdx} "
            "imposes use-based restrictions on it"
        )
    if decision.allowed:
        refuse(f"{model.spdx} permits derivatives (the fine-tune) and commercial inference")
        for terms, role in ((model, "model"), (code, "code")):
            for duty in terms.obligations:
                refuse(f"obligation from the {role} license {terms.spdx}: {duty}")
        if code.copyleft == "network":
            refuse(f"{code.spdx}: serving inference over a network obliges offering the source")
    return decision
