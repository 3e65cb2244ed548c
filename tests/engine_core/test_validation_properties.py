"""Property-based tests (hypothesis) of the validators every path uses before a run key exists, and of the run
store under tampering: whatever arrives, the answer is a `DigitLabError` with a message or a valid value, never
another exception, never a key computed from a value the validator refuses, never tampered bytes served."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from dataclasses import fields
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.links import decode, encode
from engine.architectures import PRESETS, ModelSpec
from engine.architectures.checks import validate_spec_values
from engine.errors import DigitLabError, InvalidConfig
from engine.limits import train_limits
from engine.store import RunStore, canonical_json, run_key
from engine.store.meta_checks import validate_run_meta
from engine.training.checks import validate_config_values
from engine.training.config import TrainConfig
from tests.store.run_meta import run_meta

ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
CONFIG_FIELDS = [f.name for f in fields(TrainConfig)]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*CONFIG_FIELDS, "bogus"]), ANY_VALUE, max_size=5))
def test_any_link_or_cli_config_is_refused_with_a_message_or_keys_cleanly(changes):
    try:
        config = TrainConfig.from_dict(changes)
        validate_config_values(config)
    except (DigitLabError, TypeError) as error:  # TypeError: a value the dataclass itself cannot take
        assert str(error)
        return
    limits = train_limits()
    assert 1 <= config.epochs <= limits.max_epochs and 0 <= config.seed <= limits.max_seed
    assert 0 <= config.validation_split < 1 and math.isfinite(config.augment_zoom)
    canonical_json(config.to_dict())  # never raises for an accepted config (NaN/inf cannot get this far)


SPEC_BASE = PRESETS["digitlab-small8"].spec.to_dict()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(SPEC_BASE)),
    ANY_VALUE,
    st.sampled_from(["filters", "kernel_size", "stride", "dropout", "pool", "pool_size", "activation", "padding"]),
    ANY_VALUE,
)
def test_any_spec_value_is_refused_with_a_message_or_accepted_and_keyable(top_key, top_value, block_key, block_value):
    data = json.loads(json.dumps(SPEC_BASE))
    data[top_key] = top_value
    if isinstance(data.get("conv_blocks"), list) and data["conv_blocks"] and isinstance(data["conv_blocks"][0], dict):
        data["conv_blocks"][0][block_key] = block_value
    try:
        spec = ModelSpec.from_dict(data)
        validate_spec_values(spec)
    except DigitLabError as error:
        assert str(error)
        return
    assert spec.learning_rate > 0 and all(block.filters >= 1 for block in spec.conv_blocks)
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    run_key({"spec": spec.to_dict()})


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_link_token_decodes_to_an_object_or_a_value_error(token):
    try:
        decoded = decode(token)
    except ValueError:
        return
    assert isinstance(decoded, dict)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_spec_token_is_a_spec_or_a_digit_lab_error(token):
    try:
        ModelSpec.from_token(token)
    except DigitLabError as error:
        assert str(error)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(CONFIG_FIELDS), st.integers(0, 5) | st.floats(0, 0.5) | st.booleans()))
def test_link_tokens_round_trip(data):
    assert decode(encode(data)) == data


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["metrics", "spec", "config", "dataset", "parameters", "class_names"]), ANY_VALUE)
def test_run_meta_validator_refuses_or_accepts_what_listings_can_read(key, value):
    from engine.compare import runs_table

    meta = run_meta(run_id="0" * 20, created="2026-01-01T00:00:00+00:00")
    meta[key] = value
    try:
        validate_run_meta(meta, run_id="0" * 20)
    except DigitLabError as error:
        assert str(error).startswith("meta.json")
        return

    class Run:  # what runs_table reads: run_id and meta
        run_id = "0" * 20

    Run.meta = meta
    runs_table([Run()])  # accepted meta never breaks a listing


# ---------------------------------------------------------------- store tampering


def _one_run(root: Path) -> RunStore:
    store = RunStore(root)

    def build(folder: Path) -> dict:
        np.save(folder / "test_probabilities.npy", np.full((4, 3), 0.25, dtype=np.float32))
        np.save(folder / "test_labels.npy", np.array([0, 2, 1, 1], dtype=np.int64))
        (folder / "history.json").write_text(json.dumps({"epochs": [{"epoch": 1, "loss": 0.5}]}))
        return run_meta()

    store.create(KEY, build)
    return store


KEY = run_key({"tampering": 1})
TEMPLATE = Path(tempfile.mkdtemp(prefix="digitlab-tamper-template-")) / "runs"
_one_run(TEMPLATE)
FILES = sorted(p.name for p in (TEMPLATE / KEY).iterdir())


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(FILES),
    st.sampled_from(["truncate", "flip", "append", "delete", "replace_json"]),
    st.integers(min_value=0, max_value=10_000),
    st.binary(min_size=1, max_size=16),
)
def test_a_tampered_run_is_never_served_and_never_breaks_a_listing(name, operation, position, data):
    root = Path(tempfile.mkdtemp(prefix="digitlab-tamper-")) / "runs"
    try:
        shutil.copytree(TEMPLATE, root)
        original = {p.name: p.read_bytes() for p in (root / KEY).iterdir()}
        path = root / KEY / name
        content = bytearray(path.read_bytes())
        at = position % max(1, len(content))
        if operation == "truncate":
            path.write_bytes(bytes(content[:at]))
        elif operation == "flip":
            content[at] ^= data[0] or 1
            path.write_bytes(bytes(content))
        elif operation == "append":
            path.write_bytes(bytes(content) + data)
        elif operation == "delete":
            path.unlink()
        else:
            path.write_text(json.dumps({"x": data.hex()}))
        from engine.store import manifest

        manifest.clear_digest_cache()  # the cache is keyed on stat; a same-size same-second edit must rehash
        store = RunStore(root)
        scan = store.scan()  # never raises
        assert len(scan.runs) + len(scan.problems) <= 1
        run = store.get(KEY)
        if run is not None:  # served only when every byte is what was stored
            assert {p.name: p.read_bytes() for p in run.path.iterdir()} == original
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def test_the_tampering_property_can_fail():
    # A flipped byte in the probabilities keeps the size: only the checksum can catch it.
    root = Path(tempfile.mkdtemp(prefix="digitlab-tamper-")) / "runs"
    shutil.copytree(TEMPLATE, root)
    path = root / KEY / "test_probabilities.npy"
    content = bytearray(path.read_bytes())
    content[-1] ^= 1
    path.write_bytes(bytes(content))
    assert RunStore(root).get(KEY) is None
    shutil.rmtree(root.parent, ignore_errors=True)


def test_an_accepted_config_hashes_and_a_refused_one_never_reaches_a_key():
    try:
        validate_config_values(TrainConfig(validation_split=float("nan")))
    except InvalidConfig:
        pass
    else:
        raise AssertionError("NaN validation split accepted")
