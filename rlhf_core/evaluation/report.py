"""The evaluation's tables and verdicts, and the report: results.json, headlines.csv, report.html.

`result_tables(results)` and `verdicts(results)` are what the Evaluate page shows, so the report,
built from the same two functions and the same figures, holds every number the page does.
report.html is self-contained: plotly.js is inlined once (no CDN), so it opens with no network.
Untrusted text (headlines, articles, policy names) is HTML-escaped; CSV cells that a spreadsheet
would run as a formula get a leading quote (rlhf_core.store's rule).
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import platform
import subprocess
import sys
from pathlib import Path

import pandas as pd

from rlhf_core import paths
from rlhf_core.evaluation import figures

PACKAGES = ("torch", "transformers", "tokenizers", "safetensors", "numpy", "scipy", "pandas", "rouge-score", "plotly")
JUDGE_NAMES = dict(figures.JUDGES)
FORMATS = {"Elo": "%.0f", "low": "%.3f", "high": "%.3f"}  # every other float column: %.3f
INT_COLUMNS = ("ratings", "headlines", "wins", "losses", "ties", "games", "step", "n")


# ------------------------------------------------------------------------------------ tables
def _verdict(low, high) -> str:
    if low is None or high is None or low != low:
        return "not measured"
    return "better" if low > 0.5 else "worse" if high < 0.5 else "no clear difference"


def result_tables(results: dict) -> list[tuple[str, str, pd.DataFrame, str]]:
    """(key, title, table, caption) of every table the page and the report show."""
    base = results["baseline"]
    policies = pd.DataFrame([{
        "policy": r["policy"], "role": "baseline" if r["baseline"] else (f"from {r['start']}" if r["start"] else ""),
        "ROUGE-1": r["rouge1"], "ROUGE-2": r["rouge2"], "ROUGE-L": r["rougeL"], "reward": r["reward_mean"],
        "gold": r["gold_mean"], "stars (1-5)": r["human_stars_mean"], "ratings": r["human_ratings"],
        "KL to start": r["kl"], "words": r["length_mean"], "distinct-1": r["distinct_1"], "distinct-2": r["distinct_2"],
        "headlines": r["headlines"]} for r in results["policies"]])
    tables = [("policies", "Per policy", policies,
               "Means over every headline written. ROUGE rewards copying the reference's words; gold is the hidden persona "
               "(synthetic data); reward is the proxy the policy was trained on; stars come from the Rate page. KL to start: "
               "nats per headline, sampled at temperature 1, against the policy's own starting point.")]
    wins = pd.DataFrame([{
        "policy": r["policy"], "judge": JUDGE_NAMES[judge], "win rate": r.get(f"win_rate_{judge}"),
        "low": r.get(f"win_rate_{judge}_low"), "high": r.get(f"win_rate_{judge}_high"),
        "evidence": f"{r['human_votes']} votes" if judge == "human" else f"{results['data']['articles']} articles",
        "verdict": _verdict(r.get(f"win_rate_{judge}_low"), r.get(f"win_rate_{judge}_high"))}
        for r in results["policies"] if not r["baseline"] for judge in JUDGE_NAMES if r.get(f"win_rate_{judge}") is not None])
    if len(wins):
        tables.append(("wins", f"Win rates against {base}", wins,
                       f"Share of (policy, baseline) headline pairs on the same article that the judge scores higher, ties "
                       f"counting half; {round(100 * results['config']['confidence'])}% paired bootstrap interval over "
                       "articles (people: over the articles voted on). Above 0.5 with the whole interval: better."))
    if results["leaderboard"]:
        board = pd.DataFrame(results["leaderboard"]).rename(columns={"elo": "Elo", "elo_low": "low", "elo_high": "high"})
        tables.append(("leaderboard", "People's leaderboard (Bradley-Terry)", board,
                       "Bradley-Terry scores from every A/B vote on the Rate page (ties half a win each, 'both bad' left "
                       "out), on the Elo scale (+400 = 10:1 odds), with intervals from votes resampled with replacement."))
    curve = results.get("curve")
    if curve:
        points = [{"family": "RL", "at": "start" if p["step"] == 0 else f"step {p['step']}", **_point(p)} for p in curve["rl"]]
        points += [{"family": "best-of-n", "at": f"n = {p['n']}", **_point(p)} for p in curve["bon"] or []]
        tables.append(("curve_points", f"Over-optimisation: {curve['run']} and best-of-n from {curve['start']}",
                       pd.DataFrame(points), f"{curve['articles']} articles; RL: {curve['samples_per_article']} headlines per "
                       f"article at temperature 1 per checkpoint; best-of-n: a pool of {curve['bon_samples_per_article']} per "
                       "article, KL = log n - (n - 1) / n."))
        fits = [{"family": family, "score": value, "alpha": fit["alpha"], "beta": fit["beta"], "at d = 0": fit["start"],
                 "peak d*": fit["peak_d"], "score at d*": fit["peak_value"]}
                for family, key in (("RL: d(α - β log d)", "rl_fit"), ("best-of-n: d(α - β d)", "bon_fit"))
                for value, fit in (curve.get(key) or {}).items() if fit is not None]
        if fits:
            tables.append(("curve_fits", "Fitted forms (Gao, Schulman & Hilton 2022)", pd.DataFrame(fits),
                           "R(d) = score(d) - score(0) with d = sqrt(KL). The peak d* is where the fitted curve stops rising "
                           "(a star on the chart when it lies within 1.5 times the measured range); empty where it never "
                           "turns down."))
    return [(key, title, _numbers(frame), caption) for key, title, frame, caption in tables]


def _numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns holding only numbers and None become float columns (None -> NaN), so both views format them alike."""
    for column in frame.columns:
        values = frame[column].tolist()
        if frame[column].dtype == object and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                                                 for v in values):
            frame[column] = pd.to_numeric(frame[column].astype(float))
    return frame


