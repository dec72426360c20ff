"""Policy (RLHF): fine-tune the headline writer with SFT, PPO, GRPO or DPO, live; or try best-of-n.

Inputs (algorithm, policy, reward model, data, KL coefficient and other hyper-parameters), title,
state (the live job), render (progress, live charts, probe headlines; finished runs; past runs),
act (start / cancel). Training runs in rlhf_core's JobRunner thread; this page only reads its files.
"""

from __future__ import annotations

from dataclasses import asdict, fields

import pandas as pd
import streamlit as st

from rlhf_core.bounds import bounds
from rlhf_core.errors import StudioError
from rlhf_core.metrics import describe
from rlhf_core.policy.config import CONFIGS, GenerationConfig, LOSS_TYPES, REWARD_NORMS, SCALE_REWARDS, field_help, make_config, preset_of
from ui import state
from ui.charts import POLICY_CHARTS, compare_runs_figure, has_any, metrics_figure
from ui.services import job_runner, offline_status, reward_dir_of
from ui.trl_import import import_trl_expander
from ui.widgets import (ACTIVE, POLICY_KINDS, dataset_names, default_pick, finished_runs, job_panel, last_metric, list_runs,
                        owner_only, persona_of, pick_run, run_get, show_error)

ALGOS = {
    "SFT": ("sft", "Supervised fine-tuning: imitate expert headlines (the seed's expert data, weighted x2). The usual first step.",
            r"\mathcal{L}_{SFT}(\theta) = -\frac{1}{\sum_i w_i}\sum_i w_i \sum_t \log \pi_\theta(y_{i,t} \mid x_i, y_{i,<t})"),
    "PPO": ("ppo", "Sample headlines, score them with the reward model minus a per-token KL penalty to the frozen reference, "
                   "and take clipped policy-gradient steps with a learned value baseline (GAE). Ouyang et al. 2022.",
            (r"r_t = r_\phi(x, y)\,[t = T] \;-\; \beta \log\frac{\pi_\theta(y_t \mid s_t)}{\pi_{ref}(y_t \mid s_t)}",
             r"\mathcal{L}^{CLIP}(\theta) = -\mathbb{E}_t\big[\min(\rho_t A_t,\ \mathrm{clip}(\rho_t, 1-\epsilon, 1+\epsilon)\, A_t)\big],"
             r"\quad \rho_t = \frac{\pi_\theta(y_t \mid s_t)}{\pi_{old}(y_t \mid s_t)}")),
    "GRPO": ("grpo", "Sample a group of G headlines per article; each one's advantage is its reward relative to the group "
                     "(no value network); clipped ratio plus a k3 KL penalty to the reference. Shao et al. 2024 (DeepSeekMath).",
             (r"A_i = \frac{r_i - \mathrm{mean}(r_1, \dots, r_G)}{\mathrm{std}(r_1, \dots, r_G)}, \qquad"
              r"\mathbb{D}^{k3}_{KL} = \frac{\pi_{ref}}{\pi_\theta} - \log\frac{\pi_{ref}}{\pi_\theta} - 1",
              r"\mathcal{L}(\theta) = -\frac{1}{G}\sum_{i=1}^{G}\frac{1}{|y_i|}\sum_t \Big[\min(\rho_{i,t} A_i,\ "
              r"\mathrm{clip}(\rho_{i,t}, 1 \pm \epsilon)\, A_i) - \beta\, \mathbb{D}^{k3}_{KL}\Big]")),
    "DPO": ("dpo", "Learn straight from preference pairs, no reward model and no sampling: raise the chosen headline's "
                   "likelihood relative to the rejected one, measured against the reference. Rafailov et al. 2023.",
            r"\mathcal{L}_{DPO}(\theta) = -\log \sigma\Big(\beta \log\frac{\pi_\theta(y_w|x)}{\pi_{ref}(y_w|x)} - \beta \log\frac{\pi_\theta(y_l|x)}{\pi_{ref}(y_l|x)}\Big)"),
    "Best-of-n": ("bon", "No training: sample n headlines and keep the one the reward model scores highest. A strong baseline "
                         "that costs n times the generation; pick it as a policy on Compare.",
                  r"y^* = \arg\max_{y_j \sim \pi_{ref}(\cdot|x),\ j=1..n} r_\phi(x, y_j)"),
}
DATA_KINDS = {"sft": ("demonstrations", "ratings"), "ppo": ("articles", "ratings", "demonstrations", "preferences"),
              "grpo": ("articles", "ratings", "demonstrations", "preferences"), "dpo": ("preferences",),
              "bon": ("articles", "ratings", "demonstrations", "preferences")}
