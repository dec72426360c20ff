"""Evaluation: did RLHF help? Text metrics, win rates with intervals, over-optimisation, one report.

    text.py               ROUGE-1/2/L (rouge-score, stemmer on), distinct-n, self-ROUGE
    stats.py              win rates (ties half) with paired bootstrap intervals; Bradley-Terry with intervals
    overoptimisation.py   Gao et al. (2022)'s fitted forms of gold / proxy reward against sqrt(KL)
    config.py             EvalConfig: the frozen settings the page and the CLI build
    policies.py           policy specs <-> labels, a checkpoint's starting point, a run's checkpoints
    run.py                evaluate(...): the job generator (writes headlines, scores them, win rates, report)
    sampling.py           headlines sampled at temperature 1 with their KL to a reference; policies loaded once
    curve.py              the over-optimisation curve of a run: its checkpoints and best-of-n from its start
    report.py             results tables, results.json, headlines.csv and the self-contained report.html
    figures.py            the Plotly figures the page and the report both draw
    cli.py                `python -m rlhf_core evaluate ...`

The text metrics are re-exported here, so `from rlhf_core.evaluation import rouge_scores` keeps working.
Nothing here imports Streamlit or prints; torch and the models load lazily.
"""

from rlhf_core.evaluation.text import ROUGE_KEYS, distinct_n, mean_rouge, rouge_scores, self_rouge

__all__ = ["ROUGE_KEYS", "distinct_n", "mean_rouge", "rouge_scores", "self_rouge"]
