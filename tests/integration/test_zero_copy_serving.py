"""Bundles served by a real ``tmr serve`` process: zero-copy under uvicorn (loop.sendfile),
path-send under granian; whole bodies, Range and HEAD byte-exact; signed links without a token;
the download audited."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import httpx
import pytest

from tmr.bench.downloads import ADMIN, registry_server, small_model_zip


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
def test_served_bundle_is_byte_exact_with_range_and_head(tmp_path: Path, server: str) -> None:
    with registry_server(tmp_path / "data", None, server) as reg:
        token = str(httpx.put(f"{reg.base}/authenticate", json=ADMIN, timeout=30).json())
        auth = {"X-Authorization": token}
        weights = bytes(range(256)) * 8192  # 2 MiB, several sendfile rounds
        body = io.BytesIO()
        with zipfile.ZipFile(body, "w") as zf:
            zf.writestr("README.md", "# served\n")
            zf.writestr("model.safetensors", weights)
        r = httpx.post(f"{reg.base}/artifact/model/upload", headers=auth, timeout=60,
                       files={"file": ("m.zip", body.getvalue(), "application/zip")})  # fmt: skip
        assert r.status_code == 201, r.text
        url = r.json()["data"]["download_url"]
        with httpx.Client(timeout=60) as plain:  # no token: the link is signed
            first = plain.get(url)
            assert first.status_code == 200, first.text
            second = plain.get(url)  # the stored zip, sent again over the same connection
            assert hashlib.sha256(second.content).digest() == hashlib.sha256(first.content).digest()
            assert int(first.headers["content-length"]) == len(first.content)
            members = zipfile.ZipFile(io.BytesIO(first.content))
            assert members.read("model.safetensors") == weights
            size = len(first.content)
            head = plain.head(url)
            assert head.status_code == 200 and int(head.headers["content-length"]) == size
            part = plain.get(url, headers={"Range": "bytes=1000-1999"})
            assert part.status_code == 206 and part.content == first.content[1000:2000]
            # a small request after the big ones still works on the kept-alive connection
            meta = plain.get(f"{reg.base}/health")
            assert meta.status_code == 200
            # another artifact's bytes over the same connection are not mixed up
            small = {"file": ("s.zip", small_model_zip(7), "application/zip")}
            r2 = httpx.post(
                f"{reg.base}/artifact/model/upload", headers=auth, timeout=60, files=small
            )
            other = plain.get(r2.json()["data"]["download_url"])
            assert other.status_code == 200
            assert "model.safetensors" in zipfile.ZipFile(io.BytesIO(other.content)).namelist()
        aid = r.json()["metadata"]["id"]
        trail = httpx.get(f"{reg.base}/artifact/model/{aid}/audit", headers=auth).json()
        assert sum(e["action"] == "DOWNLOAD" for e in trail) == 3  # two GETs and the range
