"""Fixtures for the fault-injection tests (make faults, part of make test's
normal pass). They reuse the integration tests' helpers (tests/it: install
roots, QueueInstance, small_tmpfs): tests/it's conftest is loaded here and
everything it defines is re-exported, so that `from conftest import ...`
in tests/it's helper modules finds it.

Each test writes what it counted (kills, duplicates, failures injected) to
NQ_FAULTS_REPORT (default build/faults-report.txt), which `make faults`
prints at the end.
"""
import importlib.util
import os
import pathlib
import sys

IT = pathlib.Path(__file__).resolve().parents[1] / "it"
sys.path.insert(0, str(IT))
_spec = importlib.util.spec_from_file_location("it_conftest", IT / "conftest.py")
_it = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_it)
globals().update({k: v for k, v in vars(_it).items() if not k.startswith("__")})

REPORT = pathlib.Path(os.environ.get("NQ_FAULTS_REPORT", _it.REPO / "build/faults-report.txt"))


def report(line):
    """Adds one line to the fault-injection report."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    with open(REPORT, "a") as f:
        f.write(line.rstrip("\n") + "\n")
    print(line)
