"""Storage-level errors a request can run into: a missing blob is 404 naming the key; a file
store whose folder cannot be used is 503 saying so, without the server's path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tmr.errors import NotFound, StorageUnavailable
from tmr.storage.blobs.file import FileBlobStore
from tmr.storage.blobs.memory import MemoryBlobStore


def test_a_missing_blob_is_404_naming_the_key(tmp_path: Path) -> None:
    for store in (FileBlobStore(tmp_path / "blobs"), MemoryBlobStore()):
        with pytest.raises(NotFound) as caught:
            b"".join(store.iter_range("models/1/gone.bin"))
        assert caught.value.status_code == 404
        assert caught.value.message == "blob 'models/1/gone.bin' not found in the blob store"
    with pytest.raises(NotFound) as caught:
        FileBlobStore(tmp_path / "blobs").local_path("models/1/gone.bin")
    assert caught.value.message == "blob 'models/1/gone.bin' not found in the blob store"


def test_a_file_store_on_an_unusable_folder_is_503_without_the_path(tmp_path: Path) -> None:
    occupied = tmp_path / "not-a-folder"
    occupied.write_text("a file where the blob folder should be")
    store = FileBlobStore(occupied / "blobs")
    with pytest.raises(StorageUnavailable) as caught:
        store.check()
    assert caught.value.status_code == 503
    assert "the file blob store's folder cannot be used (" in caught.value.message
    assert str(tmp_path) not in caught.value.message
    with pytest.raises(StorageUnavailable) as caught:
        store.put_bytes("models/1/x.bin", b"x")
    assert "the file blob store could not write 'models/1/x.bin' (" in caught.value.message
    assert str(tmp_path) not in caught.value.message
