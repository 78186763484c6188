"""Build small zips laid out like Hugging Face repositories, for upload tests."""

from __future__ import annotations

import io
import json
import zipfile

CARD = """---
license: mit
base_model: {base}
datasets:
  - squad
version: {version}
---
# {name}

An in-house classifier fine-tuned for support tickets.

## Usage
```python
from transformers import pipeline
clf = pipeline("text-classification", model="acme/{name}")
print(clf("my printer is on fire"))
```
"""


def hf_zip(
    name: str = "acme-model",
    base: str = "bert-base-uncased",
    version: str = "1.2.3",
    weights: bytes = b"\0" * 4096,
    extra: dict[str, bytes] | None = None,
    top_folder: str | None = None,
) -> bytes:
    files: dict[str, bytes] = {
        "README.md": CARD.format(name=name, base=base, version=version).encode(),
        "config.json": json.dumps(
            {
                "_name_or_path": base,
                "model_type": "bert",
                "architectures": ["BertForSequenceClassification"],
            }
        ).encode(),
        "model.safetensors": weights,
        "tokenizer.json": b'{"version": "1.0"}',
    }
    files.update(extra or {})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zf.writestr(f"{top_folder}/{path}" if top_folder else path, data)
    return buf.getvalue()


def upload(client, auth, type_: str = "model", name: str | None = None, **kwargs) -> dict:  # type: ignore[no-untyped-def]
    body = hf_zip(name=name or "acme-model", **kwargs)
    data = {"name": name} if name else {}
    r = client.post(
        f"/artifact/{type_}/upload",
        headers=auth,
        data=data,
        files={"file": (f"{name or 'bundle'}.zip", body, "application/zip")},
    )
    assert r.status_code == 201, r.text
    return r.json()
