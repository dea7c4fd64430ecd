"""Benchmark: raw files to segments, Audience's CLI against a pandas + scikit-learn notebook.

The audience is generated once (``audience.synth.generate``, seed 1) and kept by size under
``--out`` (or read from ``--data``). Then, for each of ``--rounds`` rounds, A then B, each
step in a fresh process:

A. Audience, the real CLI in a fresh workspace: ``audience init``, ``audience ingest
   contacts.csv``, ``audience ingest events.parquet``, ``audience segment --flat``.
B. ``bench/notebook_baseline.py``: read both files with pandas, groupby features, scale,
   KMeans k = 2..12 chosen by a sampled silhouette, labels written.

Both sides get the same thread settings: ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
``MKL_NUM_THREADS`` in their environment, and DuckDB's ``[store] threads`` in the
workspace's audience.toml (written between ``init`` and the first ingest, untimed). The
table gives each step's wall time per round and the median; the ratio is notebook /
Audience (the goal of issue 13 is >= 2). Each side's labels are scored against the planted
personas (truth.csv) with the adjusted Rand index; Audience's are read from the run's
memberships in the workspace after the run, untimed.

    .venv/bin/python bench/e2e.py [--contacts 200000] [--rounds 2] [--threads 1]
        [--data DIR] [--out bench/out/e2e]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENERATED_AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
"""The generator's as-of (as in ``bench/ingest.py``): its events end just before it."""
SEGMENT_AS_OF = "2026-11-01"
"""``audience segment --as-of``: the end of that day, as in ``bench/models.py``."""
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "bench" / "notebook_baseline.py"
AUDIENCE = Path(sys.executable).parent / "audience"
GOAL_RATIO = 2.0
FILES = ("contacts.csv", "events.parquet", "truth.csv")


def _data(args: argparse.Namespace) -> Path:
    """The audience's folder: ``--data``, else generated once per size under ``--out``."""
    if args.data is not None:
        missing = [name for name in FILES if not (args.data / name).is_file()]
        if missing:
            sys.exit(f"--data {args.data} lacks {', '.join(missing)}")
        return Path(args.data)
    folder = Path(args.out) / f"data-{args.contacts}"
    if all((folder / name).is_file() for name in FILES):
        return folder
    from audience.synth import generate

    started = time.perf_counter()
    print(f"generating {args.contacts:,} contacts into {folder} ...", flush=True)
    generate(folder, contacts=args.contacts, seed=1, as_of=GENERATED_AS_OF)
    print(f"generated in {time.perf_counter() - started:.0f} s", flush=True)
    return folder


