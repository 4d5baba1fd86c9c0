"""Batch item JSON, built on demand for the page being served (never stored per item)."""

from __future__ import annotations

import uuid
from typing import Any

from ._batch_state import Batch, Phase, item_id
from ._negotiation import V3, V4
from ._payloads import Payloads

__all__ = ("STOPPED_INFO", "item_json")

STOPPED_INFO = "The job was stopped before this item was processed."


def item_json(
    batch: Batch, index: int, phase: Phase, media: str, now: float, payloads: Payloads, run_s: float
) -> dict[str, Any]:
    """Item ``index`` of ``batch`` at ``now`` as the ``media`` version shows it.

    Args:
        phase: ``batch.phase(now)``, computed once per page.
        run_s: how long a created analysis stays REQUESTED and then IN_PROGRESS.
    """
    status, outcome = batch.item_status(index, phase)
    out: dict[str, Any] = {"id": item_id(batch.id, index)}
    if batch.kind == "linking":
        data_id = batch.data_ids[index]
        if media == V3 and status == "PARTIALLY_LINKED":
            status = "FAILED"  # V3 predates PARTIALLY_LINKED (items changelog)
        out["request"] = {"dataId": data_id}
        if outcome is not None and outcome.status != "FAILED":
            out["createdProjectData"] = payloads.project_data(batch.project_id, data_id)
    elif batch.kind == "update":
        assert batch.group_of is not None
        group = batch.groups[batch.group_of[index]]
        request: dict[str, Any] = {"dataId": batch.data_ids[index]}
        for field in ("userTags", "technicalTags"):
            if group.get(field) is not None:
                # TagUpdate's lists are not nullable in answers: a null list is left out
                request[field] = {k: v for k, v in group[field].items() if v is not None}
        for field in ("willBeArchivedAt", "willBeDeletedAt"):
            if group.get(field) is not None:
                request[field] = group[field]
        out["request"] = request
    else:
        req = batch.requests[index]
        out["request"] = {
            "userReference": req.user_reference,
            "pipelineId": req.pipeline_id,
            "tags": {
                "technicalTags": list(req.technical_tags),
                "userTags": list(req.user_tags),
                "referenceTags": list(req.reference_tags),
            },
        }
        if outcome is not None and outcome.ok:
            out["createdAnalysis"] = payloads.analysis(
                v4=media == V4,
                analysis_id=str(uuid.uuid5(uuid.UUID(batch.id), f"analysis:{index}")),
                owner=batch.owner,
                request=req,
                created=batch.finish_time(index),
                now=now,
                run_s=run_s,
            )
    info = outcome.info if outcome else None
    stopped = batch.stop_time()
    if outcome is None and stopped is not None and now >= stopped:
        info = STOPPED_INFO
    out["processing"] = {"status": status, "additionalStatusInformation": info}
    return out
