"""The fault probe: at least 150 bad inputs and faults across the CLI, shared links, the run store, data files and
hosted mode, each checked for a clean answer, and a table of tried / clean / failed per family.

Run by hand from the repository root (it is a measurement, like `tests/load/soak.py`, not a pytest test: it takes
minutes, starts subprocesses and, for the read-only cache, a mount namespace as root):

    python -m tests.probe.fault_probe              # every family; --family cli (repeatable) for some
    python -m tests.probe.fault_probe --verbose    # one line per case

"Clean" means: a one-line `error: ...` from the CLI with exit code 2 (argparse's own usage error counts: it is
also exit 2 and one `error:` line), or a notice on the page (AppTest: no exception, a warning naming the
problem); never a traceback or an "unexpected ..." error; nothing bad stored (no new run folder after a refused
request) and nothing bad served (a tampered run is never handed out). A few cases expect success with a warning
(files offered as one dataset that are another) or a result that is shown but not stored (read-only cache).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FASHION = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class Case:
    family: str
    name: str
    check: Callable[[], str]  # returns "" when clean, else what went wrong


@dataclass(frozen=True)
class Outcome:
    case: Case
    problem: str
    seconds: float


# ---------------------------------------------------------------- helpers


def run_count(cache: Path) -> int:
    runs = cache / "runs"
    return len([p for p in runs.iterdir() if not p.name.startswith(".")]) if runs.is_dir() else 0


def cli_in_process(*args: str) -> tuple[int, str, str]:
    """`digit-lab ARGS` in this process (fast: no interpreter or import per case), stdout and stderr captured."""
    from engine.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code if isinstance(exit_.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def one_line_error(code: int, err: str) -> str:
    """ "" when (code, stderr) is a clean refusal, else why not."""
    if "Traceback" in err or "unexpected" in err:
        return f"not clean: {err.strip()[-200:]}"
    if code != 2:
        return f"exit {code}, stderr {err.strip()[-200:]!r}"
    lines = [line for line in err.strip().splitlines() if line.startswith("error:") or "error:" in line]
    if len(lines) != 1:
        return f"expected one error line, got {err.strip()[-200:]!r}"
    return ""


def refused(cache: Path, *args: str, expect: str = "") -> Callable[[], str]:
    def check() -> str:
        before = run_count(cache)
        code, _, err = cli_in_process(*args)
        problem = one_line_error(code, err)
        if not problem and expect and expect not in err:
            problem = f"message lacks {expect!r}: {err.strip()[:200]}"
        if not problem and run_count(cache) != before:
            problem = "a run was stored for a refused request"
        return problem

    return check


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def write_set(folder: Path, gz: bool = False, n: int = 40, size: int = 28, **replace: bytes) -> Path:
    """A small valid MNIST-named IDX set in `folder`; `replace` swaps a part's bytes (train_images=b"...")."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    parts = {
        "train_images": ("train-images-idx3-ubyte", rng.integers(0, 256, (n, size, size), dtype=np.uint8)),
        "train_labels": ("train-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8)),
        "test_images": ("t10k-images-idx3-ubyte", rng.integers(0, 256, (20, size, size), dtype=np.uint8)),
        "test_labels": ("t10k-labels-idx1-ubyte", (np.arange(20) % 10).astype(np.uint8)),
    }
    for key, (name, array) in parts.items():
        data = replace.get(key, idx_bytes(array))
        (folder / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(data) if gz else data)
    return folder


# ---------------------------------------------------------------- families


