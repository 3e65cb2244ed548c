"""Shareable links: the URL's query parameters carry the whole view, both ways.

The contract. On a session's first run every parameter is read as untrusted text and checked before any widget
sees it: strict parsing (ASCII digits for whole numbers, no NaN or infinity), then the engine's validator (the one
the CLI uses) against the limits in force, hosted caps included. A value that passes seeds its widget. A value that
fails is refused, never clamped into a trainable model: it becomes a `state.Refusal` (one notice naming the
parameter, its value shortened and the validator's reason), keeps training off until the user chooses that setting,
and stays in the address bar. Settings the widgets leave as the preset's are not written, so a link reads
`?preset=seed001-cnn3&epochs=20`. View parameters (tab, chosen cell, image, toggles, Data page options) belong
to one page, which declares them beside its script (`views/<page>_view.py`, listed in `dashboard.page_views`);
a bad one is a notice and its widget keeps its default.

On every run the current state is written back, so the address bar always holds a link that reopens this view.

Streamlit's own `bind="query-params"` was tried for the view widgets and not used: it seeds a widget from the
URL of the first request before any of our code can refuse the value, silently clamps an out-of-range number or
drops an unknown option (the substitution this contract forbids), and a bound parameter can no longer be
written through `st.query_params`, which `publish` needs to keep one consistent link.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from dashboard import hosting, state
from engine.architectures import PRESETS, ModelSpec
from engine.architectures.checks import validate_spec_values
from engine.datasets import list_datasets
from engine.errors import DigitLabError
from engine.jobs import is_job_id
from engine.limits import train_limits
from engine.store import is_run_id
from engine.textfiles import load_json
from engine.training.checks import validate_config_values
from engine.training.config import TrainConfig, settings

MAX_RAW = 4096  # a refused value longer than this is not written back into the address bar
MAX_RUNS = 20


class Refused(ValueError):
    """A link value that cannot be used; the message is the reason shown to the user."""


# --- strict text parsing: a link value is text, and only plain ASCII numbers are numbers ----------------------

_WHOLE = re.compile(r"[+-]?[0-9]{1,20}", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?", re.ASCII)


def whole_number(text: str) -> int:
    # Not str.isdigit(): it accepts '²' and Arabic-Indic digits, which int() then rejects (or reads differently).
    if not _WHOLE.fullmatch(text):
        raise Refused("not a whole number written with the digits 0-9")
    return int(text)


def decimal(text: str) -> float:
    if not _DECIMAL.fullmatch(text):
        raise Refused("not a decimal number (such as 0.2 or 1e-3)")
    return float(text)


def flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "on", "yes"):
        return True
    if lowered in ("0", "false", "off", "no"):
        return False
    raise Refused("not on/off (1 or 0)")


def _bounded(text: str, most: int) -> str:
    if len(text) > most:
        raise Refused(f"longer than {most} characters")
    return text


def choice(options) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise Refused(f"not one of: {', '.join(map(str, options))}")
        return text

    return parse


def run_id_text(text: str) -> str:
    if not is_run_id(text):
        raise Refused("not a run id (20 hexadecimal characters)")
    return text


def encode(data: dict) -> str:
    packed = zlib.compress(json.dumps(data, separators=(",", ":"), sort_keys=True).encode(), 9)
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode(token: str) -> dict:
    """Inverse of `encode`, capped at 16 kB inflated because links are untrusted input."""
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)), 16_000)
        if inflater.unconsumed_tail:
            raise ValueError("too large")
        data = load_json(text)
    except (ValueError, zlib.error):
        raise ValueError("damaged") from None
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return data


# --- the parameters -----------------------------------------------------------------------------------------


def config_params(config_type: type | None = None) -> dict[str, tuple[str, Callable[[str], object]]]:
    """{link parameter: (setting, parser)} for each setting of `config_type` (default TrainConfig) a link carries,
    from the fields' `SettingInfo`; the parser follows the field's type (a text setting: its choices, or its
    longest value)."""
    from dataclasses import fields

    kinds = {f.name: f.type for f in fields(config_type or TrainConfig)}
    by_type = {"int": whole_number, "float": decimal, "bool": flag, int: whole_number, float: decimal, bool: flag}
    params = {}
    for name, info in settings(config_type).items():
        if info.link is None:
            continue
        if info.choices:
            parse = choice(info.choices)
        elif info.max_length:
            parse = functools.partial(_bounded, most=info.max_length)
        else:
            parse = by_type[kinds[name]]
        params[info.link] = (name, parse)
    return params


# Training settings travel one per parameter, readable, and only those the sidebar has a widget for.
CONFIG_PARAMS = config_params()
PARAM_OF_SETTING = {setting: param for param, (setting, _) in CONFIG_PARAMS.items()}
MODEL_PARAMS = ("dataset", "preset", "spec", "cfg", "run", *CONFIG_PARAMS)


@dataclass(frozen=True)
class ViewParam:
    """One piece of a page's view in the link: URL name, the widget keys it fills, how to read and write it."""

    name: str
    keys: tuple[str, ...]
    parse: Callable[[str], tuple]  # text -> one value per key; raises Refused
    default: tuple | None = None  # left out of the link when the widgets hold this; None = always written

    def write(self, session) -> str | None:
        if any(key not in session for key in self.keys):
            return None
        values = tuple(session[key] for key in self.keys)
        if values == self.default:
            return None
        return ",".join(_text(value) for value in values)


