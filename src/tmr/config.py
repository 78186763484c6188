"""All configuration in one typed class, read from the environment when asked (never at import).

Every variable is documented in the README's configuration table.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default=Path(".tmr"), alias="TMR_DATA_DIR")
    database_url: str | None = Field(default=None, alias="TMR_DATABASE_URL")
    blob_url: str | None = Field(default=None, alias="TMR_BLOB_URL")
    s3_endpoint_url: str | None = Field(default=None, alias="TMR_S3_ENDPOINT_URL")
    public_base_url: str | None = Field(default=None, alias="TMR_PUBLIC_URL")
    cors_origins: str = Field(default="", alias="TMR_CORS_ORIGINS")
    ingest_gate: str = Field(default="on", alias="TMR_INGEST_GATE")
    gate_threshold: float = Field(default=0.5, alias="TMR_GATE_THRESHOLD", ge=0.0, le=1.0)
    gate_inconclusive: str = Field(default="ignore", alias="TMR_GATE_INCONCLUSIVE")
    gate_uploads: bool = Field(default=False, alias="TMR_GATE_UPLOADS")
    allow_private_upstream: bool = Field(default=False, alias="TMR_ALLOW_PRIVATE_UPSTREAM")
    hf_endpoint: str = Field(default="https://huggingface.co", alias="HF_ENDPOINT")
    hf_token: str | None = Field(default=None, alias="HF_TOKEN")
    github_api_url: str = Field(default="https://api.github.com", alias="GITHUB_API_URL")
    github_token: str | None = Field(default=None, alias="GITHUB_TOKEN")
    upstream_timeout_seconds: float = Field(default=20.0, alias="TMR_UPSTREAM_TIMEOUT")
    log_level: int = Field(default=1, alias="LOG_LEVEL")
    log_file: str | None = Field(default=None, alias="LOG_FILE")
    log_buffer_lines: int = Field(default=5000, ge=100, le=1_000_000, alias="TMR_LOG_BUFFER")
    token_max_calls: int = Field(default=1000, alias="TMR_TOKEN_MAX_CALLS")
    token_ttl_seconds: int = Field(default=36000, alias="TMR_TOKEN_TTL_SECONDS")
    login_free_failures: int = Field(default=5, alias="TMR_LOGIN_FREE_FAILURES")
    login_failure_window_seconds: float = Field(default=900.0, alias="TMR_LOGIN_FAILURE_WINDOW")
    login_backoff_max_seconds: float = Field(default=300.0, alias="TMR_LOGIN_BACKOFF_MAX")
    password_hash_concurrency: int = Field(default=2, alias="TMR_PASSWORD_HASH_CONCURRENCY")
    user_rate_limit: float = Field(default=0.0, alias="TMR_USER_RATE_LIMIT")
    user_rate_burst: int = Field(default=0, alias="TMR_USER_RATE_BURST")
    sweep_grace_seconds: float = Field(default=3600.0, alias="TMR_SWEEP_GRACE_SECONDS")
    sweep_interval_seconds: float = Field(default=3600.0, alias="TMR_SWEEP_INTERVAL_SECONDS")
    group_ttl_seconds: float = Field(default=3600.0, gt=0, alias="TMR_GROUP_TTL_SECONDS")
    group_max_commands: int = Field(default=100, ge=1, alias="TMR_GROUP_MAX_COMMANDS")
    group_lease_seconds: float = Field(default=600.0, gt=0, alias="TMR_GROUP_LEASE_SECONDS")
    enumerate_page_size: int = Field(default=1000, alias="TMR_PAGE_SIZE")
    max_body_bytes: int = Field(default=1024**2, alias="TMR_MAX_BODY_BYTES")
    max_upload_bytes: int = Field(default=2 * 1024**3, alias="TMR_MAX_UPLOAD_BYTES")
    max_unpacked_bytes: int = Field(default=8 * 1024**3, alias="TMR_MAX_UNPACKED_BYTES")
    max_zip_ratio: float = Field(default=200.0, alias="TMR_MAX_ZIP_RATIO")
    max_zip_entries: int = Field(default=20000, alias="TMR_MAX_ZIP_ENTRIES")
    sandbox_python: str | None = Field(default=None, alias="TMR_SANDBOX_PYTHON")
    sandbox_mode: str = Field(default="auto", alias="TMR_SANDBOX")
    node_binary: str | None = Field(default=None, alias="TMR_NODE_BINARY")
    monitor_timeout_seconds: float = Field(default=10.0, alias="TMR_MONITOR_TIMEOUT")
    monitor_heap_mb: int = Field(default=128, alias="TMR_MONITOR_HEAP_MB")
    monitor_address_space_mb: int = Field(default=3072, alias="TMR_MONITOR_ADDRESS_SPACE_MB")
    monitor_output_bytes: int = Field(default=64 * 1024, alias="TMR_MONITOR_OUTPUT_BYTES")
    monitor_allow_network: bool = Field(default=False, alias="TMR_MONITOR_ALLOW_NETWORK")
    monitor_scratch_dir: Path | None = Field(default=None, alias="TMR_MONITOR_SCRATCH_DIR")
    monitor_program_max_bytes: int = Field(
        default=256 * 1024, alias="TMR_MONITOR_PROGRAM_MAX_BYTES"
    )
    activity_flush_seconds: float = Field(default=1.0, gt=0, alias="TMR_ACTIVITY_FLUSH_SECONDS")
    signing_key_file: Path | None = Field(default=None, alias="TMR_SIGNING_KEY_FILE")
    download_url_ttl_seconds: int = Field(default=3600, alias="TMR_DOWNLOAD_URL_TTL")
    read_cache_seconds: float = Field(default=0.5, ge=0, le=60, alias="TMR_READ_CACHE_SECONDS")
    server: str = Field(default="uvicorn", alias="TMR_SERVER")
    audit_key_file: Path | None = Field(default=None, alias="TMR_AUDIT_KEY_FILE")
    admin_password_file: Path | None = Field(default=None, alias="TMR_ADMIN_PASSWORD_FILE")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'registry.db').resolve()}"

    @property
    def resolved_blob_url(self) -> str:
        return self.blob_url or f"file://{(self.data_dir / 'blobs').resolve()}"

    @property
    def resolved_signing_key_file(self) -> Path:
        return self.signing_key_file or (self.data_dir / "secrets" / "signing.key").resolve()

    @property
    def resolved_audit_key_file(self) -> Path:
        return self.audit_key_file or (self.data_dir / "audit.key")

    @property
    def gate_enabled(self) -> bool:
        return self.ingest_gate.strip().lower() not in {"off", "0", "false", "no"}

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; keyword overrides win (tests use them)."""
    return Settings(**overrides)  # type: ignore[arg-type]