def cli_cases(work: Path) -> list[Case]:
    cache = work / "cli-cache"
    os.environ["DIGIT_LAB_CACHE"] = str(cache)
    spec_dir = work / "spec-folder"
    spec_dir.mkdir()
    huge = work / "huge.json"
    with open(huge, "wb") as handle:
        handle.truncate(5 << 20)
    binary = work / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    from engine.architectures import PRESETS

    base = PRESETS["digitlab-small8"].spec.to_dict()

    def spec_with(**changes) -> str:
        data = json.loads(json.dumps(base))
        for key, value in changes.items():
            if key.startswith("block_"):
                data["conv_blocks"][0][key.removeprefix("block_")] = value
            else:
                data[key] = value
        return json.dumps(data)

    train = ("train", "--dataset", "digits", "--epochs", "1", "--json")
    bad_args = [
        ("seed -1", ("--seed", "-1"), "seed"),
        ("seed 2**32", ("--seed", str(2**32)), "seed"),
        ("seed 2**64", ("--seed", str(2**64)), "seed"),
        ("seed text", ("--seed", "abc"), ""),
        ("validation split nan", ("--validation-split", "nan"), "Validation split"),
        ("validation split inf", ("--validation-split", "inf"), "Validation split"),
        ("validation split -inf", ("--validation-split", "-inf"), ""),  # argparse: "-inf" looks like an option
        ("validation split 1", ("--validation-split", "1"), "Validation split"),
        ("validation split -0.1", ("--validation-split", "-0.1"), "Validation split"),
        ("validation split 1e308", ("--validation-split", "1e308"), "Validation split"),
        ("validation split 0.9999", ("--validation-split", "0.9999"), "validation split"),
        ("epochs 0", ("--epochs", "0"), "Epochs"),
        ("epochs -5", ("--epochs", "-5"), "Epochs"),
        ("epochs 10**9", ("--epochs", str(10**9)), "Epochs"),
        ("epochs 1.5", ("--epochs", "1.5"), ""),
        ("batch 0", ("--batch-size", "0"), "Batch size"),
        ("batch -1", ("--batch-size", "-1"), "Batch size"),
        ("batch 10**9", ("--batch-size", str(10**9)), "Batch size"),
        ("lr nan", ("--lr", "nan"), "learning rate"),
        ("lr inf", ("--lr", "inf"), "learning rate"),
        ("lr 0", ("--lr", "0"), "learning rate"),
        ("lr -1", ("--lr", "-1"), "learning rate"),
        ("lr 1e9", ("--lr", "1e9"), "learning rate"),
        ("limit-train -1", ("--limit-train", "-1"), "subset"),
        ("limit-train 3", ("--limit-train", "3"), "subset"),
        ("early stopping -1", ("--early-stopping", "-1"), "patience"),
        ("early stopping 10**6", ("--early-stopping", str(10**6)), "patience"),
        ("early stopping without split", ("--early-stopping", "3", "--validation-split", "0"), "Early stopping"),
        ("label mapping garbage", ("--label-mapping", "0,1|x"), "label mapping"),
        ("label mapping twice", ("--label-mapping", "0,1|1,2|3,4,5,6,7,8,9"), ""),
        ("label mapping unmapped", ("--label-mapping", "0,1|2,3"), ""),
        ("label mapping empty group", ("--label-mapping", "0,1||2,3,4,5,6,7,8,9"), ""),
        ("schedule bogus", ("--schedule", "warp"), ""),
        ("preset unknown", ("--preset", "nope"), ""),
        ("preset 28x28 on 8x8", ("--preset", "seed001-cnn3"), "28x28"),
        ("dataset unknown", ("--dataset", "nope"), "unknown dataset"),
        ("dataset path-like", ("--dataset", "../../etc"), "unknown dataset"),
        ("dataset upload path", ("--dataset", "upload-../../etc"), "unknown dataset"),
        ("dataset upload absent", ("--dataset", "upload-0123456789abcdef"), "upload"),
        ("digits with a data path", ("--data-path", str(work)), "takes no local path"),
        ("spec folder", ("--spec", str(spec_dir)), "is a folder"),
        ("spec device", ("--spec", "/dev/zero"), "not a regular file"),
        ("spec huge file", ("--spec", str(huge)), "limit"),
        ("spec huge text", ("--spec", "x" * (2 << 20)), "bytes"),
        ("spec binary file", ("--spec", str(binary)), "UTF-8"),
        ("spec invalid json", ("--spec", "{not json"), "not valid JSON"),
        ("spec list", ("--spec", "[1, 2]"), "JSON object"),
        ("spec null", ("--spec", "null"), "JSON object"),
        ("spec lr text", ("--spec", spec_with(learning_rate="a")), "learning_rate"),
        ("spec lr nan", ("--spec", spec_with(learning_rate=float("nan"))), "learning rate"),
        ("spec filters 0", ("--spec", spec_with(block_filters=0)), "filters"),
        ("spec filters huge", ("--spec", spec_with(block_filters=10**9)), "filters"),
        ("spec kernel 99", ("--spec", spec_with(block_kernel_size=99)), "kernel"),
        ("spec unknown key", ("--spec", spec_with(bogus=1)), "Unknown field"),
        ("spec activation", ("--spec", spec_with(block_activation="relux")), "activation"),
        ("spec bool filters", ("--spec", spec_with(block_filters=True)), "filters"),
    ]
    cases = [
        Case("cli", f"train {name}", refused(cache, *train, *args, expect=expect)) for name, args, expect in bad_args
    ]
    cv = ("cv", "--dataset", "digits", "--epochs", "1", "--json")
    for name, args in (
        ("folds 0", ("--folds", "0")),
        ("folds 1", ("--folds", "1")),
        ("folds 11", ("--folds", "11")),
        ("folds -3", ("--folds", "-3")),
        ("folds nan split", ("--validation-split", "nan")),
    ):
        cases.append(Case("cli", f"cv {name}", refused(cache, *cv, *args)))
    for name, args in (
        ("compare bad id", ("compare", "../etc", "--json")),
        ("compare absent id", ("compare", "0123456789abcdef0123", "--json")),
        ("compare upper-case id", ("compare", "0123456789ABCDEF0123", "--json")),
        ("runs delete bad id", ("runs", "delete", "zz")),
        ("runs delete absent id", ("runs", "delete", "0123456789abcdef0123")),
        ("runs delete missing id", ("runs", "delete")),
        ("study unknown", ("study", "nope", "--dataset", "digits", "--json")),
        ("study on missing mnist", ("study", "seed003", "--dataset", "mnist", "--data-path", str(work / "no"))),
        ("unknown verb", ("frobnicate",)),
    ):
        cases.append(Case("cli", name, refused(cache, *args)))
    return cases


