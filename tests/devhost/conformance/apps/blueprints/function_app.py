"""An app whose functions come from a blueprint in a sub-folder and from the app itself, as in
the worker's end-to-end blueprint apps."""

from __future__ import annotations

import azure.functions as func
from parts.routes import bp  # type: ignore[import-not-found]  # the app folder is on sys.path

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(bp)


@app.route(route="own")
def own(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("from the app")


@app.route(route="switched_off")
def switched_off(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("should not answer while disabled")


class BlobClient:
    """Stands in for an SDK-type binding's class (azurefunctions-extensions-bindings-blob)."""


BlobClient.__module__ = "azurefunctions.extensions.bindings.blob"


@app.route(route="sdk_typed")
@app.blob_input(arg_name="client", path="c/b", connection="AzureWebJobsStorage")
def sdk_typed(req: func.HttpRequest, client: BlobClient) -> func.HttpResponse:
    return func.HttpResponse("devhost has no SDK-type bindings")
