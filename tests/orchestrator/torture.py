"""The torture run: seeded faults, SIGKILLs and two processes on one journal, then an audit.

The seed also picks from a menu of scenarios: a backward clock step before the final resume,
and reruns of the finished run with another batch size, reordered or repeated ids.

Used by ``test_torture.py`` (a small configuration, in ``make test``) and by ``make torture``
(``python -m tests.orchestrator.torture [--seed N] [--rounds N] [--scale N]``), which prints its
seed first so that a failure can be replayed with ``--seed``.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sqlite3
import sys
import tempfile
import textwrap
from pathlib import Path

import anyio
import attrs

from ica_tapis_async.simulator import Simulator

PROJECT = "3f1e8d0a-0000-4000-8000-00000000e001"

JOB = textwrap.dedent(
    f"""
    import asyncio, json, sys
    import ica_tapis_async as ita

    async def main(ica_url, tapis_url, journal, links, analyses, transfers):
        ids = [f"fil.t{{i}}" for i in range(links)]
        requests = [
            ita.CreateNextflowAnalysis(
                f"t-{{i}}", "pipe-1", ita.NextflowAnalysisInput([ita.AnalysisDataInput("r")])
            )
            for i in range(analyses)
        ]
        moves = [
            ita.TransferRequest(
                [ita.ReqTransferElement(f"tapis://src/t{{i}}/?files=2", f"tapis://dst/t{{i}}/")]
            )
            for i in range(transfers)
        ]
        policy = ita.RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)
        timeouts = ita.Timeouts(total=1.0)
        out = {{}}
        async with ita.IcaClient(ica_url, api_key="k", retry=policy, timeouts=timeouts) as ica:
            options = dict(
                journal=journal, max_inflight_batches=3, poll_initial=0.02, poll_max=0.1,
                poll_timeout=5.0, lease_ttl=1.0,
            )
            async with ita.BatchOrchestrator(ica, "{PROJECT}", batch_size=25, **options) as o:
                out["link"] = (await o.link(ids)).to_dict()
            async with ita.BatchOrchestrator(ica, "{PROJECT}", batch_size=5, **options) as o:
                report = await o.create_analyses(requests)
                out["analysis"] = report.to_dict()
        async with ita.TapisClient(tapis_url, token="t", retry=policy, timeouts=timeouts) as t:
            orch = ita.TransferOrchestrator(
                t, journal=journal, max_in_flight=4, poll_initial=0.02, poll_max=0.1,
                lease_ttl=1.0,
            )
            report = await orch.run(moves)
            await orch.aclose()
            uuids = [o.uuid for o in report.outcomes]
            out["transfer"] = {{"counts": report.counts, "uuids": uuids}}
        print(json.dumps(out))

    asyncio.run(main(*sys.argv[1:4], *map(int, sys.argv[4:7])))
    """
)


@attrs.define
class Config:
    """Sizes and rounds of one torture run."""

    links: int = 100
    analyses: int = 30
    transfers: int = 6
    rounds: int = 2
    workers: int = 2


def faults(rng: random.Random) -> dict[str, object]:
    """A seeded mix of faults: 503s, answers lost before and after processing, slow 409
    windows, throttling, slow answers and approximate counts."""
    return {
        "p_503": rng.uniform(0.0, 0.1),
        "p_drop_before": rng.uniform(0.0, 0.08),
        "p_drop_after_post": rng.uniform(0.05, 0.3),
        "idempotent_processing_s": rng.choice([0.0, 0.3, 1.5]),
        "rate_limit": rng.choice([None, 150.0]),
        "tapis_rate_limit": rng.choice([None, 100.0]),
        "p_slow": rng.uniform(0.0, 0.05),
        "slow_s": 0.3,
        "step_s": 0.02,
        "tapis_step_s": 0.03,
    }


async def _start(script: Path, sim: Simulator, journal: Path, config: Config) -> anyio.abc.Process:
    argv = [sys.executable, str(script), sim.ica_url, sim.tapis_url, str(journal)]
    argv += [str(config.links), str(config.analyses), str(config.transfers)]
    return await anyio.open_process(argv)


async def torture(seed: int, config: Config, workdir: Path) -> dict[str, object]:
    """Run the torture for ``seed``; raises AssertionError naming the seed on any breach."""
    rng = random.Random(seed)
    script = workdir / "job.py"
    script.write_text(JOB)
    journal = workdir / "journal.sqlite"
    async with Simulator(seed=seed) as sim:
        sim.configure(**faults(rng))
        for _ in range(config.rounds):
            processes = [await _start(script, sim, journal, config) for _ in range(config.workers)]
            # Kill each process at a random point of its work (counted in server requests, so
            # that a slow start-up on a loaded machine does not make every kill a no-op).
            budget = (config.links // 25 + config.analyses // 5 + config.transfers) * 4
            async with anyio.create_task_group() as tg:
                for process in processes:
                    tg.start_soon(_kill_later, process, sim, rng.randint(1, budget))
        # The final resume: faults off, every process runs to the end and reports.
        sim.configure(
            p_503=0.0, p_drop_before=0.0, p_drop_after_post=0.0, p_slow=0.0,
            idempotent_processing_s=0.0,
        )  # fmt: skip
        reports: list[dict[str, object]] = []
        menu = identity_menu(seed)
        began = anyio.current_time()
        step_clock_back(journal, menu.clock_step_s)
        for _attempt in range(3):
            reports = await _final(script, sim, journal, config)
            if all(_settled(r, config) for r in reports):
                break
        _audit(seed, sim, config, reports)
        check_clock_step(seed, menu, anyio.current_time() - began)
        await identity_reruns(seed, menu, sim, journal, config)
        return {"seed": seed, "reports": reports, "stats": sim.stats.to_dict()}


async def _kill_later(process: anyio.abc.Process, sim: Simulator, requests: int) -> None:
    target = sim.stats.requests + requests
    async with process:
        with anyio.move_on_after(60):
            # The state lives in the simulator's counters: nothing to await but time.
            while process.returncode is None and sim.stats.requests < target:  # noqa: ASYNC110
                await anyio.sleep(0.005)
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
            await process.wait()


async def _final(
    script: Path, sim: Simulator, journal: Path, config: Config
) -> list[dict[str, object]]:
    reports: list[dict[str, object]] = []

    async def one() -> None:
        argv = [sys.executable, str(script), sim.ica_url, sim.tapis_url, str(journal)]
        argv += [str(config.links), str(config.analyses), str(config.transfers)]
        done = await anyio.run_process(argv, check=False)
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        reports.append(json.loads(done.stdout))

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            for _ in range(config.workers):
                tg.start_soon(one)
    return reports


def _settled(report: dict[str, object], config: Config) -> bool:
    link = report["link"]
    analysis = report["analysis"]
    transfer = report["transfer"]
    assert isinstance(link, dict)
    assert isinstance(analysis, dict)
    assert isinstance(transfer, dict)
    return (
        set(link["counts"]) <= {"LINKED", "ALREADY_LINKED"}
        and analysis["counts"] == {"SUCCEEDED": config.analyses}
        and transfer["counts"] == {"COMPLETED": config.transfers}
    )


def _audit(seed: int, sim: Simulator, config: Config, reports: list[dict[str, object]]) -> None:
    where = f"(replay with: make torture SEED={seed})"
    ids = {f"fil.t{i}" for i in range(config.links)}
    assert ids <= sim.links(PROJECT), f"data ids not linked {where}"
    made = sim.stats.analyses_by_user_reference
    assert set(made) == {f"t-{i}" for i in range(config.analyses)}, f"analyses missing {where}"
    twice = {ref: n for ref, n in made.items() if n != 1}
    assert not twice, f"analyses created more than once: {twice} {where}"
    assert sim.stats.tapis_tasks == config.transfers, (
        f"{sim.stats.tapis_tasks} Tapis tasks for {config.transfers} requests {where}"
    )
    for report in reports:
        assert _settled(report, config), f"report differs from the server: {report} {where}"
        link = report["link"]
        assert isinstance(link, dict), where
        assert link["total"] == config.links, where
        transfer = report["transfer"]
        assert isinstance(transfer, dict)
        assert len(set(transfer["uuids"])) == config.transfers, f"tasks reported twice {where}"
    first = reports[0]["transfer"]
    assert all(r["transfer"] == first for r in reports), f"processes disagree {where}"


# --- Run identity and clock steps (issue 19, points 1, 5, 6 and 7) -----------------------------
# Seeded from the torture's seed, with a random generator of their own, so that the faults and
# kills of a seed stay what they were.


@attrs.define
class IdentityMenu:
    """What the seed turned on: a backward clock step before the final resume, and reruns of
    the finished link run with other input or options."""

    clock_step_s: float
    batch_size: int | None
    reruns: tuple[str, ...]


def identity_menu(seed: int) -> IdentityMenu:
    """The seed's choice of clock step and reruns."""
    rng = random.Random(seed * 19 + 1)
    reruns = ("batch_size", "reordered", "repeated")
    return IdentityMenu(
        clock_step_s=rng.choice([0.0, 60.0]),
        batch_size=rng.choice([5, 10, 50, None]),  # the job's is 25; None: the default
        reruns=tuple(r for r in reruns if rng.random() < 0.7) or ("batch_size",),
    )


