"""What can be done to a loaded `Dataset`: scale to 0..1, take a stratified training subset, merge classes.

Each function returns a new `Dataset` (the input is shared between dashboard sessions and never changed) and
records what it did in `transforms`, so the data pages and run metadata show the exact recipe. Merging uses a
`LabelMapping`; `LABEL_MAPPINGS` holds the named presets and `parse_label_mapping` reads the "0,6|1,7|..." form.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from engine.datasets.dataset import Dataset
from engine.errors import InvalidLabelMapping


def normalised(x: np.ndarray, value_max: float) -> np.ndarray:
    """Raw pixels (0..value_max) as float32 in 0..1, in one pass with no float64 intermediate.

    Division (not multiplication by 1/value_max) keeps value_max itself at exactly 1.0.
    """
    if not value_max > 0:
        raise ValueError(f"value_max must be positive, got {value_max}")
    return np.divide(x, np.float32(value_max), dtype=np.float32)


def _readonly(*arrays: np.ndarray) -> None:
    for array in arrays:
        array.flags.writeable = False


def stratified_indices(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted row indices of a random sample of `n` rows of `labels` that keeps each class's share, deterministic
    for a seed; every row (in order) when `n` is at least `len(labels)`.

    Every class present gets at least one row, so a small sample still shows each class; `n` must therefore be at
    least the number of classes present (`ValueError` otherwise). Stored runs' keys depend on the training subset
    drawn here, so the draw must never change: one generator seeded with `seed`, one `choice` per class in
    ascending label order.
    """
    labels = np.asarray(labels)
    size = len(labels)
    if n >= size:
        return np.arange(size)
    classes, class_of_row = np.unique(labels, return_inverse=True)
    if n < len(classes):
        raise ValueError(f"a stratified sample of {n} rows cannot hold one of each of the {len(classes)} classes")
    take = class_quotas(np.bincount(class_of_row, minlength=len(classes)), n)
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(class_of_row == index), size=int(count), replace=False)
        for index, count in enumerate(take)
    ]
    return np.sort(np.concatenate(chosen))


def class_quotas(counts: np.ndarray, n: int) -> np.ndarray:
    """How many of each class a stratified sample of n takes: proportional, largest remainders, >= 1 per class.

    The caller guarantees every count is positive and n >= number of classes.
    """
    exact = counts * (n / int(counts.sum()))
    take = np.maximum(np.floor(exact).astype(np.int64), 1)
    remainder = exact - np.floor(exact)
    # Too many (after the >= 1 rule): take back from the classes that have the most, fractional part first.
    while take.sum() > n:
        candidates = np.flatnonzero(take > 1)
        order = candidates[np.lexsort((remainder[candidates], -take[candidates]))]
        take[order[0]] -= 1
    # Too few: hand out the rest by largest fractional part (stable order breaks ties by class index).
    order = np.argsort(-remainder, kind="stable")
    i = 0
    while take.sum() < n:
        cls = order[i % len(order)]
        if take[cls] < counts[cls]:
            take[cls] += 1
        i += 1
    return take


def subset_train(dataset: Dataset, n: int, seed: int = 0) -> Dataset:
    """A stratified random subset of `n` training samples (test set unchanged), deterministic for a seed.

    `n` at or above the training size returns `dataset` itself. Samples keep their original order.
    """
    return subset_train_with_rows(dataset, n, seed)[0]


