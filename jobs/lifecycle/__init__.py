"""How a job moves from Pending to an end, exactly once per move whatever runs twice: the move
table and its rules (``moves``), the writer that applies moves to the job rows and their
counter shards (``writer``), concurrent callers' moves of one task written together
(``group_commit``) over the shards a process keeps (``shards``), and running one job's handler
between its start and its end (``running``), once it may start: no higher-priority work waits
and its kind's limits allow it (``admission``, over the limit rows of ``limits``)."""
