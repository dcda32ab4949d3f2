"""The hit-path floor: a bare Flask route that returns one image from memory.

Served by gunicorn with exactly the settings of ``ogshot web`` (``bench.stack`` builds both
command lines from ``ogshot.services.web_argv``), so the ratio of the two is what ogshot's own
work costs: URL parsing, policy, key, storage read, metrics and logs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from flask import Flask, Response

# Handed over by bench/stack.py to this gunicorn app in its environment (a bench-only
# variable, not an ogshot setting).
DATA = Path(os.environ["OGSHOT_BENCH_IMAGE"]).read_bytes()
ETAG = hashlib.sha256(DATA).hexdigest()

app = Flask(__name__)


@app.get("/image/<path:_spec>")
def image(_spec: str) -> Response:
    """The same bytes and caching headers as an ogshot hit."""
    return Response(
        DATA,
        mimetype="image/png",
        headers={"ETag": f'"{ETAG}"', "Cache-Control": "public, max-age=86400"},
    )