def store_cases(work: Path) -> list[Case]:
    """Tampering with a stored run: never served, listings survive and flag it, compare is one line."""
    from engine.store import RunStore, manifest, run_key
    from tests.store.run_meta import run_meta

    template = work / "store-template" / "runs"
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

    def remanifest(folder: Path) -> None:
        """A manifest matching the folder's files as they are now, hashed here (as a tamperer would)."""
        files = {
            path.name: {"size": path.stat().st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
            for path in folder.iterdir()
            if path.name != "manifest.json"
        }
        (folder / "manifest.json").write_bytes(
            manifest.manifest_bytes({"format": manifest.MANIFEST_FORMAT, "files": files})
        )

    def edit_meta(change: Callable[[dict], None]) -> Callable[[Path], None]:
        def tamper(folder: Path) -> None:
            meta = json.loads((folder / "meta.json").read_text())
            change(meta)
            (folder / "meta.json").write_text(json.dumps(meta))
            remanifest(folder)

        return tamper

    def case(name: str, tamper: Callable[[Path], None], *, listed_ok: bool = False) -> Case:
        def check() -> str:
            cache = work / f"store-{abs(hash(name))}"
            shutil.copytree(template.parent, cache)
            os.environ["DIGIT_LAB_CACHE"] = str(cache)
            manifest.clear_digest_cache()
            tamper(cache / "runs" / bad_key)
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


def data_cases(work: Path) -> list[Case]:
    """Bad data files and folders through the CLI's --data-path and the environment variables, plus uploads."""
    from engine.datasets import clear_dataset_cache, load_dataset
    from engine.datasets.network import forget_failures
    from engine.datasets.uploads import register_upload

    cache = work / "data-cache"
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    labels = (np.arange(40) % 10).astype(np.uint8)
    variants = {
        "wrong magic": {"train_images": b"\x01\x02" + idx_bytes(images)[2:]},
        "type code float": {"train_images": idx_bytes(images.astype(">f4"), 0x0D)},
        "zero dimensions": {"train_images": bytes([0, 0, 8, 0])},
        "truncated images": {"train_images": idx_bytes(images)[:-10]},
        "trailing bytes": {"train_images": idx_bytes(images) + b"xx"},
        "header only": {"train_images": idx_bytes(images)[:10]},
        "empty file": {"train_images": b""},
        "count mismatch": {"train_labels": idx_bytes(labels[:30])},
        "labels out of range": {"train_labels": idx_bytes(labels + 5)},
        "labels and images swapped": {"train_images": idx_bytes(labels), "train_labels": idx_bytes(images)},
        "labels 2-D": {"train_labels": idx_bytes(labels.reshape(4, 10))},
        "train/test size differ": {"test_images": idx_bytes(rng.integers(0, 256, (20, 14, 14), dtype=np.uint8))},
    }
    cases = []
    for index, (name, replace) in enumerate(variants.items()):
        for gz in (False, True):
            folder = write_set(work / f"data-{index}-{gz}", gz=gz, **replace)
            label = f"{name} ({'gz' if gz else 'raw'}) via --data-path"
            cases.append(
                Case("data", label, refused(cache, "train", "--dataset", "mnist", "--data-path", str(folder), "--json"))
            )
    gz_broken = write_set(work / "data-gz-broken", gz=True)
    (gz_broken / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b" + b"\0" * 20)
    cases.append(
        Case("data", "gzip damaged", refused(cache, "train", "--dataset", "mnist", "--data-path", str(gz_broken)))
    )

    def npz_file(name: str, **arrays) -> Path:
        path = work / f"{name}.npz"
        np.savez(path, **arrays)
        return path

    good = {"x_train": images, "y_train": labels, "x_test": images[:20], "y_test": labels[:20]}
    npz_variants = {
        "npz pickled": {**good, "y_train": np.array([{"a": 1}] * 40, dtype=object)},
        "npz missing key": {k: v for k, v in good.items() if k != "x_test"},
        "npz float images": {**good, "x_train": images.astype(np.float32) / 255},
        "npz one-hot labels": {**good, "y_train": np.eye(10)[labels % 10]},
        "npz count mismatch": {**good, "y_train": labels[:30]},
    }
    for name, arrays in npz_variants.items():
        path = npz_file(name.replace(" ", "-"), **arrays)
        cases.append(Case("data", name, refused(cache, "train", "--dataset", "mnist", "--data-path", str(path))))
    not_npz = work / "not.npz"
    not_npz.write_bytes(b"PK\x03\x04 broken")
    cases.append(
        Case("data", "npz not a zip", refused(cache, "train", "--dataset", "mnist", "--data-path", str(not_npz)))
    )

    def env_case(name: str, variable: str, folder: Path, dataset: str, expect: str) -> Case:
        def check() -> str:
            os.environ[variable] = str(folder)
            try:
                return refused(cache, "train", "--dataset", dataset, "--json", expect=expect)()
            finally:
                del os.environ[variable]

        return Case("data", name, check)

    empty = work / "env-empty"
    empty.mkdir()
    incomplete = write_set(work / "env-incomplete", gz=True)
    (incomplete / "t10k-labels-idx1-ubyte.gz").unlink()
    a_file = work / "env-file"
    a_file.write_text("x")
    for variable, dataset in (("DIGIT_LAB_FASHION_MNIST_DIR", "fashion-mnist"), ("DIGIT_LAB_MNIST_DIR", "mnist")):
        cases += [
            env_case(f"{variable} empty", variable, empty, dataset, str(empty)),
            env_case(f"{variable} incomplete", variable, incomplete, dataset, "t10k-labels-idx1-ubyte"),
            env_case(f"{variable} missing", variable, work / "absent", dataset, "does not exist"),
            env_case(f"{variable} a plain file", variable, a_file, dataset, "npz"),
        ]

    def fashion_as_mnist() -> str:
        if not FASHION.is_dir():
            return "Debian's Fashion-MNIST files are not installed"
        os.environ["DIGIT_LAB_MNIST_DIR"] = str(FASHION)
        try:
            clear_dataset_cache()
            dataset = load_dataset("mnist")
        finally:
            del os.environ["DIGIT_LAB_MNIST_DIR"]
            clear_dataset_cache()
        if dataset.name != "fashion-mnist" or not dataset.warnings:
            return f"loaded as {dataset.name} without a warning"
        return ""

    cases.append(Case("data", "Fashion-MNIST files offered as MNIST", fashion_as_mnist))

    def offline_twice() -> str:
        forget_failures()
        clear_dataset_cache()
        os.environ["HOME"] = str(work / "home")
        started = time.perf_counter()
        first = refused(cache, "train", "--dataset", "mnist", "--json")()
        second_started = time.perf_counter()
        second = refused(cache, "train", "--dataset", "mnist", "--json", expect="not retried")()
        second_took = time.perf_counter() - second_started
        if first or second:
            return first or second
        if second_took > 1.0:
            return f"the second refusal took {second_took:.1f} s (first {second_started - started:.1f} s)"
        return ""

    cases.append(Case("data", "unavailable mnist twice answers at once the second time", offline_twice))

    def upload(name: str, files: list[tuple[str, bytes]], expect: str, decoded_cap_mb: int = 0) -> Case:
        def check() -> str:
            os.environ["DIGIT_LAB_CACHE"] = str(cache)
            if decoded_cap_mb:  # hosted mode's decoded-size cap, lowered so the bombs stay small here
                os.environ.update(DIGIT_LAB_HOSTED="1", DIGIT_LAB_MAX_DECODED_MB=str(decoded_cap_mb))
            try:
                register_upload(files)
            except Exception as error:  # noqa: BLE001
                from engine.errors import DigitLabError

                if not isinstance(error, DigitLabError):
                    return f"{type(error).__name__}: {error}"
                if expect not in str(error):
                    return f"message lacks {expect!r}: {error}"
                uploads = cache / "datasets" / "uploads"
                if uploads.is_dir() and any(uploads.iterdir()):
                    return f"something was kept: {sorted(p.name for p in uploads.iterdir())}"
                return ""
            finally:
                os.environ.pop("DIGIT_LAB_HOSTED", None)
                os.environ.pop("DIGIT_LAB_MAX_DECODED_MB", None)
            return "accepted"

        return Case("data", name, check)

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        for key in ("x_train", "y_train", "x_test", "y_test"):
            payload = io.BytesIO()
            np.save(payload, np.zeros((3000, 28, 28), dtype=np.uint8))  # 2.3 MB that deflate to a few kB
            archive.writestr(f"{key}.npy", payload.getvalue())
    header_only = gzip.compress(bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (70000, 128, 128)))
    bomb_set = write_set(
        work / "data-gzip-bomb",
        gz=False,
        train_images=bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (3000, 28, 28)) + bytes(3000 * 784),
    )
    gzip_bomb_files = [(p.name + ".gz", gzip.compress(p.read_bytes())) for p in sorted(bomb_set.iterdir())]
    cases += [
        upload("upload nothing", [], "No files"),
        upload("upload path traversal name", [("../../x.npz", b"x")], "not one this page reads"),
        upload("upload dot-file name", [(".x.npz", b"x")], "not one this page reads"),
        upload("upload unknown name", [("evil.sh", b"x")], "not one this page reads"),
        upload("upload duplicate names", [("a.npz", b"x"), ("a.npz", b"x")], "twice"),
        upload("upload npz and idx together", [("a.npz", b"x"), ("train-images-idx3-ubyte", b"x")], "not both"),
        upload("upload broken npz", [("a.npz", b"PK broken")], "npz"),
        upload("upload zip bomb npz", [("bomb.npz", bomb.getvalue())], "unpacks to", decoded_cap_mb=1),
        upload("upload gzip bomb idx", gzip_bomb_files, "decompresses to over", decoded_cap_mb=1),
        upload("upload one idx file", [("train-images-idx3-ubyte", idx_bytes(images))], "only some IDX files"),
        upload("upload idx header promising 1 GB", [("train-images-idx3-ubyte.gz", header_only)], "only some IDX"),
    ]
    return cases


