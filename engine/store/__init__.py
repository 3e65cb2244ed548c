"""The content-addressed run store: one folder per trained run, keyed by a hash of what produced it.

`run_key(payload)` names a run; `RunStore().create(run_id, build)` returns the stored run or builds it
exactly once across processes; `StoredRun` reads its files without ever unpickling or running code.
"""

from engine.store.keys import canonical_json, is_run_id, run_key
from engine.store.manifest import MANIFEST_FORMAT
from engine.store.run_store import RunProblem, RunStore, RunUsage, StoreScan
from engine.store.stored_run import StoredRun

__all__ = [
    "MANIFEST_FORMAT",
    "RunProblem",
    "RunStore",
    "RunUsage",
    "StoreScan",
    "StoredRun",
    "canonical_json",
    "is_run_id",
    "run_key",
]
