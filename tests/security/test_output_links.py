"""An output's download link reads that one blob, only reads it, and stops working after
JOBS_OUTPUT_LINK_MINUTES (5 on this host)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import requests

from jobs.core.resources import INPUTS_CONTAINER
from tests.e2e.conftest import Api
from tests.security.conftest import GUARDED_SETTINGS


def test_an_output_link_reads_one_blob_only_and_expires_after_the_setting(guarded: Api) -> None:
    guarded.blobs().get_blob_client(INPUTS_CONTAINER, "link.txt").upload_blob(
        b"abc\n", overwrite=True
    )
    task_id = guarded.submit(
        "transform", [{"container": INPUTS_CONTAINER, "blob": "link.txt", "operation": "upper"}]
    )
    assert guarded.wait_finished(task_id)["status"] == "completed"
    asked = datetime.now(UTC)
    [line] = guarded.get(f"tasks/{task_id}/results").text.splitlines()
    url = json.loads(line)["result"]["download_url"]

    assert requests.get(url, timeout=30).content == b"ABC\n"
    query = parse_qs(urlsplit(url).query)
    assert query["sr"] == ["b"]  # signed for one blob
    assert query["sp"] == ["r"]  # read only
    expiry = datetime.fromisoformat(query["se"][0].replace("Z", "+00:00"))
    lifetime = timedelta(minutes=int(GUARDED_SETTINGS["JOBS_OUTPUT_LINK_MINUTES"]))
    assert asked < expiry <= asked + lifetime
    # The same signature does not open a neighbour, nor write to the blob.
    path = urlsplit(url).path
    neighbour = url.replace(path, path.rsplit("/", 1)[0] + "/00000001.txt")
    assert requests.get(neighbour, timeout=30).status_code == 403
    put = requests.put(url, data=b"x", headers={"x-ms-blob-type": "BlockBlob"}, timeout=30)
    assert put.status_code == 403
    assert requests.get(url, timeout=30).content == b"ABC\n"
