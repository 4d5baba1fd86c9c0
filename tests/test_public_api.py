"""The public surface: every name in __all__ exists, is documented, and lives where it should."""

from __future__ import annotations

import importlib
import inspect

import pytest

PUBLIC_MODULES = [
    "ica_tapis_async",
    "ica_tapis_async.models",
    "ica_tapis_async.concurrency",
    "ica_tapis_async.orchestrator",
    "ica_tapis_async.simulator",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_names_exist_and_are_documented(name: str) -> None:
    """Each __all__ entry resolves; public classes and functions carry a docstring."""
    module = importlib.import_module(name)
    assert isinstance(module.__all__, tuple)
    assert len(set(module.__all__)) == len(module.__all__)
    for attr in module.__all__:
        obj = getattr(module, attr)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name}.{attr} has no docstring"


def test_root_exports_models_and_product_names() -> None:
    """The names PRODUCT.md promises are importable from the package root."""
    import ica_tapis_async as ita
    from ica_tapis_async import models

    for attr in (
        "IcaClient",
        "TapisClient",
        "BatchOrchestrator",
        "TransferOrchestrator",
        "RetryPolicy",
        "RateLimitPolicy",
        "ReqTransferElement",
        "APIStatusError",
    ):
        assert attr in ita.__all__
    assert set(models.__all__) <= set(ita.__all__)


def test_public_methods_are_documented() -> None:
    """Every public method of the clients, resources and orchestrators has a docstring."""
    import ica_tapis_async as ita
    from ica_tapis_async import resources

    classes = [
        ita.IcaClient,
        ita.TapisClient,
        ita.BatchOrchestrator,
        ita.TransferOrchestrator,
        ita.AsyncPaginator,
        *(getattr(resources, n) for n in resources.__all__),
    ]
    for cls in classes:
        for attr, member in inspect.getmembers(cls):
            if attr.startswith("_") or not callable(member):
                continue
            assert inspect.getdoc(member), f"{cls.__name__}.{attr} has no docstring"
