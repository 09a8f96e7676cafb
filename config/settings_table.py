"""The settings table of docs/settings.md, read back: what config/settings.py reads, and .env.example.

``python -m config.settings_table > .env.example`` writes the example file
from the docs (every setting, commented out, with its default when the docs
give one as a value). config/tests/test_settings_documented.py checks that the
table, the code and .env.example name the same settings.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "settings.md"
SETTINGS = ROOT / "config" / "settings.py"
ENV_EXAMPLE = ROOT / ".env.example"
READERS = {"env_str", "env_bool", "env_int", "env_float", "env_list", "env_secret"}
_ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|\s*(.*?)\s*\|\s*(.*?)\s*\|\s*$")
_PLAIN_DEFAULT = re.compile(r"^`([^`]*)`$")


@dataclass(frozen=True)
class Row:
    section: str
    name: str
    default: str
    what: str

    @property
    def value(self) -> str:
        """The default as an environment value, when the docs give it as one (else empty)."""
        found = _PLAIN_DEFAULT.match(self.default)
        return found[1] if found else ""


def documented(text: str | None = None) -> list[Row]:
    """Every row of the settings tables, in the docs' order."""
    text = DOCS.read_text() if text is None else text
    rows, section = [], "Core"
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        found = _ROW.match(line)
        if found:
            rows.append(Row(section, found[1], found[2], found[3]))
    return rows


def read_by_code(path: Path = SETTINGS) -> set[str]:
    """The names config/settings.py reads with its typed helpers (env_int("NAME", ...), ...)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in READERS:
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


def env_example(rows: list[Row] | None = None) -> str:
    rows = documented() if rows is None else rows
    lines = [
        "# Every setting of the console, commented out, with its default where it is a plain value.",
        "# Copy to .env, uncomment what you change. What each one does: docs/settings.md.",
        "# Generated from that table: python -m config.settings_table > .env.example",
    ]
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            lines += ["", f"# --- {section.replace('`', '')} ---"]
        lines.append(f"# {row.name}={row.value}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(env_example(), end="")