def _point(p: dict) -> dict:
    return {"KL": p["kl"], "sqrt(KL)": p["sqrt_kl"], "gold": p["gold"], "proxy": p["proxy"]}


def verdicts(results: dict) -> list[dict]:
    """{policy, judge, verdict, sentence} per (policy, judge): the answer to "did it help?" with its interval."""
    sentences = []
    for r in results["policies"]:
        for judge, name in JUDGE_NAMES.items():
            rate, low, high = (r.get(f"win_rate_{judge}{s}") for s in ("", "_low", "_high"))
            if r["baseline"] or rate is None:
                continue
            verdict = _verdict(low, high)
            word = {"better": "beats", "worse": "loses to", "no clear difference": "is not clearly different from",
                    "not measured": "was not measured against"}[verdict]
            sentence = (f"{r['policy']} {word} {results['baseline']} by the {name}: win rate {rate:.3f} "
                        f"({round(100 * results['config']['confidence'])}% CI {low:.3f} to {high:.3f}).")
            sentences.append({"policy": r["policy"], "judge": judge, "verdict": verdict, "sentence": sentence})
    return sentences


def column_format(frame: pd.DataFrame, column: str) -> str | None:
    """printf format of a numeric column (the page's NumberColumn and the report's cells agree)."""
    if column in INT_COLUMNS or pd.api.types.is_integer_dtype(frame[column]):
        return "%d"
    if pd.api.types.is_numeric_dtype(frame[column]) or frame[column].map(lambda v: isinstance(v, float)).any():
        return FORMATS.get(column, "%.3f")
    return None


