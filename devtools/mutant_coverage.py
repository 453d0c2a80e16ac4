"""pytest plugin for ``./run mutants``: which test runs which line of the module being mutated.

Loaded only in a mutation run's baseline (``-p devtools.mutant_coverage``, with ``coverage``
from ``.venv-mutants`` on ``PYTHONPATH``), never by ``./run test``.  It measures the one file named
by ``MUTANTS_MODULE`` with each test's node ID as the coverage context, then writes
``MUTANTS_MAP`` (JSON): ``{"tests": [every node ID, in run order], "lines": {line: [node IDs]}}``.
A line run outside any test (at import, during collection) is mapped to ``""``: a mutant there
must face every test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import coverage
import pytest

_target = Path(os.environ["MUTANTS_MODULE"]).resolve()
_measure = coverage.Coverage(data_file=None, include=[str(_target)], branch=False)
_measure.start()  # before the tests import the module: its import-time lines count too
_order: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _order.append(item.nodeid)
    _measure.switch_context(item.nodeid)  # setup, call and teardown: all of it is this test's
    yield
    _measure.switch_context("")


def pytest_sessionfinish(session, exitstatus):
    _measure.stop()
    data = _measure.get_data()
    lines: dict[int, list[str]] = {}
    for measured in data.measured_files():
        if Path(measured).resolve() == _target:
            for line, contexts in data.contexts_by_lineno(measured).items():
                lines[line] = sorted(contexts)
    Path(os.environ["MUTANTS_MAP"]).write_text(json.dumps({"tests": _order, "lines": lines}), encoding="utf-8")