DATA_DEFAULT = {"sft": "sample-expert_demonstrations", "ppo": "sample-rl_prompts", "grpo": "sample-rl_prompts",
                "dpo": "sample-train_preferences", "bon": "sample-test_ratings"}
CHOICES = {"loss_type": LOSS_TYPES, "scale_rewards": SCALE_REWARDS, "reward_norm": REWARD_NORMS}
UP_FRONT = ("steps", "beta", "lr", "lora_r")  # lora_r: 0 = full fine-tuning, > 0 = LoRA of that rank
HIDDEN = ("generation", "gold_persona", "resume_from")
FOLDER = "a folder or hub id"
NO_PERSONA = "(none)"


def param_input(cls, name: str, scope: str, defaults, container):
    """One widget for one config field, typed from the dataclass, with the field's help text.

    `defaults` is the config the preset (or the papers) start from; `scope` (algorithm and whose
    defaults) is part of the widget key, so switching either shows that choice's values.
    """
    default = getattr(defaults, name)
    key = f"{state.POLICY_PARAM_PREFIX}{scope}_{name}"
    label, help_text = name.replace("_", " "), field_help(cls, name)
    if name == "beta":
        label = "beta (KL coefficient)"
    if name in CHOICES:
        return container.selectbox(label, CHOICES[name], index=CHOICES[name].index(default), key=key, help=help_text)
    if isinstance(default, bool):
        return container.checkbox(label, value=default, key=key, help=help_text)
    if isinstance(default, str):
        return container.text_input(label, value=default, key=key, help=help_text)
    lo, hi = bounds(cls, name)  # the config's own range (rlhf_core/bounds.py)
    if isinstance(default, int):
        return int(container.number_input(label, min_value=lo, max_value=hi, value=default, step=1, key=key, help=help_text))
    step = 10 ** -6 if name == "lr" else 0.01 if default < 1 else 0.1
    fmt = "%.1e" if name == "lr" else "%.3f" if default < 1 else "%.2f"
    return float(container.number_input(label, min_value=None if lo is None else float(lo), max_value=None if hi is None else float(hi),
                                        value=float(default), step=step, format=fmt, key=key, help=help_text))


def policy_options() -> dict[str, str]:
    """Label -> policy spec: presets, then every finished policy run's final checkpoint."""
    from rlhf_core.models.prepare import is_prepared
    from rlhf_core.models.registry import is_model_dir

    built = is_prepared("tiny")
    options = {f"tiny (GPT-2, ~1M params, pre-trained on synthetic news{'' if built else '; pre-trained on first use: a few minutes'})": "tiny"}
    if offline_status().get("smollm2"):
        options["smollm2 (SmolLM2-135M-Instruct)"] = "smollm2"
    for info in finished_runs(POLICY_KINDS):
        final = info.run_dir / "final"
        if is_model_dir(final):
            options[f"run: {info.id}"] = str(final)
    options[FOLDER] = FOLDER
    return options


def reward_options() -> dict[str, str]:
    return {f"run: {info.id} ({info.name})": d for info in finished_runs("reward") if (d := reward_dir_of(info))}


def draw_charts(metrics: list[dict], run_id: str) -> None:
    charts = [(title, keys) for title, keys in POLICY_CHARTS if has_any(metrics, keys)]
    for row in range(0, len(charts), 3):
        cols = st.columns(3)
        for col, (title, keys) in zip(cols, charts[row:row + 3]):
            col.plotly_chart(metrics_figure(metrics, keys, title), key=f"policy_chart_{title}")
            col.caption(" ".join(describe(k) for k in keys if describe(k)))
    samples = [s for s in job_runner().read_samples(run_id) if s.get("source") != "rollout"]
    if samples:
        st.markdown("**Probe headlines** (greedy, fixed held-out articles; newest step first)")
        table = pd.DataFrame(samples)
        order = [c for c in ("step", "reward", "gold", "headline", "article") if c in table]
        st.dataframe(table.iloc[::-1][order].head(40), hide_index=True, height=260)


