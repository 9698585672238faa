"""The dashboard page: ``dashboard/index.html`` with its stylesheet and script put inline, so
the page is one answer with nothing to fetch but the API. The files stay separate and readable
in the repository (and the page opens from disk as it is); the Content-Security-Policy allows
exactly the inline style and script served, calls to this origin, and nothing else."""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path

from api.answers import Answer

FOLDER = Path(__file__).resolve().parent.parent / "dashboard"
STYLE_TAG = '<link rel="stylesheet" href="dashboard.css">'
SCRIPT_TAG = '<script src="dashboard.js"></script>'


def answer() -> Answer:
    html, policy = _page()
    headers = {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return Answer(200, html, mimetype="text/html", headers=headers)


@cache
def _page() -> tuple[bytes, str]:
    html = (FOLDER / "index.html").read_text(encoding="utf-8")
    style = (FOLDER / "dashboard.css").read_text(encoding="utf-8")
    script = (FOLDER / "dashboard.js").read_text(encoding="utf-8")
    for tag, text, closing in ((STYLE_TAG, style, "</style"), (SCRIPT_TAG, script, "</script")):
        if html.count(tag) != 1 or closing in text.lower():
            raise RuntimeError(f"dashboard/index.html must hold {tag} once, its file no {closing}")
    html = html.replace(STYLE_TAG, f"<style>{style}</style>")
    html = html.replace(SCRIPT_TAG, f"<script>{script}</script>")
    policy = "; ".join(
        [
            "default-src 'none'",
            f"style-src '{_digest(style)}'",
            f"script-src '{_digest(script)}'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return html.encode("utf-8"), policy


def _digest(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
