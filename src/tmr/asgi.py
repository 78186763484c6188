"""ASGI entry for multi-worker servers: ``uvicorn tmr.asgi:app`` (settings from the environment).

``served`` is the same app wrapped for uvicorn's zero-copy file responses (api/zerocopy.py; run
it with ``--loop asyncio``); granian serves ``app`` and sends files itself.
"""

from tmr.api.heap import settle_heap
from tmr.api.zerocopy import ZeroCopyFiles
from tmr.app import create_app

app = create_app()
served = ZeroCopyFiles(app)
settle_heap()  # api/heap.py: the app is built; what exists now is never garbage