@st.fragment(run_every=1.0)
def live_panel(run_id: str) -> None:
    def draw(metrics: list[dict], info) -> None:
        if run_get(info, "status") not in ACTIVE:
            st.rerun()  # the run ended: one full rerun swaps this panel for the results
        if not metrics:
            st.caption("Loading the policy, its frozen reference and the reward model. The tiny preset is pre-trained "
                       "once on first use (a few minutes on a laptop CPU) and cached after that.")
        draw_charts(metrics, run_id)

    job_panel("Policy training", run_id, draw)


def best_of_n_demo(spec: str, reward_dir: str | None, data_name: str, n: int, temperature: float, persona: str) -> None:
    """Best-of-n on a few articles of the data: what picking the reward model's favourite buys, in proxy and gold."""
    from rlhf_core.compare import articles_of
    from rlhf_core.policy.best_of_n import best_of_n, summary
    from ui.services import policy
    from ui.widgets import load_tables
    from rlhf_core.models.registry import check_model_spec

    check_model_spec(spec)
    tables = {k: v for k, v in load_tables([data_name]).items() if k != "scale"}
    kind, frame = next(iter(tables.items()))
    articles = articles_of(frame, kind)["article"].head(4).tolist()
    with st.spinner(f"Sampling {n} headlines for each of {len(articles)} articles..."):
        results = best_of_n(policy(spec), reward_dir, articles, n=n, gen=GenerationConfig(temperature=temperature),
                            gold_persona="" if persona == NO_PERSONA else persona)
    stats = summary(results)
    cols = st.columns(4)
    for col, (label, key) in zip(cols, (("Reward of the pick", "reward/best_mean"), ("Reward, all samples", "reward/mean"),
                                        ("Gold of the pick", "reward/gold_best_mean"), ("Gold, all samples", "reward/gold_mean"))):
        col.metric(label, "-" if stats.get(key) is None else f"{stats[key]:.3f}")
    st.caption("If the pick's reward rises but its gold score does not, the reward model is being over-optimised (Gao et al. 2023).")
    st.text(results[0]["article"][:500])
    st.dataframe(pd.DataFrame(results[0]["candidates"]), hide_index=True)


def collected_votes() -> pd.DataFrame:
    """A/B votes from the Rate page as a canonical preferences table."""
    from rlhf_core.feedback import collected_preferences
    from ui.services import ratings_store

    return collected_preferences(ratings_store().votes_frame())


# --- inputs ---
owner_only()
runner = job_runner()
active = next((r for r in (runner.active_run(k) for k in POLICY_KINDS) if r is not None), None)

st.title("Policy (RLHF)")
st.caption("The policy is the headline writer. SFT teaches it the task; PPO and GRPO make it chase the reward model's "
           "score while a KL penalty (beta) ties it to the reference; DPO learns from preference pairs directly.")