def link_cases() -> list[Case]:
    """Shared links with bad values, opened by AppTest through the real Home.py: a notice, never an exception."""
    from dashboard.links import encode
    from tests.dashboard.conftest import open_app

    def link(name: str, query: dict, expect: str) -> Case:
        def check() -> str:
            app = open_app(query=query)
            if app.exception:
                return f"exception: {app.exception[0].message[:200]}"
            text = " ".join(w.value for w in app.warning) + " ".join(e.value for e in app.error)
            return "" if expect.lower() in text.lower() else f"no notice with {expect!r}: {text[:200]}"

        return Case("links", name, check)

    cfg = encode
    return [
        link("unknown dataset", {"dataset": "nope"}, "unknown dataset"),
        link("dataset path", {"dataset": "../../etc/passwd"}, "unknown dataset"),
        link("dataset upload absent", {"dataset": "upload-0123456789abcdef"}, "unknown dataset"),
        link("unknown preset", {"preset": "nope"}, "unknown preset"),
        link("spec garbage", {"spec": "%%%"}, "could not be read"),
        link("spec empty object", {"spec": cfg({})}, "could not be read"),
        link("spec huge inflate", {"spec": cfg({"x": "a" * 100_000})}, "could not be read"),
        link("cfg garbage", {"cfg": "@@"}, "could not be read"),
        link("cfg not object", {"cfg": cfg([1])}, "could not be read"),
        link("cfg seed -1", {"cfg": cfg({"seed": -1})}, "seed"),
        link("cfg seed 2**64", {"cfg": cfg({"seed": 2**64})}, "seed"),
        link("cfg split nan", {"cfg": cfg({"validation_split": float("nan")})}, "could not"),
        link("cfg split 5", {"cfg": cfg({"validation_split": 5})}, "Validation split"),
        link("cfg epochs 0", {"cfg": cfg({"epochs": 0})}, "Epochs"),
        link("cfg epochs text", {"cfg": cfg({"epochs": "ten"})}, "wrong type"),
        link("cfg epochs bool", {"cfg": cfg({"epochs": True})}, "wrong type"),
        link("cfg unknown key", {"cfg": cfg({"colour": 1})}, "Unknown training setting"),
        link("cfg mapping garbage", {"cfg": cfg({"label_mapping": "x|y"})}, "label mapping"),
        link("run not a hash", {"run": "../../etc/passwd"}, "is not a run id"),
        link("run upper case", {"run": "0123456789ABCDEF0123"}, "is not a run id"),
        link("folds text", {"folds": "abc"}, "Fold count"),
        link("folds 99", {"folds": "99"}, "Fold count"),
        link("runs list bad", {"runs": "zz,../x"}, "not valid"),
        link("unknown parameter", {"colour": "red"}, "unknown link parameter"),
    ]


