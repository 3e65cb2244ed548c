"""Bad input from outside: command-line arguments and files they name (family `cli`), and shared links' values on
every page (family `links`, AppTest through the real Home.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from tests.probe.fixtures import (
    DEEP_JSON,
    HOSTILE,
    Case,
    copy_of_trained,
    lying_npy,
    npy_bytes,
    page_problem,
    refused,
)


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


def file_argument_cases(work: Path) -> list[Case]:
    """The files and paths a verb's flag names: --spec, --space, --image, --data-path, report --output."""
    cache = work / "cli-cache"
    files = work / "cli-files"
    files.mkdir(exist_ok=True)

    def path(name: str, content: bytes | None = None, kind: str = "file") -> str:
        target = files / name
        if kind == "fifo":
            os.mkfifo(target)
        elif kind == "zero":
            os.symlink("/dev/zero", target)
        elif kind == "loop":
            os.symlink(target, target)
        elif kind == "folder":
            target.mkdir()
        else:
            target.write_bytes(content or b"")
        return str(target)

    train = ("train", "--dataset", "digits", "--epochs", "1", "--json")
    sweep = ("sweep", "--dataset", "digits", "--trials", "2", "--epochs", "1", "--json")
    space_ok = {"learning_rate": {"low": 1e-4, "high": 1e-2, "log": True}}
    cases = [
        Case("cli", "train --spec deep JSON text", refused(cache, *train, "--spec", DEEP_JSON, expect="nested")),
        Case("cli", "train --spec a FIFO", refused(cache, *train, "--spec", path("spec.fifo", kind="fifo"))),
        Case("cli", "train --spec a link to /dev/zero", refused(cache, *train, "--spec", path("spec0", kind="zero"))),
        Case("cli", "train --spec a link loop", refused(cache, *train, "--spec", path("specloop", kind="loop"))),
        Case("cli", "train --spec NaN literal", refused(cache, *train, "--spec", '{"learning_rate": NaN}')),
        Case("cli", "train --spec Infinity literal", refused(cache, *train, "--spec", '{"learning_rate": Infinity}')),
        Case("cli", "train --spec control characters", refused(cache, *train, "--spec", '{"name": "\\u0000\\u0007"}')),
        Case(
            "cli", "train --spec full-width digits", refused(cache, *train, "--spec", '{"conv_blocks": "\uff11\uff16"}')
        ),
        Case("cli", "train --spec a number 1e999", refused(cache, *train, "--spec", '{"learning_rate": 1e999}')),
        Case(
            "cli",
            "train --spec 10 MB of spaces",
            refused(cache, *train, "--spec", path("specbig", b"{" + b" " * (10 << 20) + b"}")),
        ),
        Case(
            "cli",
            "sweep --space a folder",
            refused(cache, *sweep, "--space", path("space.d", kind="folder"), expect="folder"),
        ),
        Case("cli", "sweep --space a FIFO", refused(cache, *sweep, "--space", path("space.fifo", kind="fifo"))),
        Case(
            "cli", "sweep --space a link to /dev/zero", refused(cache, *sweep, "--space", path("space0", kind="zero"))
        ),
        Case(
            "cli",
            "sweep --space deep JSON",
            refused(cache, *sweep, "--space", path("space.deep", DEEP_JSON.encode()), expect="nested"),
        ),
        Case(
            "cli",
            "sweep --space NaN bound",
            refused(cache, *sweep, "--space", path("space.nan", b'{"learning_rate": {"low": NaN, "high": 0.1}}')),
        ),
        Case(
            "cli",
            "sweep --space inf bound",
            refused(cache, *sweep, "--space", path("space.inf", b'{"learning_rate": {"low": 1e-4, "high": Infinity}}')),
        ),
        Case(
            "cli",
            "sweep --space negative bound",
            refused(cache, *sweep, "--space", path("space.neg", b'{"learning_rate": {"low": -1, "high": 0.1}}')),
        ),
        Case("cli", "sweep --space not UTF-8", refused(cache, *sweep, "--space", path("space.bin", b"\xff\xfe{}"))),
        Case("cli", "sweep --space a list", refused(cache, *sweep, "--space", path("space.list", b"[1, 2]"))),
        Case(
            "cli",
            "sweep --space hostile setting name",
            refused(
                cache, *sweep, "--space", path("space.host", json.dumps({HOSTILE: {"low": 1, "high": 2}}).encode())
            ),
        ),
        Case(
            "cli",
            "sweep --trials -1",
            refused(
                cache,
                "sweep",
                "--dataset",
                "digits",
                "--trials",
                "-1",
                "--space",
                path("space.ok", json.dumps(space_ok).encode()),
            ),
        ),
        Case(
            "cli",
            "sweep --trials 10**9",
            refused(cache, "sweep", "--dataset", "digits", "--trials", str(10**9), "--space", str(files / "space.ok")),
        ),
        Case(
            "cli",
            "train --data-path a FIFO",
            refused(cache, "train", "--dataset", "mnist", "--data-path", path("data.fifo", kind="fifo")),
        ),
        Case(
            "cli",
            "train --data-path a link to /dev/zero",
            refused(cache, "train", "--dataset", "mnist", "--data-path", path("data0.npz", kind="zero")),
        ),
        Case(
            "cli",
            "train --data-path a link loop",
            refused(cache, "train", "--dataset", "mnist", "--data-path", path("dataloop", kind="loop")),
        ),
        Case(
            "cli",
            "train --data-path 5000 characters",
            refused(cache, "train", "--dataset", "mnist", "--data-path", "/tmp/" + "x" * 5000),
        ),
    ]
    fifo_part = files / "fifo-set"
    fifo_part.mkdir()
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        os.mkfifo(fifo_part / name)
    cases.append(
        Case(
            "cli",
            "train --data-path a folder of FIFOs",
            refused(cache, "train", "--dataset", "mnist", "--data-path", str(fifo_part)),
        )
    )

    def with_run(name: str, *args: str, expect: str = "", leaves: str = "") -> Case:
        """A verb on the trained run; `leaves` is a path that must be as it was afterwards."""

        def check() -> str:
            trained, run_id = copy_of_trained(work, name)
            before = os.lstat(leaves) if leaves else None
            problem = refused(trained, *(run_id if a == "RUN" else a for a in args), expect=expect)()
            if not problem and leaves and os.lstat(leaves).st_mode != before.st_mode:  # type: ignore[union-attr]
                problem = f"{leaves} was replaced"
            return problem

        return Case("cli", name, check)

    explain = ("explain", "RUN", "--method", "saliency", "--json", "--image")
    nan_image = np.full((8, 8), np.nan, dtype=np.float32)
    cases += [
        with_run("explain --image a FIFO", *explain, path("image.fifo", kind="fifo")),
        with_run("explain --image a link to /dev/zero", *explain, path("image0.npy", kind="zero")),
        with_run("explain --image a folder", *explain, path("image.d", kind="folder")),
        with_run("explain --image header promising 10^13 values", *explain, path("lying.npy", lying_npy((10**13,)))),
        with_run("explain --image header with negative side", *explain, path("neg.npy", lying_npy((-8, 8)))),
        with_run("explain --image 0 images", *explain, path("empty.npy", npy_bytes(np.zeros((0, 8, 8), np.float32)))),
        with_run("explain --image NaN pixels", *explain, path("nan.npy", npy_bytes(nan_image))),
        with_run("explain --image inf pixels", *explain, path("inf.npy", npy_bytes(np.full((8, 8), np.inf)))),
        with_run("explain --image 1x1", *explain, path("one.npy", npy_bytes(np.zeros((1, 1), np.float32)))),
        with_run("explain --image text file", *explain, path("text.npy", b"hello")),
        with_run(
            "explain --image pickled",
            *explain,
            path(
                "obj.npy",
                b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }" + b" " * 54 + b"\n",
            ),
        ),
        with_run("explain --index -1", "explain", "RUN", "--method", "saliency", "--index", "-1", "--json"),
        with_run("explain --index 10**9", "explain", "RUN", "--method", "saliency", "--index", str(10**9), "--json"),
        with_run("explain --patch 0", "explain", "RUN", "--method", "occlusion", "--patch", "0", "--json"),
        with_run("explain --layer hostile", "explain", "RUN", "--method", "gradcam", "--layer", HOSTILE, "--json"),
    ]
    report = ("report", "RUN", "--format", "html", "--output")
    fifo_out = path("out.fifo", kind="fifo")
    cases += [
        with_run("report --output a folder", *report, path("out.d", kind="folder")),
        with_run("report --output a FIFO", *report, fifo_out, leaves=fifo_out),
        with_run("report --output /dev/stdout", *report, "/dev/stdout"),
        with_run("report --output /dev/null", *report, "/dev/null", leaves="/dev/null"),
        with_run("report --output in a missing folder", *report, str(files / "absent" / "r.html")),
        with_run("report --output 5000 characters", *report, str(files / ("x" * 5000))),
    ]
    path("target.html", b"keep")
    os.symlink(files / "target.html", files / "link.html")
    cases.append(
        with_run("report --output a link to a file", *report, str(files / "link.html"), leaves=str(files / "link.html"))
    )
    return cases


