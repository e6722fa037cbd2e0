"""Cron expressions read by ``cronsim``."""
