"""NCRONTAB, the timer trigger's cron, for the local host's timer triggers (devhost/). Top level,
importing nothing but the standard library. The rules are in ``ncrontab.schedule``."""

from ncrontab.schedule import CronSchedule

__all__ = ["CronSchedule"]
