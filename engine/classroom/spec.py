"""What a challenge is: one frozen, typed spec. Stored as JSON in the database; every field checked on the way in
by `check_challenge_spec` (the one validator for challenge settings, used by the CLI, the Classroom page and a
record read back from the database)."""

from __future__ import annotations

import math
import secrets
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.errors import DigitLabError
from engine.textfiles import load_json

# The settings a challenge may let students change (the TrainConfig fields of the sidebar's recipe, plus the
# architecture as a whole); everything else is the instructor's. Epochs and training images are capped, not locked.
STUDENT_SETTINGS = (
    "architecture",
    "epochs",
    "batch_size",
    "learning_rate",
    "lr_schedule",
    "augmentation",
    "label_smoothing",
    "seed",
    "limit_train",
)
DEFAULT_EDITABLE = ("architecture", "epochs", "batch_size", "learning_rate", "seed")
MAX_TITLE_CHARS = 120
MAX_INSTRUCTIONS_CHARS = 4000
# The validator's inclusive bounds, read by the Classroom page's widgets too: a form never offers what is refused.
EPOCHS_RANGE = (1, 100)
PARAMETERS_RANGE = (1_000, 50_000_000)
DAILY_SUBMISSIONS_RANGE = (1, 100)
PRIVATE_FRACTION_RANGE = (0.1, 0.9)
SPLIT_SEED_RANGE = (0, 2**32 - 1)  # what scikit-learn's random_state accepts


class InvalidChallenge(DigitLabError):
    """A challenge setting that cannot be honoured (said with the value and the allowed range)."""


@dataclass(frozen=True)
class ChallengeLimits:
    """What every submission is held to, on every path (page, CLI, link)."""

    max_epochs: int = 10  # a submission trains at most this many epochs
    max_parameters: int = 200_000  # trainable parameters of the student's model
    max_train: int = 0  # training images a submission may use (a stratified subset); 0 = the whole training split
    daily_submissions: int = 5  # per student per UTC day
    editable: tuple[str, ...] = DEFAULT_EDITABLE  # which settings students may change; the rest are the preset's


@dataclass(frozen=True)
class ChallengeSpec:
    dataset: str  # a registry name ("digits", "fashion-mnist") or an upload ("upload-<16 hex>")
    title: str  # plain text, shown as such
    instructions: str = ""  # plain text, shown as such
    preset: str = "digitlab-small8"  # the starting model and recipe students change within `limits.editable`
    limits: ChallengeLimits = field(default_factory=ChallengeLimits)
    closes_at: str = ""  # ISO 8601 UTC ("2026-12-24T18:00:00+00:00"); "" = open until the instructor closes it
    private_fraction: float = 0.5  # share of the test set kept private until close (Kaggle uses 0.67-0.75)
    # Seeds the hidden split: the same seed, the same public and private images. Creators draw it at random
    # (`random_split_seed`): with a known seed and the public test labels (MNIST's ship with Keras), anyone could
    # recompute which test images are private. 0 is only the default of a spec read back without one.
    split_seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def student_dict(self) -> dict[str, Any]:
        """What a student may read of the settings: all but the split's seed (see `split_seed`)."""
        shown = self.to_dict()
        del shown["split_seed"]
        return shown

    @classmethod
    def from_dict(cls, data: object) -> ChallengeSpec:
        """A spec from stored or typed JSON, checked (`InvalidChallenge` for anything else)."""
        if not isinstance(data, dict):
            raise InvalidChallenge("A challenge must be a JSON object.")
        limits = data.get("limits", {})
        if not isinstance(limits, dict):
            raise InvalidChallenge("A challenge's limits must be a JSON object.")
        try:
            editable = limits.get("editable", list(DEFAULT_EDITABLE))
            if not isinstance(editable, list | tuple):  # a lone "seed" would be split into letters
                raise InvalidChallenge("A challenge's editable settings are a list of names.")
            spec = cls(
                dataset=_text(data, "dataset"),
                title=_text(data, "title"),
                instructions=_text(data, "instructions", ""),
                preset=_text(data, "preset", cls.preset),
                limits=ChallengeLimits(
                    max_epochs=_whole(limits, "max_epochs", ChallengeLimits.max_epochs),
                    max_parameters=_whole(limits, "max_parameters", ChallengeLimits.max_parameters),
                    max_train=_whole(limits, "max_train", ChallengeLimits.max_train),
                    daily_submissions=_whole(limits, "daily_submissions", ChallengeLimits.daily_submissions),
                    editable=tuple(_name(name) for name in editable),
                ),
                closes_at=_text(data, "closes_at", ""),
                private_fraction=_fraction(data.get("private_fraction", cls.private_fraction)),
                split_seed=_whole(data, "split_seed", 0),
            )
        except KeyError as missing:
            raise InvalidChallenge(f"A challenge needs {missing.args[0]!r}.") from None
        return check_challenge_spec(spec)

    @classmethod
    def from_json(cls, text: str) -> ChallengeSpec:
        """A spec from its stored JSON (the database's record), read by the one bounded JSON reader."""
        try:
            data = load_json(text)
        except ValueError as problem:
            raise InvalidChallenge(f"A stored challenge's settings are not readable JSON ({problem}).") from None
        return cls.from_dict(data)

    def closing_time(self) -> datetime | None:
        return parse_closing_time(self.closes_at) if self.closes_at else None


