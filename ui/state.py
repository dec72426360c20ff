"""Every session-state key the app uses, in one place.

Pages never write a string literal into `st.session_state`: they import a name from here, so a
reader can see at a glance what each page remembers between reruns and no two pages collide.
Widget keys are listed too (a widget's `key=` is its session-state key).
"""

from __future__ import annotations

# --- Data page -------------------------------------------------------------------------------
UPLOAD = "upload"                      # st.file_uploader (tests set it by this key)
UPLOAD_KIND = "upload_kind"            # selectbox: what the upload holds (auto / ratings / ...)
UPLOAD_NAME = "upload_name"            # text_input: name to save the uploaded dataset under
UPLOAD_MAP_PREFIX = "upload_map_"      # + canonical column: selectbox mapping a file column onto it
UPLOAD_MAP_KIND = "upload_map_kind"    # selectbox: the kind the column mapping targets
UPLOAD_SCALE = "upload_scale"          # selectbox: score scale override (auto / 1-5 / 0-1 / 0-10)
DATA_SELECTED = "data_selected"        # selectbox: dataset shown in the preview
DATA_FLASH = "data_flash"              # one-shot success message shown after a rerun
SYNTH_PERSONA = "synth_persona"
SYNTH_ARTICLES = "synth_articles"
SYNTH_SEED = "synth_seed"
SYNTH_EXCLUDE = "synth_exclude"
SYNTH_NAME = "synth_name"
DELETE_CONFIRM = "data_delete_confirm"

# --- Reward model page -----------------------------------------------------------------------
REWARD_DATA = "reward_data"            # multiselect of data sources
REWARD_USE_RATINGS = "reward_use_ratings"
REWARD_BACKBONE = "reward_backbone"
REWARD_BACKBONE_DIR = "reward_backbone_dir"
REWARD_OBJECTIVE = "reward_objective"
REWARD_QUICK = "reward_quick"
REWARD_FACT_CHECKS = "reward_fact_checks"  # full fine-tuning reads the headline's fact checks
REWARD_PARAM_PREFIX = "reward_param_"  # + config field name
REWARD_RUN = "reward_run"              # run id the page is watching / showing
REWARD_EVAL_DATA = "reward_eval_data"  # multiselect: held-out datasets for the results
REWARD_COMPARE = "reward_compare"      # multiselect of past runs shown side by side
REWARD_FLASH = "reward_flash"

# --- Policy page -----------------------------------------------------------------------------
POLICY_ALGO = "policy_algo"
POLICY_SPEC = "policy_spec"
POLICY_DIR = "policy_dir"
POLICY_REWARD = "policy_reward"
POLICY_DATA = "policy_data"
POLICY_PARAM_PREFIX = "policy_param_"  # + algorithm + "_" + preset or "paper" + "_" + field (+ "gen_" + field: sampling)
POLICY_USE_VOTES = "policy_use_votes"  # checkbox: add the Rate page's votes or stars (Algorithm.collected)
POLICY_PAPER_DEFAULTS = "policy_paper_defaults"
POLICY_RUN = "policy_run"
POLICY_COMPARE = "policy_compare"
POLICY_FLASH = "policy_flash"

# --- Evaluate page ---------------------------------------------------------------------------
EVAL_POLICIES = "eval_policies"        # multiselect: policies to evaluate
EVAL_DATA = "eval_data"                # selectbox: held-out dataset
EVAL_BASELINE = "eval_baseline"        # selectbox: the policy win rates are measured against
EVAL_REWARD = "eval_reward"
EVAL_PERSONA = "eval_persona"
EVAL_CURVE = "eval_curve"              # selectbox: the policy run whose over-optimisation curve is drawn
EVAL_ARTICLES = "eval_articles"        # number inputs of EvalConfig fields
EVAL_SAMPLES = "eval_samples"
EVAL_TEMPERATURE = "eval_temperature"
EVAL_SEED = "eval_seed"
EVAL_RUN = "eval_run"                  # the evaluation run shown (results live on disk in its folder)

# --- Shared ----------------------------------------------------------------------------------
CANCEL_PREFIX = "cancel_"              # + run id: the Cancel button of a job fragment
TRL_IMPORT_DIR = "trl_import_dir"      # + "_policy" / "_reward": text_input, a bundle run's output folder
TRL_IMPORT_FLASH = "trl_import_flash"  # one-shot message after an import (shown in the expander)

# Lesson page and presenter comforts (sidebar)
LARGE_FONT = "presenter_large_font"
LESSON_SEED = "lesson_seed"
LESSON_AUTO = "lesson_auto_continue"
LESSON_RESET = "lesson_reset"
LESSON_FLASH = "lesson_flash"