def step_clock_back(journal: Path, seconds: float) -> int:
    """Make every lease of the journal end ``seconds`` later, as if the wall clock had stepped
    back by that much after the killed workers wrote them; returns how many moved."""
    if not seconds:
        return 0
    with sqlite3.connect(journal) as db:
        moved = db.execute(
            "UPDATE ita_chunks_v2 SET expires = expires + ? WHERE expires IS NOT NULL",
            (seconds,),
        ).rowcount
    return int(moved)


def check_clock_step(seed: int, menu: IdentityMenu, elapsed: float) -> None:
    """A lease further ahead than lease_ttl is never trusted: the final resume after a step
    takes seconds, not the step (it waited out the whole step before the fix)."""
    if menu.clock_step_s:
        assert elapsed < menu.clock_step_s / 2, (
            f"the resume after a {menu.clock_step_s:g} s clock step took {elapsed:.1f} s "
            f"(replay with: make torture SEED={seed})"
        )


def _rerun_inputs(seed: int, menu: IdentityMenu, links: int) -> dict[str, tuple[list[str], int]]:
    rng = random.Random(seed * 19 + 2)
    ids = [f"fil.t{i}" for i in range(links)]
    reordered = ids[:]
    rng.shuffle(reordered)
    if reordered == ids:
        reordered[0], reordered[-1] = reordered[-1], reordered[0]
    at = rng.randrange(1, links)
    options: dict[str, tuple[list[str], int]] = {
        "reordered": (reordered, 25),
        "repeated": ([*ids[:at], ids[at - 1], *ids[at:]], 25),
    }
    return {name: options[name] for name in menu.reruns if name in options}


