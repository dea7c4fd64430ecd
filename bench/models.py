"""Benchmark: automatic segmentation of 1M contacts against a scikit-learn k-means baseline.

Three phases, each in its own process, so each peak RSS is its own:

1. ``features+segment``: ``Workspace.cluster(as_of)`` end to end (features computed and
   stored, preprocessing, selection over k = 2..12 on a sample, final fit on every contact,
   memberships stored), with the time of each step it reports.
2. ``ours``: from the stored features, ``clustering_input`` + ``AutoSegmenter`` set up as
   ``audience.models.clustering.cluster_contacts`` sets them up from the workspace's config.
3. ``baseline``: the same features, ``CLUSTER_FEATURES`` with missing values filled with the
   column median, ``StandardScaler``, then for each k in 2..12 scikit-learn ``KMeans``
   (defaults) on every row and the silhouette of a 10k sample; the best silhouette wins.

Both choices are scored against the generator's planted personas (adjusted Rand index).
Phases 2 and 3 read the features phase 1 stored; their load time is reported apart.

The machine may be shared: "CPU wait" is the share of each phase's wall time during which
some runnable task waited for a CPU (``/proc/pressure/cpu``). Under contention the
OpenMP threads of scikit-learn's k-means spin at barriers and can run ten times slower;
``--threads 1`` caps the BLAS/OpenMP pools of every phase to measure that.

    .venv/bin/python bench/models.py [--workspace DIR --truth truth.csv] [--contacts 1000000]

Without ``--workspace``, an audience is generated and ingested into ``--out`` first
(several minutes at 1M); ``bench/ingest.py --out DIR`` leaves one in ``DIR/ws`` with the
truth in ``DIR/data/truth.csv``. Phase 1 writes to the workspace (features at the as-of
and one segmentation run): point it at a copy of a workspace others use.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENERATED_AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
"""The generator's as-of (as in ``bench/ingest.py``): its events end just before it."""
AS_OF = datetime(2026, 11, 1, 23, 59, 59, tzinfo=UTC)
"""Features and segments are computed at this moment (as in ``bench/features.py``)."""
K_RANGE = range(2, 13)
SILHOUETTE_SAMPLE = 10_000
ROOT = Path(__file__).resolve().parent.parent

