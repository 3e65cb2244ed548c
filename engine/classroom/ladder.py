"""The public board's rule and both boards: the parameter-free Ladder (Blum & Hardt, "The Ladder: A Reliable
Leaderboard for Machine Learning Competitions", ICML 2015, Algorithm 2), then ranking.

Why the Ladder: a board that shows every submission's public score lets a student climb it by trying many models
and keeping what scored high on the public images by chance; at close the private part reveals the fall. The Ladder
shows a new score only when it beats the student's shown best by more than the public part's noise for that pair of
submissions (a one-sided paired test), so such a climb gains (almost) nothing, while a real improvement shows.

Per student, in submission order, with the 0/1 loss on the n public images (loss_i = 1 when image i is wrong):
    released  when  error(new) < error(best) - s / sqrt(n),  s = sample std (n - 1) of loss(new) - loss(best)
    the first submission is always released (the paper's initial estimate is infinite);
    a released error is rounded to a multiple of 1/n (the paper's [R]_{1/n}: with the 0/1 loss an error is
    already a count over n, so the rounding only removes floating-point dust).
Squared, the rule is exact on counts: with f public images the new submission gets right and the best got wrong,
and b the other way round, it is released when f > b and (f - b)**2 > f + b; that is how it is computed.
A submission that is not released changes nothing: the board keeps the previous best and its loss vector.

What the Ladder guards is the board: the class sees `shown_accuracy`, so nobody climbs the shared ranking by
chance. A student still sees their own submission's public score (the issue's `submit --json` prints it, and their
run is evaluated on the public part, as Kaggle shows each submission's public score); what tuning to it buys, the
private board shows at close. `reason` says only whether the board moved, `detail` (the margin) is the instructor's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engine.classroom.spec import InvalidChallenge

RULE_TEXT = (
    "How the public board works: each submission is scored on the public part of the test set (n images). Your "
    "board score changes only when a submission beats your shown best by more than the noise of those n images: "
    "its public accuracy must exceed your shown accuracy by more than s / sqrt(n), where s is the standard "
    "deviation, over the n public images, of the difference between the two submissions' mistakes (1 for a "
    "wrong image, 0 for a right one). Put in counts: if the new submission fixes f images your best got wrong and "
    "breaks b it got right, it is shown when f - b is positive and (f - b) squared exceeds f + b. A smaller gain is "
    "within what luck on these particular images would give, so the board keeps your previous best and says so. "
    "This is the Ladder rule (Blum and Hardt, 2015): it keeps the public board honest when many submissions are "
    "tried, so trying many small variations to fit the public images does not move you up. Your first submission "
    "is always shown. The final ranking uses the private part, which nobody sees until the challenge closes."
)


@dataclass(frozen=True)
class LadderStep:
    """One submission as the public board treats it."""

    submission_id: str
    public_accuracy: float  # this submission's own public score: the instructor's, never shown to the student
    released: bool  # whether it became the student's shown best
    shown_accuracy: float  # what the board shows after this submission (the released best so far)
    reason: str  # plain text for the student: released or not, and what the board shows (never their own score)
    needed_accuracy: float | None = None  # the public accuracy it had to exceed; None for a first submission
    public_images: int = 0  # n, the public part's size
    detail: str = ""  # plain text for the instructor: the decision with its numbers (own score, margin, counts)


@dataclass(frozen=True)
class BoardRow:
    """A row of the public board."""

    rank: int  # 1 = top
    student: str
    shown_accuracy: float  # the Ladder's released best
    submission_id: str  # the submission whose score is shown
    submissions: int  # how many the student made


@dataclass(frozen=True)
class PrivateRow:
    """A row of the private board (at close)."""

    rank: int  # 1 = top; students without a private score come last
    student: str
    private_accuracy: float | None  # None when the final submission has no private score (said in `note`)
    submission_id: str  # the student's final submission
    chosen: bool  # True when the student chose it; False when it is the default (the board's shown best)
    shown_accuracy: float  # its public board score, for reference
    note: str = ""  # plain text, e.g. why there is no private score


def _loss_vector(submission_id: str, correct: np.ndarray, expected: int | None) -> np.ndarray:
    """The 0/1 loss per public image, checked: one flag per image, the same images for every submission."""
    flags = np.asarray(correct)
    if flags.ndim != 1:
        raise InvalidChallenge(f"Submission {submission_id}: its public result must be one flag per image.")
    if flags.dtype != np.bool_:
        if not np.issubdtype(flags.dtype, np.integer) or not bool(np.isin(flags, (0, 1)).all()):
            raise InvalidChallenge(f"Submission {submission_id}: its public result must be right/wrong flags (0 or 1).")
        flags = flags.astype(bool)
    if flags.size < 2:
        raise InvalidChallenge(
            f"Submission {submission_id}: the public part has {flags.size} images; the Ladder needs at least 2."
        )
    if expected is not None and flags.size != expected:
        raise InvalidChallenge(
            f"Submission {submission_id} was scored on {flags.size} public images, the others on {expected}: "
            "every submission must be scored on the same public part."
        )
    return (~flags).astype(np.float64)


def ladder(submissions: Sequence[tuple[str, np.ndarray]]) -> list[LadderStep]:
    """One student's submissions, in the order made, through the parameter-free Ladder: one step each.

    Each submission is (id, correct) with `correct` one bool per public image (True = right)."""
    steps: list[LadderStep] = []
    best_loss: np.ndarray | None = None
    best_errors = 0  # the shown best's error count over n (the paper's R, times n)
    size: int | None = None
    for submission_id, correct in submissions:
        loss = _loss_vector(submission_id, correct, size)
        n = int(loss.size)
        size = n
        errors = int(loss.sum())
        accuracy = (n - errors) / n
        if best_loss is None:
            released, needed = True, None
            reason = f"First submission: its public accuracy, {accuracy:.4f} on {n} images, is shown."
            detail = reason
        else:
            best_accuracy = (n - best_errors) / n
            spread = float(np.std(loss - best_loss, ddof=1))
            margin = spread / math.sqrt(n)
            # The rule on exact counts (f images fixed, b broken against the best; g = f - b): error < best -
            # s/sqrt(n) is, after squaring, g > 0 and g**2 > f + b. Integers, so a tie is a tie, never rounding luck.
            fixed = int(np.count_nonzero((loss == 0) & (best_loss == 1)))
            broken = int(np.count_nonzero((loss == 1) & (best_loss == 0)))
            gain_count = fixed - broken
            released = gain_count > 0 and gain_count * gain_count > fixed + broken
            needed = best_accuracy + margin
            gain = accuracy - best_accuracy
            numbers = (
                f"public accuracy {accuracy:.4f} vs shown best {best_accuracy:.4f} (a gain of {gain:+.4f}: "
                f"images fixed {fixed}, broken {broken}); noise margin s/sqrt(n) = {spread:.4f}/sqrt({n}) = "
                f"{margin:.4f}"
            )
            # The student learns only whether it was released (the Ladder's whole answer): their submission's own
            # score, the margin and the counts would hand back the feedback the rule withholds.
            if released:
                reason = (
                    f"New best: it beats your shown best by more than the public part's noise; {accuracy:.4f} is shown."
                )
                detail = f"New best: {numbers}; the gain is larger, so {accuracy:.4f} is shown."
            else:
                reason = (
                    f"Not a clear improvement over your shown best, {best_accuracy:.4f}, beyond the public part's "
                    "noise; the board keeps it."
                )
                detail = (
                    f"Not a clear improvement: {numbers}; the gain must exceed the margin, so the board keeps "
                    f"{best_accuracy:.4f}."
                )
        if released:
            best_loss = loss
            best_errors = round(errors)  # [R]_{1/n}: the error rounded to a multiple of 1/n (here a count)
        steps.append(
            LadderStep(
                submission_id=str(submission_id),
                public_accuracy=accuracy,
                released=released,
                shown_accuracy=(n - best_errors) / n,
                reason=reason,
                needed_accuracy=needed,
                public_images=n,
                detail=detail,
            )
        )
    return steps


ladder_scores = ladder  # the name the classroom's other modules were told to import


def _current_best(steps: Sequence[LadderStep]) -> tuple[int, LadderStep] | None:
    """The student's shown best: the last released step, with its position in their list."""
    for position in range(len(steps) - 1, -1, -1):
        if steps[position].released:
            return position, steps[position]
    return None