async def identity_reruns(
    seed: int, menu: IdentityMenu, sim: Simulator, journal: Path, config: Config
) -> None:
    """The finished link run called again with another batch size, reordered or repeated ids:
    each is one JournalMismatchError naming the run, and nothing is sent; the same input and
    options replay the run's report."""
    import ica_tapis_async as ita

    where = f"(replay with: make torture SEED={seed})"
    ids = [f"fil.t{i}" for i in range(config.links)]
    attempts = _rerun_inputs(seed, menu, config.links)
    if "batch_size" in menu.reruns:
        attempts["batch_size"] = (ids, menu.batch_size or 0)
    batches = dict(sim.stats.batches)
    async with ita.IcaClient(sim.ica_url, api_key="k") as ica:
        for name, (items, size) in sorted(attempts.items()):
            orch = ita.BatchOrchestrator(ica, PROJECT, journal=journal, batch_size=size or None)
            try:
                await orch.link(items)
            except ita.orchestrator.JournalMismatchError as refused:
                assert "run" in str(refused), f"{name}: {refused} {where}"
            else:
                raise AssertionError(f"{name} rerun was not refused {where}")
            finally:
                await orch.aclose()
        orch = ita.BatchOrchestrator(ica, PROJECT, journal=journal, batch_size=25)
        replay = await orch.link(ids)
        await orch.aclose()
    assert replay.total == config.links, f"replay has {replay.total} outcomes {where}"
    assert set(replay.counts) <= {"LINKED", "ALREADY_LINKED"}, f"{replay.counts} {where}"
    assert dict(sim.stats.batches) == batches, f"a refused rerun sent batches {where}"


