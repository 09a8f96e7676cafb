"""What a server page draws, and in which order: the host's system charts first, then the rest.

A chart is one (metric type, name); its lines are the label sets. The page shows:
- the system charts first (CPU, memory, disk, network, load), whatever agent sent them;
- then each other metric type as a group, its first CHARTS_PER_TYPE charts by name;
- every other chart is offered in a picker (``catalog``) and drawn when asked for (``add``).
A chart draws at most MAX_LINES lines, the ones with the highest recent value; the
rest are summed into one "other" line, so a host with sixty processes still reads.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from monitoring.live.groups import headline_kind
from monitoring.models import Series

SYSTEM_KINDS = ("cpu", "memory", "disk", "network", "load")
SYSTEM_GROUP = "System"
MAX_LINES = 10
CHARTS_PER_TYPE = 6
# series read per chart: beyond it, "other" sums the first ones only (a host rarely has more)
MAX_SERIES_PER_CHART = 200
NETWORK_WORDS = ("network", "net_", "net.", "rx_", "tx_", "if_octets", "receive_bytes", "transmit_bytes")


def system_kind(metric_type: str, name: str) -> str | None:
    """cpu, memory, disk, network or load when the series is one of the host's system figures."""
    if metric_type == "process":  # per-process figures are the process group's, not the host's
        return None
    kind = headline_kind(metric_type, name)
    if kind is not None:
        return kind
    text = f"{metric_type}.{name}".lower()
    if "load" in text:
        return "load"
    if any(word in text for word in NETWORK_WORDS):
        return "network"
    return None


@dataclass
class ChartSpec:
    metric_type: str
    name: str
    group: str
    rank: tuple
    series: list[Series] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.metric_type}.{self.name}"


def arrange(series: list[Series]) -> list[ChartSpec]:
    """Every chart of these series in page order: system charts, then by metric type and name."""
    charts: dict[tuple[str, str], ChartSpec] = {}
    for s in series:
        spec = charts.get((s.metric_type, s.name))
        if spec is None:
            kind = system_kind(s.metric_type, s.name)
            if kind is not None:
                rank = (0, SYSTEM_KINDS.index(kind), s.metric_type != "system", natural(s.name))
                spec = ChartSpec(s.metric_type, s.name, SYSTEM_GROUP, rank)
            else:
                group = f"{s.metric_type}: more figures" if s.metric_type == "system" else s.metric_type
                spec = ChartSpec(s.metric_type, s.name, group, (1, s.metric_type, natural(s.name)))
            charts[(s.metric_type, s.name)] = spec
        spec.series.append(s)
    return sorted(charts.values(), key=lambda c: c.rank)


def shown_by_default(charts: list[ChartSpec], added: set[str]) -> tuple[list[ChartSpec], list[ChartSpec]]:
    """(drawn, offered in the picker): system charts and the first few of each type, plus those asked for."""
    drawn, offered = [], []
    per_type: dict[str, int] = defaultdict(int)
    for chart in charts:
        if chart.group == SYSTEM_GROUP or chart.key in added or per_type[chart.group] < CHARTS_PER_TYPE:
            drawn.append(chart)
            if chart.group != SYSTEM_GROUP and chart.key not in added:
                per_type[chart.group] += 1
        else:
            offered.append(chart)
    return drawn, offered


def fold(lines: list[dict], limit: int = MAX_LINES) -> list[dict]:
    """The ``limit`` lines with the highest latest value, and the rest summed into one "other" line."""
    if len(lines) <= limit:
        return lines
    ranked = sorted(lines, key=lambda line: -(line["points"][-1][1] if line["points"] else float("-inf")))
    kept, rest = ranked[:limit], ranked[limit:]
    summed: dict[float, float] = defaultdict(float)
    for line in rest:
        for ts, value in line["points"]:
            summed[ts] += value
    kept.append(
        {
            "series_id": None,
            "label": f"other ({len(rest)}, summed)",
            "other": True,
            "folded": [line["series_id"] for line in rest],
            "points": [[ts, round(summed[ts], 4)] for ts in sorted(summed)],
        }
    )
    return kept


def natural(name: str) -> tuple:
    """A sort key that puts load_5m before load_15m."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def label_of(series: Series) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(series.labels.items())) or series.name
