"""The catalog on both backends: by name, enumeration in keyset pages with opaque offsets, RE2
search, version queries, deletion by the owner (the trail outlives the artifact), audit trails
and the reset."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from tests.support.zips import hf_zip
from tmr.composition import Registry, Services, build_registry, build_services
from tmr.config import load_settings
from tmr.domain.artifact import ArtifactType, AuditAction, User
from tmr.domain.files import NameQuery
from tmr.domain.security import SecurityAction
from tmr.errors import BadRequest, NotFound, TooLarge, Unauthorized
from tmr.services import auth as auth_module
from tmr.services import catalog as catalog_module
from tmr.services.auth import ALL_PERMISSIONS, DEFAULT_ADMIN
from tmr.services.catalog import decode_offset, encode_offset
from tmr.storage.bundles import bundle_prefix

ADMIN = User(DEFAULT_ADMIN, True, ALL_PERMISSIONS)
EVERYTHING = [NameQuery("*", ())]
MODEL, DATASET = ArtifactType.model, ArtifactType.dataset


@dataclass
class Catalog:
    registry: Registry
    services: Services
    ids: dict[str, str]
    owner: User  # uploaded cat-owned
    other: User  # may upload, owns nothing here


def _upload(services: Services, work: Path, type_: ArtifactType, name: str, version: str,
            user: User) -> str:  # fmt: skip
    folder = Path(tempfile.mkdtemp(dir=work))
    zip_path = folder / "bundle.zip"
    zip_path.write_bytes(hf_zip(name=name, version=version))
    made = services.uploads.register(type_, zip_path, folder / "files", f"{name}.zip", name, user)
    return made.id


@pytest.fixture(scope="module")
def catalog(module_backend) -> Iterator[Catalog]:  # type: ignore[no-untyped-def]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(auth_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=64))
        settings = load_settings(**module_backend, log_level=0, ingest_gate="off",
                                 sandbox_mode="off", enumerate_page_size=2)  # fmt: skip
        registry = build_registry(settings)
        services = build_services(registry)
        perms = frozenset({"upload", "search", "download"})
        owner = registry.auth.create_user(ADMIN, "cat-owner", "owner-pass-1", False, perms)
        other = registry.auth.create_user(ADMIN, "cat-other", "other-pass-1", False, perms)
        work = registry.work_dir
        ids = {
            "cat-alpha": _upload(services, work, MODEL, "cat-alpha", "1.0.0", ADMIN),
            "cat-beta": _upload(services, work, MODEL, "cat-beta", "1.2.3", ADMIN),
            "cat-gamma": _upload(services, work, DATASET, "cat-gamma", "2.0.0", ADMIN),
            "cat-owned": _upload(services, work, MODEL, "cat-owned", "1.2.9", owner),
            "cat-twin-model": _upload(services, work, MODEL, "cat-twin", "0.1.0", ADMIN),
            "cat-twin-data": _upload(services, work, DATASET, "cat-twin", "0.1.0", ADMIN),
        }
        yield Catalog(registry, services, ids, owner, other)
        registry.db.dispose()


def test_by_id_and_by_name(catalog: Catalog) -> None:
    c, ids = catalog.services.catalog, catalog.ids
    alpha = c.get(MODEL, ids["cat-alpha"])
    assert (alpha.name, alpha.version, alpha.created_by) == ("cat-alpha", "1.0.0", DEFAULT_ADMIN)
    with pytest.raises(NotFound, match=f"no dataset artifact with id {ids['cat-alpha']}"):
        c.get(DATASET, ids["cat-alpha"])
    twins = c.by_name("cat-twin")
    assert [(a.id, a.type) for a in twins] == [(ids["cat-twin-model"], MODEL),
                                               (ids["cat-twin-data"], DATASET)]  # fmt: skip
    with pytest.raises(BadRequest, match=r'the name "\*" is reserved for enumeration'):
        c.by_name("*")
    with pytest.raises(NotFound, match="no artifact named 'cat-nothing'"):
        c.by_name("cat-nothing")
    assert c.count() == len(ids)


def test_enumeration_pages_with_opaque_offsets_until_the_end(catalog: Catalog) -> None:
    c = catalog.services.catalog
    seen: list[str] = []
    offset: str | None = None
    pages = 0
    while True:
        page, offset = c.enumerate(EVERYTHING, offset)
        pages += 1
        assert len(page) <= 2
        seen += [a.id for a in page]
        if offset is None:
            break
        assert not offset.isdigit()  # opaque, not the row number itself
    assert seen == list(catalog.ids.values()) and pages == 3
    models, _ = c.enumerate([NameQuery("cat-twin", (DATASET,))], None)
    assert [a.id for a in models] == [catalog.ids["cat-twin-data"]]
    first, after_first = c.enumerate(EVERYTHING, None)
    assert after_first is not None
    same, _ = c.enumerate(EVERYTHING, str(decode_offset(after_first)))  # the plain number works
    assert same == c.enumerate(EVERYTHING, after_first)[0] and same[0].id == seen[2]


def test_enumeration_refuses_bad_requests(catalog: Catalog) -> None:
    c = catalog.services.catalog
    with pytest.raises(BadRequest, match="send at least one artifact query"):
        c.enumerate([], None)
    with pytest.raises(TooLarge, match="at most 100 queries per request; got 101"):
        c.enumerate(EVERYTHING * 101, None)
    for bad in ("zz!not-base64", base64.urlsafe_b64encode(b"x12").decode(), "\xff\xfe",
                str(2**63), encode_offset(2**63)):  # fmt: skip
        with pytest.raises(BadRequest, match="is not one this server handed out"):
            c.enumerate(EVERYTHING, bad)
    assert decode_offset(None) == decode_offset("") == 0
    assert decode_offset(encode_offset(41)) == 41


def test_regex_search_finds_names_and_says_when_nothing_matches(catalog: Catalog) -> None:
    c = catalog.services.catalog
    hits = c.regex("^cat-(alpha|gamma)$")
    assert {(h.name, h.type) for h in hits} == {("cat-alpha", MODEL), ("cat-gamma", DATASET)}
    with pytest.raises(NotFound, match="no artifact name or README matches 'zz-none-zz'"):
        c.regex("zz-none-zz")


def test_version_queries_scan_in_batches(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    c = catalog.services.catalog
    monkeypatch.setattr(catalog_module, "REGEX_SCAN_BATCH", 2)  # several batches of versions
    assert {a.name for a in c.by_version("~1.2.0", None, [])} == {"cat-beta", "cat-owned"}
    assert {a.name for a in c.by_version("^1.0.0", None, [MODEL])} == {
        "cat-alpha", "cat-beta", "cat-owned"}  # fmt: skip
    assert [a.name for a in c.by_version("1.0.0-2.0.0", None, [DATASET])] == ["cat-gamma"]
    assert [a.type for a in c.by_version("0.1.0", "cat-twin", [])] == [MODEL, DATASET]
    with pytest.raises(BadRequest, match="invalid version query: 'one' is not a version"):
        c.by_version("one", None, [])
    with pytest.raises(NotFound, match="no artifact has a version matching '9.9.9'"):
        c.by_version("9.9.9", None, [])


def test_only_the_owner_or_an_admin_deletes_and_the_trail_outlives_it(catalog: Catalog) -> None:
    c, ids, registry = catalog.services.catalog, catalog.ids, catalog.registry
    owned = ids["cat-owned"]
    with pytest.raises(Unauthorized) as refused:
        c.delete(MODEL, owned, catalog.other)
    assert refused.value.message == (
        f"only the owner of model {owned} (the user who registered it) or an administrator may "
        "delete it; 'cat-other' is neither")
    with pytest.raises(Unauthorized, match="may read the audit trail of it; 'cat-other'"):
        c.audit(MODEL, owned, catalog.other)
    denied = [e for e in registry.security.page(0, 10_000, SecurityAction.DENIED)
              if e.subject == f"model/{owned}"]  # fmt: skip
    assert [(e.actor, e.detail) for e in denied] == [
        ("cat-other", "delete: not the owner"),
        ("cat-other", "read the audit trail of: not the owner")]  # fmt: skip
    assert list(registry.blobs.list(bundle_prefix(owned)))  # its files are stored

    c.delete(MODEL, owned, catalog.owner)
    with pytest.raises(NotFound):
        c.get(MODEL, owned)
    assert list(registry.blobs.list(bundle_prefix(owned))) == []
    (deleted,) = [e for e in registry.security.page(0, 10_000, SecurityAction.ARTIFACT_DELETE)
                  if e.subject == f"model/{owned}"]  # fmt: skip
    assert deleted.actor == "cat-owner" and deleted.detail == "name='cat-owned' owner='cat-owner'"

    trail = c.audit(MODEL, owned, catalog.owner)  # its owner, from the CREATE entry
    assert [e.action for e in trail] == [AuditAction.CREATE, AuditAction.AUDIT]  # no DELETE
    assert {e.artifact_name for e in trail} == {"cat-owned"}
    with pytest.raises(Unauthorized):
        c.audit(MODEL, owned, catalog.other)
    with pytest.raises(NotFound, match=f"no dataset artifact with id {owned}"):
        c.audit(DATASET, owned, ADMIN)


def test_an_audit_trail_records_each_reading(catalog: Catalog) -> None:
    c, beta = catalog.services.catalog, catalog.ids["cat-beta"]
    c.record(c.get(MODEL, beta), ADMIN, AuditAction.RATE)
    c.record(c.get(MODEL, beta), ADMIN, AuditAction.LIFECYCLE)  # not in the contract's list
    first = c.audit(MODEL, beta, ADMIN)
    assert [e.action for e in first] == [AuditAction.CREATE, AuditAction.RATE, AuditAction.AUDIT]
    assert [e.action for e in c.audit(MODEL, beta, ADMIN)][-2:] == [AuditAction.AUDIT] * 2
    with pytest.raises(NotFound, match="no model artifact with id 999999999"):
        c.audit(MODEL, "999999999", ADMIN)


def test_reset_is_for_admins_and_leaves_only_the_default_admin(catalog: Catalog) -> None:
    """Last in the module: it empties the registry the other tests share."""
    c, registry = catalog.services.catalog, catalog.registry
    with pytest.raises(Unauthorized, match="user 'cat-owner' may not reset the registry"):
        c.reset(catalog.owner)
    assert c.count() > 0
    c.reset(ADMIN)
    assert c.count() == 0
    assert c.enumerate(EVERYTHING, None) == ([], None)
    assert [u.name for u in registry.auth.list_users(ADMIN)] == [DEFAULT_ADMIN]
    assert list(registry.blobs.list("artifacts/")) == []
    (event,) = registry.security.page(0, 10_000, SecurityAction.RESET)
    assert (event.actor, event.subject) == (DEFAULT_ADMIN, "registry")
    assert event.detail is not None and event.detail.startswith("artifacts and their ")
