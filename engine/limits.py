"""Every cap in force, in one module: generous on a laptop, tight in hosted mode (`DIGIT_LAB_HOSTED=1`).

A hosted Digit Lab link is opened by a whole class on one small shared machine, so hosted mode caps what one
request may cost: epochs, training-set size, parameters, the memory of concurrent trainings and the cache's total size,
and the dashboard hides delete buttons. Every hosted cap can be tuned with its own environment variable.

The checks of every input kind (behind `engine.validation`'s door), the layer table (`engine.architectures.shapes`),
the training queue and the dashboard's widget ranges all read their bounds from here, so a link can never carry
what a widget cannot show. This module imports nothing from the engine but `settings` (how a switch is read): its
users import it, never the reverse.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from engine.settings import env_flag

HOSTED_ENV = "DIGIT_LAB_HOSTED"


def hosted_mode() -> bool:
    return env_flag(HOSTED_ENV)


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class SpecLimits:
    """Upper bounds a model spec must respect; hosted mode lowers the parameter count."""

    max_conv_blocks: int = 8
    max_dense_layers: int = 6
    max_filters: int = 1024
    max_units: int = 8192
    max_kernel: int = 15  # pixels, square kernels
    max_stride: int = 8
    max_pool_size: int = 8  # also the largest explicit pool stride
    max_learning_rate: float = 10.0  # far above any useful rate; only catches typing slips such as 1e3
    max_parameters: int = 20_000_000  # a 20M-parameter model is ~80 MB on disk and slow on a laptop CPU


@dataclass(frozen=True)
class TrainLimits:
    """Upper bounds on a training config; hosted mode lowers epochs and the training-set size."""

    max_epochs: int = 500
    max_batch_size: int = 8192
    max_train_examples: int = 0  # 0 = no cap; hosted mode caps the training-set size
    max_seed: int = 2**32 - 1  # NumPy's and Keras' seeding accept 32-bit unsigned seeds only
    max_cv_folds: int = 10  # more folds cost more trainings for little change in the estimate
    max_augment_rotation: float = 180.0  # degrees; beyond it a rotation repeats one of the other direction
    max_label_smoothing: float = 0.5  # half the target's mass spread over all classes; recipes use 0.1-0.2
    max_warmup_fraction: float = 0.5  # of all steps; a longer warm-up leaves too few steps to anneal


# A hosted server's memory: Streamlit Community Cloud gives an app up to about 2.7 GB. The server itself (Streamlit,
# the engine, digits and Fashion-MNIST loaded, ten sessions open; no TensorFlow yet) measured 315 MB of RSS before
# the first training in bench/hosted_soak.py (bench/README.md); SERVER_BASELINE_MB rounds that up. The rest is the
# default budget for trainings, each charged its estimate (engine/memory_estimate.py).
HOST_MEMORY_MB = 2700
SERVER_BASELINE_MB = 400


@dataclass(frozen=True)
class ServerLimits:
    max_concurrent_trainings: int  # 0 = no count cap; more requests wait in a queue and see their position
    max_cache_bytes: int  # 0 = unlimited; above it the least recently used runs are evicted
    memory_budget_mb: int = 0  # 0 = no memory rule; else running trainings' estimates must fit (MB = 10^6 bytes)


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity call on macOS and Windows
        return max(1, os.cpu_count() or 1)


def server_limits() -> ServerLimits:
    """Hosted: admission by memory (`DIGIT_LAB_MEMORY_MB`) and at most one training per usable core unless
    `DIGIT_LAB_MAX_TRAININGS` says otherwise (0 = no count cap).

    The count cap is there for time, not memory: one training already keeps every core busy, so when a class submits
    at once, trainings beyond the core count only share the cores and all finish late together (measured: 17 small
    trainings admitted together on 2 cores each took ~220 s; bench/README.md, "A class at once"); in order, the
    first scores come in seconds and the queue shows each student a position.

    Elsewhere: two trainings at once (one already uses every core of a laptop), no memory rule unless set.
    """
    if hosted_mode():
        return ServerLimits(
            _env_int("DIGIT_LAB_MAX_TRAININGS", usable_cores()),
            _env_int("DIGIT_LAB_MAX_CACHE_MB", 2048) * 2**20,
            _env_int("DIGIT_LAB_MEMORY_MB", HOST_MEMORY_MB - SERVER_BASELINE_MB),
        )
    return ServerLimits(
        _env_int("DIGIT_LAB_MAX_TRAININGS", 2),
        _env_int("DIGIT_LAB_MAX_CACHE_MB", 0) * 2**20,
        _env_int("DIGIT_LAB_MEMORY_MB", 0),
    )


def spec_limits() -> SpecLimits:
    if hosted_mode():
        return SpecLimits(max_parameters=_env_int("DIGIT_LAB_MAX_PARAMETERS", 2_000_000))
    return SpecLimits()


def train_limits() -> TrainLimits:
    if hosted_mode():
        return TrainLimits(
            max_epochs=_env_int("DIGIT_LAB_MAX_EPOCHS", 30),
            max_train_examples=_env_int("DIGIT_LAB_MAX_TRAIN_EXAMPLES", 20_000),
        )
    return TrainLimits()


@dataclass(frozen=True)
class InputLimits:
    """Sizes of what users hand in, checked before anything is read into memory."""

    max_spec_bytes: int = 1 << 20  # a model spec is a few kB of JSON; a megabyte is a wrong file, not a spec
    max_upload_bytes: int = 200 << 20  # one Data-page upload (Streamlit's own default cap); raw Fashion-MNIST is 55 MB
    max_decoded_bytes: int = 1 << 30  # one IDX/npz member after decompression: refuses gzip/zip bombs


def input_limits() -> InputLimits:
    if hosted_mode():
        return InputLimits(
            max_upload_bytes=_env_int("DIGIT_LAB_MAX_UPLOAD_MB", 64) << 20,
            max_decoded_bytes=_env_int("DIGIT_LAB_MAX_DECODED_MB", 256) << 20,
        )
    return InputLimits(max_upload_bytes=_env_int("DIGIT_LAB_MAX_UPLOAD_MB", 200) << 20)


@dataclass(frozen=True)
class DataLimits:
    """What a dataset must be for every page and training to work on it (`engine.datasets.checks`)."""

    # Three: a 20 % validation hold-out of the training split still leaves two images to fit, and the Data page's
    # 2-D map needs more points than t-SNE's smallest perplexity (2); fewer is a file that lost its content.
    min_images_per_split: int = 3
    # Two: a classifier of one class has nothing to learn, and its scores (accuracy 100 %) would mean nothing.
    min_train_classes: int = 2
    # Four pixels: the smallest layer stack (a 3x3 convolution then a 2x2 pool) needs 4; a 1x1 image has one
    # feature, which the 2-D map (two principal components) cannot project.
    min_side: int = 4
    # 512 pixels: digit images are 8 to 28 pixels a side; a larger side is a photograph, not this lab's input, and
    # the Data page draws each sample grid as one Plotly cell per pixel. The dataset listing reads the same bound.
    max_side: int = 512


def data_limits() -> DataLimits:
    return DataLimits()


@dataclass(frozen=True)
class ProbeLimits:
    """Bounds on the probes of a stored run (calibration, robustness, explanations)."""

    max_calibration_bins: int = 100  # more equal-width bins leaves most of them empty on a 10 000-image test set
    max_levels: int = 20  # severity levels in one robustness curve; each level scores the whole test set
    max_explain_images: int = 64  # images in one `explain` call; SmoothGrad and occlusion cost ~50 passes each
    max_explain_file_bytes: int = 64 << 20  # an --image .npy of 64 images of 28x28 float64 is 0.4 MB
    max_embedding_map_points: int = 10_000  # PCA of the whole test set up to MNIST's 10 000 images
    max_tsne_points: int = 3_000  # t-SNE's cost grows faster than linearly; the Data page's map stops here too
    default_tsne_points: int = 1_000  # a stratified subset: ~10 s of t-SNE on two CPU cores
    max_stored_probe_bytes: int = 16 << 20  # a stored probe result read back (a 10 000-point map is ~0.6 MB)
    max_dynamics_map_points: int = 60_000  # training examples on the dynamics map: all of MNIST's training set
    hosted_dynamics_map_points: int = 5_000  # hosted: a sample, so a page of many visitors sends little JSON


def dynamics_map_points() -> int:
    """How many training examples the dynamics map draws at most: fewer in hosted mode
    (`DIGIT_LAB_MAX_DYNAMICS_POINTS` overrides there)."""
    limits = ProbeLimits()
    if hosted_mode():
        return _env_int("DIGIT_LAB_MAX_DYNAMICS_POINTS", limits.hosted_dynamics_map_points)
    return limits.max_dynamics_map_points


@dataclass(frozen=True)
class LeakageLimits:
    """Bounds on the train/test leakage check (`engine.leakage`): its cost is test images x train images."""

    max_pairs: int = 1_000  # pairs listed, closest first; the counts always cover every pair found
    # Images compared, 0 = all. Hosted: the first 2,000 test images against the first 60,000 train images (all of
    # MNIST's): Fashion-MNIST's 2,000 against 60,000 took ~5 s on two CPU cores.
    max_test_images: int = 0
    max_train_images: int = 0


def leakage_limits() -> LeakageLimits:
    if hosted_mode():
        return LeakageLimits(
            max_test_images=_env_int("DIGIT_LAB_MAX_LEAKAGE_TEST_IMAGES", 2_000),
            max_train_images=_env_int("DIGIT_LAB_MAX_LEAKAGE_TRAIN_IMAGES", 60_000),
        )
    return LeakageLimits()


@dataclass(frozen=True)
class DisplayLimits:
    """What the pages send to a browser beyond the engine's results."""

    # Points of a 2-D map whose hover shows the image (a PNG data URI of ~300 to 600 bytes each, ~0.5 ms to make):
    # 3,000 is the Data page's largest map (~1.5 MB); hosted, 1,000 keeps a class's pages light. Beyond it, evenly
    # spread points carry a picture and the rest their index and class.
    max_hover_thumbnails: int = 3_000


