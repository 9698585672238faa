"""A blob trigger, which devhost does not support: the host must refuse to start."""

from __future__ import annotations

import azure.functions as func

app = func.FunctionApp()


@app.blob_trigger(arg_name="blob", path="inbox/{name}", connection="AzureWebJobsStorage")
def on_blob(blob: func.InputStream) -> None:
    pass
