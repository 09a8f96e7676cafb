"""manage.py storage [--json]: each layer's size, days held, bytes per sample; the ingest rate; when it fills."""

from __future__ import annotations

import orjson
from django.core.management.base import BaseCommand

from monitoring import capacity


def human(size: float | None) -> str:
    if size is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


class Command(BaseCommand):
    help = (
        "Show each storage layer's size, days held and bytes per sample, today's ingest rate "
        "and when the size cap or the disk fills."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, json: bool, **options):
        report = capacity.report()
        if json:
            self.stdout.write(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
            return
        self.stdout.write(f"{'layer':<32} {'size':>10} {'days':>5} {'samples':>14} {'B/sample':>9} {'keep':>5}")
        for layer in report.layers:
            per = f"{layer.bytes_per_sample:.2f}" if layer.bytes_per_sample is not None else "-"
            samples = f"{layer.samples:,}" if layer.samples is not None else "-"
            size, keep = human(layer.bytes), layer.retention_days
            self.stdout.write(f"{layer.label:<32} {size:>10} {layer.days:>5} {samples:>14} {per:>9} {keep:>5}")
        cap = human(report.cap_bytes) if report.cap_bytes else "none (STORAGE_MAX_BYTES)"
        self.stdout.write(f"database: {human(report.database_bytes)}; cap: {cap}")
        if report.disk_total:
            free, total = human(report.disk_free), human(report.disk_total)
            self.stdout.write(f"disk: {free} free of {total} ({report.disk_free_percent:.1f} %)")
        self.stdout.write(
            f"ingest now: {report.samples_per_second:,.0f} samples/s from {report.active_series:,} series"
        )
        if report.reached is None:
            self.stdout.write(
                f"at this rate neither the cap nor the disk is reached within {capacity.HORIZON_DAYS} days"
            )
        else:
            what, day = report.reached
            self.stdout.write(f"at this rate {what} is reached on {day} ({report.days_left:.0f} days)")
        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(f"warning: {warning}"))