def link_cases() -> list[Case]:
    """Shared links with bad values, opened by AppTest through the real Home.py: a notice, never an exception."""
    from dashboard.links import encode
    from tests.dashboard.conftest import open_app

    def link(name: str, query: dict, expect: str) -> Case:
        def check() -> str:
            return page_problem(open_app(query=query), expect)

        return Case("links", name, check)

    cfg = encode
    return [
        link("unknown dataset", {"dataset": "nope"}, "no dataset of that name"),
        link("dataset path", {"dataset": "../../etc/passwd"}, "no dataset of that name"),
        link("dataset upload absent", {"dataset": "upload-0123456789abcdef"}, "no dataset of that name"),
        link("unknown preset", {"preset": "nope"}, "no preset of that name"),
        link("spec garbage", {"spec": "%%%"}, "spec (the model) = %%% was refused"),
        link("spec empty object", {"spec": cfg({})}, "conv blocks"),
        link("spec huge inflate", {"spec": cfg({"x": "a" * 100_000})}, "damaged"),
        link("cfg garbage", {"cfg": "@@"}, "could not be read"),
        link("cfg not object", {"cfg": cfg([1])}, "could not be read"),
        link("cfg seed -1", {"cfg": cfg({"seed": -1})}, "seed"),
        link("cfg seed 2**64", {"cfg": cfg({"seed": 2**64})}, "seed"),
        link("cfg split nan", {"cfg": cfg({"validation_split": float("nan")})}, "Validation split"),
        link("cfg split 5", {"cfg": cfg({"validation_split": 5})}, "Validation split"),
        link("cfg epochs 0", {"cfg": cfg({"epochs": 0})}, "Epochs"),
        link("cfg epochs text", {"cfg": cfg({"epochs": "ten"})}, "epochs = ten was refused"),
        link("cfg epochs bool", {"cfg": cfg({"epochs": True})}, "wrong type"),
        link("cfg unknown key", {"cfg": cfg({"colour": 1})}, "names colour, not a setting"),
        link("cfg mapping garbage", {"cfg": cfg({"label_mapping": "x|y"})}, "label mapping"),
        link("run not a hash", {"run": "../../etc/passwd"}, "is not a run id"),
        link("run upper case", {"run": "0123456789ABCDEF0123"}, "is not a run id"),
        link("folds text", {"folds": "abc"}, "folds = abc was refused"),
        link("folds 99", {"folds": "99"}, "2 to 10 folds"),
        link("runs list bad", {"runs": "zz,../x"}, "were not run ids"),
        link("unknown parameter", {"colour": "red"}, "does not know: colour"),
    ]


