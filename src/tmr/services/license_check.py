"""May a GitHub project's code be used with a registered model for fine-tuning and inference?

The model's license comes from its stored snapshot; the project's license from the registry when
the project is registered as code, otherwise from GitHub (through ``tmr.sources``). The decision
itself is the license table's (``tmr.domain.licenses``).
"""

from __future__ import annotations

from tmr.domain.artifact import ArtifactType
from tmr.domain.snapshot import Snapshot
from tmr.errors import BadRequest, NotFound, TmrError, UpstreamNotFound, UpstreamUnavailable
from tmr.services.keys import hub_key_from_url
from tmr.services.upstream import Upstream
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.engine import Database


def model_license(snapshot: Snapshot) -> str | None:
    if snapshot.hf is not None:
        declared = snapshot.hf.license or snapshot.hf.card_data.get("license")
        if isinstance(declared, list):
            declared = declared[0] if declared else None
        return str(declared) if declared else None
    if snapshot.github is not None:
        return snapshot.github.license_spdx
    return None


class LicenseCheckService:
    def __init__(self, db: Database, upstream: Upstream) -> None:
        self.db = db
        self.upstream = upstream

    def check(self, model_id: str, github_url: str):  # type: ignore[no-untyped-def]
        from tmr.domain.licenses import check_finetune_inference
        from tmr.services.rating import ancestor_licenses, registered_parents

        key = hub_key_from_url(github_url)
        if key is None or not key.startswith("github/"):
            raise BadRequest(f"github_url must name a GitHub repository; got {github_url!r}")
        with self.db.read() as s:
            repo = ArtifactRepository(s)
            repo.get_or_404(model_id, ArtifactType.model)
            model_snapshot = repo.snapshot(model_id)
            chain = ancestor_licenses(repo, registered_parents(repo, model_id))
            registered = repo.resolve_key(key, ArtifactType.code)
            code_snapshot = repo.snapshot(registered[0].id) if registered else None
        if code_snapshot is None or code_snapshot.github is None:
            try:
                code_snapshot = self.upstream.fetch(github_url, "code")
            except UpstreamNotFound as exc:
                raise NotFound(f"GitHub project {github_url} not found: {exc.message}") from exc
            except NotFound:
                raise
            except TmrError as exc:
                if exc.status_code in (400,):
                    raise
                raise UpstreamUnavailable(
                    f"the license of {github_url} could not be fetched: {exc.message}"
                ) from exc
        code_license = code_snapshot.github.license_spdx if code_snapshot.github else None
        assert model_snapshot is not None
        decision = check_finetune_inference(code_license, model_license(model_snapshot))
        # A fine-tune inherits its ancestors' terms: every registered ancestor is checked too.
        for name, license_id in chain:
            inherited = check_finetune_inference(code_license, license_id)
            if not inherited.allowed:
                decision.allowed = False
                decision.reasons += [f"ancestor {name} decides it: {r}" for r in inherited.reasons]
        return decision
