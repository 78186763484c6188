"""One error tree for the whole registry; each class knows its HTTP status.

TmrError (500: a bug)
├── BadRequest (400)
│   ├── InvalidSourceUrl        a source URL we cannot parse or may not fetch
│   ├── InvalidRegex            a pattern RE2 rejects
│   ├── InvalidUpload           a zip that is malformed, too large, or escapes its folder
│   └── MalformedMetadata       lineage cannot be computed from the stored metadata
├── Unauthorized (401)          valid token, but not allowed (reset by a non-admin), or bad login
├── Forbidden (403)             missing, invalid or expired token
│   └── DownloadRefused         a sensitive model's monitor refused the download (its stdout)
├── NotFound (404)
│   └── UpstreamNotFound        the upstream repository does not exist
├── Conflict (409)
│   └── UnsafeContent           reactivating a model while an unsafe file is still stored
├── Gone (410)                  an atomic group that expired before it was executed
├── TooLarge (413)
├── Locked (423)
│   └── ArtifactQuarantined     downloads of a quarantined artifact (names the reason)
├── FailedDependency (424)
│   ├── IngestRejected          the ingest gate refused a model (names the failing metrics)
│   └── UpstreamGated           the upstream repository needs access we do not have
├── RateLimited (429)
├── UpstreamUnavailable (502)   the upstream did not answer usefully (timeouts, 5xx)
└── StorageUnavailable (503)    the database or the object store is down
"""

from __future__ import annotations

from typing import Any


class TmrError(Exception):
    status_code = 500
    code = "internal_error"
    headers: dict[str, str] | None = None

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(TmrError):
    status_code = 400
    code = "bad_request"


class InvalidSourceUrl(BadRequest):
    code = "invalid_source_url"


class InvalidRegex(BadRequest):
    code = "invalid_regex"


class InvalidUpload(BadRequest):
    code = "invalid_upload"


class MalformedMetadata(BadRequest):
    code = "malformed_metadata"


class Unauthorized(TmrError):
    status_code = 401
    code = "unauthorized"


class Forbidden(TmrError):
    status_code = 403
    code = "forbidden"


class DownloadRefused(Forbidden):
    code = "download_refused"


class NotFound(TmrError):
    status_code = 404
    code = "not_found"


class UpstreamNotFound(NotFound):
    code = "upstream_not_found"


class Conflict(TmrError):
    status_code = 409
    code = "conflict"


class UnsafeContent(Conflict):
    code = "unsafe_content"


class Gone(TmrError):
    status_code = 410
    code = "gone"


class TooLarge(TmrError):
    status_code = 413
    code = "too_large"


class Locked(TmrError):
    status_code = 423
    code = "locked"


class ArtifactQuarantined(Locked):
    code = "artifact_quarantined"


class FailedDependency(TmrError):
    status_code = 424
    code = "failed_dependency"


class IngestRejected(FailedDependency):
    code = "ingest_rejected"


class UpstreamGated(FailedDependency):
    code = "upstream_gated"


class RateLimited(TmrError):
    """Too many requests; ``Retry-After`` says when to try again."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int, **details: Any) -> None:
        super().__init__(message, retry_after_seconds=retry_after, **details)
        self.headers = {"Retry-After": str(retry_after)}


class UpstreamUnavailable(TmrError):
    status_code = 502
    code = "upstream_unavailable"


class StorageUnavailable(TmrError):
    status_code = 503
    code = "storage_unavailable"
