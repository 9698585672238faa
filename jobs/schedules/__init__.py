"""Recurring schedules: saved, read and deleted (``definitions``), and fired by their timer
once per fire time (``firing``)."""
