"""Bad data files (family `data`: --data-path, the dataset environment variables, the first upload checks) and bad
uploads kept in the cache (family `uploads`: headers with lying sizes, degenerate images, duplicate parts, odd names,
an upload edited on disk)."""

from __future__ import annotations

import gzip
import io
import os
import time
import zipfile
from pathlib import Path

import numpy as np

from tests.probe.fixtures import FASHION, Case, idx_bytes, idx_header, lying_npy, npy_bytes, refused, write_set


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


IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_files(n_train: int = 40, n_test: int = 20, side: tuple[int, int] = (8, 8), **replace: bytes) -> list:
    rng = np.random.default_rng(2)
    arrays = (
        rng.integers(0, 256, (n_train, *side), dtype=np.uint8),
        (np.arange(n_train) % 10).astype(np.uint8),
        rng.integers(0, 256, (n_test, *side), dtype=np.uint8),
        (np.arange(n_test) % 10).astype(np.uint8),
    )
    files = [(name, idx_bytes(array)) for name, array in zip(IDX_NAMES, arrays, strict=True)]
    return [(name, replace.get(name.split("-")[0] + "_" + name.split("-")[1], data)) for name, data in files]


def npz_file(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def npz_with_member(key: str, member: bytes, base: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in base.items():
            archive.writestr(f"{name}.npy", member if name == key else npy_bytes(array))
    return buffer.getvalue()


def upload_cases(work: Path) -> list[Case]:
    """Uploads through `register_upload` (what the Data page calls): each is refused with a `DigitLabError` naming the
    problem and nothing kept, or accepted as a dataset that the listing shows and that loads with at least one
    training and one test image (never accepted and then missing, nor accepted and failing later)."""
    from engine.datasets import clear_dataset_cache, load_dataset
    from engine.datasets.uploads import list_uploads, register_upload
    from engine.errors import DigitLabError

    def uploads_dir() -> Path:
        return work / "uploads-cache" / "datasets" / "uploads"

    def case(name: str, files: list, *, must_refuse: bool = False, expect: str = "") -> Case:
        def check() -> str:
            os.environ["DIGIT_LAB_CACHE"] = str(work / "uploads-cache")
            clear_dataset_cache()
            try:
                registered = register_upload(files)
            except DigitLabError as error:
                if expect and expect.lower() not in str(error).lower():
                    return f"message lacks {expect!r}: {str(error)[:200]}"
                leftovers = (
                    [p.name for p in uploads_dir().iterdir() if p.name.startswith(".")]
                    if uploads_dir().is_dir()
                    else []
                )
                return f"left behind {leftovers}" if leftovers else ""
            except Exception as error:  # noqa: BLE001 - the probe reports any escape
                return f"{type(error).__name__}: {str(error)[:200]}"
            if must_refuse:
                return f"accepted as {registered}"
            if registered not in [info.name for info in list_uploads()]:
                return f"accepted as {registered}, then missing from the list of uploads"
            try:
                dataset = load_dataset(registered)
            except Exception as error:  # noqa: BLE001
                return f"accepted, then loading it raised {type(error).__name__}: {str(error)[:160]}"
            if min(len(dataset.y_train), len(dataset.y_test)) < 1:
                return "accepted with an empty split"
            return ""

        return Case("uploads", name, check)

    good = {
        "x_train": np.random.default_rng(3).integers(0, 256, (40, 8, 8), dtype=np.uint8),
        "y_train": (np.arange(40) % 10).astype(np.uint8),
        "x_test": np.random.default_rng(4).integers(0, 256, (20, 8, 8), dtype=np.uint8),
        "y_test": (np.arange(20) % 10).astype(np.uint8),
    }
    train_images = idx_files()[0][1]
    cases = [
        case(
            "idx header says 40 images, holds 10",
            idx_files(train_images=train_images[: 16 + 10 * 64]),
            must_refuse=True,
        ),
        case(
            "idx header says 28x28, holds 8x8",
            idx_files(train_images=idx_header(8, 40, 28, 28) + train_images[16:]),
            must_refuse=True,
        ),
        case(
            "idx header promising 2**32-1 images",
            idx_files(train_images=idx_header(8, 2**32 - 1, 8, 8)),
            must_refuse=True,
        ),
        case(
            "idx header with 255 dimensions",
            idx_files(train_images=bytes([0, 0, 8, 255]) + b"\0\0\0\1" * 255),
            must_refuse=True,
        ),
        case(
            "idx sides 65535 x 65535, no data", idx_files(train_images=idx_header(8, 1, 65535, 65535)), must_refuse=True
        ),
        case("idx 0 training images", idx_files(n_train=0)),
        case("idx 0 test images", idx_files(n_test=0)),
        case("idx 1x1 images", idx_files(side=(1, 1))),
        case("idx 0x0 images", idx_files(side=(0, 0))),
        case("idx images 1 x 5000 (wider than the listing allows)", idx_files(n_train=20, n_test=10, side=(1, 5000))),
        case("idx labels 255", idx_files(train_labels=idx_bytes(np.full(40, 255, np.uint8))), must_refuse=True),
        case("idx labels all one class", idx_files(train_labels=idx_bytes(np.zeros(40, np.uint8)))),
        case("idx images as float64 type code", idx_files(train_images=idx_bytes(np.zeros((40, 8, 8), ">f8"), 0x0E))),
        case(
            "two files for train labels",
            [*idx_files(), ("train-labels.idx1-ubyte", idx_files()[1][1])],
            must_refuse=True,
        ),
        case(
            "two files for train images (raw and gz)",
            [*idx_files(), ("train-images-idx3-ubyte.gz", gzip.compress(train_images))],
            must_refuse=True,
        ),
        case(
            "gz with a lying size trailer",
            [(n + ".gz", gzip.compress(d)[:-4] + (10**9).to_bytes(4, "little")) for n, d in idx_files()],
        ),
        case("a name that is not UTF-8 (lone surrogate)", [("\udcff.npz", npz_file(**good))], must_refuse=True),
        case("a name with control characters", [("mnist\x00\x1b.npz", npz_file(**good))], must_refuse=True),
        case("a name of 10,000 characters", [("a" * 10_000 + ".npz", npz_file(**good))], must_refuse=True),
        case(
            "npz member header promising 10**13 values",
            [("a.npz", npz_with_member("x_train", lying_npy((10**13,), "|u1"), good))],
            must_refuse=True,
        ),
        case(
            "npz member header with negative side",
            [("a.npz", npz_with_member("x_train", lying_npy((-40, 8, 8), "|u1"), good))],
            must_refuse=True,
        ),
        case(
            "npz 0 training images",
            [("a.npz", npz_file(**{**good, "x_train": good["x_train"][:0], "y_train": good["y_train"][:0]}))],
        ),
        case(
            "npz 1x1 images",
            [
                (
                    "a.npz",
                    npz_file(**{**good, "x_train": good["x_train"][:, :1, :1], "x_test": good["x_test"][:, :1, :1]}),
                )
            ],
        ),
        case("npz NaN labels", [("a.npz", npz_file(**{**good, "y_train": np.full(40, np.nan)}))], must_refuse=True),
        case(
            "npz images with 3 channels",
            [("a.npz", npz_file(**{**good, "x_train": np.zeros((40, 8, 8, 3), np.uint8)}))],
        ),
        case("npz extra member with a hostile name", [("a.npz", npz_file(**good, **{"<img src=x>": np.zeros(1)}))]),
    ]

    def edited_then_uploaded_again() -> str:
        """Fault 4: an upload edited on disk is repaired by uploading the same files again."""
        os.environ["DIGIT_LAB_CACHE"] = str(work / "uploads-edited")
        clear_dataset_cache()
        files = [("a.npz", npz_file(**good))]
        name = register_upload(files)
        kept = next((work / "uploads-edited" / "datasets" / "uploads" / name.removeprefix("upload-")).glob("*.npz"))
        kept.write_bytes(kept.read_bytes()[:-20])
        clear_dataset_cache()
        try:
            register_upload(files)
            clear_dataset_cache()
            load_dataset(name)
        except Exception as error:  # noqa: BLE001
            return f"still refused after uploading the same files again: {type(error).__name__}: {str(error)[:160]}"
        return ""

    def scaled_0_16() -> str:
        """Fault 9: a 0..16 upload (the bundled digits saved as uint8) must not be read as 0..255 without a word."""
        from sklearn.datasets import load_digits

        os.environ["DIGIT_LAB_CACHE"] = str(work / "uploads-scaled")
        clear_dataset_cache()
        digits = load_digits()
        x, y = digits.images.astype(np.uint8), digits.target.astype(np.uint8)
        name = register_upload(
            [("d.npz", npz_file(x_train=x[:1500], y_train=y[:1500], x_test=x[1500:], y_test=y[1500:]))]
        )
        dataset = load_dataset(name)
        said = " ".join([dataset.pixel_scaling, *dataset.warnings])
        if dataset.value_max == 16 and "16" in dataset.pixel_scaling:
            return ""  # divided by its own range, and said so (the card and the Data page show pixel_scaling)
        if dataset.value_max == 255 and "16" in said:
            return ""  # read as 0..255, but said so
        return f"a 0..16 upload was read as 0..{dataset.value_max:g} with no word of it ({said[:120]!r})"

    cases += [
        Case("uploads", "edited on disk, then the same files uploaded again", edited_then_uploaded_again),
        Case("uploads", "a 0..16 upload read as 0..255", scaled_0_16),
    ]
    return cases
