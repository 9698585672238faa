"""What callers and operators read: a task's status, jobs and results (``tasks``), the task
index behind ``GET /tasks`` (``task_index``), per-minute throughput (``throughput``), the
figures of ``GET /stats`` (``stats``) and each queue's depth (``queue_depth``)."""