def _release_time(submission_id: str, position: int, order: Mapping[str, float] | None) -> float:
    if order is None:
        return float(position)
    if submission_id not in order:
        raise InvalidChallenge(f"Submission {submission_id} has no time to break a tie by.")
    return float(order[submission_id])


def public_board(
    students: Mapping[str, Sequence[LadderStep]], order: Mapping[str, float] | None = None
) -> list[BoardRow]:
    """Students ranked by their shown (released) accuracy, best first; students with no submission are left out.

    Ties go to the earlier release: `order` maps a submission id to its time across the class (seconds since the
    epoch, or a sequence number); without it, to the release that came after fewer of the student's own
    submissions; then by name."""
    ranked: list[tuple[tuple[float, float, str], BoardRow]] = []
    for student, steps in students.items():
        best = _current_best(steps)
        if best is None:
            continue
        position, step = best
        when = _release_time(step.submission_id, position, order)
        row = BoardRow(
            rank=0,
            student=student,
            shown_accuracy=step.shown_accuracy,
            submission_id=step.submission_id,
            submissions=len(steps),
        )
        ranked.append(((-step.shown_accuracy, when, student), row))
    ranked.sort(key=lambda item: item[0])
    return [
        BoardRow(rank, row.student, row.shown_accuracy, row.submission_id, row.submissions)
        for rank, (_, row) in enumerate(ranked, start=1)
    ]


