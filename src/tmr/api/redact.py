"""Keep deployment internals out of error bodies: storage locations, data paths, database and
upstream endpoint URLs are replaced by what they are (``<blob store>``…).

Messages are written for operators too (logs keep them whole); this is the last filter before a
body leaves the server, so a message that names a location by accident still cannot leak it.
"""

from __future__ import annotations

import re
from typing import Any

from tmr.config import Settings

_LOCATIONS = re.compile(r"\b(?:file|s3|sqlite|postgres(?:ql)?(?:\+\w+)?)://[^\s'\"),;]+")
_PUBLIC_HUB = "https://huggingface.co"  # users send these URLs themselves


class Redactor:
    def __init__(self, settings: Settings) -> None:
        pairs: list[tuple[str, str]] = [
            (settings.resolved_blob_url, "<blob store>"),
            (settings.resolved_database_url, "<database>"),
            (str(settings.data_dir.resolve()), "<data dir>"),
            (str(settings.resolved_audit_key_file.resolve()), "<audit key>"),
            (settings.github_api_url.rstrip("/"), "<GitHub API>"),
        ]
        if settings.s3_endpoint_url:
            pairs.append((settings.s3_endpoint_url.rstrip("/"), "<object store>"))
        if settings.hf_endpoint.rstrip("/") != _PUBLIC_HUB:
            pairs.append((settings.hf_endpoint.rstrip("/"), "<Hugging Face Hub>"))
        if str(settings.data_dir) not in ("", "."):
            pairs.append((str(settings.data_dir), "<data dir>"))
        self.pairs = sorted((p for p in pairs if len(p[0]) > 3), key=lambda p: -len(p[0]))

    def text(self, value: str) -> str:
        for secret, label in self.pairs:
            if secret in value:
                value = value.replace(secret, label)
        return _LOCATIONS.sub("<storage location>", value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value
