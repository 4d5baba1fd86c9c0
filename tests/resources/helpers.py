"""Payloads and helpers shared by the resources tests (imported from here, not conftest)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..unit.fakes import FakeTransport

ICA = "https://ica.test/ica/rest"


TAPIS = "https://tapis.test"


API_KEY = "KEY-s3cr3t-0001"


TAPIS_TOKEN = "TAPIS-s3cr3t-0002"


PROJECT = "3f1e8d0a-0000-4000-8000-000000000001"


BATCH = "3f1e8d0a-0000-4000-8000-0000000000b1"


ITEM = "3f1e8d0a-0000-4000-8000-0000000000c1"


UUID = "3f1e8d0a-0000-4000-8000-0000000000d1"


WHEN = "2024-05-01T10:00:00Z"


def user() -> dict[str, Any]:
    """A minimal spec-valid User."""
    return {
        "id": UUID,
        "timeCreated": WHEN,
        "timeModified": WHEN,
        "ownerId": UUID,
        "tenantId": UUID,
        "username": "ana",
        "email": "ana@example.org",
        "active": True,
        "tenantAdministrator": False,
        "emailVerified": True,
        "twoFactorAuthentication": False,
    }


def job(status: str = "RUNNING") -> dict[str, Any]:
    """A minimal spec-valid Job."""
    return {
        "id": UUID,
        "status": status,
        "subjectType": "ProjectDataLinkingBatch",
        "subjectId": BATCH,
        "timeCreated": WHEN,
        "owner": user(),
    }


def batch(status: str = "RUNNING") -> dict[str, Any]:
    """A batch answer (linking, update or analysis)."""
    return {"id": BATCH, "job": job(status)}


def data_transfer(ident: str = UUID, status: str = "ONGOING") -> dict[str, Any]:
    """A minimal spec-valid DataTransfer."""
    return {
        "id": ident,
        "timeCreated": WHEN,
        "timeModified": WHEN,
        "ownerId": UUID,
        "tenantId": UUID,
        "reference": "upload-1",
        "direction": "UPLOAD",
        "status": status,
        "dataTransferred": 10,
        "data": {"id": "fil.1"},
    }


def linking_item(n: int, status: str = "LINKED") -> dict[str, Any]:
    """A V4 linking batch item."""
    return {
        "id": f"3f1e8d0a-0000-4000-8000-{n:012d}",
        "request": {"dataId": f"fil.{n}"},
        "processing": {"status": status},
    }


def problem(status: int, title: str = "ICA_API_001", detail: str = "bad") -> dict[str, Any]:
    """An ICA Problem body."""
    return {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "parameters": {},
        "timestamp": WHEN,
    }


def envelope(result: Any, message: str = "TAPIS_FOUND ok") -> dict[str, Any]:
    """A Tapis success envelope."""
    return {
        "status": "success",
        "message": message,
        "result": result,
        "version": "1.8.2",
        "commit": "abc",
        "build": "b",
        "metadata": {},
    }


def task(uuid: str = UUID, status: str = "ACCEPTED") -> dict[str, Any]:
    """A Tapis TransferTask."""
    return {
        "uuid": uuid,
        "status": status,
        "username": "ana",
        "tenantId": "tacc",
        "tag": "t",
        "created": "2021-04-22T14:21:58.933851Z",
        "totalTransfers": 0,
        "completeTransfers": 0,
        "estimatedTotalBytes": 0,
        "totalBytesTransferred": 0,
    }


def sent(http: FakeTransport, method: str) -> list[tuple[str, dict[str, Any]]]:
    """(url, kwargs) of every request sent with ``method``, in order."""
    return [(call.url, call.kwargs) for call in http.sent if call.method == method]


def queries(http: FakeTransport, method: str = "GET") -> list[list[tuple[str, str]]]:
    """The query pairs of every request sent with ``method``, each sorted (mocks reorder them)."""
    return sorted(sorted(parse_qsl(urlsplit(url).query)) for url, _ in sent(http, method))
