"""NCRONTAB, the timer trigger's cron: the one parser of the local host's timer triggers
(devhost/) and of the app's recurring schedules (jobs/). Top level, so that each imports it and
not the other: devhost/ imports nothing of the app, and is left out of the deployment package,
which this is in. It imports only the standard library. The rules: ``ncrontab.schedule``."""

from ncrontab.schedule import CronSchedule, parse

__all__ = ["CronSchedule", "parse"]
