"""The job service's domain: tasks, jobs, their storage and their kinds. Knows nothing of
the Functions runtime; function_app.py adapts it to triggers."""
