"""One worker process of a cooperative run: ``python -m tests.scaleout._worker CONFIG_JSON``.

Runs the configured job (link, update, analyses or Tapis transfers) with the same input, run id
and journal as its peers, and prints its report as one JSON line. With ``redis`` in the
configuration, the client paces itself with a shared :class:`RedisRateLimiter`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import ica_tapis_async as ita

PROJECT = "3f1e8d0a-0000-4000-8000-00000000c0a9"
RETRY = ita.RetryPolicy(max_attempts=30, total_timeout=120, initial_backoff=0.02, max_backoff=0.5)


def items(op: str, count: int, variant: str = "") -> list[Any]:
    """The run's input; ``variant`` changes it (a worker started with other input)."""
    if op in ("link", "update"):
        ids = [f"fil.{variant}{i:030x}" for i in range(count)]
        if op == "link":
            return ids
        tags = ita.TagUpdate(add_tags=["scaleout"])
        return [ita.DataUpdateGroup(ids, user_tags=tags)]
    if op == "analyses":
        return [
            ita.CreateNextflowAnalysis(
                f"sample-{variant}{i}",
                "pipe-1",
                ita.NextflowAnalysisInput([ita.AnalysisDataInput("reads", data_ids=["fil.1"])]),
            )
            for i in range(count)
        ]
    return [
        ita.TransferRequest(
            [ita.ReqTransferElement(f"tapis://src/{variant}run{i}/?files=2", f"tapis://dst/r{i}/")]
        )
        for i in range(count)
    ]


async def work(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run the job; the report as plain data."""
    limiter = None
    if cfg.get("redis"):
        limiter = ita.RedisRateLimiter(
            cfg["redis"], cfg["limit_name"], rate=cfg.get("rate"), retry_unavailable_s=0.2
        )
    job = items(cfg["op"], cfg["count"], cfg.get("variant", ""))
    try:
        if cfg["op"] == "transfers":
            async with ita.TapisClient(cfg["tapis_url"], token="t", retry=RETRY) as tapis:
                transfers = ita.TransferOrchestrator(
                    tapis, journal=cfg["journal"], run_id=cfg["run_id"], lease_ttl=cfg["ttl"],
                    poll_initial=0.05, poll_max=0.2,
                )  # fmt: skip
                try:
                    report = await transfers.run(job)
                finally:
                    await transfers.aclose()
                return {"total": len(report.outcomes), "counts": report.counts}
        async with (
            ita.IcaClient(cfg["ica_url"], api_key="k", retry=RETRY, limiter=limiter) as ica,
            ita.BatchOrchestrator(
                ica, PROJECT, journal=cfg["journal"], run_id=cfg["run_id"], lease_ttl=cfg["ttl"],
                batch_size=cfg["batch_size"], poll_initial=0.05, poll_max=0.2,
            ) as orchestrator,
        ):  # fmt: skip
            if cfg["op"] == "link":
                batch = await orchestrator.link(job)
            elif cfg["op"] == "update":
                batch = await orchestrator.update(job)
            else:
                batch = await orchestrator.create_analyses(job)
            return batch.to_dict()
    finally:
        if limiter is not None:
            await limiter.aclose()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(work(json.loads(sys.argv[1])))), flush=True)