def random_split_seed() -> int:
    """A split seed nobody can guess, for a challenge whose creator gave none."""
    return secrets.randbelow(SPLIT_SEED_RANGE[1] + 1)


_MISSING = object()


def _text(data: dict[str, Any], key: str, default: object = _MISSING) -> str:
    value = data[key] if default is _MISSING else data.get(key, default)
    if not isinstance(value, str):
        raise InvalidChallenge(f"A challenge's {key} must be text, not {type(value).__name__}.")
    return value


def _whole(data: dict[str, Any], key: str, default: int) -> int:
    """A whole number as written: 3.7 or true is refused, not read as 3 or 1."""
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidChallenge(f"A challenge's {key} must be a whole number, not {str(value)[:40]!r}.")
    return value


def _fraction(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidChallenge(f"A challenge's private_fraction must be a number, not {str(value)[:40]!r}.")
    return float(value)


def _name(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidChallenge(f"An editable setting is a name, not {str(value)[:40]!r}.")
    return value


def _printable_line(text: str) -> bool:
    """No control or format characters (bidi overrides, zero-width) and no line or paragraph separator: one line
    that reads as it is stored."""
    return not any(unicodedata.category(char)[0] == "C" or unicodedata.category(char) in ("Zl", "Zp") for char in text)


def parse_closing_time(text: str) -> datetime:
    """An ISO 8601 time as an aware UTC datetime; a time without a zone is refused (whose evening would it be?)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidChallenge(
            f"Closing time {text[:40]!r} is not an ISO 8601 time (2026-12-24T18:00:00+00:00)."
        ) from None
    if when.tzinfo is None:
        raise InvalidChallenge(f"Closing time {text[:40]!r} has no time zone; add one, e.g. +00:00 for UTC.")
    return when.astimezone(UTC)


def check_challenge_spec(spec: ChallengeSpec) -> ChallengeSpec:
    """The one validator of challenge settings: every bound said with the value asked for."""
    title = spec.title.strip()
    if not title or len(title) > MAX_TITLE_CHARS or not _printable_line(title):
        raise InvalidChallenge(f"A title is 1 to {MAX_TITLE_CHARS} printable characters on one line.")
    if len(spec.instructions) > MAX_INSTRUCTIONS_CHARS:
        raise InvalidChallenge(f"Instructions are at most {MAX_INSTRUCTIONS_CHARS} characters.")
    limits = spec.limits
    if not EPOCHS_RANGE[0] <= limits.max_epochs <= EPOCHS_RANGE[1]:
        raise InvalidChallenge(f"max epochs {limits.max_epochs} is outside {EPOCHS_RANGE[0]}..{EPOCHS_RANGE[1]}.")
    if not PARAMETERS_RANGE[0] <= limits.max_parameters <= PARAMETERS_RANGE[1]:
        raise InvalidChallenge(
            f"max parameters {limits.max_parameters} is outside {PARAMETERS_RANGE[0]:,}..{PARAMETERS_RANGE[1]:,}."
        )
    if limits.max_train < 0:
        raise InvalidChallenge(f"max training images {limits.max_train} is negative (0 = the whole training split).")
    if not DAILY_SUBMISSIONS_RANGE[0] <= limits.daily_submissions <= DAILY_SUBMISSIONS_RANGE[1]:
        raise InvalidChallenge(
            f"daily submissions {limits.daily_submissions} is outside "
            f"{DAILY_SUBMISSIONS_RANGE[0]}..{DAILY_SUBMISSIONS_RANGE[1]}."
        )
    unknown = sorted(set(limits.editable) - set(STUDENT_SETTINGS))
    if unknown:
        raise InvalidChallenge(
            f"Students cannot be given {', '.join(unknown)}; choose from {', '.join(STUDENT_SETTINGS)}."
        )
    low, high = PRIVATE_FRACTION_RANGE
    if not (math.isfinite(spec.private_fraction) and low <= spec.private_fraction <= high):
        raise InvalidChallenge(f"private fraction {spec.private_fraction} is outside {low}..{high}.")
    low_seed, high_seed = SPLIT_SEED_RANGE
    if not low_seed <= spec.split_seed <= high_seed:
        raise InvalidChallenge(f"split seed {spec.split_seed} is outside {low_seed}..{high_seed}.")
    if spec.closes_at:
        parse_closing_time(spec.closes_at)
    return spec
