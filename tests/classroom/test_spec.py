"""ChallengeSpec's one validator: what an instructor types or a stored record holds is taken as written or refused
with the value, never truncated into something else."""

from __future__ import annotations

import pytest

from engine.classroom.spec import ChallengeLimits, ChallengeSpec, InvalidChallenge


def stored(**changes: object) -> dict:
    data = ChallengeSpec("digits", "Digits week 1").to_dict()
    for key, value in changes.items():
        if key in data["limits"]:
            data["limits"][key] = value
        else:
            data[key] = value
    return data


def test_a_spec_survives_its_json():
    spec = ChallengeSpec(
        "digits", "Week 1", "Beat 0.9", limits=ChallengeLimits(max_epochs=3, editable=("epochs", "seed"))
    )
    assert ChallengeSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_epochs": 3.7}, "max_epochs must be a whole number"),
        ({"daily_submissions": True}, "daily_submissions must be a whole number"),
        ({"editable": "seed"}, "a list of names"),
        ({"editable": ["seed", 3]}, "is a name"),
        ({"editable": ["optimizer"]}, "cannot be given optimizer"),
        ({"private_fraction": "half"}, "must be a number"),
        ({"private_fraction": 0.95}, "outside 0.1..0.9"),
        ({"title": "Week\u202e1"}, "printable"),
        ({"title": "Week\u20281"}, "printable"),
        ({"title": "Week\n1"}, "printable"),
        ({"title": ["a"]}, "must be text"),
        ({"closes_at": "2026-12-24T18:00:00"}, "no time zone"),
        ({"closes_at": "next friday"}, "not an ISO 8601"),
        ({"max_epochs": 0}, "outside 1..100"),
    ],
)
def test_a_setting_that_cannot_be_honoured_is_refused_with_its_value(changes, message):
    with pytest.raises(InvalidChallenge, match=message):
        ChallengeSpec.from_dict(stored(**changes))


def test_a_closing_time_is_kept_in_utc():
    spec = ChallengeSpec.from_dict(stored(closes_at="2026-12-24T19:00:00+01:00"))
    assert spec.closing_time().isoformat() == "2026-12-24T18:00:00+00:00"


@pytest.mark.parametrize("stored_text", ["[" * 5000 + "]" * 5000, "{", '"a string"'])
def test_a_damaged_stored_spec_is_refused_not_a_recursion_error(stored_text):
    with pytest.raises(InvalidChallenge):
        ChallengeSpec.from_json(stored_text)
