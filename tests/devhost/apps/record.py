"""Shared by the test apps: append one JSON line per event to the file named by RECORD_FILE.

One ``write`` of a whole line on an O_APPEND file, so lines from several processes (two
hosts, many threads) never interleave.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any


def record(**fields: Any) -> None:
    fields.setdefault("pid", os.getpid())
    fields.setdefault("at", time.time())
    line = (json.dumps(fields) + "\n").encode()
    fd = os.open(os.environ["RECORD_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