def display_limits() -> DisplayLimits:
    if hosted_mode():
        return DisplayLimits(max_hover_thumbnails=_env_int("DIGIT_LAB_MAX_THUMBNAILS", 1_000))
    return DisplayLimits(max_hover_thumbnails=_env_int("DIGIT_LAB_MAX_THUMBNAILS", 3_000))


@dataclass(frozen=True)
class AdversarialLimits:
    """Bounds on one adversarial-examples probe (`engine.probes.adversarial`); hosted mode lowers steps and images.

    Its cost is images x epsilons x (1 + PGD steps) gradient passes: on the full MNIST test set 12 epsilons of
    100-step PGD are ~12 million image-gradients, minutes on a laptop; hosted, 500 images x 12 x 21 is ~126 000.
    """

    max_epsilons: int = 12  # points on one accuracy-vs-eps curve
    max_steps: int = 100  # PGD iterations after its FGSM start
    max_images: int = 10_000  # attacked test images: MNIST's whole test set
    gallery_per_eps: int = 4  # perturbed examples kept per eps for the page's gallery


def adversarial_limits() -> AdversarialLimits:
    if hosted_mode():
        return AdversarialLimits(
            max_steps=_env_int("DIGIT_LAB_MAX_ADVERSARIAL_STEPS", 20),
            max_images=_env_int("DIGIT_LAB_MAX_ADVERSARIAL_IMAGES", 500),
        )
    return AdversarialLimits()


