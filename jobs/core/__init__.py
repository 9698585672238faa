"""The model every other part shares: statuses, tasks, jobs and their counts, the queue
messages, the domain's errors, its settings, the names of its storage resources and its log
events. Pure: imports nothing else of the service and touches no storage."""