settings, main = st.columns([1, 2], gap="large")
with settings, st.container(border=True):
    algo_name = st.radio("Algorithm", list(ALGOS), horizontal=True, key=state.POLICY_ALGO, index=2)
    algo, explanation, loss = ALGOS[algo_name]
    options = policy_options()
    label = st.selectbox("Policy to start from", list(options), key=state.POLICY_SPEC)
    spec = options[label]
    if spec == FOLDER:
        spec = st.text_input("Folder or hub id", "gpt2-medium", key=state.POLICY_DIR,
                             help="A local checkpoint folder, or a hub id such as the seed's gpt2-medium (needs network).")
    papers = st.toggle("Papers' defaults", key=state.POLICY_PAPER_DEFAULTS,
                       help="The papers' settings (e.g. lr 1e-5) are made for billion-parameter models and barely move "
                            "the offline presets. Off: the settings measured to learn visibly on the chosen preset.")
    preset = preset_of(spec)
    defaults_key = ("paper" if papers else preset) or "paper"
    rewards = reward_options()
    needs_reward = algo in ("ppo", "grpo", "bon")
    reward_label = st.selectbox("Reward model", list(rewards) or ["(none trained yet)"], key=state.POLICY_REWARD,
                                disabled=not needs_reward, help="PPO, GRPO and best-of-n maximise this reward model's score.")
    reward_dir = rewards.get(reward_label)
    if needs_reward and not rewards:
        st.warning("Train a reward model first (Reward model page).", icon=":material/warning:")
    data_options = dataset_names(DATA_KINDS[algo])
    data_index = data_options.index(default_pick(data_options, (DATA_DEFAULT[algo],))[0]) if data_options else 0
    data_name = st.selectbox("Data", data_options or ["(no dataset: see the Data page)"], index=data_index,
                             key=f"{state.POLICY_DATA}_{algo}", help={"sft": "Expert demonstrations (or ratings: the best-rated headlines).",
                             "dpo": "Preference pairs (prompt, chosen, rejected), also those collected on the Rate page."}.get(
                                 algo, "Articles to write headlines for (their headlines are ignored)."))
    use_votes = False
    if algo == "dpo":
        votes = collected_votes()
        use_votes = st.checkbox(f"Add A/B votes collected on the Rate page ({len(votes)} pairs)", key=state.POLICY_USE_VOTES,
                                disabled=votes.empty, help="Majority vote per pair; ties and 'both bad' are left out.")
    if algo == "bon":
        n = st.slider("n (candidates)", 2, 16, 4, key=f"{state.POLICY_PARAM_PREFIX}bon_n")
        temperature = st.slider("Temperature", 0.1, 1.5, 1.0, 0.1, key=f"{state.POLICY_PARAM_PREFIX}bon_t")
        persona = persona_of([data_name]) or NO_PERSONA
        start = st.button("Try best-of-n on 4 articles", key="policy_bon", type="primary",
                          disabled=not (reward_dir and data_options))
    else:
        cls = CONFIGS[algo]
        defaults = make_config(algo, spec, paper_defaults=papers)
        names = [f.name for f in fields(cls) if f.name not in HIDDEN]
        scope = f"{algo}_{defaults_key}"
        params = {name: param_input(cls, name, scope, defaults, st) for name in UP_FRONT if name in names}
        if preset and not papers:
            st.caption(f"Settings that learn visibly on `{preset}`; the papers' values are one switch away.")
        with st.expander("More hyper-parameters"):
            params |= {name: param_input(cls, name, scope, defaults, st) for name in names if name not in UP_FRONT}
            personas = [NO_PERSONA]
            try:
                from rlhf_core.data.personas import PERSONAS

                personas += sorted(PERSONAS)
            except ImportError:
                pass
            guess = persona_of([data_name]) or NO_PERSONA
            persona = st.selectbox("Gold persona (logged, never trained on)", personas, index=personas.index(guess),
                                   key=f"{state.POLICY_PARAM_PREFIX}{algo}_persona", help=field_help(cls, "gold_persona"))
            if "generation" in [f.name for f in fields(cls)]:
                gen = {name: param_input(GenerationConfig, name, f"{scope}_gen", defaults.generation, st)
                       for name in ("temperature", "top_p", "max_new_tokens")}
        start = st.button("Start training", key="policy_start", type="primary", icon=":material/play_arrow:",
                          disabled=active is not None or not data_options or (needs_reward and not reward_dir),
                          help="One training job runs at a time." if active else None)
    import_trl_expander("policy", state.POLICY_RUN)  # a bundle trained on a cluster comes back as a run

# --- act (best-of-n's demo is drawn below, in the main column) ---
if start and algo != "bon":
    try:
        from rlhf_core.models.registry import check_model_spec
        from rlhf_core.policy.train import train_policy
        from ui.widgets import load_tables

        check_model_spec(spec)  # a typed folder must be inside the studio's folders

        extra = {"generation": GenerationConfig(**gen)} if "generation" in [f.name for f in fields(cls)] else {}
        cfg = cls(**params, gold_persona="" if persona == NO_PERSONA else persona, **extra)
        tables = {k: v for k, v in load_tables([data_name]).items() if k != "scale"}
        frame = next(iter(tables.values()))
        if use_votes:  # DPO on the pairs people chose in the app, merged with the dataset's (duplicates removed)
            from rlhf_core.feedback import merge_tables

            frame = merge_tables(frame, collected_votes(), "preferences")
    except (StudioError, TypeError, ValueError) as exc:
        show_error(exc)
    else:
        config = {"algo": algo, "policy": spec, "reward_dir": reward_dir if needs_reward else None, "data": data_name,
                  "rows": len(frame), "with_rate_page_votes": use_votes, **asdict(cfg)}
        run_id = runner.submit(
            algo, config,
            lambda out_dir: train_policy(algo, cfg, spec, reward_dir=reward_dir if needs_reward else None, data=frame, out_dir=out_dir),
            name=f"{algo.upper()} on {spec if label == FOLDER else label.split(' (')[0]}" + (f", beta {cfg.beta:g}" if hasattr(cfg, "beta") else ""))
        st.session_state[state.POLICY_RUN] = run_id
        st.rerun()

