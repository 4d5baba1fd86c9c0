"""Docstring examples: the runnable ones run as doctests; every other one is a plain example.

An example written with ``>>>`` prompts claims to show real output. Where it can run without
a server it runs here; where it needs a live client it is written as a plain ``Example::``
block, so no reader mistakes an illustration for a checked session.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import pytest

import ica_tapis_async

#: Modules whose ``>>>`` examples run as they stand.
RUNNABLE = (
    "ica_tapis_async._auth",
    "ica_tapis_async._core._request",
    "ica_tapis_async._telemetry._scrub",
    "ica_tapis_async.models._repr",
)


def package_modules() -> list[ModuleType]:
    """Every module of the package except the optional extras' entry points."""
    names = [
        info.name
        for info in pkgutil.walk_packages(ica_tapis_async.__path__, "ica_tapis_async.")
        if not info.name.endswith("__main__")
    ]
    return [importlib.import_module(name) for name in sorted(names)]


@pytest.mark.parametrize("name", RUNNABLE)
def test_runnable_examples_pass(name: str) -> None:
    """Each runnable module's examples run and print what they show."""
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert result.failed == 0


@pytest.mark.parametrize("name", RUNNABLE)
def test_runnable_modules_have_examples(name: str) -> None:
    """A module listed as runnable has at least one example to run."""
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 1


def test_other_examples_are_plain() -> None:
    """Outside the runnable modules no docstring has ``>>>`` prompts."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    prompted = sorted(
        test.name
        for module in package_modules()
        if module.__name__ not in RUNNABLE
        for test in finder.find(module)
        if test.examples
    )
    assert prompted == []