@dataclass(frozen=True)
class DiagnosticsLimits:
    """Bounds on a label-issue search (`engine.diagnostics`): it trains one model per fold on the whole training set,
    so hosted mode caps the folds and the training-set size it takes."""

    max_folds: int = 10  # as k-fold cross-validation's own cap
    max_train_examples: int = 0  # 0 = no cap; hosted: the digits sets (1,437 and 4,496 images) fit, MNIST does not


def diagnostics_limits() -> DiagnosticsLimits:
    if hosted_mode():
        return DiagnosticsLimits(
            max_folds=_env_int("DIGIT_LAB_MAX_LABEL_ISSUE_FOLDS", 5),
            max_train_examples=_env_int("DIGIT_LAB_MAX_LABEL_ISSUE_IMAGES", 5_000),
        )
    return DiagnosticsLimits()


@dataclass(frozen=True)
class SweepLimits:
    """Bounds on one sweep (a `--space` file is untrusted); hosted mode lowers the trials and the runs they train."""

    max_trials: int = 100
    max_runs: int = 200  # trials x folds (or seeds); a job file holds at most 200 runs too (engine/jobs/records.py)
    max_params: int = 8  # varied settings in one space
    max_choices: int = 20  # values of one choice parameter
    max_grid_points: int = 10  # grid values of one range parameter
    max_space_bytes: int = 64 << 10  # a --space file is a few hundred bytes of JSON


def sweep_limits() -> SweepLimits:
    if hosted_mode():
        return SweepLimits(
            max_trials=_env_int("DIGIT_LAB_MAX_SWEEP_TRIALS", 12), max_runs=_env_int("DIGIT_LAB_MAX_SWEEP_RUNS", 24)
        )
    return SweepLimits()
