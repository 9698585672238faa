"""How a job moves from Pending to an end, exactly once per move whatever runs twice: the move
table and its rules (``moves``), the writer that applies moves to the job rows and the counter
rows that count them (``writer``, over ``counters``: each writer's own row, or shards for older
tasks), concurrent callers' moves of one task written together (``group_commit``), and running
one job's handler between its start and its end (``running``, with what one attempt writes
meanwhile: ``attempt``, its progress added up per process: ``progress``), once it may start: no
higher-priority work waits and its kind's limits allow it (``admission``, over the limit rows
of ``limits``)."""