def subset_train_with_rows(dataset: Dataset, n: int, seed: int = 0) -> tuple[Dataset, np.ndarray]:
    """`subset_train`, and the rows of `dataset`'s training part it kept (sorted), so a result indexed by the
    subset's rows can be traced back to the images it came from."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"training subset size must be a whole number, got {n!r}")
    n = int(n)
    size = len(dataset.y_train)
    if n >= size:
        return dataset, np.arange(size)
    present = len(np.unique(dataset.y_train))
    minimum = max(1, dataset.num_classes, present)
    if n < minimum:
        raise ValueError(
            f"training subset size {n} is too small for {dataset.name}: it needs at least {minimum} samples "
            f"(one per class, {dataset.num_classes} classes). Choose {minimum}..{size}."
        )
    index = stratified_indices(dataset.y_train, n, seed)
    x_train, y_train = dataset.x_train[index], dataset.y_train[index]
    _readonly(x_train, y_train)
    subset = dataclasses.replace(
        dataset,
        x_train=x_train,
        y_train=y_train,
        transforms=dataset.transforms + (f"train subset {n} (stratified, seed {seed})",),
    )
    return subset, index


@dataclass(frozen=True)
class LabelMapping:
    """Groups of original classes that become one class each: group i gets label i and `group_names[i]`.

    The structure (non-empty groups, no class twice, one name per group) is checked on construction;
    `validate(num_classes)` also checks it covers exactly the classes 0..num_classes-1 of a dataset.
    Empty `group_names` are filled with "0/6"-style names.
    """

    name: str
    groups: tuple[tuple[int, ...], ...]
    group_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            groups = tuple(tuple(int(c) for c in group) for group in self.groups)
        except (TypeError, ValueError):
            raise InvalidLabelMapping(
                f"label mapping {self.name!r}: groups must be lists of class numbers, got {self.groups!r}"
            ) from None
        if not groups:
            raise InvalidLabelMapping(f"label mapping {self.name!r} has no groups; give at least one group of classes.")
        empty = [i + 1 for i, group in enumerate(groups) if not group]
        if empty:
            raise InvalidLabelMapping(
                f"label mapping {self.name!r}: group(s) {', '.join(map(str, empty))} are empty; "
                "every group needs at least one class."
            )
        negative = sorted({c for group in groups for c in group if c < 0})
        if negative:
            raise InvalidLabelMapping(
                f"label mapping {self.name!r}: classes {', '.join(map(str, negative))} are negative; "
                "classes are numbered from 0."
            )
        seen: dict[int, int] = {}
        twice: set[int] = set()
        for group in groups:
            for c in group:
                if c in seen:
                    twice.add(c)
                seen[c] = seen.get(c, 0) + 1
        if twice:
            raise InvalidLabelMapping(
                f"label mapping {self.name!r}: classes {', '.join(map(str, sorted(twice)))} are mapped more than "
                "once; each class must be in exactly one group."
            )
        names = tuple(str(n) for n in self.group_names) or tuple("/".join(map(str, g)) for g in groups)
        if len(names) != len(groups):
            raise InvalidLabelMapping(
                f"label mapping {self.name!r}: {len(groups)} groups but {len(names)} group names; "
                "give one name per group."
            )
        object.__setattr__(self, "groups", groups)
        object.__setattr__(self, "group_names", names)

    @property
    def num_groups(self) -> int:
        return len(self.groups)

    def validate(self, num_classes: int) -> None:
        """Raise `InvalidLabelMapping` unless the groups cover classes 0..num_classes-1 exactly once each."""
        mapped = {c for group in self.groups for c in group}
        unknown = sorted(c for c in mapped if c >= num_classes)
        unmapped = sorted(set(range(num_classes)) - mapped)
        problems = []
        if unknown:
            problems.append(
                f"classes {', '.join(map(str, unknown))} do not exist (the data has classes 0..{num_classes - 1})"
            )
        if unmapped:
            problems.append(f"classes {', '.join(map(str, unmapped))} are not in any group")
        if problems:
            raise InvalidLabelMapping(
                f"label mapping {self.name!r}: {'; '.join(problems)}. Every class 0..{num_classes - 1} must be in "
                "exactly one group."
            )

    def lookup(self, num_classes: int) -> np.ndarray:
        """Array `table` with `table[original_class] == group index`, after validating against num_classes."""
        self.validate(num_classes)
        table = np.empty(num_classes, dtype=np.int64)
        for index, group in enumerate(self.groups):
            table[list(group)] = index
        return table

    def describe(self) -> str:
        return " | ".join(self.group_names)


LABEL_MAPPINGS: dict[str, LabelMapping] = {
    # The course assignment behind seed document 004 merged look-alike digits into four classes this way.
    "seed004-4class": LabelMapping(
        name="seed004-4class",
        groups=((0, 6), (1, 7), (2, 3, 5, 8), (4, 9)),
        group_names=("0/6", "1/7", "2/3/5/8", "4/9"),
    ),
}


def parse_label_mapping(text: str, num_classes: int) -> LabelMapping:
    """Read a mapping written as "0,6|1,7|2,3,5,8|4,9" (groups split by |, classes by commas) or a preset name."""
    text = (text or "").strip()
    if not text:
        raise InvalidLabelMapping(
            "label mapping is empty; write groups like '0,6|1,7|2,3,5,8|4,9' or use a preset: "
            + ", ".join(LABEL_MAPPINGS)
        )
    if text in LABEL_MAPPINGS:
        mapping = LABEL_MAPPINGS[text]
        mapping.validate(num_classes)
        return mapping
    groups = []
    for position, part in enumerate(text.split("|"), start=1):
        tokens = [token.strip() for token in part.split(",")]
        if all(not token for token in tokens):
            raise InvalidLabelMapping(
                f"label mapping {text!r}: group {position} is empty; write groups like '0,6|1,7' "
                "with no empty group between two '|'."
            )
        group = []
        for token in tokens:
            if not token:
                raise InvalidLabelMapping(
                    f"label mapping {text!r}: group {position} ({part.strip()!r}) has an empty entry; "
                    "separate class numbers with single commas."
                )
            try:
                group.append(int(token))
            except ValueError:
                known = f" (or a preset: {', '.join(LABEL_MAPPINGS)})" if LABEL_MAPPINGS else ""
                raise InvalidLabelMapping(
                    f"label mapping {text!r}: {token!r} in group {position} is not a class number; write groups "
                    f"like '0,6|1,7|2,3,5,8|4,9'{known}."
                ) from None
        groups.append(tuple(group))
    name = "|".join(",".join(map(str, g)) for g in groups)
    mapping = LabelMapping(name=name, groups=tuple(groups))
    mapping.validate(num_classes)
    return mapping


def merge_labels(dataset: Dataset, mapping: LabelMapping) -> Dataset:
    """Relabel train and test to group indices 0..g-1; class names become the group names, the name stays."""
    table = mapping.lookup(dataset.num_classes)
    y_train, y_test = table[dataset.y_train], table[dataset.y_test]
    _readonly(y_train, y_test)
    return dataclasses.replace(
        dataset,
        y_train=y_train,
        y_test=y_test,
        class_names=mapping.group_names,
        transforms=dataset.transforms + (f"classes merged ({mapping.name}): {mapping.describe()}",),
    )