def format_cell(value, fmt: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if fmt and isinstance(value, (int, float)) and not isinstance(value, bool):
        return fmt % value
    return str(value)


# ------------------------------------------------------------------------------------ files
def environment() -> dict:
    """Python, platform, package versions and the git commit: what a reader needs to reproduce a report."""
    from importlib import metadata

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        done = subprocess.run(["git", "-C", str(paths.repo_root()), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=5, check=False)
        commit = done.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": versions, "git_commit": commit}


def _clean(value):
    """NaN -> None, numpy scalars -> numbers: results.json stays strict JSON."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def headlines_csv(headlines: pd.DataFrame) -> str:
    from rlhf_core.store import _csv_cell  # the one CSV-injection rule of the studio

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(headlines.columns))
    for row in headlines.itertuples(index=False):
        writer.writerow([_csv_cell(value) for value in row])
    return buffer.getvalue()


def write_report(results: dict, headlines: pd.DataFrame, out_dir: str | Path) -> dict[str, Path]:
    """Write results.json, headlines.csv and report.html into `out_dir` (each atomically)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clean = _clean(results)
    written = {
        "results": paths.atomic_write_text(out / "results.json", json.dumps(clean, indent=2, ensure_ascii=False) + "\n"),
        "headlines": paths.atomic_write_text(out / "headlines.csv", headlines_csv(headlines)),
    }
    written["report"] = paths.atomic_write_text(out / "report.html", report_html(clean, headlines))
    return written


def _table_html(frame: pd.DataFrame) -> str:
    """The table with each cell formatted as the page shows it, then HTML-escaped."""
    cells = pd.DataFrame({c: [format_cell(v, column_format(frame, c)) for v in frame[c]] for c in frame.columns})
    return cells.to_html(index=False, escape=True, border=0, classes="t")


def _figure_html(fig, div_id: str) -> str:
    payload = fig.to_json()  # plotly escapes <, > and / as \u003c ..., so no text can close the <script>
    return (f'<div id="{div_id}" class="fig"></div>\n'
            f'<script>(function(){{var f={payload};Plotly.newPlot("{div_id}",f.data,f.layout,{{responsive:true}});}})();</script>')


def report_figures(results: dict) -> list:
    """The figures of a results dict, in page order (skipping those with nothing to draw)."""
    shown = [figures.scores_figure(results)]
    if any(not r["baseline"] and any(r.get(f"win_rate_{j}") is not None for j in JUDGE_NAMES) for r in results["policies"]):
        shown.append(figures.win_rate_figure(results))
    if results["leaderboard"]:
        shown.append(figures.leaderboard_figure(results))
    if results.get("curve"):
        shown.append(figures.curve_figure(results["curve"]))
    return shown


def report_html(results: dict, headlines: pd.DataFrame) -> str:
    """The whole report as one HTML page (plotly.js inlined)."""
    from plotly.offline import get_plotlyjs

    e = html.escape
    cfg, data, env = results["config"], results["data"], results.get("environment") or {}
    setup = pd.DataFrame([
        ("data", data.get("name") or data.get("path") or "(given as a table)"), ("data fingerprint (sha256)", data["fingerprint"]),
        ("held-out articles", data["articles"]), ("baseline", results["baseline"]),
        ("reward model", results.get("reward_model") or "(none)"), ("gold persona", results.get("persona") or "(none)"),
        *((f"config: {k}", v) for k, v in cfg.items()), ("device", results.get("device")), ("created", results["created"]),
        ("seconds", results["seconds"]), ("python", env.get("python")), ("platform", env.get("platform")),
        ("git commit", env.get("git_commit")), *((f"package: {k}", v) for k, v in (env.get("packages") or {}).items()),
    ], columns=["setting", "value"]).astype(str)
    policies = pd.DataFrame([{"policy": r["policy"], "spec": r["spec"], "start": r["start"] or ""} for r in results["policies"]])
    parts = [f"<h1>RLHF Studio evaluation: did RLHF help?</h1><p class='c'>{e(results['created'])} · "
             f"{data['articles']} held-out articles · baseline {e(results['baseline'])}</p>"]
    parts += ["<ul>" + "".join(f"<li>{e(v['sentence'])}</li>" for v in verdicts(results)) + "</ul>"] if verdicts(results) else []
    parts += [f"<div class='note'>{e(n)}</div>" for n in results.get("notes") or []]
    for i, fig in enumerate(report_figures(results)):
        parts.append(_figure_html(fig, f"fig{i}"))
    for _, title, frame, caption in result_tables(results):
        parts.append(f"<h2>{e(title)}</h2><p class='c'>{e(caption)}</p>{_table_html(frame)}")
    parts.append(f"<h2>Policies</h2>{_table_html(policies)}<h2>Setup and reproducibility</h2>{_table_html(setup)}")
    parts.append(f"<details><summary>All {len(headlines)} headlines</summary>{_table_html(headlines)}</details>")
    style = ("body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}"
             "table.t{border-collapse:collapse;font-size:13px;margin:.5em 0 1.5em}table.t td,table.t th{border-bottom:1px solid #ddd;"
             "padding:3px 8px;text-align:left;vertical-align:top}.c{color:#666;font-size:13px}"
             ".note{background:#fff6e0;padding:6px 10px;margin:6px 0}.fig{margin:1em 0}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>RLHF Studio evaluation</title><style>{style}</style>"
            f"<script>{get_plotlyjs()}</script></head><body>{''.join(parts)}</body></html>\n")