def private_board(
    students: Mapping[str, Sequence[LadderStep]],
    private_accuracy: Mapping[str, float],
    chosen: Mapping[str, str] | None = None,
    order: Mapping[str, float] | None = None,
) -> list[PrivateRow]:
    """At close: students ranked by the private accuracy of their final submission, best first.

    The final submission is the one the student chose (`chosen`: student -> submission id, which must be one of
    theirs), else the board's shown best. `private_accuracy` maps a submission id to its private score; a final
    submission without one is listed last with the reason, never given another submission's score. Ties as on
    the public board (earlier release first)."""
    chosen = chosen or {}
    unknown = sorted(set(chosen) - set(students))
    if unknown:
        raise InvalidChallenge(f"Final choices name students who are not in the challenge: {', '.join(unknown)}.")
    scored: list[tuple[tuple[float, float, str], PrivateRow]] = []
    unscored: list[PrivateRow] = []
    for student, steps in students.items():
        best = _current_best(steps)
        if best is None:
            continue
        if student in chosen:
            positions = {step.submission_id: index for index, step in enumerate(steps)}
            if chosen[student] not in positions:
                raise InvalidChallenge(f"{student}'s final choice {chosen[student]!r} is not one of their submissions.")
            position = positions[chosen[student]]
            step, was_chosen = steps[position], True
        else:
            (position, step), was_chosen = best, False
        when = _release_time(step.submission_id, position, order)
        score = private_accuracy.get(step.submission_id)
        if score is None or not math.isfinite(score):
            unscored.append(
                PrivateRow(0, student, None, step.submission_id, was_chosen, step.shown_accuracy, "no private score")
            )
            continue
        row = PrivateRow(0, student, float(score), step.submission_id, was_chosen, step.shown_accuracy)
        scored.append(((-float(score), when, student), row))
    scored.sort(key=lambda item: item[0])
    rows = [row for _, row in scored] + sorted(unscored, key=lambda row: row.student)
    return [
        PrivateRow(rank, r.student, r.private_accuracy, r.submission_id, r.chosen, r.shown_accuracy, r.note)
        for rank, r in enumerate(rows, start=1)
    ]
