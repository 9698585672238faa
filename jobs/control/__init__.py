"""What changes a task after it was accepted, and the queue work that does it: cancel, retry,
purge, the poison sweep, and the one table from message type to handler that the job queues'
function and the sweep share (``handlers``)."""