GOAL_SPEEDUP = 3.0
GOAL_SECONDS = 60.0


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Steps:
    """A progress callback that timestamps each change of step."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.marks: list[tuple[str, float]] = []

    def __call__(self, step: str, done: int, total: int) -> None:
        # "sweep" reports once per fitted candidate, "final fit" at its start and end.
        name = "store (describe + save)" if step == "final fit" and done == total else step
        if not self.marks or self.marks[-1][0] != name:
            self.marks.append((name, time.perf_counter()))

    def durations(self, ended: float) -> list[tuple[str, float]]:
        ends = [t for _, t in self.marks[1:]] + [ended]
        return [(name, end - start) for (name, start), end in zip(self.marks, ends, strict=True)]


def _truth(path: str) -> Any:
    import pandas as pd

    truth = pd.read_csv(path, dtype=str)
    return truth.rename(columns={"Customer ID": "contact_id"})[["contact_id", "persona"]]


def _ari(contact_ids: Any, labels: Any, truth_path: str) -> tuple[float, int]:
    """Adjusted Rand index of ``labels`` against the personas, on the contacts both know."""
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score  # type: ignore[import-untyped]

    ours = pd.DataFrame({"contact_id": contact_ids, "label": labels})
    joined = ours.merge(_truth(truth_path), on="contact_id", how="inner")
    return float(adjusted_rand_score(joined["persona"], joined["label"])), len(joined)


def _segment(workspace: str, truth: str) -> dict[str, Any]:
    from audience import Workspace

    steps = _Steps()
    with Workspace(workspace) as ws:
        report = ws.cluster(AS_OF, progress=steps)
        seconds = time.perf_counter() - steps.started
        rss = _peak_rss_mb()
        stored = ws.database.con.sql(
            "SELECT contact_id, segment_id FROM memberships WHERE run_id = $run",
            params={"run": report.run_id},
        ).to_df()
    ari, matched = _ari(stored["contact_id"], stored["segment_id"], truth)
    return {
        "seconds": seconds,
        "rss": rss,
        "method": report.method,
        "k": report.n_segments,
        "ari": ari,
        "rows": len(stored),
        "matched": matched,
        "run_id": report.run_id,
        "steps": steps.durations(steps.started + seconds),
    }


def _read(workspace: str) -> tuple[Any, Any, float]:
    from audience import Workspace
    from audience.store.features_table import read_features

    started = time.perf_counter()
    with Workspace(workspace) as ws:
        frame = read_features(ws.database, AS_OF)
        config = ws.config
    return frame, config, time.perf_counter() - started


def _ours(workspace: str, truth: str) -> dict[str, Any]:
    """Preprocessing and selection + final fit, set up as ``cluster_contacts`` does."""
    from audience.models.configured import configured_segmenter
    from audience.models.inputs import clustering_input

    frame, config, load = _read(workspace)
    models = config.models
    methods = list(models.methods) if models.method == "auto" else [models.method]
    started = time.perf_counter()
    inputs = clustering_input(frame, models, config.preprocess, methods[0])
    prepared = time.perf_counter()
    steps = _Steps()
    segmenter = configured_segmenter(
        models, models.method, models.k, inputs.categorical, progress=steps
    ).fit(inputs.matrix)
    done = time.perf_counter()
    rss = _peak_rss_mb()
    ari, matched = _ari(frame["contact_id"], segmenter.labels_, truth)
    fit_started = next((t for name, t in steps.marks if name == "final fit"), done)
    return {
        "seconds": done - started,
        "load": load,
        "preprocess": prepared - started,
        "selection": fit_started - prepared,
        "final_fit": done - fit_started,
        "rss": rss,
        "method": segmenter.method_,
        "k": segmenter.n_segments_,
        "ari": ari,
        "rows": len(frame),
        "matched": matched,
        "columns": inputs.matrix.shape[1],
    }


def _baseline(workspace: str, truth: str) -> dict[str, Any]:
    """Median fill, StandardScaler, KMeans for each k on every row, best 10k-sample silhouette."""
    import numpy as np
    from sklearn.cluster import KMeans  # type: ignore[import-untyped]
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

    from audience.config import CLUSTER_FEATURES

    frame, _config, load = _read(workspace)
    started = time.perf_counter()
    numbers = frame[list(CLUSTER_FEATURES)].astype(np.float64)
    X = StandardScaler().fit_transform(numbers.fillna(numbers.median()))
    prepared = time.perf_counter()
    sweep: list[dict[str, float]] = []
    best: tuple[float, int, Any] | None = None
    for k in K_RANGE:
        fit_started = time.perf_counter()
        labels = KMeans(n_clusters=k, random_state=0).fit(X).labels_
        fitted = time.perf_counter()
        score = float(silhouette_score(X, labels, sample_size=SILHOUETTE_SAMPLE, random_state=0))
        sweep.append(
            {
                "k": k,
                "silhouette": score,
                "fit": fitted - fit_started,
                "silhouette_s": time.perf_counter() - fitted,
            }
        )
        if best is None or score > best[0]:
            best = (score, k, labels)
    done = time.perf_counter()
    rss = _peak_rss_mb()
    assert best is not None
    ari, matched = _ari(frame["contact_id"], best[2], truth)
    return {
        "seconds": done - started,
        "load": load,
        "preprocess": prepared - started,
        "selection": done - prepared,
        "rss": rss,
        "method": "kmeans",
        "k": best[1],
        "ari": ari,
        "rows": len(frame),
        "matched": matched,
        "sweep": sweep,
    }


def _prepare(out: str, contacts: int) -> dict[str, Any]:
    from audience import Workspace
    from audience.synth import generate

    started = time.perf_counter()
    generated = generate(Path(out) / "data", contacts=contacts, seed=1, as_of=GENERATED_AS_OF)
    with Workspace.init(Path(out) / "ws") as ws:
        ws.ingest(generated.contacts_path, now=GENERATED_AS_OF)
        ws.ingest(generated.events_path, now=GENERATED_AS_OF)
    return {"seconds": time.perf_counter() - started, "rss": _peak_rss_mb()}


def _limited(threads: int | None, function: Any, *args: Any) -> dict[str, Any]:
    # Set before numpy and scikit-learn load their pools (this process imported neither yet).
    if threads is not None:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(threads)
    return function(*args)  # type: ignore[no-any-return]


def _cpu_wait_us() -> int | None:
    """Microseconds some task has waited for a CPU since boot (Linux PSI), if available."""
    try:
        line = Path("/proc/pressure/cpu").read_text(encoding="utf-8").splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(line.rsplit("total=", 1)[1])


def _in_child(function: Any, *args: Any, threads: int | None = None) -> dict[str, Any]:
    waited = _cpu_wait_us()
    started = time.perf_counter()
    with mp.get_context("spawn").Pool(1) as pool:
        result: dict[str, Any] = pool.apply(_limited, (threads, function, *args))
    after = _cpu_wait_us()
    if waited is not None and after is not None:
        result["cpu_wait"] = (after - waited) / 1e6 / (time.perf_counter() - started)
    result["loadavg_after"] = os.getloadavg()[0]
    return result


def _verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' (src modified)' if dirty else ''}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workspace", type=Path, help="an ingested workspace to reuse")
    parser.add_argument("--truth", type=Path, help="truth.csv (default: <workspace>/../data)")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("bench/out/models"))
    parser.add_argument(
        "--threads", type=int, help="cap BLAS/OpenMP threads in every phase (default: all)"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.workspace is None:
        for stale in ("ws", "data"):
            shutil.rmtree(args.out / stale, ignore_errors=True)
        prepared = _in_child(_prepare, str(args.out), args.contacts)
        print(f"generate + ingest {args.contacts:,} contacts: {prepared['seconds']:.1f} s")
        workspace = args.out / "ws"
    else:
        workspace = args.workspace
    truth = args.truth or workspace.parent / "data" / "truth.csv"
    if not truth.is_file():
        parser.error(f"no truth file at {truth}: pass --truth")
    print(
        f"workspace {workspace}, features at {AS_OF.isoformat()}, commit {_commit()}, "
        f"threads {args.threads or 'default'}, {os.cpu_count()} CPUs",
        flush=True,
    )

    segment = _in_child(_segment, str(workspace), str(truth), threads=args.threads)
    print(
        f"features+segment {segment['seconds']:.1f} s, {segment['rows']:,} memberships: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in segment["steps"]),
        flush=True,
    )
    ours = _in_child(_ours, str(workspace), str(truth), threads=args.threads)
    print(
        f"ours: load {ours['load']:.1f} s, preprocess {ours['preprocess']:.1f} s, "
        f"selection {ours['selection']:.1f} s, final fit {ours['final_fit']:.1f} s "
        f"({ours['columns']} columns)",
        flush=True,
    )
    base = _in_child(_baseline, str(workspace), str(truth), threads=args.threads)
    print(
        f"baseline: load {base['load']:.1f} s, preprocess {base['preprocess']:.1f} s, "
        "per k (fit + silhouette): "
        + ", ".join(f"{s['k']}: {s['fit']:.1f}+{s['silhouette_s']:.1f}" for s in base["sweep"]),
        flush=True,
    )
    for result in (segment, ours, base):
        assert result["matched"] == result["rows"], "contacts without a persona in the truth"

    print()
    print(
        f"{'phase':<30} {'wall s':>8} {'peak RSS MB':>12} {'method':>8} {'k':>3} {'ARI':>7} "
        f"{'CPU wait':>9}"
    )
    rows = [
        ("features+segment (end to end)", segment),
        ("ours (preprocess+select+fit)", ours),
        ("baseline (scale+KMeans 2..12)", base),
    ]
    for name, result in rows:
        print(
            f"{name:<30} {result['seconds']:>8.1f} {result['rss']:>12,.0f} "
            f"{result['method']:>8} {result['k']:>3} {result['ari']:>7.3f} "
            f"{result.get('cpu_wait', math.nan):>9.0%}"
        )
    speedup = base["seconds"] / ours["seconds"]
    ari_gain = ours["ari"] - base["ari"]
    goals = {
        "speedup": speedup >= GOAL_SPEEDUP,
        "ari": ari_gain >= 0,
        "end_to_end": segment["seconds"] <= GOAL_SECONDS,
    }
    print()
    print(
        f"baseline / ours wall: {speedup:.1f}x  (goal >= {GOAL_SPEEDUP:.0f}x: "
        f"{_verdict(goals['speedup'])})"
    )
    print(f"ARI ours - baseline: {ari_gain:+.3f}  (goal >= 0: {_verdict(goals['ari'])})")
    print(
        f"features+segment at {segment['rows']:,} contacts: {segment['seconds']:.1f} s  "
        f"(goal <= {GOAL_SECONDS:.0f} s at 1M: {_verdict(goals['end_to_end'])}"
        + ("" if segment["rows"] >= 1_000_000 else ", not a 1M run")
        + ")"
    )
    results = {
        "workspace": str(workspace),
        "as_of": AS_OF.isoformat(),
        "commit": _commit(),
        "threads": args.threads,
        "contacts": segment["rows"],
        "features_segment": segment,
        "ours": ours,
        "baseline": base,
        "speedup": speedup,
        "ari_difference": ari_gain,
        "goals_met": goals,
    }
    path = args.out / "results.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
