"""The lesson's settings and its stages, each with the two sentences a teacher reads out.

The settings are the ones measured to work on `tiny` on 2 CPU cores (bench/bench_lesson.py prints
them over five seeds); a fixed seed makes a rehearsed lesson repeat headline for headline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rlhf_core.errors import ConfigError

DEGENERATE_STYLES = ("truncated", "repetitive")  # what the hacking part's reward model never sees


def _help(default, text: str, low=None, high=None):
    from rlhf_core.bounds import bounded

    return bounded(default, text, low, high)


@dataclass(frozen=True)
class LessonConfig:
    """Everything the lesson needs; the defaults are the rehearsed lesson."""

    seed: int = _help(0, "Seed of every stage's training and sampling: the same seed repeats the lesson exactly.", 0, 10**6)
    persona: str = _help("wire_editor", "The newsroom's rater: whose 1-5 stars the reward model learns.")
    rival_persona: str = _help("tabloid_editor", "The other rater of the 'whose values?' part.")
    articles: int = _help(400, "Rated articles in the newsroom (a fifth held out); 400 with data_seed 7 is the sample data.", 50, 5000)
    data_seed: int = _help(7, "Seed of the synthetic newsroom (7: identical to sample_data/).", 0, 10**6)
    prompts: int = _help(2400, "Unrated articles the RL stage writes headlines for (InstructGPT's PPO prompts had no labels).", 50, 20000)
    prompts_seed: int = _help(8, "Seed of the RL prompts (8: identical to sample_data/rl_prompts.csv).", 0, 10**6)
    sft_steps: int = _help(25, "SFT steps on the expert headlines (batch 16).", 1, 2000)
    sft_lr: float = _help(3e-4, "SFT learning rate on `tiny`.", 1e-6, 1e-2)
    grpo_steps: int = _help(80, "GRPO steps of the main part (8 articles x 4 headlines each).", 1, 2000)
    grpo_lr: float = _help(2e-4, "GRPO learning rate on `tiny` (the papers' 1e-5 is for billion-parameter models).", 1e-6, 1e-2)
    beta: float = _help(0.04, "KL coefficient of the main GRPO run (DeepSeekMath's 0.04).", 0.0, 10.0)
    temperature: float = _help(0.7, "Sampling temperature of the RL rollouts.", 0.1, 2.0)
    probe_articles: int = _help(6, "Held-out articles shown before / after, headline by headline.", 1, 40)
    fresh_articles: int = _help(120, "Fresh articles (generated for the evaluation only, never trained on) scored with the "
                                     "newsroom's held-out fifth: more articles, a narrower interval on the gain.", 0, 5000)
    hack_steps: int = _help(150, "Steps of each reward-hacking run (by 150, beta = 0 has found the blind spot on 4-5 of 5 "
                                   "seeds; by 100 on 3 of 5).", 1, 2000)
    hack_lr: float = _help(3e-4, "Learning rate of the reward-hacking runs (large: over-optimisation shows sooner).", 1e-6, 1e-2)
    hack_beta: float = _help(0.1, "The sensible KL coefficient shown next to beta = 0. The hacking runs are RLOO, whose "
                                  "penalty is in each headline's reward (InstructGPT's form): a headline the SFT model "
                                  "finds unlikely, such as one cut off after two words, costs beta x its KL in reward. "
                                  "GRPO's penalty in the loss let the cut-off headlines through on 2 of 5 seeds. At 0.2 "
                                  "the sensible run barely learned, and over 150 steps its gold ended below its start on "
                                  "2 of 5 seeds; at 0.1 it learns, and gold held on 4 of 5 (bench/bench_lesson.py).", 0.0, 10.0)
    generalist_steps: int = _help(200, "SFT steps of the 'whose values?' start on every rated headline (batch 16).", 1, 2000)
    generalist_lr: float = _help(1e-3, "SFT learning rate of that start: high, so `tiny` (pre-trained on plain news "
                                       "headlines) learns to write hooks too (at 3e-4 for 60 steps it wrote none in 192 "
                                       "samples, and the tabloid's reward model had nothing to select).", 1e-6, 1e-2)
    persona_steps: int = _help(150, "Steps of each 'whose values?' run.", 1, 2000)
    threads: int = _help(1, "Torch CPU threads while a stage trains. 1: a second thread does not speed `tiny` up, and "
                            "one thread runs beside the app, a browser or another run without the slowdown two "
                            "spinning threads cause on 2 cores (rlhf_core/threads.py). 0 keeps torch's default.", 0, 64)

    def __post_init__(self):
        from rlhf_core.bounds import check_bounds
        from rlhf_core.data.personas import PERSONAS

        check_bounds(self)  # each field's min / max, as every config in the studio
        for name in (self.persona, self.rival_persona):
            if name not in PERSONAS:
                raise ConfigError(f"unknown persona '{name}': choose from {', '.join(sorted(PERSONAS))}.")
        if self.persona == self.rival_persona:
            raise ConfigError("the 'whose values?' part needs two different personas.")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Stage:
    """One stage of the lesson: what runs, and what a teacher says while it runs."""

    key: str
    part: str  # "main", "hacking" or "personas"
    title: str
    what: str  # what is happening
    watch: str  # what to watch
    needs: tuple[str, ...] = ()  # stages whose outputs this one uses
    pause: bool = True  # the page waits for the teacher before the next stage (False: goes straight on)


STAGES: tuple[Stage, ...] = (
    Stage("newsroom", "main", "1. The newsroom",
          "A synthetic newsroom writes 400 articles and ten candidate headlines for each; an editor rates them 1-5 stars "
          "and picks the best one as an expert headline.",
          "Most ratings are low: accurate, specific headlines are rare, and the editor's values are hidden inside the stars."),
    Stage("sft", "main", "2. Supervised fine-tuning",
          "The tiny model (pre-trained before class on 3,000 other stories) imitates this editor's best headlines, word by "
          "word, as InstructGPT's first step does.",
          "The loss falls; the gold score of its headlines on held-out articles (the editor's own judgement) hardly moves: "
          "imitation reaches the level of the examples and stops there. Going further takes the ratings.",
          needs=("newsroom",)),
    Stage("reward", "main", "3. The reward model",
          "A reward model learns to predict the editor's stars for any headline, from the ratings and from pairs of headlines "
          "where one was preferred.",
          "Its rank correlation with ratings it never saw: this model is all the RL stage will know of the editor.",
          needs=("newsroom",)),
    Stage("grpo", "main", "4. Reinforcement learning (GRPO)",
          "The SFT model writes four headlines per article; those the reward model scores above their group's average "
          "become more likely, while a KL penalty keeps the model close to where it started.",
          "Reward (what it optimises) and gold (the editor's real judgement, never shown to it) should rise together; KL "
          "measures how far it moved.",
          needs=("sft", "reward")),
    Stage("compare", "main", "5. Before and after",
          "The SFT and the GRPO model write a headline for each held-out article, and both are scored by the reward model "
          "and by the editor's hidden gold judgement.",
          "Did RL help on articles it never saw? The paired gain and its 95% interval say how sure we can be.",
          needs=("sft", "reward", "grpo")),
    Stage("hack_data", "hacking", "6. A reward model with a blind spot",
          "The same newsroom, but the editor never rated truncated or repetitive headlines, so a reward model trained "
          "on these ratings has never seen such text.",
          "Nothing looks wrong yet: the reward model ranks normal headlines as well as before.",
          needs=("newsroom",), pause=False),
    Stage("hack_reward", "hacking", "7. Training the blind reward model",
          "A quick reward model learns the ratings without the broken headlines, and without the checks a reader makes "
          "for broken text (length, repetition, copied phrases).",
          "It ranks normal headlines well; its scores for broken text are a guess: that is the hole a policy can find.",
          needs=("hack_data",), pause=False),
    Stage("hacking", "hacking", "8. Reward hacking",
          "Two RL runs (RLOO) from the same SFT model: one with no KL penalty (beta = 0), one where each headline's reward "
          "pays beta times how far it strays from what the SFT model would write.",
          "Without the penalty the reward keeps rising while gold falls: the policy found headlines that fool the reward "
          "model (watch them get cut off). With it, gold holds.",
          needs=("sft", "hack_reward")),
    Stage("rival_data", "personas", "9. A second editor",
          "The same articles rated by a tabloid editor, who likes hooks, emotion and exclamation marks.",
          "Same headlines, different stars: the values live in the ratings.",
          needs=("newsroom",), pause=False),
    Stage("rival_reward", "personas", "10. The tabloid's reward model",
          "A reward model learns the tabloid editor's stars.",
          "Two reward models now disagree about the same headline.",
          needs=("rival_data",), pause=False),
    Stage("generalist", "personas", "11. A writer of every style",
          "The tiny model learns from every headline the newsroom wrote, accurate, vague, clickbait and sensational alike, "
          "not only from one editor's favourites.",
          "Its headlines are a mix of styles: the raw material that each editor's reward model will select from.",
          needs=("newsroom",), pause=False),
    Stage("personas", "personas", "12. Whose values?",
          "The same generalist is aligned twice with GRPO, once against each editor's reward model.",
          "Each policy should win under its own editor's gold judgement and lose under the other's.",
          needs=("generalist", "reward", "rival_reward"), pause=False),
    Stage("personas_table", "personas", "13. The 2 x 2 table",
          "Both policies write headlines for the same held-out articles; each editor scores both.",
          "Alignment is always alignment to someone: the table shows to whom.",
          needs=("personas",)),
)
PARTS = ("main", "hacking", "personas")
STAGE_BY_KEY = {stage.key: stage for stage in STAGES}


def part_stages(part: str) -> list[Stage]:
    """The stages of one part, in order."""
    if part not in PARTS:
        raise ConfigError(f"unknown lesson part '{part}': choose from {', '.join(PARTS)}.")
    return [stage for stage in STAGES if stage.part == part]