def _text(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def single(parse: Callable[[str], object], low=None, high=None) -> Callable[[str], tuple]:
    """A `ViewParam` parser for one widget: `parse`, then the bounds when given."""

    def read(text: str) -> tuple:
        value = parse(text)
        if low is not None and value < low or high is not None and value > high:
            raise Refused(f"must be between {low} and {high}")
        return (value,)

    return read


def short_text(most: int) -> Callable[[str], str]:
    return lambda text: _bounded(text, most)


MAX_INDEX = 10_000_000  # above any test set; the page checks the run's own size and says so


@dataclass(frozen=True)
class PageView:
    """One page's part of the link: its url path and its view parameters, declared beside the page's code
    (`dashboard/views/<page>_view.py`) and found by url path in `dashboard.page_views`."""

    page: str
    params: tuple[ViewParam, ...] = ()

    def default(self, key: str):
        """The value widget `key` starts with: the one its link parameter leaves out, so that a link without the
        parameter reopens the widget where the user left it at that value."""
        for param in self.params:
            if key in param.keys and param.default is not None:
                return param.default[param.keys.index(key)]
        raise KeyError(f"{self.page} has no default for {key}")


# --- reading a link -----------------------------------------------------------------------------------------


def restore_once(view: PageView) -> None:
    """Seed session state from the URL on the first run of a session; later runs leave the widgets alone."""
    # Which page the previous run drew: `keep_view_state` must know whether this run comes from another page.
    st.session_state[_PREVIOUS_PAGE] = st.session_state.get(_CURRENT_PAGE)
    st.session_state[_CURRENT_PAGE] = view.page
    if st.session_state.get("_link_restored"):
        return
    st.session_state["_link_restored"] = True
    params = {key: st.query_params.get(key) or "" for key in st.query_params}
    notices: list[str] = []
    known = {*MODEL_PARAMS, *(param.name for param in view.params), "folds", "runs", "job"}
    unknown = [key for key in params if key not in known]
    if unknown:
        names = ", ".join(state.shorten(key, 30) for key in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        notices.append(f"Ignored {len(unknown)} link parameter(s) this page does not know: {names}.")

    refusals = _restore_model(params, notices)
    refusals += _restore_folds(params.get("folds"))
    _restore_runs(params, notices)
    _restore_job(params.get("job"), notices)
    _restore_view(params, view, notices)
    state.add_refusals(refusals)
    st.session_state[state.LINK_PROBLEMS_KEY] = notices


def _restore_folds(folds: str | None) -> list[state.Refusal]:
    if not folds:
        return []
    most = train_limits().max_cv_folds
    try:
        value = whole_number(folds)
        if not 2 <= value <= most:
            raise Refused(f"cross-validation needs 2 to {most} folds")
    except Refused as error:
        shown = st.session_state.get(state.FOLDS_KEY, 5)
        st.session_state[state.FOLDS_KEY] = shown
        return [state.Refusal("folds", folds, str(error), ((state.FOLDS_KEY, shown),), folds[:MAX_RAW])]
    st.session_state[state.FOLDS_KEY] = value
    return []


def _restore_runs(params: dict[str, str], notices: list[str]) -> None:
    """The run a page opens (`run`) and the runs Compare selects (`runs`)."""
    run = params.get("run")
    if run:
        if is_run_id(run):
            st.session_state[state.RUN_KEY] = run
            hosting.grant_run(run)  # sharing a link to a run shares the run
        else:
            notices.append(
                f"The link's run = {state.shorten(run)} is not a run id (20 hexadecimal characters); no run opened."
            )
    runs = params.get("runs")
    if runs:
        ids = [r for r in runs.split(",") if r]
        good = [r for r in ids if is_run_id(r)]
        if len(good) != len(ids):
            notices.append(f"{len(ids) - len(good)} run id(s) in the link's runs were not run ids and were left out.")
        if len(good) > MAX_RUNS:
            notices.append(f"The link selects {len(good)} runs; the first {MAX_RUNS} are shown.")
        st.session_state[state.COMPARE_KEY] = good[:MAX_RUNS]
        for run_id in good[:MAX_RUNS]:
            hosting.grant_run(run_id)


def _restore_job(job: str | None, notices: list[str]) -> None:
    if not job:
        return

    if is_job_id(job):  # the page that owns the job reads it (dashboard.job_panel); kept in the link till then
        st.session_state[state.JOB_KEY] = job
        st.session_state.setdefault(state.PAGE_PARAMS_KEY, {})["job"] = job
    else:
        notices.append(
            f"The link's job = {state.shorten(job)} is not a job id (16 hexadecimal characters); no job followed."
        )


def _restore_view(params: dict[str, str], view: PageView, notices: list[str]) -> None:
    """The page's own view parameters: a bad one is a notice and its widget keeps its default."""
    for param in view.params:
        if param.name not in params:
            continue
        text = params[param.name]
        try:
            values = param.parse(text)
        except Refused as error:
            notices.append(f"The link's {param.name} = {state.shorten(text)} was not used: {error}.")
        else:
            st.session_state.update(dict(zip(param.keys, values, strict=True)))
            st.session_state.setdefault("_link_view", {})[param.name] = text


def _restore_model(params: dict[str, str], notices: list[str]) -> list[state.Refusal]:
    """Dataset, preset or spec, and training settings; returns the refusals."""
    refusals: list[state.Refusal] = []
    names = [info.name for info in list_datasets()]
    dataset = params.get("dataset")
    if dataset:
        if dataset in names:
            st.session_state[state.DATASET_KEY] = dataset
            hosting.grant_upload(dataset)  # sharing a link to an upload shares the upload
        else:
            shown = st.session_state.get(state.DATASET_KEY, state.DEFAULT_DATASET)
            st.session_state[state.DATASET_KEY] = shown
            # Another visitor's uploads are not named: in hosted mode an upload is seen only through its link.
            known = ", ".join(name for name in names if hosting.dataset_visible(name))
            reason = f"no dataset of that name here (known: {known})"
            refusals.append(state.Refusal("dataset", dataset, reason, ((state.DATASET_KEY, shown),), dataset[:MAX_RAW]))

    preset = params.get("preset") or None
    refused_preset = None
    if preset and preset not in PRESETS:
        refused_preset, preset = preset, None
    spec, refused_spec = None, None
    if params.get("spec"):
        try:
            spec = ModelSpec.from_token(params["spec"])
            validate_spec_values(spec)  # the widgets' ranges are the validator's: what it refuses, they cannot show
        except DigitLabError as error:
            spec, refused_spec = None, str(error)

    base_preset = preset or (None if spec else state.DEFAULT_PRESET)
    base = PRESETS[base_preset] if base_preset else None
    config = base.config if base else TrainConfig()
    if base and base.label_mapping:
        config = config.replace(label_mapping=base.label_mapping)
    config, config_refusals = _read_config(params, config, notices)
    refusals += state.load_model_choice(base_preset, spec, config, named_by="the link" if preset else "")

    # Shown after loading, so each refusal records the values its widgets now hold instead.
    ss = st.session_state
    architecture = [state.PRESET_KEY, "n_conv", "n_dense", *(f"spec_{name}" for name in state.SPEC_WIDGETS)]
    architecture += [state.block_key(1, name) for name in state.BLOCK_FIELDS]
    model_shown = tuple((key, ss[key]) for key in architecture if key in ss)
    if refused_preset is not None:
        reason = "no preset of that name (the Model preset list shows them all)"
        refusals.append(state.Refusal("preset", refused_preset, reason, model_shown, refused_preset[:MAX_RAW]))
    if refused_spec is not None:
        token = params["spec"]
        refusals.append(state.Refusal("spec (the model)", token, refused_spec, model_shown, token[:MAX_RAW]))
    for param, setting, text, reason in config_refusals:
        key = state.CONFIG_WIDGETS[setting]
        refusals.append(state.Refusal(param, text, reason, ((key, ss[key]),), text[:MAX_RAW]))
    return refusals


def _read_config(params: dict[str, str], config: TrainConfig, notices: list[str]):
    """The link's training settings applied one by one to `config`, each validated with the ones before it.

    Returns the config and (parameter, setting, text, reason) for each refused value.
    """
    asked: list[tuple[str, str, object]] = []  # (parameter, setting, raw text or value)
    refused: list[tuple[str, str, str, str]] = []
    if params.get("cfg"):  # older links carried the changed settings as one compressed token
        try:
            changes = decode(params["cfg"])
        except ValueError as error:
            notices.append(f"The link's training settings (cfg) could not be read ({error}) and were not used.")
            changes = {}
        for setting, value in changes.items():
            if setting in PARAM_OF_SETTING:
                asked.append((PARAM_OF_SETTING[setting], setting, value))
            else:
                notices.append(f"The link's cfg names {state.shorten(setting, 30)}, not a setting a link can carry.")
    for param, (setting, _) in CONFIG_PARAMS.items():
        if param in params:
            asked.append((param, setting, params[param]))
    for param, setting, value in asked:
        text = value if isinstance(value, str) else json.dumps(value)
        try:
            parsed = CONFIG_PARAMS[param][1](value) if isinstance(value, str) else value
            candidate = config.replace(**{setting: parsed})
            validate_config_values(candidate)  # hosted caps included: the limits in force
        except (Refused, DigitLabError, TypeError, ValueError) as error:
            refused.append((param, setting, text, str(error)))
        else:
            config = candidate
    return config, refused


# --- writing the link ---------------------------------------------------------------------------------------


def current_params() -> dict[str, str]:
    """The query parameters that reopen the current view."""
    ss = st.session_state
    params: dict[str, str] = {"dataset": str(ss.get(state.DATASET_KEY, state.DEFAULT_DATASET))}
    preset = state.architecture_matches_preset()
    if preset:
        params["preset"] = preset
    else:
        params["spec"] = state.spec_from_widgets().to_token()
    try:
        config = state.config_from_widgets()
    except (TypeError, ValueError, DigitLabError):
        config = None
    if config is not None:
        base = PRESETS[preset].config if preset else TrainConfig()
        if preset and PRESETS[preset].label_mapping:
            base = base.replace(label_mapping=PRESETS[preset].label_mapping)
        for setting, param in PARAM_OF_SETTING.items():
            value = getattr(config, setting)
            if value != getattr(base, setting):
                params[param] = _text(value)
    # A refused value stays in the address bar while it stands: reloading or sharing shows the same refusal.
    for refusal in state.refusals():
        name = refusal.parameter.split(" ")[0]
        if refusal.raw and name in (*MODEL_PARAMS, "folds"):
            params[name] = refusal.raw
    page_extras = ss.get(state.PAGE_PARAMS_KEY, {})
    params.update({k: v for k, v in page_extras.items() if v})
    return params


def publish() -> None:
    """Write the dataset/model/settings part of the link; the page adds its own keys after this."""
    params = current_params()
    if dict(st.query_params) != params:
        st.query_params.from_dict(params)


def publish_view(view: PageView) -> None:
    """Write the page's view parameters (tab, chosen cell, image, toggles) from its widgets; call after drawing them."""
    ss = st.session_state
    for param in view.params:
        state.set_page_param(param.name, param.write(ss))
        for key in param.keys:  # the copy `keep_view_state` brings back after a visit to another page
            if key in ss:
                ss[_kept(key)] = ss[key]
            else:
                ss.pop(_kept(key), None)


_PREVIOUS_PAGE, _CURRENT_PAGE = "_view_previous_page", "_view_current_page"


def _kept(key: str) -> str:
    return f"_kept_view_{key}"


def keep_view_state(view: PageView) -> None:
    """Keep the view widgets of the page that this run does not draw (those in a closed tab): Streamlit drops a
    widget's value when the widget is not drawn in a run, which would drop it from the link and reset it when
    its tab opens again. Written back through session state, a value outlives the run; call before any widget.

    A run of another page draws none of them, so Streamlit drops them all there: on coming back each takes the
    copy the page's last `publish_view` kept under a key no widget owns. That copy wins over any value the key
    still reads there: a value written under the key before its widget first existed (a link's, a page default)
    can outlive the widget's own and read back stale after a visit elsewhere (Streamlit 1.67)."""
    ss = st.session_state
    from_another_page = ss.get(_PREVIOUS_PAGE) != view.page
    for param in view.params:
        for key in param.keys:
            if _kept(key) in ss and (from_another_page or key not in ss):
                ss[key] = ss[_kept(key)]
            elif key in ss:
                ss[key] = ss[key]


def open_view_with(view: PageView, values: dict[str, object]) -> None:
    """Set widgets of `view`'s page for its next run, as a link would, within this session (a link is read on a
    session's first run only): call from a button's callback, then `st.switch_page` to the page. Each key must be
    one of the view's; its kept copy is set too, since `keep_view_state` lets that copy win on arriving there."""
    keys = {key for param in view.params for key in param.keys}
    for key, value in values.items():
        if key not in keys:
            raise KeyError(f"{view.page} has no view widget {key}")
        st.session_state[key] = value
        st.session_state[_kept(key)] = value


def seeded(view: PageView, key: str) -> str:
    """`key`, with its widget's default (the view's, which a link leaves out) put into session state if absent.

    A widget whose key a link or `keep_view_state` writes takes its default this way, never as its `value`:
    Streamlit warns about a widget given both ("created with a default value but also had its value set via the
    Session State API"), and the two could disagree."""
    st.session_state.setdefault(key, view.default(key))
    return key


_KEPT_WIDGETS = "_kept_widgets"  # {page: {widget key: value}}: under a key no widget owns, so Streamlit keeps it


def remember_widget_state(page: str, keys) -> None:
    """Copy the values of the widgets `page` drew this run (`keys`) where a visit to another page cannot drop them;
    call after drawing them. Keys not drawn this run are forgotten, as Streamlit forgets them on the page itself.
    Never pass a button's key: a button's value cannot be set."""
    ss = st.session_state
    ss.setdefault(_KEPT_WIDGETS, {})[page] = {key: ss[key] for key in keys if key in ss}


def keep_widget_state(page: str) -> None:
    """Bring back the widget values `remember_widget_state` kept for `page`; call before any of its widgets.

    Streamlit drops the state of every widget a run does not draw, so a form on one page (the Sweep page's trials,
    its space) would come back with its defaults after a visit elsewhere. As in `keep_view_state`, the kept copy
    wins on arriving from another page, where a key written before its widget existed can read back stale."""
    ss = st.session_state
    from_another_page = ss.get(_PREVIOUS_PAGE) != page
    for key, value in ss.get(_KEPT_WIDGETS, {}).get(page, {}).items():
        if from_another_page or key not in ss:
            ss[key] = value


def share_url() -> str:
    """The address bar's link: this page's address with the query parameters as written so far in this run
    (`publish`, then the page's `set_page_param` and `publish_view`)."""
    from urllib.parse import urlencode

    base = st.context.url or ""
    return f"{base.split('?')[0]}?{urlencode(st.query_params.to_dict())}"