def hosted_cases(work: Path) -> list[Case]:
    """Hosted mode in subprocesses: caps, and a read-only cache (a read-only bind mount in a mount namespace)."""
    env = {**os.environ, "DIGIT_LAB_HOSTED": "1", "PYTHONPATH": str(ROOT)}
    cache = work / "hosted-cache"
    (cache / "runs").mkdir(parents=True)

    def cli(args: list[str], readonly: bool = False, extra: dict | None = None, timeout: float = 300):
        command = [sys.executable, "-m", "engine", *args]
        if readonly:
            quoted = " ".join(f"'{part}'" for part in command)
            command = ["unshare", "-m", "sh", "-c", f"mount --bind -o ro '{cache}' '{cache}' && exec {quoted}"]
        done = subprocess.run(
            command,
            cwd=ROOT,
            env={**env, "DIGIT_LAB_CACHE": str(cache), **(extra or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return done.returncode, done.stdout, done.stderr

    def refused_case(name: str, args: list[str], expect: str, **kwargs) -> Case:
        def check() -> str:
            code, _, err = cli(args, **kwargs)
            err = "\n".join(line for line in err.splitlines() if line.startswith("error:") or "Traceback" in line)
            problem = one_line_error(code, err)
            return problem or ("" if expect in err else f"message lacks {expect!r}: {err[:200]}")

        return Case("hosted", name, check)

    def readonly_train() -> str:
        before = sorted(os.listdir(cache / "runs"))
        code, out, err = cli(
            ["train", "--dataset", "digits", "--epochs", "2", "--limit-train", "300", "--json"], readonly=True
        )
        if code != 0 or "Traceback" in err:
            return f"exit {code}: {err.strip()[-300:]}"
        result = json.loads(out)
        if result.get("stored") is not False or "cannot be written" not in result.get("store_problem", ""):
            return f"expected the result shown but not stored, got {out[:200]}"
        if sorted(os.listdir(cache / "runs")) != before:
            return "the read-only cache changed"
        leftovers = [p for p in Path(tempfile.gettempdir()).glob(f"digitlab-unstored-{result['run_id']}-*")]
        if any(not any(p.iterdir()) for p in leftovers):
            return "an empty temporary folder was left"
        return ""

    def readonly_listing() -> str:
        code, out, err = cli(["runs", "--json"], readonly=True)
        return "" if code == 0 and out.strip().startswith("[") else f"exit {code}: {err[-200:]}"

    def readonly_datasets() -> str:
        code, out, err = cli(["datasets", "--json"], readonly=True)
        return "" if code == 0 and json.loads(out) else f"exit {code}: {err[-200:]}"

    cache_file = work / "cache-is-a-file"
    cache_file.write_text("x")

    def cache_is_a_file() -> str:
        code, out, err = cli(
            ["train", "--dataset", "digits", "--epochs", "1", "--limit-train", "200", "--json"],
            extra={"DIGIT_LAB_CACHE": str(cache_file)},
        )
        if code != 0 or "Traceback" in err:
            return f"exit {code}: {err.strip()[-300:]}"
        return "" if json.loads(out).get("stored") is False else f"stored into a file? {out[:200]}"

    big_spec = json.dumps(
        {
            "conv_blocks": [{"filters": 64, "kernel_size": 3, "padding": "same"}],
            "dense_layers": [{"units": 8192}],
            "input_shape": [8, 8, 1],
        }
    )
    return [
        refused_case("epochs over the hosted cap", ["train", "--epochs", "31", "--json"], "between 1 and 30"),
        refused_case(
            "training set over the hosted cap",
            ["train", "--dataset", "fashion-mnist", "--epochs", "1", "--json"],
            "at most 20,000",
        ),
        refused_case("parameters over the hosted cap", ["train", "--spec", big_spec, "--json"], "parameters"),
        refused_case("upload name in hosted", ["train", "--dataset", "upload-zz", "--json"], "unknown dataset"),
        Case("hosted", "read-only cache: train shows the result, stores nothing", readonly_train),
        Case("hosted", "read-only cache: runs lists", readonly_listing),
        Case("hosted", "read-only cache: datasets lists", readonly_datasets),
        Case("hosted", "DIGIT_LAB_CACHE is a file: train shows the result", cache_is_a_file),
        refused_case(
            "read-only cache: delete a run",
            ["runs", "delete", "0123456789abcdef0123"],
            "No stored run",
            readonly=True,
        ),
    ]


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", action="append", choices=["cli", "links", "store", "data", "hosted"])
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    families = args.family or ["cli", "store", "data", "links", "hosted"]
    work = Path(tempfile.mkdtemp(prefix="digitlab-probe-"))
    os.environ.pop("DIGIT_LAB_HOSTED", None)
    os.environ.pop("DIGIT_LAB_MNIST_DIR", None)
    os.environ.pop("DIGIT_LAB_FASHION_MNIST_DIR", None)
    home = work / "home"
    home.mkdir()
    os.environ["HOME"] = str(home)  # no Keras download cache: mnist is unavailable, as on a fresh server
    builders = {
        "cli": lambda: cli_cases(work),
        "store": lambda: store_cases(work),
        "data": lambda: data_cases(work),
        "links": link_cases,
        "hosted": lambda: hosted_cases(work),
    }
    outcomes: list[Outcome] = []
    try:
        for family in families:
            os.environ["DIGIT_LAB_CACHE"] = str(work / f"{family}-cache")
            for case in builders[family]():
                started = time.perf_counter()
                try:
                    problem = case.check()
                except Exception as error:  # noqa: BLE001 - an escaping exception is a failed case
                    problem = f"escaped {type(error).__name__}: {str(error)[:200]}"
                outcomes.append(Outcome(case, problem, time.perf_counter() - started))
                if args.verbose or problem:
                    mark = "FAILED" if problem else "clean "
                    print(f"{mark} {case.family:<7} {case.name}" + (f": {problem}" if problem else ""), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("| family | tried | clean | failed |")
    print("| --- | ---: | ---: | ---: |")
    for family in families:
        mine = [o for o in outcomes if o.case.family == family]
        failed = sum(1 for o in mine if o.problem)
        print(f"| {family} | {len(mine)} | {len(mine) - failed} | {failed} |")
    failed = sum(1 for o in outcomes if o.problem)
    print(f"| all | {len(outcomes)} | {len(outcomes) - failed} | {failed} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
