"""Lineage graphs, download cost with dependencies, the license check and ratings that follow
the lineage, on both backends, over one family registered the way the API registers it:

    fam-base (MIT; card links rajpurkar/squad and github.com/google-research/bert)
      └─ fam-child (Apache-2.0, same config and weights: a verified edge)
           └─ fam-nc (CC-BY-NC-4.0, another model_type: only declared)
                └─ fam-leaf (MIT)
    loop-a ⇄ loop-b (each declares the other), solo (no relatives), broken (config.json malformed)
    dia-root ← dia-left, dia-right ← dia-bottom (a diamond: dia-bottom declares both sides)
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.zips import hf_zip
from tmr.composition import Registry, Services, build_registry, build_services
from tmr.config import load_settings
from tmr.domain.artifact import Artifact, ArtifactType, User
from tmr.errors import (
    BadRequest,
    MalformedMetadata,
    NotFound,
    TmrError,
    UpstreamUnavailable,
)
from tmr.metrics.sandbox import SandboxConfig
from tmr.services import rating as rating_module
from tmr.services.auth import ALL_PERMISSIONS, DEFAULT_ADMIN
from tmr.services.cost import CostEntry, megabytes

ADMIN = User(DEFAULT_ADMIN, True, ALL_PERMISSIONS)
SQUAD = "https://huggingface.co/datasets/rajpurkar/squad"
BERT_CODE = "https://github.com/google-research/bert"
WHISPER_CODE = "https://github.com/openai/whisper"


@dataclass
class Family:
    registry: Registry
    services: Services
    ids: dict[str, str]

    def get(self, name: str) -> Artifact:
        (found,) = self.services.catalog.by_name(name)
        return found


def _card(license_id: str, base: str | None, body: str = "# A model\n") -> bytes:
    lines = ["---", f"license: {license_id}"] + ([f"base_model: {base}"] if base else [])
    return "\n".join([*lines, "---", body]).encode()


def _config(base: str | None, model_type: str = "bert") -> bytes:
    config: dict[str, object] = {"model_type": model_type, "architectures": ["BertForMaskedLM"],
                                 "hidden_size": 8}  # fmt: skip
    if base:
        config["_name_or_path"] = base
    return json.dumps(config).encode()


def _upload(services: Services, work: Path, name: str, files: dict[str, bytes],
            weights: bytes = b"\0" * 4096) -> str:  # fmt: skip
    folder = Path(tempfile.mkdtemp(dir=work))
    zip_path = folder / "bundle.zip"
    zip_path.write_bytes(hf_zip(name=name, weights=weights, extra=files))
    made = services.uploads.register(
        ArtifactType.model, zip_path, folder / "files", f"{name}.zip", name, ADMIN
    )
    return made.id


@pytest.fixture(scope="module")
def family(module_backend, hf_replay: str, github_replay: str) -> Iterator[Family]:  # type: ignore[no-untyped-def]
    settings = load_settings(**module_backend, log_level=0, hf_endpoint=hf_replay,
                             github_api_url=github_replay, allow_private_upstream=True,
                             ingest_gate="off", sandbox_mode="off")  # fmt: skip
    registry = build_registry(settings)
    services = build_services(registry)
    work = registry.work_dir
    ids = {
        "squad": services.ingest.register_url(ArtifactType.dataset, SQUAD, None, ADMIN).id,
        "bert-code": services.ingest.register_url(ArtifactType.code, BERT_CODE, None, ADMIN).id,
    }
    base_body = f"# Base\n\nTrained on {SQUAD} with code from {BERT_CODE}.\n"
    # name: (license, declared parent, model_type, card body, weights)
    members = {
        "fam-base": ("mit", None, "bert", base_body, 4096),
        "fam-child": ("apache-2.0", "fam-base", "bert", "# A model\n", 4096),
        "fam-nc": ("cc-by-nc-4.0", "fam-child", "gpt2", "# A model\n", 100),
        "fam-leaf": ("mit", "fam-nc", "gpt2", "# A model\n", 4096),
        "loop-a": ("mit", "loop-b", "bert", "# A model\n", 4096),
        "loop-b": ("mit", "loop-a", "bert", "# A model\n", 4096),
        "solo": ("mit", None, "bert", "# A model\n", 4096),
    }
    for name, (license_id, base, kind, body, size) in members.items():
        files = {"README.md": _card(license_id, base, body), "config.json": _config(base, kind)}
        ids[name] = _upload(services, work, name, files, weights=b"\0" * size)
    ids["broken"] = _upload(services, work, "broken", {
        "README.md": _card("mit", None), "config.json": b"{not json"})  # fmt: skip
    diamond = {"dia-root": [], "dia-left": ["dia-root"], "dia-right": ["dia-root"],
               "dia-bottom": ["dia-left", "dia-right"]}  # fmt: skip
    for name, bases in diamond.items():
        listed = "".join(f"  - {b}\n" for b in bases)
        card = "---\nlicense: mit\n" + (f"base_model:\n{listed}" if bases else "") + "---\n#\n"
        files = {"README.md": card.encode(), "config.json": _config(bases[0] if bases else None)}
        ids[name] = _upload(services, work, name, files)
    yield Family(registry, services, ids)
    registry.db.dispose()


# --- lineage --------------------------------------------------------------------------------
def test_every_member_of_a_family_gets_the_same_graph_with_trust_per_edge(family: Family) -> None:
    ids, lineage = family.ids, family.services.lineage
    members = {ids[n] for n in ("fam-base", "fam-child", "fam-nc", "fam-leaf")}
    graphs = [lineage.graph(ids[n]) for n in ("fam-base", "fam-child", "fam-nc", "fam-leaf")]
    for graph in graphs:
        assert {n.artifact_id for n in graph.nodes} == members
        edges = {(e.parent_id, e.child_id): e for e in graph.edges}
        assert set(edges) == {(ids["fam-base"], ids["fam-child"]),
                              (ids["fam-child"], ids["fam-nc"]),
                              (ids["fam-nc"], ids["fam-leaf"])}  # fmt: skip
        verified = edges[(ids["fam-base"], ids["fam-child"])]
        assert verified.trust == "verified" and verified.evidence["problems"] == []
        declared = edges[(ids["fam-child"], ids["fam-nc"])]
        assert declared.trust == "declared"
        assert "model_type 'gpt2' differs from the parent's 'bert'" in declared.evidence["problems"]
        assert {e.source for e in graph.edges} <= {"model_card", "config_json"}
        names = {n.artifact_id: n.name for n in graph.nodes}
        assert names[ids["fam-leaf"]] == "fam-leaf"
        assert all(n.repository_url.startswith("upload://") for n in graph.nodes)


def test_a_model_without_relatives_is_its_own_graph_and_loops_end(family: Family) -> None:
    ids, lineage = family.ids, family.services.lineage
    solo = lineage.graph(ids["solo"])
    assert [(n.artifact_id, n.source) for n in solo.nodes] == [(ids["solo"], "registry")]
    assert solo.edges == []
    loop = lineage.graph(ids["loop-a"])
    assert {n.artifact_id for n in loop.nodes} == {ids["loop-a"], ids["loop-b"]}
    assert {(e.parent_id, e.child_id) for e in loop.edges} == {
        (ids["loop-a"], ids["loop-b"]), (ids["loop-b"], ids["loop-a"])}  # fmt: skip


def test_a_diamond_is_one_family_and_its_shared_ancestor_is_rated_once(family: Family) -> None:
    ids, services = family.ids, family.services
    graph = services.lineage.graph(ids["dia-root"])
    assert {n.name for n in graph.nodes} == {"dia-root", "dia-left", "dia-right", "dia-bottom"}
    assert {(e.parent_id, e.child_id) for e in graph.edges} == {
        (ids["dia-root"], ids["dia-left"]), (ids["dia-root"], ids["dia-right"]),
        (ids["dia-left"], ids["dia-bottom"]), (ids["dia-right"], ids["dia-bottom"])}  # fmt: skip
    _, left = services.rating.stored(ids["dia-left"])
    _, right = services.rating.stored(ids["dia-right"])
    _, bottom = services.rating.stored(ids["dia-bottom"])
    assert sorted(bottom.metrics["tree_score"].evidence["parent_scores"]) == sorted(
        [left.net_score, right.net_score])
    costs = services.cost.cost(ArtifactType.model, ids["dia-bottom"], True)
    assert set(costs) == {ids[n] for n in ("dia-root", "dia-left", "dia-right", "dia-bottom")}
    decision = services.license_check.check(ids["dia-bottom"], WHISPER_CODE)
    assert decision.allowed, decision.reasons  # MIT all the way up


def test_lineage_refuses_a_malformed_config_and_what_is_not_a_model(family: Family) -> None:
    ids, lineage = family.ids, family.services.lineage
    with pytest.raises(MalformedMetadata) as malformed:
        lineage.graph(ids["broken"])
    assert malformed.value.message.startswith(
        f"lineage of {ids['broken']} cannot be computed: config.json is malformed (")
    with pytest.raises(NotFound, match=f"no model artifact with id {ids['squad']}"):
        lineage.graph(ids["squad"])


# --- cost -----------------------------------------------------------------------------------
def test_cost_alone_and_with_every_dependency_counted_once(family: Family) -> None:
    ids, cost = family.ids, family.services.cost
    size = {n: megabytes(family.services.catalog.get(
        ArtifactType.dataset if n == "squad" else ArtifactType.code if n == "bert-code"
        else ArtifactType.model, ids[n]).size_bytes) for n in ids}  # fmt: skip
    leaf = ids["fam-leaf"]
    assert cost.cost(ArtifactType.model, leaf, False) == {
        leaf: CostEntry(size["fam-leaf"], size["fam-leaf"])}  # fmt: skip
    entries = cost.cost(ArtifactType.model, leaf, True)
    deps = ["fam-nc", "fam-child", "fam-base", "squad", "bert-code"]
    assert set(entries) == {leaf, *(ids[d] for d in deps)}
    for d in deps:
        assert entries[ids[d]] == CostEntry(size[d], size[d])
    assert entries[leaf].standalone_mb == size["fam-leaf"]
    assert entries[leaf].total_mb == round(size["fam-leaf"] + sum(size[d] for d in deps), 3)
    assert entries[leaf].total_mb > entries[leaf].standalone_mb > 0

    loop = cost.cost(ArtifactType.model, ids["loop-a"], True)  # the root is never its own dep
    assert set(loop) == {ids["loop-a"], ids["loop-b"]}
    dataset = cost.cost(ArtifactType.dataset, ids["squad"], True)
    assert set(dataset) == {ids["squad"]}  # datasets have no parents; squad links nothing here
    with pytest.raises(NotFound, match=f"no dataset artifact with id {leaf}"):
        cost.cost(ArtifactType.dataset, leaf, True)


# --- license check --------------------------------------------------------------------------
def test_registered_code_and_the_model_s_license_decide(family: Family) -> None:
    ids, check = family.ids, family.services.license_check.check
    upstream_calls: list[str] = []
    real = family.registry.upstream.fetch_snapshot

    def counting(url: str, artifact_type: str, settings):  # type: ignore[no-untyped-def]
        upstream_calls.append(url)
        return real(url, artifact_type, settings)

    family.registry.upstream.fetch_snapshot = counting
    try:
        decision = check(ids["fam-child"], BERT_CODE)  # registered as code: no upstream call
        assert upstream_calls == []
        assert decision.allowed
        assert (decision.code_license, decision.model_license) == ("Apache-2.0", "Apache-2.0")
        fetched = check(ids["solo"], WHISPER_CODE)  # not registered: read from GitHub
        assert upstream_calls == [WHISPER_CODE]
        assert fetched.allowed and fetched.code_license == "MIT"
    finally:
        family.registry.upstream.fetch_snapshot = real


def test_a_non_commercial_ancestor_decides_for_a_permissive_descendant(family: Family) -> None:
    decision = family.services.license_check.check(family.ids["fam-leaf"], WHISPER_CODE)
    assert not decision.allowed
    assert decision.model_license == "MIT"
    assert any(r.startswith("ancestor fam-nc decides it: CC-BY-NC-4.0 forbids commercial use")
               for r in decision.reasons), decision.reasons  # fmt: skip


def test_license_check_refusals_and_upstream_failures(
    family: Family, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, check = family.ids, family.services.license_check.check
    with pytest.raises(BadRequest) as not_github:
        check(ids["solo"], "https://huggingface.co/openai/whisper-tiny")
    assert not_github.value.message == (
        "github_url must name a GitHub repository; got 'https://huggingface.co/openai/whisper-tiny'")
    with pytest.raises(NotFound, match=f"no model artifact with id {ids['squad']}"):
        check(ids["squad"], WHISPER_CODE)
    missing = "https://github.com/nobody-here/no-such-repo"
    with pytest.raises(NotFound) as absent:
        check(ids["solo"], missing)
    assert absent.value.message.startswith(f"GitHub project {missing} not found: ")

    upstream = family.registry.upstream

    def failing(error: TmrError):  # type: ignore[no-untyped-def]
        def fetch(url: str, artifact_type: str, settings):  # type: ignore[no-untyped-def]
            raise error

        return fetch

    monkeypatch.setattr(upstream, "fetch_snapshot", failing(TmrError("GitHub answered 500")))
    with pytest.raises(UpstreamUnavailable) as down:
        check(ids["solo"], WHISPER_CODE)
    assert down.value.message == (
        f"the license of {WHISPER_CODE} could not be fetched: GitHub answered 500")
    monkeypatch.setattr(upstream, "fetch_snapshot", failing(BadRequest("not a repository URL")))
    with pytest.raises(BadRequest, match="^not a repository URL$"):  # passed on unchanged
        check(ids["solo"], WHISPER_CODE)
    monkeypatch.setattr(upstream, "fetch_snapshot", failing(NotFound("gone meanwhile")))
    with pytest.raises(NotFound, match="^gone meanwhile$"):
        check(ids["solo"], WHISPER_CODE)


# --- ratings along the lineage --------------------------------------------------------------
def test_a_stored_rating_takes_its_tree_score_from_the_registered_parents(family: Family) -> None:
    ids, rating = family.ids, family.services.rating
    _, base = rating.stored(ids["fam-base"])
    artifact, child = rating.stored(ids["fam-child"])
    assert artifact.name == "fam-child" and child.name == "fam-child"
    tree = child.metrics["tree_score"]
    assert tree.score == round(base.net_score, 4)
    assert tree.evidence["parent_scores"] == [base.net_score]
    _, solo = rating.stored(ids["solo"])
    assert solo.metrics["tree_score"].evidence.get("parent_scores") in (None, [])
    # declared lineage that loops: each side's parent is rated once, without going round again
    for name in ("loop-a", "loop-b"):
        (score,) = rating.stored(ids[name])[1].metrics["tree_score"].evidence["parent_scores"]
        assert 0.0 <= score <= 1.0


def test_rating_a_snapshot_uses_its_registered_parents_and_their_licenses(
    family: Family,
) -> None:
    ids, rating = family.ids, family.services.rating
    with family.registry.db.read() as s:
        from tmr.storage.db.artifacts import ArtifactRepository

        leaf = ArtifactRepository(s).snapshot(ids["fam-leaf"])
    assert leaf is not None
    assert rating.declared_parent_ids(leaf) == [ids["fam-nc"]]
    _, nc = rating.stored(ids["fam-nc"])
    assert rating.parent_scores(leaf) == [nc.net_score]
    again = rating.rate(leaf, "fam-leaf")
    license_metric = again.metrics["license"]
    assert license_metric.score == 0.0 and license_metric.evidence["decided_by"] == "fam-nc"
    orphan = leaf.model_copy(update={"parents": []})
    assert rating.parent_scores(orphan) == [] and rating.declared_parent_ids(orphan) == []
    assert rating.rate(orphan, "orphan").metrics["license"].score == 1.0


def test_explanation_carries_the_gate_s_decision(family: Family) -> None:
    ids, rating = family.ids, family.services.rating
    body = rating.explanation(ids["fam-leaf"])
    assert body["name"] == "fam-leaf"
    assert body["gate"]["applies"] is False  # TMR_INGEST_GATE=off
    assert body["gate"]["enabled"] is False
    assert body["gate"]["would_accept"] is (body["gate_failures"] == [])
    failing = {f["metric"] for f in body["gate_failures"]}
    assert "license" in failing  # the non-commercial ancestor
    assert body["metrics"]["license"]["score"] == 0.0


def test_stored_ratings_are_for_rated_models_only(family: Family) -> None:
    ids, rating = family.ids, family.services.rating
    with pytest.raises(NotFound, match=f"no model artifact with id {ids['bert-code']}"):
        rating.stored(ids["bert-code"])
    with family.registry.db.transaction() as s:  # a model whose rating row is gone
        s.execute(text("DELETE FROM ratings WHERE artifact_id = :id"), {"id": ids["broken"]})
    with pytest.raises(NotFound, match=f"model {ids['broken']} has no rating yet"):
        rating.stored(ids["broken"])
    with pytest.raises(NotFound, match="has no rating yet"):
        rating.explanation(ids["broken"])


def test_the_sandbox_is_chosen_from_the_settings_and_the_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def settings(**values: object):  # type: ignore[no-untyped-def]
        return load_settings(data_dir=tmp_path, log_level=0, **values)

    for off in ("off", "0", "false", "no", " Static "):
        assert rating_module.sandbox_config(settings(sandbox_mode=off)) is None
    chosen = rating_module.sandbox_config(settings(sandbox_python="/opt/py/bin/python3"))
    assert chosen == SandboxConfig(python="/opt/py/bin/python3")
    monkeypatch.setattr(rating_module, "SANDBOX_LIBRARIES", ("json", "sqlite3"))
    assert rating_module.sandbox_config(settings()) == SandboxConfig(python=sys.executable)
    monkeypatch.setattr(rating_module, "SANDBOX_LIBRARIES", ("json", "no_such_library_here"))
    assert rating_module.sandbox_config(settings()) is None  # judged statically instead
