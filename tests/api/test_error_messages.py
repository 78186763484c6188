"""Each error a user can provoke over HTTP: the status code and the message that says why.

Every case below provokes the error the way a client would and asserts a fragment specific to
that one message (``scripts/error_messages.py`` counts them). Messages must also leak nothing:
no internal path, host or stack trace (``_clean``).
"""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from tests.conftest import ADMIN, login
from tests.support.zips import hf_zip, upload


def _clean(message: str) -> str:
    for leak in ("Traceback", "/tmp/", "/work/", "site-packages", ".py\"", "127.0.0.1"):
        assert leak not in message, message
    return message


def _message(r, status: int) -> str:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    return _clean(r.json()["message"])


def _add_user(client, auth, name: str, password: str = "a-good-password-1", perms=None):  # type: ignore[no-untyped-def]
    body = {"name": name, "password": password}
    if perms is not None:
        body["permissions"] = perms
    r = client.post("/users", headers=auth, json=body)
    assert r.status_code == 201, r.text
    return {"X-Authorization": login(client, name, password, is_admin=False)}


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _post_zip(client, auth, body: bytes, filename: str = "bundle.zip"):  # type: ignore[no-untyped-def]
    return client.post(
        "/artifact/model/upload",
        headers=auth,
        files={"file": (filename, body, "application/zip")},
    )


# -- accounts and users ------------------------------------------------------------------------


def test_account_errors_say_what_was_wrong(client, auth):
    gus = _add_user(client, auth, "gus")
    r = client.delete("/account/tokens/abcdef0123", headers=gus)
    assert "you have no token with id" in _message(r, 404)
    body = {"new_password": "long-enough-1"}
    r = client.put("/users/nobody-here/password", headers=auth, json=body)
    assert f"no user named {'nobody-here'!r}" in _message(r, 404)
    r = client.post("/users/nobody-here/disable", headers=auth)
    assert f"no user named {'nobody-here'!r}" in _message(r, 404)
    r = client.delete("/users/nobody-here", headers=auth)
    assert f"no user named {'nobody-here'!r}" in _message(r, 404)
    _add_user(client, auth, "root2", perms=["admin"])
    root2 = {"X-Authorization": login(client, "root2", "a-good-password-1", is_admin=True)}
    r = client.post("/users/root2/disable", headers=root2)
    assert "administrators cannot disable themselves" in _message(r, 400)


def test_the_cli_refuses_short_and_long_passwords_and_bad_names(tmp_path, monkeypatch, capsys):
    from tmr.cli import main

    monkeypatch.setenv("TMR_DATA_DIR", str(tmp_path / "data"))

    def run(*argv: str, stdin: str = "") -> str:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin + "\n"))
        assert main(["user", *argv]) == 1
        return _clean(capsys.readouterr().err)

    assert "a password must have at least 8 characters" in run(
        "add", "ann", "--password-stdin", stdin="short"
    )
    assert "a user name must have 1 to 256 characters" in run(
        "add", "x" * 257, "--password-stdin", stdin="long-enough-1"
    )
    assert "a password may have at most 1024 characters" in run(
        "passwd", ADMIN, "--password-stdin", stdin="p" * 1025
    )


# -- catalog and search ------------------------------------------------------------------------


def test_catalog_and_search_errors(client, auth):
    r = client.get("/artifact/byName/nothing-here", headers=auth)
    assert f"no artifact named {'nothing-here'!r}" in _message(r, 404)
    r = client.post("/artifacts", headers=auth, json=[])
    assert "send at least one artifact query" in _message(r, 400)
    r = client.post("/artifacts", headers=auth, json=[{"name": "*"}] * 101)
    assert f"at most {100} queries per request; got {101}" in _message(r, 413)
    r = client.post("/artifact/byRegEx", headers=auth, json={"regex": "zzz-no-such"})
    assert "no artifact name or README matches" in _message(r, 404)
    r = client.post("/artifact/byRegEx", headers=auth, json={"regex": ""})
    assert "regex must be a non-empty string" in _message(r, 400)
    r = client.post("/artifact/byRegEx", headers=auth, json={"regex": "a" * 1001})
    assert f"regex longer than {1000} characters" in _message(r, 400)
    r = client.post("/artifact/byRegEx", headers=auth, json={"regex": "(unclosed"})
    assert f"invalid regular expression {'(unclosed'!r}: " in _message(r, 400)
    r = client.post("/artifact/byRegEx", headers=auth, json={"regex": "a{1001}"})
    assert f"invalid regular expression {'a{1001}'!r}: invalid repetition size" in _message(r, 400)


# -- source URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://", "has no host"),
        ("http://[::1/x", "is malformed"),
        ("https://huggingface.co/", "is the Hugging Face home page, not a repository"),
        ("https://huggingface.co/docs/hub", "is a Hugging Face site page, not a repository"),
        ("https://huggingface.co/a$b/c", "does not name a valid Hugging Face repository id"),
        ("https://github.com/own$er/repo", "does not name a valid GitHub repository"),
        ("https://github.com/o/r/tree/main/../x", "folder must not contain '.' or '..' segments"),
        ("https://github.com/o/r/tree/ma~in/x", "is not a valid branch, tag or commit name"),
    ],
)
def test_bad_source_urls_are_400_naming_the_problem(client, auth, url, fragment):
    r = client.post("/artifact/model", headers=auth, json={"url": url})
    assert fragment in _message(r, 400)


def test_sensitive_must_be_a_boolean(client, auth):
    r = client.post(
        "/artifact/model",
        headers=auth,
        json={"url": "https://huggingface.co/org/name", "sensitive": "yes"},
    )
    assert "'sensitive' must be true or false" in _message(r, 400)


# -- uploaded zips -------------------------------------------------------------------------------


def _special(name: str, mode: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo(name)
        info.external_attr = mode << 16
        zf.writestr(info, b"target")
        zf.writestr("README.md", b"# x")
    return buf.getvalue()


def _encrypted() -> bytes:
    body = bytearray(_zip({"weights.bin": b"x" * 10}))
    body[6] |= 0x1  # general purpose flag bit 0 in the local header
    central = body.rindex(b"PK\x01\x02")
    body[central + 8] |= 0x1  # and in the central directory
    return bytes(body)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (_zip({"a\x01b.txt": b"x"}), "zip entry 'a\\x01b.txt' has control characters in its name"),
        (_zip({"/etc/passwd": b"x"}), "has an absolute path"),
        (_zip({"a/../../b.txt": b"x"}), "escapes the bundle with '..'"),
        (_zip({"a" * 300 + ".txt": b"x"}), "bytes per folder or file name"),
        (_special("link", 0o120777), "zip entry 'link' is a symbolic link"),
        (_encrypted(), "is encrypted"),
        (_zip({"a.txt": b"x", "./a.txt": b"y"}), "'a.txt' appears twice"),
    ],
)
def test_bad_zips_are_400_naming_the_entry(client, auth, body, fragment):
    r = _post_zip(client, auth, body)
    assert fragment in _message(r, 400)


def test_upload_without_a_file_name_is_refused(client, auth):
    r = client.post(
        "/artifact/model/upload",
        headers=auth,
        files={"file": ("", hf_zip(), "application/zip")},
    )
    assert r.status_code in (400, 422)


def test_uploads_over_the_limit_are_413(make_settings):
    from fastapi.testclient import TestClient

    from tmr.app import create_app

    app = create_app(make_settings(max_upload_bytes=2000))
    with TestClient(app) as client:
        auth = {"X-Authorization": login(client)}
        body = hf_zip(weights=os.urandom(4000))
        r = _post_zip(client, auth, body)
        assert f"upload exceeds the limit of {2000} bytes" in _message(r, 413)
        r = client.post(
            "/artifact/model/upload",
            headers={**auth, "content-length": str(5 * 1024 * 1024)},
            content=b"x",
        )
        assert "exceeds this route's limit of" in _message(r, 413)
    app.state.registry.db.dispose()


# -- atomic groups and ownership -----------------------------------------------------------------


def _open(client, auth) -> str:  # type: ignore[no-untyped-def]
    r = client.post("/groups", headers=auth)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _group_upload(client, auth, gid: str, filename: str = "d.zip", body: bytes | None = None):  # type: ignore[no-untyped-def]
    return client.post(
        f"/groups/{gid}/commands/upload",
        headers=auth,
        data={"type": "dataset", "name": "d"},
        files={"file": (filename, body or hf_zip(name="d"), "application/zip")},
    )


def test_group_errors_name_the_group_and_the_rule(client, auth):
    r = client.get("/groups/0123456789abcdef", headers=auth)
    assert f"no group with id {'0123456789abcdef'}" in _message(r, 404)
    gid = _open(client, auth)
    gus = _add_user(client, auth, "gus", perms=["upload", "search", "download"])
    r = client.get(f"/groups/{gid}", headers=gus)
    assert f"only the owner of group {gid} (the user who opened it)" in _message(r, 401)
    kept = upload(client, auth, "dataset", name="kept")["metadata"]
    r = client.post(
        f"/groups/{gid}/commands",
        headers=auth,
        json={"op": "update", "id": kept["id"], "url": "https://huggingface.co/o/n", "name": "x"},
    )
    assert f"name {'x'!r} does not match artifact {kept['id']} (named {'kept'!r})" in _message(
        r, 400
    )
    r = _group_upload(client, auth, gid, filename="/")
    assert "the upload has no file name" in _message(r, 400)
    assert _group_upload(client, auth, gid).status_code == 201
    assert client.post(f"/groups/{gid}/execute", headers=auth).status_code == 200
    r = _group_upload(client, auth, gid)
    assert "commands can be appended only while it is open" in _message(r, 409)
    assert f"group {gid} is committed" in r.json()["message"]


def test_group_limits_and_expiry(make_settings):
    import time

    from fastapi.testclient import TestClient

    from tmr.app import create_app

    app = create_app(make_settings(group_max_commands=1, group_ttl_seconds=1.0,
                                   max_upload_bytes=3000))
    with TestClient(app) as client:
        auth = {"X-Authorization": login(client)}
        gid = _open(client, auth)
        r = _group_upload(client, auth, gid, body=hf_zip(name="d", weights=os.urandom(5000)))
        assert f"upload exceeds the limit of {3000} bytes" in _message(r, 413)
        assert _group_upload(client, auth, gid).status_code == 201
        r = _group_upload(client, auth, gid)
        assert f"group {gid} holds {1} commands already, the most allowed" in _message(r, 413)
        time.sleep(1.2)
        r = _group_upload(client, auth, gid)
        assert f"without being executed (groups stay open for {1} s); open a new one" in _message(
            r, 410
        )
    app.state.registry.db.dispose()


def test_only_the_owner_changes_an_artifact_and_names_must_match(client, auth):
    kept = upload(client, auth, "dataset", name="kept")["metadata"]
    gus = _add_user(client, auth, "gus", perms=["upload", "search", "download"])
    r = client.delete(f"/artifacts/dataset/{kept['id']}", headers=gus)
    assert f"only the owner of dataset {kept['id']} (the user who registered it)" in _message(
        r, 401
    )
    r = client.put(
        f"/artifacts/dataset/{kept['id']}",
        headers=auth,
        json={"metadata": {"name": "other", "id": kept["id"], "type": "dataset"},
              "data": {"url": "https://huggingface.co/datasets/o/n"}},
    )
    assert f"name {'other'!r} does not match artifact {kept['id']} (named {'kept'!r})" in _message(
        r, 400
    )


# -- downloads, ratings, workload ----------------------------------------------------------------


def test_download_and_rating_errors_name_what_is_missing(client, auth):
    meta = upload(client, auth, "model", name="m1")["metadata"]
    r = client.get(f"/download/{meta['id']}/files/no-such-file.txt", headers=auth)
    assert f"artifact {meta['id']} has no file {'no-such-file.txt'!r}" in _message(r, 404)
    r = client.get("/download/9876543210/files/README.md", headers=auth)
    assert f"no artifact with id {9876543210}" in _message(r, 404)
    r = client.get("/download/9876543210", headers=auth)
    assert f"no artifact with id {9876543210}" in _message(r, 404)
    r = client.get("/health/workload", headers=auth)
    assert "no workload has run in this process yet" in _message(r, 404)


# -- upstream errors (a stub upstream answering every request with one status) -----------------


class _Upstream:
    """An HTTP server on 127.0.0.1 answering every GET with ``status``, ``headers``, ``body``."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.status, self.headers, self.body = 200, {}, b"{}"
        self.routes: dict[str, bytes] = {}  # path -> a 200 body, whatever ``answer`` says
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
                routed = outer.routes.get(self.path.split("?")[0])
                status, body = (200, routed) if routed is not None else (outer.status, outer.body)
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **outer.headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, status: int, body: bytes = b"{}", **headers: str) -> None:
        self.status, self.body, self.headers = status, body, headers

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_upstream(make_settings):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from tmr.app import create_app

    up = _Upstream()
    settings = make_settings(github_api_url=up.url, hf_endpoint=up.url, ingest_gate="off",
                             allow_private_upstream=True, upstream_timeout_seconds=3)
    app = create_app(settings)
    with TestClient(app) as client:
        yield client, {"X-Authorization": login(client)}, up
    app.state.registry.db.dispose()
    up.close()


GH = "https://github.com/some-owner/some-repo"


@pytest.mark.parametrize(
    ("status", "body", "headers", "code", "fragment"),
    [
        (404, b"{}", {}, 404, "does not exist (or is private: set GITHUB_TOKEN); check the URL."),
        (401, b"{}", {}, 502, "GitHub rejected the credentials; check GITHUB_TOKEN."),
        (500, b"{}", {}, 502, "GitHub answered 500 for /repos/some-owner/some-repo; retry later"),
        (403, b"{}", {"X-RateLimit-Remaining": "0"}, 502,
         "); set GITHUB_TOKEN for a higher limit or retry later."),
        (429, b"{}", {"Retry-After": "0"}, 502,
         "GitHub rate limit hit on /repos/some-owner/some-repo; waited 0s"),
        (200, b"[]", {}, 502, "with something not a repository"),
    ],
)
def test_github_failures_are_named(stub_upstream, status, body, headers, code, fragment):
    client, auth, up = stub_upstream
    up.answer(status, body, **headers)
    r = client.post("/artifact/code", headers=auth, json={"url": GH})
    assert fragment in _message(r, code)


@pytest.mark.parametrize(
    ("status", "code", "fragment"),
    [
        (500, 502, "The Hub answered 500 for"),
        (403, 502, "; check HF_TOKEN."),
    ],
)
def test_hub_failures_are_named(stub_upstream, status, code, fragment):
    client, auth, up = stub_upstream
    up.answer(status, b'{"error": "nope"}')
    r = client.post("/artifact/model", headers=auth, json={"url": f"{up.url}/org/name"})
    assert fragment in _message(r, code)


def test_an_unreachable_hub_is_502_without_its_address(make_settings):
    from fastapi.testclient import TestClient

    from tests.conftest import free_port
    from tmr.app import create_app

    dead = f"http://127.0.0.1:{free_port()}"
    app = create_app(make_settings(hf_endpoint=dead, github_api_url=dead, ingest_gate="off",
                                   allow_private_upstream=True, upstream_timeout_seconds=2))
    with TestClient(app) as client:
        auth = {"X-Authorization": login(client)}
        r = client.post("/artifact/model", headers=auth, json={"url": f"{dead}/org/name"})
        message = _message(r, 502)
        assert "could not be fetched from the Hub (" in message
        assert dead not in message
        r = client.post("/artifact/code", headers=auth, json={"url": GH})
        message = _message(r, 502)
        assert "GitHub did not answer /repos/some-owner/some-repo" in message
        assert dead not in message
    app.state.registry.db.dispose()


# -- the Hub replay: missing repositories, revisions, gated repositories ------------------------


def test_hub_repositories_that_cannot_be_registered(make_settings, hf_replay, github_replay):
    from fastapi.testclient import TestClient

    from tests.replay.fixtures import UPSTREAM_DATA
    from tests.replay.hf_hub import HfHubReplay
    from tmr.app import create_app

    bert = "google-bert/bert-base-uncased"
    with HfHubReplay(UPSTREAM_DATA, gated=[bert]) as gated_hub:
        app = create_app(make_settings(hf_endpoint=gated_hub.url, github_api_url=github_replay,
                                       allow_private_upstream=True, ingest_gate="off"))
        with TestClient(app) as client:
            auth = {"X-Authorization": login(client)}
            hf = "https://huggingface.co"
            r = client.post("/artifact/model", headers=auth, json={"url": f"{hf}/{bert}"})
            assert "is gated: accept its conditions on the Hub and set HF_TOKEN" in _message(
                r, 424
            )
            r = client.post("/artifact/model", headers=auth,
                            json={"url": f"{hf}/nobody-here/no-such-model"})
            assert "does not exist on the Hub (or is private: set HF_TOKEN); check the URL." in (
                _message(r, 404)
            )
            r = client.post("/artifact/model", headers=auth,
                            json={"url": f"{hf}/arnir0/Tiny-LLM/tree/no-such-branch"})
            assert ": the revision does not exist; check the URL's branch." in _message(r, 404)
            gid = _open(client, auth)
            r = client.post(f"/groups/{gid}/commands", headers=auth,
                            json={"op": "register", "type": "model", "url": "   "})
            assert "The source URL is empty; send an http(s) URL of a repository." in _message(
                r, 400
            )
        app.state.registry.db.dispose()


def test_a_monitor_that_is_not_utf8_is_refused(client, auth):
    r = client.post(
        "/artifact/model/upload",
        headers=auth,
        files={"file": ("m.zip", hf_zip(), "application/zip"),
               "monitor": ("monitor.js", b"\xff\xfe\x00", "text/javascript")},
    )
    assert "the monitoring program must be UTF-8 JavaScript text" in _message(r, 400)


def test_the_group_cli_names_a_missing_or_oversized_zip(tmp_path, monkeypatch, capsys):
    from tmr.cli import main

    monkeypatch.setenv("TMR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TMR_MAX_UPLOAD_BYTES", "2000")
    assert main(["group", "open"]) == 0
    gid = capsys.readouterr().out.strip()
    absent = tmp_path / "absent.zip"
    assert main(["group", "add", gid, "upload", str(absent)]) == 1
    assert f"no zip file at {absent}" in capsys.readouterr().err  # the operator's own path
    big = tmp_path / "big.zip"
    big.write_bytes(hf_zip(weights=os.urandom(5000)))
    assert main(["group", "add", gid, "upload", str(big)]) == 1
    err = capsys.readouterr().err
    assert f"the upload is {big.stat().st_size} bytes; at most {2000} are allowed" in err


def test_malformed_optional_github_answers_do_not_break_a_registration(stub_upstream):
    """Pages that are not lists and a ``/languages`` that is not name -> bytes (once a 500)
    are evidence we can do without: the repository registers, without that evidence."""
    import json

    client, auth, up = stub_upstream
    repo = {"owner": {"login": "some-owner"}, "name": "some-repo", "default_branch": "main"}
    up.routes["/repos/some-owner/some-repo"] = json.dumps(repo).encode()
    up.answer(200, b'{"not": "a list"}')
    r = client.post("/artifact/code", headers=auth, json={"url": GH})
    assert r.status_code == 201, r.text


def test_a_file_the_hub_gates_after_registration_is_424(make_settings, github_replay):
    from fastapi.testclient import TestClient

    from tests.replay.fixtures import UPSTREAM_DATA
    from tests.replay.hf_hub import HfHubReplay
    from tmr.app import create_app

    bert = "google-bert/bert-base-uncased"
    with HfHubReplay(UPSTREAM_DATA) as hub:
        app = create_app(make_settings(hf_endpoint=hub.url, github_api_url=github_replay,
                                       allow_private_upstream=True, ingest_gate="off"))
        with TestClient(app) as client:
            auth = {"X-Authorization": login(client)}
            r = client.post("/artifact/model", headers=auth,
                            json={"url": f"https://huggingface.co/{bert}"})
            assert r.status_code == 201, r.text
            aid = r.json()["metadata"]["id"]
            hub.gated.add(bert)
            r = client.get(f"/download/{aid}/files/model.safetensors", headers=auth)
            assert "is gated: set HF_TOKEN to a token that has access." in _message(r, 424)
    app.state.registry.db.dispose()


def test_a_nul_character_postgresql_cannot_store_is_400(make_settings, pg_database):
    from fastapi.testclient import TestClient

    from tmr.app import create_app

    app = create_app(make_settings(database_url=pg_database))
    with TestClient(app) as client:
        auth = {"X-Authorization": login(client)}
        card = b"---\nlicense: mit\n---\n# nul\n\nA card with a \x00 in it.\n"
        r = _post_zip(client, auth, _zip({"README.md": card, "model.safetensors": b"\0" * 64}))
        message = _message(r, 400)
        assert "the request holds a value the database cannot store" in message
        assert "nothing was written" in message
    app.state.registry.db.dispose()


def test_a_license_check_against_a_missing_github_project_is_404(make_settings, github_replay):
    from fastapi.testclient import TestClient

    from tmr.app import create_app

    app = create_app(make_settings(github_api_url=github_replay, allow_private_upstream=True,
                                   ingest_gate="off"))
    with TestClient(app) as client:
        auth = {"X-Authorization": login(client)}
        aid = upload(client, auth, "model", name="licensed")["metadata"]["id"]
        gh = "https://github.com/nobody-here/no-such-repo"
        r = client.post(f"/artifact/model/{aid}/license-check", headers=auth,
                        json={"github_url": gh})
        assert f"GitHub project {gh} not found: " in _message(r, 404)
    app.state.registry.db.dispose()
