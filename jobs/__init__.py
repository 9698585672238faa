"""The job service's domain: no HTTP, no Functions runtime (function_app.py adapts it to
triggers, api/ to HTTP, composition.py builds what it runs on).

- ``core``: the model (statuses, tasks, jobs, counts), the queue messages, errors, the clock,
  settings, resource names, log events;
- ``storage``: the storage contracts over Azure and over an in-memory twin, the key map, and
  the gateways use cases are handed (the jobs table, the queues, the service's blobs);
- ``kinds``: what a job does, and what its handler may read and write;
- ``lifecycle``: how a job moves, exactly once per move, and running one;
- ``dispatch``: a batch becoming queued jobs;
- ``control``: cancel, retry, purge, the poison sweep, and the message routing table;
- ``task_end``: results, the next stage, events and webhooks after a task's end, and
  retention;
- ``reads``: what callers and operators read;
- ``schedules``: recurring schedules;
- ``collaborators``: the protocols a use case names its collaborators by."""