# --- render ---
with main:
    st.markdown(f"**{algo_name}.** {explanation}")
    for equation in (loss,) if isinstance(loss, str) else loss:
        st.latex(equation)
    if algo == "bon" and start:
        try:
            best_of_n_demo(spec, reward_dir, data_name, n, temperature, persona)
        except StudioError as exc:
            show_error(exc)
    if active is not None:
        live_panel(active.id)
    elif algo != "bon":
        done = [r for r in list_runs() if r.kind in POLICY_KINDS and r.status not in ACTIVE]
        if not done:
            st.info("No policy run yet. With the tiny preset and a reward model, **GRPO** shows the reward rising within a minute; "
                    "to watch reward hacking (proxy up, gold down), follow the recipe below.")
        else:
            chosen = pick_run(done, state.POLICY_RUN)
            if chosen.status == "failed":
                show_error(chosen.error or "see its folder", "The run failed")
            draw_charts(runner.read_metrics(chosen.id), chosen.id)

with st.expander("Recipe: show reward hacking in class", icon=":material/science:"):
    st.markdown("1. **Data** → *Synthetic newsroom*: 400 articles, seed 7 (the sample data's), leave out the styles "
                "`truncated` and `repetitive`, generate.\n"
                "2. **Reward model**: quick mode on that `train_ratings` + `train_preferences` (seconds). This reward "
                "model has never seen a broken headline: its blind spot.\n"
                "3. **Here**: GRPO on `tiny` with it, learning rate 3e-4, 300 steps, on that data's `train_ratings` articles "
                "(a small prompt set, over-fitted fast), 8 prompts per step and temperature 0.7 (*More hyper-parameters*), "
                "once with β = 0 and once with β = 0.3.\n"
                "4. *Compare runs side by side* below: with β = 0 the proxy reward keeps climbing while the gold score "
                "peaks and collapses (the probe headlines shrink to fragments such as `$` or `6,7`); with β = 0.3 both "
                "rise. Runs vary from seed to seed (bench/bench_tiny_loop.py measures it).")

runs = [r for r in list_runs() if r.kind in POLICY_KINDS]
if runs:
    st.subheader("Past runs")
    finals = {r.id: runner.read_metrics(r.id) for r in runs}
    rows = [{"run": r.id, "name": r.name, "status": r.status, "policy": r.config.get("policy"), "data": r.config.get("data"),
             "beta": r.config.get("beta"), "steps": r.step, "last proxy reward": last_metric(finals[r.id], "reward/mean"),
             "last gold": last_metric(finals[r.id], "reward/gold_mean"), "error": r.error} for r in runs]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    picked = st.multiselect("Compare runs side by side", [r.id for r in runs], default=[r.id for r in runs[:2]],
                            key=f"{state.POLICY_COMPARE}-{runs[0].id}")  # a new run resets the choice to the two newest
    if picked:
        names = {r.id: f"{r.name} · {r.id[-4:]}" if r.name else r.id for r in runs}  # the legend says beta / algorithm, not just an id
        curves = {names.get(rid, rid): runner.read_metrics(rid) for rid in picked}
        charts = [(key, title) for key, title in (("reward/gold_mean", "Gold reward (persona)"), ("reward/mean", "Proxy reward"),
                                                  ("policy/kl", "KL to the reference")) if any(has_any(rows, (key,)) for rows in curves.values())]
        for col, (key, title) in zip(st.columns(3), charts):
            col.plotly_chart(compare_runs_figure(curves, key, title), key=f"policy_cmp_{key}")
