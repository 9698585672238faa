"""What follows a task's end: its results file, the next stage of its chain (``next_stage``),
the ``task-events`` message and the webhook (``completion``, ``webhooks``), and retention: the
index of finished tasks by day (``retention_index``) and the daily run that purges the old ones
(``retention``)."""
