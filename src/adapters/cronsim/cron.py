"""``CronEvaluator`` on cronsim: five-field cron expressions (with ``L``, ``#`` and
``?`` as cronsim reads them), evaluated in the schedule's own time zone, so
"0 3 * * *" in Europe/Berlin is 03:00 local time on both sides of a DST change."""

from __future__ import annotations

from datetime import datetime, timedelta

from cronsim import CronSim, CronSimError


class CronsimEvaluator:
    def validate(self, expression: str) -> None:
        try:
            CronSim(expression, datetime(2000, 1, 1))
        except CronSimError as exc:
            raise ValueError(f"bad cron expression {expression!r}: {exc}") from exc

    def latest(self, expression: str, at: datetime) -> datetime:
        # cronsim walks backwards from an exclusive start: start one second later so a
        # tick exactly at ``at`` counts.
        start = at.replace(microsecond=0) + timedelta(seconds=1)
        return next(CronSim(expression, start, reverse=True))
