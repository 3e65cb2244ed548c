"""What every family of the fault probe shares: the case record, the CLI run in this process, the checks of a clean
refusal and of inert text on a page, the hazards planted in the cache, and a small run trained once for the families
that need one."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FASHION = Path("/usr/share/datasets/fashion-mnist")
# Markdown, HTML and autolink triggers a name or a message could carry; a page shows them as text.
HOSTILE = (
    "[click](http://evil.example/x) ![p](http://evil.example/p.png) <img src=x onerror=alert(1)> <b>b</b> "
    "www.evil.example me@evil.example"
)
DEEP_JSON = "[" * 5000 + "]" * 5000


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
        os.environ["DIGIT_LAB_CACHE"] = str(cache)
        before = run_count(cache)
        code, _, err = cli_in_process(*args)
        problem = one_line_error(code, err)
        if not problem and expect and expect.lower() not in err.lower():
            problem = f"message lacks {expect!r}: {err.strip()[:200]}"
        if not problem and run_count(cache) != before:
            problem = "a run was stored for a refused request"
        return problem

    return check


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def idx_header(type_code: int, *dims: int) -> bytes:
    return bytes([0, 0, type_code, len(dims)]) + b"".join(int(d).to_bytes(4, "big") for d in dims)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def lying_npy(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """A .npy whose header promises `shape` but holds no data."""
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape!r}, }}".encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


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


# ---------------------------------------------------------------- hazards planted in the cache

HAZARDS = ("fifo", "dev-zero link", "oversized", "deep JSON", "truncated")


def plant(path: Path, hazard: str) -> None:
    """Replace the file at `path` by a hazard (its parent folder must exist)."""
    old = path.read_bytes() if path.is_file() and not path.is_symlink() else b"{}"
    if path.exists() or path.is_symlink():
        path.unlink()
    if hazard == "fifo":
        os.mkfifo(path)
    elif hazard == "dev-zero link":
        os.symlink("/dev/zero", path)
    elif hazard == "oversized":  # valid JSON, so only its size can refuse it
        path.write_bytes(b"[]" + b" " * (40 << 20))
    elif hazard == "deep JSON":
        path.write_text(DEEP_JSON)
    elif hazard == "truncated":
        path.write_bytes(old[: max(1, len(old) // 2)])
    else:
        raise ValueError(hazard)


def remanifest(folder: Path) -> None:
    """A manifest matching the run folder's files as they are now, hashed here (as a tamperer would)."""
    from engine.store import manifest

    files = {
        path.name: {"size": path.stat().st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        for path in folder.iterdir()
        if path.name != "manifest.json"
    }
    # The store's own bytes: it refuses a manifest written any other way.
    (folder / "manifest.json").write_bytes(
        manifest.manifest_bytes({"format": manifest.MANIFEST_FORMAT, "files": files})
    )


# ---------------------------------------------------------------- pages


def literal(text: str) -> str:
    from tests.dashboard.conftest import literal as unescape

    return unescape(text)


def markdown_bodies(app) -> list[str]:
    """Every Markdown source on the page: text elements, alerts, and the labels Streamlit renders as Markdown."""
    bodies = []
    for kind in ("markdown", "caption", "warning", "error", "info", "success", "title", "header", "subheader"):
        bodies += [str(element.value) for element in getattr(app, kind)]
    for kind in ("button", "selectbox", "number_input", "text_input", "toggle", "radio", "checkbox", "multiselect"):
        bodies += [str(widget.label) for widget in getattr(app, kind)]
    bodies += [str(tab.label) for tab in app.tabs]
    return bodies


def markup_problem(app) -> str:
    """ "" when no Markdown body on the page would render a link, an image or HTML (an independent CommonMark
    renderer, and the autolink triggers left after escapes), else the first body that would."""
    from markdown_it import MarkdownIt

    render = MarkdownIt("commonmark", {"html": True})
    for body in markdown_bodies(app):
        html = render.render(body)
        unescaped = re.sub(r"\\(.)", r"\1", body)
        if "<a " in html or "<img" in html or "<b>" in html or re.search(r"://|www\.|@\w", unescaped):
            return f"rendered as markup: {body[:160]!r}"
    return ""


def page_problem(app, expect: str = "") -> str:
    """An AppTest page is clean when it raised nothing, renders no planted markup and, when `expect` is given, shows a
    notice (warning, error or info) that names it."""
    if app.exception:
        return f"exception: {app.exception[0].message[:200]}"
    problem = markup_problem(app)
    if problem:
        return problem
    if expect:
        shown = " ".join(literal(str(e.value)) for e in (*app.warning, *app.error, *app.info))
        if expect.lower() not in shown.lower():
            return f"no notice naming {expect!r}: {shown[:200]!r}"
    return ""


# ---------------------------------------------------------------- one small trained run, shared


@functools.cache
def trained_cache(work: Path) -> tuple[Path, str]:
    """A cache holding one real run (digits, 1 epoch, 300 images): the template the families that need a run copy."""
    cache = work / "trained-template"
    os.environ["DIGIT_LAB_CACHE"] = str(cache)
    code, out, err = cli_in_process("train", "--dataset", "digits", "--epochs", "1", "--limit-train", "300", "--json")
    if code != 0:
        raise RuntimeError(f"could not train the probe's run: {err[-300:]}")
    return cache, json.loads(out)["run_id"]


def copy_of_trained(work: Path, label: str) -> tuple[Path, str]:
    """A fresh copy of the trained cache for one case, made the current cache."""
    from engine.store import manifest

    template, run_id = trained_cache(work)
    cache = work / f"copy-{hashlib.sha256(label.encode()).hexdigest()[:12]}"
    shutil.rmtree(cache, ignore_errors=True)
    shutil.copytree(template, cache, symlinks=True)
    os.environ["DIGIT_LAB_CACHE"] = str(cache)
    manifest.clear_digest_cache()
    return cache, run_id


def edit_meta(folder: Path, change: Callable[[dict], None]) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    change(meta)
    (folder / "meta.json").write_text(json.dumps(meta))
    remanifest(folder)
