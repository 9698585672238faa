"""An HTTP function declared with the generic trigger and output decorators, as the worker's
end-to-end ``http_functions_stein/generic`` app declares it."""

from __future__ import annotations

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.function_name(name="greet")
@app.generic_trigger(arg_name="req", type="httpTrigger", route="greet")
@app.generic_output_binding(arg_name="$return", type="http")
def greet(req: func.HttpRequest) -> func.HttpResponse:
    name = req.params.get("name")
    if not name:
        try:
            name = req.get_json().get("name")
        except ValueError:
            name = None
    return func.HttpResponse(f"Hello, {name or 'nobody'}.")