# Bad values for every page's view parameters: each refused with a notice naming the parameter, never a crash.
PAGE_PARAMS = {
    "views/data.py": (
        "tab",
        "split",
        "per_class",
        "draw",
        "log",
        "map",
        "points",
        "issue_model",
        "issue_folds",
        "noise",
        "noise_seed",
        "near",
        "pairs",
        "pictures",
    ),
    "views/evaluate.py": (
        "tab",
        "cell",
        "norm",
        "ovr",
        "mistake",
        "shown",
        "sample",
        "overlay",
        "overlay_class",
        "epoch",
    ),
    "views/explain.py": (
        "tab",
        "image",
        "method",
        "perturbation",
        "class",
        "patch",
        "opacity",
        "level",
        "bins",
        "second",
        "pictures",
    ),
    "views/inspect.py": ("tab", "image", "scale", "draw_method"),
    "views/sweep.py": ("space", "sampler", "trials", "sampler_seed", "per_trial", "repeats", "metric", "trial"),
    "views/compare.py": ("metric",),
}
BAD_VALUES = {
    "negative": "-2",  # -1 is Explain's "predicted class"
    "huge": "9" * 400,
    "NaN": "NaN",
    "inf": "inf",
    "full-width digit": "\uff19",
    "control characters": "\x00\x07\x1b[31m",
    "hostile markup": HOSTILE,
}


