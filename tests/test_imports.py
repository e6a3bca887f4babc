"""Every module of the core packages imports on its own, as the first project module loaded.

A circular import only breaks when the cycle is entered from one particular side (for example
`import servicing.term_deposits.runs` before anything imported `servicing.term_deposits.service`),
which the rest of the suite never does because it imports the app first. One child interpreter
walks the packages with pkgutil and, before each module, forgets every project module it loaded
(third-party ones stay cached, which keeps it fast): each import then starts from a clean slate,
as in a fresh interpreter or a script that imports only that module.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ledger", "products", "servicing", "chart_of_accounts")
PROJECT = (*PACKAGES, "api", "migrations")

_CHILD = """
import importlib, pkgutil, sys, traceback

packages, project = {packages!r}, {project!r}
names = []
for package in packages:
    names.append(package)
    names += [m.name for m in pkgutil.walk_packages(importlib.import_module(package).__path__, package + ".")]
failed = 0
for name in names:
    for loaded in [m for m in sys.modules if m.split(".")[0] in project]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed += 1
        print(f"--- import {{name}} failed:", traceback.format_exc(limit=3), sep="\\n")
print(f"{{len(names)}} modules, {{failed}} failed")
sys.exit(1 if failed else 0)
"""


def test_each_core_module_imports_on_its_own() -> None:
    child = subprocess.run(
        [sys.executable, "-c", _CHILD.format(packages=PACKAGES, project=PROJECT)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert child.returncode == 0, child.stdout + child.stderr
    assert " 0 failed" in child.stdout
