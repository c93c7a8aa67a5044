"""One measurement of ``benchmarks/engine.py`` in a fresh interpreter: ``KIND JOB_FILE ARG``.

A process per measurement keeps each peak RSS (VmHWM) that engine's own, and lets the
drift children run under an environment that forces a CPU path. CTranslate2 children
never import torch (torch alone is ~220 MB of RSS). Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import _engine_drift as drift  # noqa: E402
import _engine_runners as runners  # noqa: E402
import _engine_scaling as scaling  # noqa: E402
import _engine_workload as wl  # noqa: E402

NO_TORCH = {"ct2_groups", "ct2_longest", "scale_ct2"}


def _points(job: dict[str, Any], kind: str) -> dict[int, list[wl.Chat]]:
    return {
        int(n): [[(src, out) for src, out in chat] for chat in chats]
        for n, chats in job["scaling"][kind].items()
    }


def _run(kind: str, job: dict[str, Any], arg: str) -> dict[str, Any]:
    model, ct2, threads = Path(job["model"]), Path(job["ct2"]), job["threads"]
    workload = [tuple(r) for r in job["workload"]]
    single = (job["single"][0], job["single"][1])
    if kind.startswith("hf_"):
        return runners.run_transformers(model, workload, single, kind == "hf_batch")
    if kind.startswith("ct2_"):
        policy = kind.removeprefix("ct2_")
        return runners.run_ctranslate2(ct2, workload, single, threads, wl.token, policy)
    if kind.startswith("seqbot_"):
        int8 = kind == "seqbot_int8"
        return runners.run_seqbot(model, workload, single, threads, int8, wl.text)
    if kind == "reference":
        sources = [r[1] for r in workload[: job["drift_samples"]]]
        return drift.run_reference(model, sources, job["drift_new_tokens"])
    if kind == "drift_path":
        return drift.run_path(
            model,
            ct2,
            Path(job["ct2_fp32"]),
            job["reference"],
            threads,
            job["drift_new_tokens"],
            wl.text,
        )
    if kind == "scale_seqbot":
        return scaling.run_seqbot(model, _points(job, arg), threads, wl.text)
    workload_kind, policy = arg.split(":")
    return scaling.run_ctranslate2(ct2, _points(job, workload_kind), threads, wl.token, policy)


def main() -> None:
    kind, job_file, arg = sys.argv[1:4]
    job = json.loads(Path(job_file).read_text())
    if kind not in NO_TORCH:
        import torch

        torch.set_num_threads(job["threads"])
    print(json.dumps(_run(kind, job, arg)))


if __name__ == "__main__":
    main()