def page_link_cases() -> list[Case]:
    from dashboard.links import encode
    from tests.dashboard.conftest import open_page

    def link(name: str, page: str, query: dict, expect: str) -> Case:
        def check() -> str:
            return page_problem(open_page(page, query={"dataset": "digits", **query}), expect)

        return Case("links", name, check)

    cases = []
    values = list(BAD_VALUES.items())
    for page, params in PAGE_PARAMS.items():
        short = page.removeprefix("views/").removesuffix(".py")
        for index, param in enumerate(params):
            for label, value in (values[index % len(values)], values[(index + 3) % len(values)]):
                cases.append(link(f"{short} ?{param}= {label}", page, {param: value}, param))
    from engine.architectures import PRESETS

    spec = PRESETS["digitlab-small8"].spec.to_dict()
    cases += [
        link(
            "train ?spec= deep JSON",
            "views/train.py",
            {"spec": _deep_token()},
            "spec",
        ),
        link("train ?cfg= deep JSON", "views/train.py", {"cfg": _deep_token()}, "cfg"),
        link("sweep ?space= deep JSON", "views/sweep.py", {"space": _deep_token()}, "space"),
        link(
            "train ?spec= NaN dropout",
            "views/train.py",
            {"spec": encode({**spec, "dense_dropout": float("nan")})},
            "spec",
        ),
        link("train ?spec= hostile name", "views/train.py", {"spec": encode({**spec, "name": HOSTILE})}, ""),
        link("train ?cfg= lr inf", "views/train.py", {"cfg": encode({"learning_rate": float("inf")})}, "cfg"),
        link("train ?cfg= lr -1", "views/train.py", {"cfg": encode({"learning_rate": -1})}, "learning"),
        link("train ?cfg= 100 kB value", "views/train.py", {"cfg": encode({"schedule": "x" * 100_000})}, "cfg"),
        link("train ?run= hostile", "views/train.py", {"run": HOSTILE}, "run"),
        link("train ?dataset= hostile", "views/train.py", {"dataset": HOSTILE}, "dataset"),
        link("train ?dataset= control characters", "views/train.py", {"dataset": "\x00digits\x07"}, "dataset"),
        link(
            "compare ?runs= 1000 ids", "views/compare.py", {"runs": ",".join(["0123456789abcdef0123"] * 1000)}, "runs"
        ),
        link("compare ?runs= hostile", "views/compare.py", {"runs": HOSTILE}, "runs"),
        link("crossval ?folds= full-width", "views/crossval.py", {"folds": "\uff15"}, "fold"),
        link("crossval ?job= hostile", "views/crossval.py", {"job": HOSTILE}, "job"),
        link("crossval ?job= absent job", "views/crossval.py", {"job": "0123456789abcdef"}, "job"),
        link("home: hostile parameter name", "views/home.py", {HOSTILE: "1"}, "does not know"),
    ]
    return cases


def _deep_token() -> str:
    """A link value (zlib + URL-safe base64, as the dashboard writes one) that inflates to 5,000 nested brackets."""
    import base64
    import zlib

    return base64.urlsafe_b64encode(zlib.compress(DEEP_JSON.encode(), 9)).decode().rstrip("=")
