"""Persistence: the metadata database (``storage.db``) and the object store (``storage.blobs``)."""
