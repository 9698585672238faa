"""How a batch becomes queued jobs: accepting it (``submit``), writing its job rows and first
window of messages (``fanout``), doing that during the submit for a small task
(``small_tasks``), waiting for ``not_before`` (``delays``), choosing the queue a task's jobs
run on (``queue_choice``), growing a task's window while the consumers have room
(``growth``) and the stages a submit's ``then`` asks for (``stages``)."""