def _environment(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    env["COLUMNS"] = "120"  # the CLI's tables, if anyone reads the log
    return env


def _timed(command: list[str], env: dict[str, str], log: Path) -> tuple[float, str]:
    """Wall seconds of one process, and its standard output; stops the bench on failure."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command)}  ({seconds:.2f} s)\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        sys.exit(f"{command[0]} failed (exit {done.returncode}); see {log}\n{done.stderr}")
    return seconds, done.stdout


def _set_duckdb_threads(workspace: Path, threads: int) -> None:
    config = workspace / "audience.toml"
    text = config.read_text(encoding="utf-8")
    text, found = re.subn(r"^\[store\]$", f"[store]\nthreads = {threads}", text, flags=re.M)
    if found != 1:
        sys.exit(f"{config} has no [store] section to set threads in")
    config.write_text(text, encoding="utf-8")


def _audience_round(data: Path, out: Path, env: dict[str, str], threads: int) -> dict[str, Any]:
    workspace = out / "ws"
    shutil.rmtree(workspace, ignore_errors=True)
    log = out / "audience.log"
    cli = str(AUDIENCE)
    steps: dict[str, float] = {}
    steps["init"], _ = _timed([cli, "init", str(workspace)], env, log)
    _set_duckdb_threads(workspace, threads)
    where = ["--workspace", str(workspace)]
    steps["ingest contacts"], _ = _timed([cli, "ingest", str(data / FILES[0]), *where], env, log)
    steps["ingest events"], _ = _timed([cli, "ingest", str(data / FILES[1]), *where], env, log)
    segment = [cli, "segment", "--flat", "--as-of", SEGMENT_AS_OF, *where]
    steps["segment --flat"], _ = _timed(segment, env, log)
    return {"steps": steps, "labels": _memberships(workspace)}


def _memberships(workspace: Path) -> Any:
    """The flat run's segment of every contact (a fresh workspace holds one ``seg-`` run)."""
    import duckdb

    with duckdb.connect(str(workspace / "audience.duckdb"), read_only=True) as con:
        return con.sql(
            "SELECT contact_id, segment_id AS label FROM memberships WHERE run_id = "
            "(SELECT max(run_id) FROM runs WHERE run_id LIKE 'seg-%')"
        ).df()


def _notebook_round(data: Path, out: Path, env: dict[str, str]) -> dict[str, Any]:
    import pandas as pd

    labels = out / "notebook_labels.csv"
    command = [sys.executable, str(NOTEBOOK), str(data), str(labels)]
    total, stdout = _timed(command, env, out / "notebook.log")
    reported = json.loads(stdout.split("steps ", 1)[1])
    steps = {name: float(value) for name, value in reported.items() if name != "k"}
    steps["start-up + write"] = total - sum(steps.values())
    return {"steps": steps, "labels": pd.read_csv(labels, dtype={"contact_id": str})}


def _ari(labels: Any, truth: Path) -> tuple[float, int]:
    """Adjusted Rand index against the planted personas, and how many contacts it covers."""
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score  # type: ignore[import-untyped]

    personas = pd.read_csv(truth, dtype=str).rename(columns={"Customer ID": "contact_id"})
    joined = labels.merge(personas, on="contact_id", how="inner")
    return float(adjusted_rand_score(joined["persona"], joined["label"])), len(joined)


def _table(side: str, rounds: list[dict[str, float]]) -> float:
    """Print each step per round and its median; returns the median of the totals."""
    print(f"\n{side}")
    names = list(rounds[0])
    header = "".join(f"{'round ' + str(i + 1):>10}" for i in range(len(rounds)))
    print(f"  {'step':<20}{header}{'median':>10}")
    for name in [*names, "total"]:
        values = [sum(r.values()) if name == "total" else r[name] for r in rounds]
        cells = "".join(f"{v:>10.2f}" for v in values)
        print(f"  {name:<20}{cells}{statistics.median(values):>10.2f}")
    return statistics.median(sum(r.values()) for r in rounds)


def _commit() -> str:
    def git(*args: str) -> str:
        command = ["git", "-C", str(ROOT), *args]
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()

    modified = " (src modified)" if git("status", "--short", "src") else ""
    return git("rev-parse", "--short", "HEAD") + modified


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="threads of both sides")
    parser.add_argument("--data", type=Path, help="a generated audience to use (read only)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "e2e")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = _data(args)
    env = _environment(args.threads)
    print(
        f"data {data}, {args.rounds} rounds A B, threads {args.threads}, commit {_commit()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    results: dict[str, list[dict[str, Any]]] = {"audience": [], "notebook": []}
    for number in range(args.rounds):
        ours = _audience_round(data, args.out, env, args.threads)
        results["audience"].append(ours)
        theirs = _notebook_round(data, args.out, env)
        results["notebook"].append(theirs)
        print(
            f"round {number + 1}: audience {sum(ours['steps'].values()):.1f} s, "
            f"notebook {sum(theirs['steps'].values()):.1f} s",
            flush=True,
        )
    audience = _table("Audience (CLI)", [r["steps"] for r in results["audience"]])
    notebook = _table("notebook (pandas + scikit-learn)", [r["steps"] for r in results["notebook"]])
    truth = data / "truth.csv"
    scores = {side: _ari(rounds[-1]["labels"], truth) for side, rounds in results.items()}
    ratio = notebook / audience
    print(f"\nratio notebook / Audience: {ratio:.2f}x (goal >= {GOAL_RATIO:.0f}x)")
    for side, (ari, matched) in scores.items():
        print(f"ARI {side}: {ari:.3f} ({matched:,} contacts with a persona)")
    summary = {
        "data": str(data),
        "threads": args.threads,
        "commit": _commit(),
        "audience": [r["steps"] for r in results["audience"]],
        "notebook": [r["steps"] for r in results["notebook"]],
        "median_seconds": {"audience": audience, "notebook": notebook},
        "ratio": ratio,
        "ari": {side: ari for side, (ari, _) in scores.items()},
    }
    path = args.out / "results.json"
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
