"""The structure's contracts, as tests: what docs/DESIGN.md promises and a new algorithm must keep.

- importing rlhf_core never imports streamlit or ui; there is no import cycle in rlhf_core or ui
  (imports inside functions count: they only hide a cycle);
- every policy algorithm is declared once (rlhf_core.policy.algorithms) and what it declares holds;
- every metric key a trainer emits is in the glossary with one meaning (one KL estimator per key), and
  the charts only overlay like with like;
- every config field has help text, and every number bounds that its config enforces;
- pages stay thin.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from rlhf_core import paths
from rlhf_core.errors import ConfigError
from rlhf_core.metrics import BOOKKEEPING, GLOSSARY, glossary
from rlhf_core.policy.algorithms import ALGORITHMS, TRAINABLE, make_config

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------------ imports
def import_graph(*packages: str) -> dict[str, set[str]]:
    """{module: modules of these packages it imports}, from the source: every import statement, also inside functions."""
    modules = {}
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_in_rlhf_core_or_ui():
    assert cycles(import_graph("rlhf_core", "ui")) == []


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_rlhf_core_never_imports_streamlit_or_ui():
    graph = import_graph("rlhf_core", "ui")
    assert not [m for m, deps in graph.items() if m.startswith("rlhf_core") and any(d.startswith("ui") for d in deps)]
    code = ("import importlib, pkgutil, sys, rlhf_core\n"
            "for m in pkgutil.walk_packages(rlhf_core.__path__, 'rlhf_core.'):\n"
            "    importlib.import_module(m.name)\n"
            "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('streamlit', 'ui'))\n"
            "print(bad)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
    for path in (ROOT / "rlhf_core").rglob("*.py"):  # and no module prints: the library returns and yields
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "print":
                assert path.name in ("cli.py",), f"{path} prints"  # the CLI's error line on stderr


# ------------------------------------------------------------------------------------ the registry
@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_each_algorithm_is_declared_whole(name):
    from rlhf_core.data.datasets import list_samples
    from rlhf_core.data.schema import DATA_KINDS

    a = ALGORITHMS[name]
    assert a.name == name and a.title and a.description and a.loss and all(a.loss)
    assert dataclasses.is_dataclass(a.config) and a.config.__dataclass_params__.frozen
    assert set(a.data_kinds) <= set(DATA_KINDS) and a.data_kinds
    assert any(Path(f).stem == a.default_data for f in list_samples()), a.default_data
    for preset, values in a.presets.items():  # every preset's settings build a valid config
        assert set(values) <= {f.name for f in dataclasses.fields(a.config)}
        assert isinstance(make_config(name, preset), a.config)
    if a.trains:
        assert list(inspect.signature(a.trainer).parameters) == ["cfg", "run", "frame", "rewarder"]
    if a.trl is not None:  # every TRL field reads a field of ours (dotted: a nested one), and the rows exist
        from rlhf_core.export import trl_kwargs

        assert set(trl_kwargs(name, a.config())) == set(a.trl.fields) | set(a.trl.fixed)
        assert a.trl.shape in ("model", "reward_function") and callable(a.trl.rows)


def test_the_cli_the_page_and_the_export_offer_the_registrys_algorithms():
    from rlhf_core.cli import build_parser
    from rlhf_core.errors import StudioError
    from rlhf_core.export import ALGOS
    from ui.widgets import POLICY_KINDS

    def algo(name):
        return build_parser().parse_args(["policy", "train", "--algo", name, "--policy", "p", "--data", "d", "--out", "o"]).algo

    assert [algo(name) for name in TRAINABLE] == list(TRAINABLE) and TRAINABLE == POLICY_KINDS
    with pytest.raises(StudioError, match="invalid choice"):
        algo("bon")  # best-of-n trains nothing
    assert set(ALGOS) == {"reward"} | {n for n, a in ALGORITHMS.items() if a.trl is not None}
    page = (ROOT / "pages" / "policy.py").read_text()
    assert not any(f'"{name}"' in page for name in ALGORITHMS if name != "grpo")  # no algorithm spelled out there


# ------------------------------------------------------------------------------------ metrics
def test_each_metric_key_has_one_meaning():
    shared = set(GLOSSARY)
    seen: dict[str, str] = {}
    for name, a in ALGORITHMS.items():
        assert not shared & set(a.metrics), (name, shared & set(a.metrics))  # declared in one place only
        for key in a.metrics:
            assert key not in seen, f"{key} declared by {seen.get(key)} and {name}"
            seen[key] = name
    assert "policy/kl" not in glossary()  # the old key meant k1 in PPO and k3 in GRPO
    for key, text in glossary().items():
        if key.startswith("policy/kl"):  # one KL estimator per key, named in its entry
            assert ("k1" in text) != ("k3" in text), key
            assert key.endswith("_k1") == ("k1" in text)


def _two_step_metrics(name: str, tmp_path) -> list[dict]:
    from rlhf_core.policy.config import GenerationConfig
    from rlhf_core.policy.train import train_policy

    frames = {"articles": pd.read_csv(paths.sample_data_dir() / "articles.csv").head(8),
              "ratings": pd.read_csv(paths.sample_data_dir() / "train_ratings.csv").head(24).assign(score=lambda f: (f.score - 1) / 4),
              "demonstrations": pd.DataFrame({"article": ["An article about a budget."] * 4, "headline": ["Budget passes"] * 4}),
              "preferences": pd.read_json(paths.sample_data_dir() / "train_preferences.jsonl", lines=True).head(8)}
    a = ALGORITHMS[name]
    kind = next(k for k in a.data_kinds if k in frames)
    fields = {f.name for f in dataclasses.fields(a.config)}
    small = {k: v for k, v in {"steps": 2, "lr": 1e-3, "batch_size": 4, "prompts_per_step": 2, "group_size": 2,
                               "sample_every": 2, "probe_articles": 2,
                               "generation": GenerationConfig(max_new_tokens=6)}.items() if k in fields}
    cfg = a.config(**small)
    reward = (lambda articles, headlines: [min(1.0, len(h) / 40) for h in headlines])
    return list(train_policy(name, cfg, "tiny-init", reward, frames[kind], tmp_path / name))


def test_every_key_every_trainer_emits_is_in_the_glossary(tmp_path):
    meanings = glossary()
    kl_keys = {}
    for name in TRAINABLE:
        rows = _two_step_metrics(name, tmp_path)
        keys = {k for row in rows for k in row} - set(BOOKKEEPING)
        assert keys <= set(meanings), (name, keys - set(meanings))
        kl_keys[name] = {k for k in keys if k.startswith("policy/kl")}
    # a trainer logs the KL to the reference under one estimator's key at most, its own
    assert all(len(keys) <= 1 for keys in kl_keys.values()), kl_keys
    assert kl_keys["ppo"] == {"policy/kl_k1"} and kl_keys["grpo"] == {"policy/kl_k3"} and kl_keys["dpo"] == set()


def test_the_trl_import_maps_onto_glossary_keys():
    from rlhf_core.trl_import import TRL_METRICS

    for algo, mapping in TRL_METRICS.items():
        assert set(mapping) <= set(glossary()), (algo, set(mapping) - set(glossary()))


def test_charts_only_overlay_like_with_like():
    from ui.charts import POLICY_CHARTS, POLICY_COMPARE, REWARD_CHARTS, REWARD_COMPARE, compare_runs_figure

    for title, keys in POLICY_CHARTS + REWARD_CHARTS:
        assert set(keys) <= set(glossary()), title
        assert not {"policy/kl_k1", "policy/kl_k3"} <= set(keys), title
    assert {key for key, _ in POLICY_COMPARE + REWARD_COMPARE} <= set(glossary())
    # a PPO run (k1) and a GRPO run (k3) compared: each KL chart holds only the run that logged its key
    runs = {"ppo": [{"step": 1, "policy/kl_k1": 0.5}], "grpo": [{"step": 1, "policy/kl_k3": 0.2}]}
    assert [t.name for t in compare_runs_figure(runs, "policy/kl_k1", "k1").data] == ["ppo"]
    assert [t.name for t in compare_runs_figure(runs, "policy/kl_k3", "k3").data] == ["grpo"]


# ------------------------------------------------------------------------------------ configs
def _configs():
    from rlhf_core.evaluation.config import EvalConfig
    from rlhf_core.lesson.config import LessonConfig
    from rlhf_core.policy.config import GenerationConfig
    from rlhf_core.reward.config import RewardConfig

    return [a.config for a in ALGORITHMS.values()] + [GenerationConfig, RewardConfig, LessonConfig, EvalConfig]


def test_every_config_class_in_rlhf_core_is_checked_here():
    """A frozen config dataclass anywhere in the library (a new stage's, the evaluation's) is in _configs()."""
    declared = set()
    for path in (ROOT / "rlhf_core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Config") and any(
                    "dataclass" in ast.unparse(d) and "frozen=True" in ast.unparse(d) for d in node.decorator_list):
                declared.add(node.name)
    assert declared <= {cls.__name__ for cls in _configs()}, declared - {cls.__name__ for cls in _configs()}


@pytest.mark.parametrize("cls", _configs(), ids=lambda c: c.__name__)
def test_every_config_field_has_help_and_bounds_that_the_config_enforces(cls):
    base = cls()
    for f in dataclasses.fields(cls):
        meta, default = f.metadata, getattr(base, f.name)
        assert meta.get("help"), f"{cls.__name__}.{f.name} has no help"
        if dataclasses.is_dataclass(default) or isinstance(default, bool):
            continue
        if isinstance(default, (int, float)):
            lo, hi = meta.get("min"), meta.get("max")
            assert lo is not None and hi is not None and lo <= default <= hi, f"{cls.__name__}.{f.name}: {lo}..{hi}"
            step = 1 if isinstance(default, int) else abs(hi - lo) * 1e-3 + 1e-12
            for outside in (lo - step, hi + step):
                with pytest.raises(ConfigError):
                    dataclasses.replace(base, **{f.name: type(default)(outside)})
        elif meta.get("choices"):
            assert default in meta["choices"]
            with pytest.raises(ConfigError):
                dataclasses.replace(base, **{f.name: "no such choice"})


# ------------------------------------------------------------------------------------ pages
def test_pages_are_thin_and_hold_no_domain_tables():
    for page in sorted((ROOT / "pages").glob("*.py")):
        lines = len(page.read_text(encoding="utf-8").splitlines())
        assert lines < 150, f"{page.name}: {lines} lines"