# --- Exactly once at the edges (issue 19, points 2-4) ------------------------------------------
# Three scenarios of their own, on a faithful simulator: two workers on one journal run a chain
# of update chunks that all touch the same data ids while answers are lost and batch timings
# change under them (orphans slower than their re-sends), and one worker is frozen (SIGSTOP)
# past its lease at a random point, possibly between its renewal and its create; then linking
# with stopped jobs and lost answers, whose report must agree with the server item by item.

ORDER_JOB = textwrap.dedent(
    f"""
    import asyncio, json, sys
    import ica_tapis_async as ita

    def group(k, ids):
        add = [t for t, on in (("a", k % 2 == 0), ("b", k % 3 == 0)) if on]
        remove = [t for t, on in (("a", k % 2 != 0), ("b", k % 3 != 0)) if on]
        return ita.DataUpdateGroup(ids, user_tags=ita.TagUpdate(add_tags=add, remove_tags=remove))

    async def main(ica_url, journal, kind, n, groups, window):
        ids = [f"fil.o{{i}}" for i in range(n)]
        policy = ita.RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)
        timeouts = ita.Timeouts(total=1.0)
        async with ita.IcaClient(ica_url, api_key="k", retry=policy, timeouts=timeouts) as ica:
            options = dict(
                journal=journal, max_inflight_batches=3, poll_initial=0.02, poll_max=0.1,
                poll_timeout=5.0, lease_ttl=1.0, orphan_window=window,
            )
            size = n if kind == "update" else max(1, n // 20)
            async with ita.BatchOrchestrator(ica, "{PROJECT}", batch_size=size, **options) as o:
                if kind == "update":
                    stream = o.stream_update([group(k, ids) for k in range(groups)])
                else:
                    stream = o.stream_link(ids)
                async with stream as outcomes:
                    out = [[x.key, x.status, x.ok, x.resubmitted] async for x in outcomes]
        print(json.dumps(out))

    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:6]),
                     float(sys.argv[6])))
    """
)
#: Update groups in the chain (each one chunk, all touching every id), and ids per chunk.
ORDER_GROUPS = 6
ORDER_IDS = 12
#: Ids linked with stopped jobs and lost answers (20 chunks).
LINK_IDS = 100
#: Far longer than an orphan takes (three steps of at most SLOW_STEP_S, then the items).
ORDER_WINDOW_S = 1.0
SLOW_STEP_S = 0.15
PENDING = {"INITIALISED", "WAITING_RESOURCES", "RUNNING", "UPDATING"}


def expected_tags() -> list[str]:
    """The tags every id ends with when the groups are applied in the caller's order."""
    tags: set[str] = set()
    for k in range(ORDER_GROUPS):
        for tag, on in (("a", k % 2 == 0), ("b", k % 3 == 0)):
            tags.add(tag) if on else tags.discard(tag)
    return sorted(tags)


