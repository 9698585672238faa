"""A local stand-in for the Azure Functions host (Core Tools ``func start``).

Core Tools cannot be installed here, so ``python -m devhost`` reproduces what an app can
observe of the real host: settings from ``local.settings.json`` and ``host.json`` (with
``AzureFunctionsJobHost__*`` overrides), a host process (asyncio: HTTP, listeners, storage
calls) and worker processes (``FUNCTIONS_WORKER_PROCESS_COUNT``, one by default) that import
the app and run invocations of HTTP, queue and timer triggers, their arguments, outputs and
return values going through the ``azure.functions`` library's own converters. Each module
names the sources its rules come from; where they and the shared ``docs/host-semantics.md``
disagree, the sources win (``docs/devhost.md`` lists where).

Run it from the app's folder::

    python -m devhost [--port 7071] [--app function_app.py] [--check-keys]
                      [--grace-period 30]

``--app`` defaults to the ``PYTHON_SCRIPT_FILE_NAME`` setting, else ``function_app.py``.

Keys. Like Core Tools, keys are not checked unless ``--check-keys`` is given. Then:

* ``DEVHOST_MASTER_KEY`` (setting or environment variable) is the master key: it passes
  every auth level, and is the only key that passes ``admin``. When unset, a random one is
  generated and printed at start.
* ``DEVHOST_FUNCTION_KEY`` is a host-level function key valid for every ``function``-level
  function; ``DEVHOST_FUNCTION_KEY__<function name>`` is a key valid for that function only.
* A key comes in the ``x-functions-key`` header (wins) or the ``code`` query parameter.
  A missing or wrong key answers 401. ``/admin/host/status`` needs no key.
"""
