"""Parse a source URL into a typed :class:`SourceRef`, and refuse URLs we may not fetch.

Every registration starts here. A URL names a Hugging Face model or dataset, a GitHub repository,
or some other web page (Kaggle and similar dataset pages), and this module says which, with the
repository id, revision and sub-folder it names. It also enforces the network policy for source
URLs: only http(s), no credentials in the URL, and (unless ``allow_private_upstream``) no host
that is, or resolves to, a loopback, private, link-local or otherwise internal address. Nothing is
fetched here; the canonical hosts (huggingface.co, github.com) are never contacted through the URL
itself but through the configured ``HF_ENDPOINT`` and ``GITHUB_API_URL``.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from tmr.config import Settings
from tmr.errors import InvalidSourceUrl

RefKind = Literal["hf-model", "hf-dataset", "github", "web"]

HF_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co"})
GITHUB_HOSTS = frozenset({"github.com", "www.github.com"})
#: Dataset hosts we recognise by name (a page there is registered as a web dataset).
KNOWN_DATASET_HOSTS = frozenset(
    {
        "kaggle.com",
        "zenodo.org",
        "figshare.com",
        "data.mendeley.com",
        "archive.ics.uci.edu",
        "image-net.org",
        "paperswithcode.com",
        "opendatalab.com",
        "registry.opendata.aws",
        "data.world",
    }
)

# First path segments on huggingface.co that are site pages, not repositories.
_HF_RESERVED = frozenset(
    {
        "models",
        "docs",
        "settings",
        "organizations",
        "api",
        "blog",
        "papers",
        "collections",
        "login",
        "join",
        "pricing",
        "tasks",
        "learn",
        "posts",
        "enterprise",
        "new",
        "search",
        "chat",
        "notifications",
        "inference-endpoints",
        "huggingface",
    }
)
# Second segments that follow a legacy single-name id (``/bert-base-uncased/tree/main``).
_HF_REPO_VIEWS = frozenset(
    {"tree", "blob", "resolve", "raw", "commits", "commit", "discussions", "blame", "edit"}
)
GITHUB_RESERVED = frozenset(
    {
        "customer-stories",
        "orgs",
        "features",
        "topics",
        "settings",
        "marketplace",
        "sponsors",
        "about",
        "pricing",
        "login",
        "search",
        "explore",
        "trending",
        "collections",
        "apps",
        "site",
        "contact",
        "enterprise",
        "notifications",
        "new",
        "organizations",
        "users",
        "security",
        "readme",
    }
)
_HF_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_GH_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_REVISION = re.compile(r"^[^\s~^:?*\[\\\x00-\x1f\x7f]{1,255}$")  # git's ref-name rules, roughly
_DNS_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class SourceRef:
    """What a source URL names. ``repo_id`` is ``org/name`` (or a legacy ``name``) on the Hub,
    ``owner/repo`` on GitHub, and ``None`` for a web page."""

    kind: RefKind
    url: str
    host: str
    path: str
    repo_id: str | None = None
    revision: str | None = None
    subdir: str | None = None

    @property
    def is_huggingface(self) -> bool:
        return self.kind in ("hf-model", "hf-dataset")

    @property
    def hf_repo_type(self) -> Literal["model", "dataset"]:
        return "dataset" if self.kind == "hf-dataset" else "model"

    @property
    def identity(self) -> str | None:
        """See :func:`source_identity`."""
        if self.repo_id is None or self.kind == "web":
            return None
        prefix = {"hf-model": "", "hf-dataset": "datasets/", "github": "github/"}[self.kind]
        return f"{prefix}{self.repo_id}".lower()

    @property
    def owner(self) -> str | None:
        return self.repo_id.split("/", 1)[0] if self.repo_id and "/" in self.repo_id else None

    @property
    def name(self) -> str | None:
        return self.repo_id.rsplit("/", 1)[-1] if self.repo_id else None


def parse_source_url(url: str, settings: Settings | None = None) -> SourceRef:
    """Parse and vet ``url``; raise :class:`InvalidSourceUrl` saying what is wrong with it."""
    ref, public = _parse(url, settings)
    allow_private = settings.allow_private_upstream if settings is not None else False
    # The canonical hosts are never contacted through the URL itself, so there is no address to
    # vet; anything else (the configured endpoint, a web page) is vetted before it is accepted.
    if not public and not allow_private:
        _refuse_internal_host(ref.host)
    return ref


def source_identity(url: str, settings: Settings | None = None) -> str | None:
    """The one identity of an upstream named by ``url``, however the URL was spelled.

    ``org/name`` for a Hugging Face model (a legacy ``name`` alone), ``datasets/org/name`` for a
    dataset, ``github/owner/repo`` for a GitHub repository, all lower case; ``None`` for a web
    page or a URL that names no repository. No network: nothing is resolved or fetched.
    """
    try:
        ref, _ = _parse(url, settings)
    except InvalidSourceUrl:
        return None
    return ref.identity


def _parse(url: str, settings: Settings | None) -> tuple[SourceRef, bool]:
    if not isinstance(url, str) or not url.strip():
        raise InvalidSourceUrl("The source URL is empty; send an http(s) URL of a repository.")
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidSourceUrl(f"The source URL {text!r} is malformed: {exc}.") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidSourceUrl(
            f"Only http(s) source URLs are accepted, not {parts.scheme or 'a scheme-less'!s} URL "
            f"{text!r}."
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidSourceUrl("Source URLs must not carry credentials; remove the user:password@.")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise InvalidSourceUrl(f"The source URL {text!r} has no host.")
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if host in HF_HOSTS or _is_configured_hf_host(host, port, settings):
        ref = _parse_huggingface(text, host, segments)
        public = host in HF_HOSTS
    elif host in GITHUB_HOSTS:
        ref = _parse_github(text, host, segments)
        public = True
    else:
        ref = _web_ref(text, host, segments)
        public = False
    return ref, public


def _is_configured_hf_host(host: str, port: int | None, settings: Settings | None) -> bool:
    if settings is None:
        return False
    endpoint = urlsplit(settings.hf_endpoint)
    if (endpoint.hostname or "").lower() != host:
        return False
    default = 443 if endpoint.scheme == "https" else 80
    return (endpoint.port or default) == (port or default)


def _parse_huggingface(url: str, host: str, segments: list[str]) -> SourceRef:
    path = "/" + "/".join(segments)
    if not segments:
        raise InvalidSourceUrl(f"{url!r} is the Hugging Face home page, not a repository.")
    kind: RefKind = "hf-model"
    if segments[0] == "datasets":
        kind, segments = "hf-dataset", segments[1:]
    elif segments[0] == "spaces":
        # Spaces are applications, not models or datasets: registered from what the URL says.
        return _web_ref(url, host, segments)
    elif segments[0].lower() in _HF_RESERVED:
        raise InvalidSourceUrl(f"{url!r} is a Hugging Face site page, not a repository.")
    if not segments:
        raise InvalidSourceUrl(f"{url!r} lists datasets; give the URL of one dataset.")
    if len(segments) == 1 or segments[1] in _HF_REPO_VIEWS:
        repo_id, rest = segments[0], segments[1:]  # legacy id without an organisation
    else:
        repo_id, rest = f"{segments[0]}/{segments[1]}", segments[2:]
    for part in repo_id.split("/"):
        if not _HF_NAME.match(part) or ".." in part or part.endswith(".git"):
            raise InvalidSourceUrl(f"{url!r} does not name a valid Hugging Face repository id.")
    revision, subdir = _revision_and_subdir(rest, ("tree", "blob", "resolve", "raw"))
    return SourceRef(kind, url, host, path, repo_id, revision, subdir)


def _parse_github(url: str, host: str, segments: list[str]) -> SourceRef:
    path = "/" + "/".join(segments)
    if len(segments) < 2 or segments[0].lower() in GITHUB_RESERVED:
        raise InvalidSourceUrl(
            f"{url!r} is not a GitHub repository; use https://github.com/OWNER/REPO."
        )
    owner, repo = segments[0], segments[1]
    if repo.endswith(".git"):
        repo = repo[: -len(".git")]
    if not (_GH_NAME.match(owner) and _GH_NAME.match(repo)) or repo in (".", ".."):
        raise InvalidSourceUrl(f"{url!r} does not name a valid GitHub repository.")
    revision, subdir = _revision_and_subdir(segments[2:], ("tree", "blob"))
    return SourceRef("github", url, host, path, f"{owner}/{repo}", revision, subdir)


def _revision_and_subdir(rest: list[str], views: tuple[str, ...]) -> tuple[str | None, str | None]:
    """``tree/REV/DIR`` names a folder; ``blob/REV/DIR/FILE`` names a file: keep its folder."""
    if len(rest) >= 2 and rest[0] in views:
        parts = [p for p in rest[2:] if p]
        if any(p in ("..", ".") for p in parts):
            raise InvalidSourceUrl("A source URL's folder must not contain '.' or '..' segments.")
        if rest[0] != "tree":
            parts = parts[:-1]
        if rest[1] in (".", "..") or not _REVISION.match(rest[1]):
            raise InvalidSourceUrl(f"{rest[1]!r} is not a valid branch, tag or commit name.")
        return rest[1], "/".join(parts) or None
    return None, None


def _web_ref(url: str, host: str, segments: list[str]) -> SourceRef:
    return SourceRef("web", url, host, "/" + "/".join(segments))


def is_known_dataset_host(host: str) -> bool:
    host = host.lower().removeprefix("www.")
    return any(host == h or host.endswith("." + h) for h in KNOWN_DATASET_HOSTS)


def _refuse_internal_host(host: str) -> None:
    for address in _addresses(host):
        if _is_internal(address):
            raise InvalidSourceUrl(
                f"The host {host!r} is an internal address ({address}); the registry does not "
                "fetch internal addresses (set TMR_ALLOW_PRIVATE_UPSTREAM=1 only for tests)."
            )


def _addresses(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    # getaddrinfo has no timeout of its own; a stuck resolver must not stall a registration.
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        infos = pool.submit(socket.getaddrinfo, host, None).result(timeout=_DNS_TIMEOUT_SECONDS)
    except (OSError, UnicodeError, concurrent.futures.TimeoutError):
        return []  # unresolvable: nothing to reach, and we never fetch it by default
    finally:
        pool.shutdown(wait=False)
    return sorted({str(info[4][0]).split("%", 1)[0] for info in infos})


def _is_internal(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )
