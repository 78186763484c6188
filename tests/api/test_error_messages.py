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
from tests.support.zips import hf_zip


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
    assert "no user named 'nobody-here'" in _message(r, 404)
    r = client.post("/users/nobody-here/disable", headers=auth)
    assert "no user named 'nobody-here'" in _message(r, 404)
    r = client.delete("/users/nobody-here", headers=auth)
    assert "no user named 'nobody-here'" in _message(r, 404)
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
    assert "no artifact named 'nothing-here'" in _message(r, 404)
    r = client.post("/artifacts", headers=auth, json=[])
    assert "send at least one artifact query" in _message(r, 400)
    r = client.post("/artifacts", headers=auth, json=[{"name": "*"}] * 101)
    assert "queries per request; got 101" in _message(r, 413)
    r = client.post("/artifact/byRegEx", headers=auth, json={"regex": "zzz-no-such"})
    assert "no artifact name or README matches" in _message(r, 404)
    r = client.post("/artifact/byRegEx", headers=auth, json={"regex": ""})
    assert "regex must be a non-empty string" in _message(r, 400)
    r = client.post("/artifact/byRegEx", headers=auth, json={"regex": "a" * 1001})
    assert "regex longer than 1000 characters" in _message(r, 400)
    r = client.post("/artifact/byRegEx", headers=auth, json={"regex": "(unclosed"})
    assert "invalid regular expression '(unclosed'" in _message(r, 400)
    r = client.post("/artifact/byRegEx", headers=auth, json={"regex": "a{1001}"})
    assert "invalid regular expression 'a{1001}': invalid repetition size" in _message(r, 400)


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
        (_zip({"a\x01b.txt": b"x"}), "has control characters in its name"),
        (_zip({"/etc/passwd": b"x"}), "has an absolute path"),
        (_zip({"a/../../b.txt": b"x"}), "escapes the bundle with '..'"),
        (_zip({"a" * 300 + ".txt": b"x"}), "bytes per folder or file name"),
        (_special("link", 0o120777), "is a symbolic link"),
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
        assert "upload exceeds the limit of 2000 bytes" in _message(r, 413)
        r = client.post(
            "/artifact/model/upload",
            headers={**auth, "content-length": str(5 * 1024 * 1024)},
            content=b"x",
        )
        assert "exceeds this route's limit of" in _message(r, 413)
    app.state.registry.db.dispose()
