"""The class lesson: the whole RLHF loop on `tiny`, in about three minutes on a laptop CPU.

Main part (a pause after each stage, for discussion):
  1. newsroom  a synthetic newsroom rated by a persona: ratings, preference pairs, expert headlines, RL prompts
  2. sft       supervised fine-tuning of the `tiny` preset on the expert headlines (the start of RLHF)
  3. reward    a reward model learns the ratings (quick mode: a linear head on frozen MiniLM + reader checks)
  4. grpo      GRPO from the SFT policy against that reward model, on fresh RL prompts
  5. compare   before / after: SFT and GRPO headlines on the same held-out articles, gold and reward
Two more parts a teacher can add:
  hacking   RLOO at beta = 0 next to a sensible beta, from the same start, against a reward model with a
            blind spot (it never saw truncated or repetitive headlines, and has no check for broken
            text): proxy up, gold down at beta = 0; the KL penalty keeps gold up
  personas  the same start aligned to wire_editor and to tabloid_editor ratings: whose values?

Everything a stage makes is an ordinary dataset (named `lesson-...`) or run, so the other pages
show it afterwards. `plan` runs the stages as background jobs (the Lesson page) or one after the
other (`python -m rlhf_core lesson run`); `stages` holds what each stage does.
"""

from rlhf_core.lesson.config import LessonConfig  # noqa: F401
