"""The run store's files tampered with or replaced (family `store`): never served, listings survive and flag the run,
compare answers in one line. Each case works on its own copy of a two-run store."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.probe.fixtures import HOSTILE, Case, cli_in_process, one_line_error, plant, remanifest
from tests.probe.fixtures import edit_meta as change_meta


def two_run_store(template: Path) -> tuple[Path, str, str]:
    """A store of two small runs (a good one and one to tamper with) at `template`: (folder, good key, bad key)."""
    from engine.store import RunStore, run_key
    from tests.store.run_meta import run_meta

    good_key, bad_key = run_key({"probe": "good"}), run_key({"probe": "bad"})

    def build(folder: Path) -> dict:
        np.save(folder / "test_probabilities.npy", np.full((20, 10), 0.1, dtype=np.float32))
        np.save(folder / "test_labels.npy", (np.arange(20) % 10).astype(np.int64))
        (folder / "history.json").write_text(json.dumps({"epochs": [{"epoch": 1, "loss": 0.5, "accuracy": 0.5}]}))
        (folder / "model.keras").write_bytes(b"not a model")
        return run_meta()

    store = RunStore(template)
    store.create(good_key, build)
    store.create(bad_key, build)
    return template, good_key, bad_key


def tampered_cache(cache: Path, template: Path, bad_key: str, tamper: Callable[[Path], None]) -> None:
    """A fresh copy of the two-run `template` store made the cache, its bad run tampered with."""
    from engine.store import manifest

    shutil.copytree(template.parent, cache, symlinks=True)
    os.environ["DIGIT_LAB_CACHE"] = str(cache)
    manifest.clear_digest_cache()
    tamper(cache / "runs" / bad_key)


def store_cases(work: Path) -> list[Case]:  # noqa: C901 - one list of cases
    """Tampering with a stored run: never served, listings survive and flag it, compare is one line."""

    from engine.store import RunStore

    template, good_key, bad_key = two_run_store(work / "store-template" / "runs")

    def edit_meta(change: Callable[[dict], None]) -> Callable[[Path], None]:
        return lambda folder: change_meta(folder, change)

    def case(name: str, tamper: Callable[[Path], None], *, listed_ok: bool = False) -> Case:
        def check() -> str:
            tampered_cache(work / f"store-{abs(hash(name))}", template, bad_key, tamper)
            try:
                served = RunStore().get(bad_key)
                # Listing checks sizes only (it runs on every page view); opening a run hashes every file, so a
                # size-preserving edit is listed until the first open, which removes it. Listed after that: failed.
                scan = RunStore().scan()
            except Exception as error:  # noqa: BLE001 - the probe reports any escape
                return f"store raised {type(error).__name__}: {error}"
            if served is not None:
                return "the tampered run was served"
            if [run.run_id for run in scan.runs] != [good_key]:
                return f"the good run was not listed alone: {[r.run_id for r in scan.runs]}"
            code, out, err = cli_in_process("runs", "--json")
            if code != 0 or "Traceback" in err or json.loads(out)[0]["run_id"] != good_key:
                return f"runs listing broke: {code} {err[-200:]}"
            code, _, err = cli_in_process("compare", good_key, bad_key, "--json")
            return one_line_error(code, err)

        return Case("store", name, check)

    files = ["meta.json", "manifest.json", "history.json", "model.keras", "test_labels.npy", "test_probabilities.npy"]
    cases = []
    for name in files:
        cases.append(case(f"truncate {name}", lambda f, n=name: (f / n).write_bytes((f / n).read_bytes()[:7])))
        cases.append(case(f"delete {name}", lambda f, n=name: (f / n).unlink()))
    for name in ("history.json", "test_labels.npy", "test_probabilities.npy", "model.keras"):

        def flip(folder: Path, n: str = name) -> None:
            data = bytearray((folder / n).read_bytes())
            data[-1] ^= 1
            (folder / n).write_bytes(bytes(data))

        cases.append(case(f"flip a byte of {name}", flip))
    for field in ("metrics", "spec", "config", "dataset", "parameters", "class_names", "run_id", "created"):
        cases.append(case(f"meta lacks {field} (manifest consistent)", edit_meta(lambda m, k=field: m.pop(k))))
    cases += [
        case("meta accuracy is text", edit_meta(lambda m: m["metrics"].update(test_accuracy="high"))),
        case("meta names another run", edit_meta(lambda m: m.update(run_id=good_key))),
        case("meta conv block malformed", edit_meta(lambda m: m["spec"].update(conv_blocks=[{"filters": "x"}]))),
        case("meta is a list", lambda f: ((f / "meta.json").write_text("[]"), remanifest(f))),
        case("manifest not JSON", lambda f: (f / "manifest.json").write_text("{")),
        case("manifest wrong format", lambda f: (f / "manifest.json").write_text('{"format": 99, "files": {}}')),
        case("extra file planted", lambda f: (f / "extra.bin").write_bytes(b"x")),
        case(
            "pickled npy planted (manifest consistent)",
            lambda f: (
                np.save(f / "test_labels.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True),
                remanifest(f),
            ),
        ),
        case(
            "symlinked file", lambda f: ((f / "history.json").unlink(), os.symlink("/etc/hostname", f / "history.json"))
        ),
    ]

    def linked_folder(folder: Path) -> None:
        elsewhere = folder.parent.parent / "elsewhere"
        os.rename(folder, elsewhere)
        os.symlink(elsewhere, folder)

    cases.append(case("run folder is a symlink to a complete run", linked_folder))
    cases.append(case("run entry is a plain file", lambda f: (shutil.rmtree(f), f.write_text("x"))))
    return cases


def store_hazard_cases(work: Path) -> list[Case]:
    """Files planted in a run folder (a FIFO, a link to /dev/zero, 40 MB, deep JSON) and values a run's files may hold
    that no trainer writes (NaN and infinite metrics, histories of another shape, hostile class names), each with a
    manifest made to match where a tamperer could make one."""
    from engine.store import RunStore

    template, good_key, bad_key = two_run_store(work / "store-hazard-template" / "runs")

    def survives(name: str, tamper: Callable[[Path], None], *, served_ok: bool) -> Case:
        """Listing, `runs --json` and `compare` answer (at once: the runner's timeout catches a hang); the run is
        never served unless `served_ok` (a consistent manifest over values the readers must then refuse)."""

        def check() -> str:
            tampered_cache(work / f"store-hazard-{abs(hash(name))}", template, bad_key, tamper)
            try:
                served = RunStore().get(bad_key)
                scan = RunStore().scan()
            except Exception as error:  # noqa: BLE001 - the probe reports any escape
                return f"store raised {type(error).__name__}: {error}"
            if served is not None and not served_ok:
                return "the tampered run was served"
            if good_key not in [run.run_id for run in scan.runs]:
                return "the good run was not listed"
            code, out, err = cli_in_process("runs", "--json")
            if code != 0 or "Traceback" in err:
                return f"runs listing broke: {code} {err[-200:]}"
            try:
                json.loads(out, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
            except ValueError as error:
                return f"runs --json printed invalid JSON ({error})"
            code, out, err = cli_in_process("compare", good_key, bad_key, "--json")
            if code == 0:
                return "" if "Traceback" not in err else f"traceback: {err[-200:]}"
            return one_line_error(code, err)

        return Case("store", name, check)

    def planted(file: str, hazard: str, consistent: bool) -> Callable[[Path], None]:
        def tamper(folder: Path) -> None:
            plant(folder / file, hazard)
            if consistent and hazard in ("oversized", "deep JSON"):
                remanifest(folder)

        return tamper

    cases = []
    for file in ("manifest.json", "meta.json", "history.json", "test_probabilities.npy"):
        for hazard in ("fifo", "dev-zero link", "oversized", "deep JSON"):
            if file.endswith(".npy") and hazard == "deep JSON":
                continue
            consistent = file != "manifest.json"
            label = f"{file} is {'a ' if hazard == 'fifo' else ''}{hazard}" + (
                " (manifest made to match)" if consistent and hazard in ("oversized", "deep JSON") else ""
            )
            # A file the manifest lists, replaced by content the manifest was remade for, is a valid run to the
            # store: its reader (history, meta check) must refuse it, so serving is allowed there.
            cases.append(survives(label, planted(file, hazard, consistent), served_ok=file == "history.json"))

    def history(value: object) -> Callable[[Path], None]:
        def tamper(folder: Path) -> None:
            (folder / "history.json").write_text(json.dumps(value))
            remanifest(folder)

        return tamper

    def meta(change: Callable[[dict], None]) -> Callable[[Path], None]:
        return lambda folder: change_meta(folder, change)

    cases += [
        survives("meta accuracy NaN", meta(lambda m: m["metrics"].update(test_accuracy=float("nan"))), served_ok=False),
        survives("meta accuracy inf", meta(lambda m: m["metrics"].update(test_accuracy=float("inf"))), served_ok=False),
        survives("meta accuracy -1", meta(lambda m: m["metrics"].update(test_accuracy=-1)), served_ok=False),
        survives("meta parameter count negative", meta(lambda m: m["parameters"].update(total=-5)), served_ok=False),
        survives(
            "meta 10,000 class names",
            meta(lambda m: m.update(class_names=[str(i) for i in range(10_000)])),
            served_ok=True,
        ),
        survives("meta hostile class names", meta(lambda m: m.update(class_names=[HOSTILE] * 10)), served_ok=True),
        survives("meta created in year 10**12", meta(lambda m: m.update(created=1e19)), served_ok=True),
        survives("history epochs are numbers", history({"epochs": [1, 2, 3]}), served_ok=True),
        survives("history epochs a dict", history({"epochs": {"a": 1}}), served_ok=True),
        survives("history is a list", history([1, 2]), served_ok=True),
        survives(
            "history loss NaN and inf",
            history({"epochs": [{"epoch": 1, "loss": float("nan"), "accuracy": float("inf")}]}),
            served_ok=True,
        ),
        survives(
            "history 100,000 epochs",
            history({"epochs": [{"epoch": i, "loss": 0.1} for i in range(100_000)]}),
            served_ok=True,
        ),
    ]
    return cases