async def order_torture(seed: int, workdir: Path) -> dict[str, object]:
    """The issue-19 scenarios for ``seed``; raises AssertionError naming the seed on a breach."""
    rng = random.Random(seed * 7919 + 19)
    where = f"(replay with: make torture SEED={seed})"
    workdir = workdir / f"order-{seed}"  # journals of its own, whatever ran before
    workdir.mkdir()
    script = workdir / "order_job.py"
    script.write_text(ORDER_JOB)
    from ica_tapis_async.simulator import SimulatorConfig

    creates = {"createProjectDataUpdateBatch", "createProjectDataLinkingBatch"}
    config = SimulatorConfig.faithful(
        seed=seed, p_drop_after_post=rng.uniform(0.1, 0.3), fault_operations=creates
    )
    async with Simulator(config) as sim:
        journal = workdir / "order.sqlite"
        argv = [sys.executable, str(script), sim.ica_url, str(journal), "update"]
        argv += [str(ORDER_IDS), str(ORDER_GROUPS), str(ORDER_WINDOW_S)]
        async with anyio.create_task_group() as tg:
            tg.start_soon(_flip_timings, sim, rng)
            processes = [await anyio.open_process(argv) for _ in range(2)]
            await _freeze_once(processes[rng.randrange(2)], sim, rng)
            for process in processes:
                await process.wait()
            sim.configure(p_drop_after_post=0.0)
            outcomes: list[list[object]] = []
            for _attempt in range(3):
                done = await anyio.run_process(argv, check=False)
                assert done.returncode == 0, done.stderr.decode()[-3000:]
                outcomes = json.loads(done.stdout)
                if all(o[1] == "UPDATED" for o in outcomes):
                    break
            tg.cancel_scope.cancel()
        assert len(outcomes) == ORDER_IDS * ORDER_GROUPS, where
        assert all(o[1] == "UPDATED" for o in outcomes), f"{outcomes} {where}"
        await anyio.sleep(ORDER_WINDOW_S)  # every orphan has landed by now
        for i in range(ORDER_IDS):
            tags = sorted(sim.data(f"fil.o{i}")["details"]["tags"]["userTags"])
            assert tags == expected_tags(), f"fil.o{i} ends with {tags}: out of order {where}"
        updates = sim.stats.batches.get("update", 0)
        sim.configure(
            p_drop_after_post=rng.uniform(0.2, 0.4), stop_rate=rng.uniform(0.3, 0.6),
            step_s=0.02,
        )  # fmt: skip
        argv = [sys.executable, str(script), sim.ica_url, str(workdir / "stop.sqlite"), "link"]
        argv += [str(LINK_IDS), "0", str(ORDER_WINDOW_S)]
        run = await anyio.run_process(argv, check=False)
        assert run.returncode == 0, run.stderr.decode()[-3000:]
        _audit_links(json.loads(run.stdout), sim.links(PROJECT), where)
        return {"updates": updates, "stopped": sim.stats.batches_stopped}


def _audit_links(outcomes: list[list[object]], linked: frozenset[str], where: str) -> None:
    """Item by item: ok means linked, a pending status (never processed) means not linked, and
    only an item whose chunk was sent more than once may be in doubt."""
    assert len(outcomes) == LINK_IDS, where
    for key, status, ok, resubmitted in outcomes:
        if ok:
            assert key in linked, f"{key} reported {status} but not linked {where}"
        elif status in PENDING:
            assert key not in linked, f"{key} reported {status} but linked {where}"
        else:
            assert status == "IN_DOUBT", f"{key}: {status} {where}"
            assert resubmitted, f"{key} in doubt, yet sent once {where}"


async def _flip_timings(sim: Simulator, rng: random.Random) -> None:
    """Batch timings are frozen when a batch is created: batches are slow, except for a moment
    after each lost answer, so that the orphan is slower than its re-send and the next chunk."""
    sim.configure(step_s=SLOW_STEP_S)
    seen = 0
    while True:
        await anyio.sleep(0.002)
        drops = sim.stats.faults.get("drop_after_post", 0)
        if drops != seen:
            seen = drops
            sim.configure(step_s=0.005)
            await anyio.sleep(rng.uniform(0.1, 0.4))
            sim.configure(step_s=SLOW_STEP_S)


async def _freeze_once(process: anyio.abc.Process, sim: Simulator, rng: random.Random) -> None:
    """SIGSTOP the process at a random point of its work for longer than its lease, then let
    it go on: whatever it was about to send, its lease was taken over meanwhile."""
    target = sim.stats.requests + rng.randint(1, 20)
    with anyio.move_on_after(30):
        while process.returncode is None and sim.stats.requests < target:  # noqa: ASYNC110
            await anyio.sleep(0.002)
    if process.returncode is None:
        process.send_signal(signal.SIGSTOP)
        await anyio.sleep(2.5)  # lease_ttl is 1 s
        process.send_signal(signal.SIGCONT)


def main() -> None:
    """``make torture``: a long run with its seed printed first."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--scale", type=int, default=5, help="multiplies the input sizes")
    args = parser.parse_args()
    print(f"torture seed {args.seed} (replay: make torture SEED={args.seed})", flush=True)
    config = Config(
        links=100 * args.scale, analyses=30 * args.scale, transfers=6 * args.scale,
        rounds=args.rounds,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        result = anyio.run(torture, args.seed, config, Path(tmp))
        for _round in range(args.rounds):
            anyio.run(order_torture, args.seed + _round, Path(tmp))
    stats = result["stats"]
    assert isinstance(stats, dict)
    print(f"torture seed {args.seed}: passed ({json.dumps(stats.get('faults', {}))})")


if __name__ == "__main__":
    main()
