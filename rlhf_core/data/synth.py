"""The synthetic newsroom: news articles with known facts, candidate headlines of known styles.

Why synthetic data? With real data we never know the "true" quality of a headline. Here every
article is generated from structured facts (who, what, a number with its unit, where, when), so
a headline that changes the number or the actor is *known* to be wrong, and a persona
(`rlhf_core.data.personas`) can score any headline with a gold function. The reward model learns
from the persona's noisy ratings; the policy is then judged by the noise-free gold score.

Everything is deterministic: randomness comes only from `numpy.random.default_rng(seed)` (one
generator per article, seeded with `[seed, index]`, so the first k articles of a run of n are the
same for any n >= k), never from `hash()` or dict order, and `write_dataset` writes sorted rows
with fixed formatting, so `python -m rlhf_core data synth --persona wire_editor --articles 400
--seed 7 --out sample_data` regenerates `sample_data/` byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rlhf_core.paths import atomic_write_text

TOPICS = ("business", "sports", "science", "local government", "weather", "health", "technology")
STYLES = (
    "accurate_concise", "accurate_long", "vague", "clickbait", "sensational", "wrong_number", "wrong_actor",
    "wrong_direction",  # only for events that can be reversed (profit rises -> falls, approves -> rejects)
    # Degenerate text an RL policy drifts into when it hacks a reward model that never saw any:
    "truncated",  # cut off after 1-3 words
    "repetitive",  # a few words looping
)

# ----------------------------------------------------------------------------------------------
# Names from syllable tables: thousands of distinct people, companies, towns and teams.

_START = (
    "Ar", "Bel", "Cor", "Dar", "El", "Fen", "Gal", "Har", "Is", "Jor", "Kel", "Lan", "Mar", "Nor", "Or",
    "Pel", "Quin", "Ros", "Sel", "Tor", "Ul", "Val", "Wen", "Yar", "Zel", "Bram", "Cal", "Dun", "Est",
    "Fal", "Gre", "Hol", "Kin", "Lor", "Mel", "Ned", "Ost", "Pra", "Rav", "Sten", "Tam", "Vor", "Wil",
    "Ash", "Brin", "Cres", "Dell", "Ev", "Gar", "Hen", "Jas", "Kor", "Lis", "Mor", "Nel", "Per", "Sav",
)
_MID = ("a", "e", "i", "o", "an", "en", "ar", "or", "el", "il", "ad", "ov", "im", "us", "", "", "")
_END = (
    "a", "o", "in", "on", "en", "ar", "is", "ey", "ian", "eth", "ore", "und", "ick", "ell", "am", "ia",
    "ex", "ix", "ra", "ine", "ett", "ow", "ric", "ina", "ton", "ley",
)
_SURNAME_SUFFIX = ("", "", "", "son", "ez", "berg", "ley", "ova", "ski", "field", "wood", "er", "ani")
_TOWN_SUFFIX = ("ford", "ton", "ville", "field", "bridge", "port", "dale", "wick", "burg", "haven", "mouth", "stead", "brook", "moor")
_BIZ_SUFFIX = ("Foods", "Industries", "Holdings", "Motors", "Logistics", "Textiles", "Energy", "Retail", "Group", "Brewing", "Steel", "Airlines", "Pharma", "Bank")
_TECH_SUFFIX = ("Labs", "Systems", "Software", "Networks", "Robotics", "Cloud", "Semiconductor", "Data", "Devices", "Analytics")
_MASCOTS = ("Falcons", "Rovers", "Bears", "Comets", "Wolves", "Tides", "Hawks", "Miners", "Pilots", "Foxes", "Stallions", "Herons", "Giants", "Rangers")
_ROLE = {
    "biz": ("chief executive", "spokeswoman", "spokesman", "finance director", "chief operating officer"),
    "tech": ("chief executive", "co-founder", "head of engineering", "spokeswoman", "chief technology officer"),
    "team": ("head coach", "team captain", "general manager", "assistant coach"),
    "institute": ("lead author", "professor", "senior researcher", "project lead", "research director"),
    "council": ("mayor", "council member", "city manager", "council president", "finance chair"),
    "weather": ("forecaster", "meteorologist", "emergency manager", "duty forecaster"),
    "health": ("chief medical officer", "health director", "hospital spokeswoman", "epidemiologist", "head nurse"),
}
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _word(rng: np.random.Generator, parts: int = 2) -> str:
    word = str(rng.choice(_START)) + (str(rng.choice(_MID)) if parts > 2 else "") + str(rng.choice(_END))
    return re.sub(r"([aiouy])\1", r"\1", word.lower()).capitalize()  # 'Praiin' -> 'Prain'


def _person(rng: np.random.Generator) -> str:
    return f"{_word(rng)} {_word(rng, 3)}{rng.choice(_SURNAME_SUFFIX)}"


def _town(rng: np.random.Generator) -> str:
    return f"{_word(rng, 3)}{rng.choice(_TOWN_SUFFIX)}"


def _actor(kind: str, rng: np.random.Generator, place: str) -> str:
    """A named organisation of the given kind (teams and councils carry a town name)."""
    if kind == "biz":
        return f"{_word(rng, 3)} {rng.choice(_BIZ_SUFFIX)}"
    if kind == "tech":
        return f"{_word(rng, 3)} {rng.choice(_TECH_SUFFIX)}"
    if kind == "team":
        return f"the {_town(rng)} {rng.choice(_MASCOTS)}"
    if kind == "institute":
        return str(rng.choice((f"the {_word(rng, 3)} Institute", f"the University of {_town(rng)}", f"{_word(rng, 3)} College")))
    if kind == "council":
        return str(rng.choice((f"the {place} City Council", f"the {place} council", f"{place} County commissioners")))
    if kind == "weather":
        return str(rng.choice(("the National Weather Service", f"the {_word(rng, 3)} Weather Centre", "state forecasters")))
    if kind == "health":
        return str(rng.choice((f"{_word(rng, 3)} General Hospital", f"the {place} Health Department", f"St. {_word(rng)}'s Medical Center")))
    raise ValueError(f"unknown actor kind {kind!r}")


# ----------------------------------------------------------------------------------------------
# Numbers: value + how an article and a headline write it.


def _format_number(value: float, kind: str, style: str = "article") -> str:
    """'money' values are in millions of dollars; 'pct' percent; 'dec' one decimal; 'int' counts."""
    if kind == "money":
        if value >= 1000:
            return f"${value / 1000:.1f} billion".replace(".0 ", " ")
        text = f"{value:.1f}".removesuffix(".0")
        return f"${text}m" if style == "headline_short" else f"${text} million"
    if kind == "pct":
        text = f"{value:.1f}".removesuffix(".0")
        return f"{text} percent" if style == "article_words" else f"{text}%"
    if kind == "dec":
        return f"{value:.1f}".removesuffix(".0")
    return f"{int(round(value)):,}"


def _draw_number(rng: np.random.Generator, kind: str, low: float, high: float) -> float:
    if kind in ("money", "dec"):
        value = round(float(rng.uniform(low, high)), 1)
        return float(round(value, -2)) if kind == "money" and value >= 1000 else value  # $2.2 billion, not $2,202.6 million
    if kind == "pct":
        return float(rng.integers(int(low), int(high) + 1)) if rng.random() < 0.7 else round(float(rng.uniform(low, high)), 1)
    value = int(rng.integers(int(low), int(high) + 1))
    if value >= 200:  # reporters round big counts
        value = int(round(value, -1))
    return float(value)


# ----------------------------------------------------------------------------------------------
# Events. Each has an actor kind, a number (kind, range, unit word), lead-sentence templates for
# the article (past tense), concise and long headline templates (present tense), and a verb
# phrase the sensational style shouts. Slots: {actor} {Actor} {num} {place} {time} {day}
# {person} {role} {other} {detail}.


@dataclass(frozen=True)
class Event:
    key: str
    topic: str
    actor_kind: str
    number: tuple[str, float, float]
    unit: str
    what: str
    lead: tuple[str, ...]
    concise: tuple[str, ...]
    long: tuple[str, ...]
    details: tuple[str, ...] = ()
    other_kind: str = ""  # a second named entity (the opposing team, a partner company)
    flipped: tuple[str, ...] = ()  # concise headlines that reverse what happened (for wrong_direction)


EVENTS: tuple[Event, ...] = (
    # --- business
    Event("biz_jobs", "business", "biz", ("int", 40, 900), "jobs", "cut jobs",
          ("{Actor} said {time} it would cut {num} jobs at its {place} plant, {detail}.",
           "{Actor} announced {time} that it will cut {num} jobs at its site in {place}, {detail}.",
           "Some {num} workers at {actor}'s {place} factory will be laid off, the company said {time}, {detail}."),
          ("{Actor} to cut {num} jobs at {place} plant", "{Actor} cuts {num} jobs in {place}", "{num} jobs to go at {actor} site in {place}"),
          ("{Actor} to cut {num} jobs at its {place} plant {time}, {detail}, {role} {person} says",),
          ("citing weaker demand", "blaming energy costs", "as orders slow", "after a difficult year"),
          flipped=("{Actor} to add {num} jobs at {place} plant", "{Actor} to hire {num} workers in {place}")),
    Event("biz_profit", "business", "biz", ("pct", 3, 48), "percent", "report profit growth",
          ("{Actor} reported {time} that quarterly profit rose {num}, {detail}.",
           "Quarterly profit at {actor} climbed {num}, the {place}-based company said {time}, {detail}."),
          ("{Actor} profit rises {num}", "{Actor} quarterly profit up {num}", "{place}'s {actor} posts {num} profit rise"),
          ("{Actor} says quarterly profit rose {num} {time}, {detail}, and keeps its outlook for the year",),
          ("helped by strong holiday sales", "thanks to cost savings", "ahead of analyst forecasts", "on strong exports"),
          flipped=("{Actor} profit falls {num}", "{Actor} quarterly profit down {num}")),
    Event("biz_invest", "business", "biz", ("money", 5, 400), "dollars", "invest in a new facility",
          ("{Actor} will invest {num} in a new warehouse in {place}, executives said {time}, {detail}.",
           "{Actor} said {time} it plans to spend {num} building a distribution centre in {place}, {detail}."),
          ("{Actor} to invest {num} in {place} site", "{Actor} plans {num} {place} warehouse", "{Actor} bets {num} on new {place} centre"),
          ("{Actor} announces {num} investment in a new {place} warehouse {time}, {detail}",),
          ("creating new jobs", "its biggest project in a decade", "to speed up deliveries", "pending planning approval")),
    Event("biz_acquire", "business", "biz", ("money", 20, 2500), "dollars", "agree an acquisition",
          ("{Actor} agreed {time} to buy {other} for {num}, {detail}.",
           "{Actor} will acquire rival {other} in a deal worth {num}, the companies said {time}, {detail}."),
          ("{Actor} to buy {other} for {num}", "{Actor} agrees {num} deal for {other}", "{Actor} buys rival {other} in {num} deal"),
          ("{Actor} agrees to buy rival {other} for {num} {time}, {detail}, in a deal announced in {place}",),
          ("subject to regulatory approval", "creating the region's largest supplier", "in an all-cash offer", "ending months of talks"),
          other_kind="biz"),
    Event("biz_prices", "business", "biz", ("pct", 2, 25), "percent", "raise prices",
          ("{Actor} said {time} it would raise prices by {num} from next month, {detail}.",
           "Customers of {actor} in {place} will pay {num} more from next month, the company said {time}, {detail}."),
          ("{Actor} to raise prices {num}", "{Actor} lifts prices by {num}", "{Actor} customers face {num} price rise"),
          ("{Actor} will raise prices by {num} from next month, {detail}, the {place} company said {time}",),
          ("blaming higher supplier costs", "for the second time this year", "as wages rise", "citing shipping costs"),
          flipped=("{Actor} to cut prices {num}", "{Actor} lowers prices by {num}")),
    # --- sports
    Event("sport_points", "sports", "team", ("int", 18, 61), "points", "win a game",
          ("{person} scored {num} points as {actor} beat {other} {time}, {detail}.",
           "{Actor} beat {other} {time} behind {num} points from {person}, {detail}."),
          ("{person} scores {num} as {actor} beat {other}", "{person}'s {num} points lift {actor} past {other}", "{Actor} beat {other} as {person} scores {num}"),
          ("{person} scores {num} points as {actor} beat {other} {time} in front of a home crowd in {place}, {detail}",),
          ("extending their winning streak", "to stay top of the table", "in overtime", "after trailing at half-time"),
          other_kind="team",
          flipped=("{Actor} lose to {other} despite {num} from {person}", "{person} scores {num} but {actor} lose to {other}")),
    Event("sport_signing", "sports", "team", ("money", 2, 90), "dollars", "sign a player",
          ("{Actor} signed {person} to a contract worth {num}, the club said {time}, {detail}.",
           "{person} has agreed a {num} deal with {actor}, the team announced {time}, {detail}."),
          ("{Actor} sign {person} in {num} deal", "{person} joins {actor} for {num}", "{Actor} land {person} with {num} contract"),
          ("{Actor} sign {person} to a {num} contract {time}, {detail}, the club's {role} says",),
          ("the largest in club history", "over four seasons", "after a long pursuit", "ahead of the new season"),
          flipped=("{person} rejects {num} offer from {actor}", "{Actor} withdraw {num} offer for {person}")),
    Event("sport_attendance", "sports", "team", ("int", 8000, 72000), "fans", "draw a record crowd",
          ("A record crowd of {num} fans watched {actor} play {other} in {place} {time}, {detail}.",
           "A record {num} spectators saw {actor} play {other} at their stadium in {place} {time}, {detail}."),
          ("{Actor} draw record {num} crowd", "{num} fans watch {actor} in {place}", "Record {num} fans see {actor} play {other}"),
          ("A record crowd of {num} fans watches {actor} play {other} in {place} {time}, {detail}",),
          ("the most for a regular-season game", "beating the old mark", "despite heavy rain", "as ticket prices fell"),
          other_kind="team"),
    Event("sport_marathon", "sports", "team", ("int", 900, 30000), "runners", "hold a marathon",
          ("{num} runners took part in the {place} marathon {time}, organised by {actor}, {detail}.",
           "The {place} marathon drew {num} runners {time}, organisers {actor} said, {detail}."),
          ("{num} runners take part in {place} marathon", "{place} marathon draws {num} runners", "{num} run in {place} marathon"),
          ("{num} runners take part in the {place} marathon {time}, {detail}, organisers {actor} say",),
          ("raising money for local charities", "with {person} winning the men's race", "in cool, dry conditions", "a record field")),
    # --- science
    Event("sci_species", "science", "institute", ("int", 3, 60), "species", "discover species",
          ("Researchers at {actor} said {time} they had identified {num} new species of beetle near {place}, {detail}.",
           "A survey led by {actor} found {num} previously unknown insect species in forests near {place}, {detail}."),
          ("{num} new beetle species found near {place}", "{Actor} team finds {num} new species", "Researchers identify {num} new species near {place}"),
          ("Researchers at {actor} identify {num} new species of beetle in forests near {place}, {detail}",),
          ("the study published {time} said", "using DNA barcoding", "during a two-year survey", "in a remote valley")),
    Event("sci_trial", "science", "institute", ("pct", 10, 70), "percent", "report study results",
          ("A study by {actor} found that a new therapy cut relapse rates by {num} among patients in {place}, {detail}.",
           "Patients given the new therapy were {num} less likely to relapse, researchers at {actor} reported {time}, {detail}."),
          ("New therapy cuts relapse rate by {num}", "{Actor} study: drug cuts relapses {num}", "Drug lowers relapse risk {num}, {actor} finds"),
          ("A new therapy cut relapse rates by {num} in a trial run by {actor} in {place}, {detail}",),
          ("in a trial of 1,200 patients", "in a paper published this week", "though larger trials are needed", "published in a medical journal"),
          flipped=("New therapy raises relapse rate by {num}", "Drug increases relapse risk {num}, {actor} finds")),
    Event("sci_telescope", "science", "institute", ("int", 12, 900), "galaxies", "detect galaxies",
          ("Astronomers at {actor} said {time} they had detected {num} faint galaxies in a new sky survey, {detail}.",
           "A new survey by {actor}'s observatory near {place} has spotted {num} distant galaxies, {detail}."),
          ("{Actor} astronomers spot {num} faint galaxies", "Survey finds {num} distant galaxies", "{num} new galaxies seen from {place} observatory"),
          ("Astronomers at {actor} detect {num} faint galaxies in a new sky survey from their {place} observatory, {detail}",),
          ("some of the oldest ever seen", "using a new camera", "the team said {time}", "doubling the known count")),
    Event("sci_grant", "science", "institute", ("money", 1, 60), "dollars", "win a research grant",
          ("{Actor} has won a {num} grant to study drought-resistant crops, {detail}.",
           "{Actor} said {time} it had won {num} in research funding for a crop study near {place}, {detail}."),
          ("{Actor} wins {num} crop research grant", "{num} grant for {actor} crop study", "{Actor} gets {num} to study drought crops"),
          ("{Actor} wins a {num} grant to study drought-resistant crops near {place}, {detail}, {role} {person} says",),
          ("the largest in its history", "over five years", "to be shared with local farms", "from a national science fund"),
          flipped=("{Actor} loses {num} crop research grant", "{Actor} denied {num} to study drought crops")),
    # --- local government
    Event("gov_budget", "local government", "council", ("money", 3, 350), "dollars", "approve a budget",
          ("{Actor} approved a {num} budget {time}, {detail}.",
           "Members of {actor} voted {time} to pass a {num} spending plan, {detail}."),
          ("{Actor} approves {num} budget", "{place} passes {num} budget", "{place} backs {num} spending plan"),
          ("{Actor} approves a {num} budget for next year {time}, {detail}, after a long debate",),
          ("including more money for road repairs", "with no tax increase", "after a three-hour meeting", "by a vote of 7-2"),
          flipped=("{Actor} rejects {num} budget", "{place} council blocks {num} spending plan")),
    Event("gov_tax", "local government", "council", ("pct", 1, 12), "percent", "raise property tax",
          ("{Actor} voted {time} to raise property taxes by {num}, {detail}.",
           "Homeowners in {place} will see property taxes rise {num} after {actor} voted {time}, {detail}."),
          ("{place} raises property tax {num}", "{Actor} votes {num} property tax rise", "{place} homeowners face {num} tax increase"),
          ("{Actor} votes to raise property taxes by {num} {time}, {detail}, despite objections from residents",),
          ("to pay for new schools", "to fill a budget gap", "the first rise in six years", "to fund the fire service"),
          flipped=("{place} cuts property tax {num}", "{Actor} votes {num} property tax cut")),
    Event("gov_housing", "local government", "council", ("int", 30, 1200), "homes", "approve housing",
          ("{Actor} approved plans {time} for {num} new homes on the edge of {place}, {detail}.",
           "Plans for {num} homes in {place} were approved by {actor} {time}, {detail}."),
          ("{place} approves {num} new homes", "{Actor} backs plan for {num} homes", "{num} homes approved for {place}"),
          ("{Actor} approves plans for {num} new homes on the edge of {place} {time}, {detail}",),
          ("a third of them affordable", "despite local opposition", "near the old rail yard", "after a two-year review"),
          flipped=("{place} rejects {num} new homes", "{Actor} blocks plan for {num} homes")),
    Event("gov_police", "local government", "council", ("int", 5, 80), "officers", "hire police officers",
          ("{Actor} agreed {time} to hire {num} more police officers, {detail}.",
           "{place} will add {num} police officers after {actor} voted {time}, {detail}."),
          ("{place} to hire {num} police officers", "{Actor} approves {num} new officers", "{num} more officers for {place}"),
          ("{Actor} agrees to hire {num} more police officers {time}, {detail}, mayor {person} says",),
          ("to speed up response times", "funded by a state grant", "after a rise in burglaries", "over the next two years"),
          flipped=("{place} to cut {num} police officers", "{Actor} lays off {num} officers")),
    # --- weather
    Event("wx_snow", "weather", "weather", ("dec", 4, 30), "inches", "snowfall",
          ("A winter storm dropped {num} inches of snow on {place} {time}, {detail}, according to {actor}.",
           "{place} was buried under {num} inches of snow by a winter storm {time}, {actor} said, {detail}."),
          ("Storm dumps {num} inches of snow on {place}", "{place} gets {num} inches of snow", "{num} inches of snow blanket {place}"),
          ("A winter storm dumps {num} inches of snow on {place} {time}, {detail}, {actor} says",),
          ("closing schools and roads", "the heaviest fall this winter", "with more expected overnight", "causing flight delays")),
    Event("wx_heat", "weather", "weather", ("int", 95, 118), "degrees", "heat record",
          ("Temperatures in {place} reached {num} degrees {time}, {detail}, {actor} said.",
           "{place} sweltered as the thermometer hit {num} degrees {time}, {detail}."),
          ("{place} hits {num} degrees", "Temperatures reach {num} degrees in {place}", "{num}-degree heat grips {place}"),
          ("Temperatures in {place} reach {num} degrees {time}, {detail}, and {actor} warns of more heat",),
          ("breaking a record set in 1998", "prompting a heat advisory", "as cooling centres opened", "the hottest day of the year")),
    Event("wx_flood", "weather", "weather", ("int", 40, 5000), "residents", "flood evacuation",
          ("Flooding forced {num} residents of {place} to leave their homes {time}, {detail}.",
           "About {num} people were evacuated from their homes in {place} {time} as floods spread, {detail}, {actor} said."),
          ("Floods force {num} from homes in {place}", "{num} evacuated as river floods {place}", "{place} flooding forces {num} residents out"),
          ("Flooding forces {num} residents of {place} from their homes {time}, {detail}, {actor} says",),
          ("after two days of heavy rain", "as the river burst its banks", "with shelters opened in schools", "and more rain forecast")),
    Event("wx_wind", "weather", "weather", ("int", 45, 110), "mph", "high winds",
          ("Winds of up to {num} mph knocked down trees and power lines in {place} {time}, {detail}.",
           "Gusts reaching {num} mph swept through {place} {time}, {detail}, {actor} said."),
          ("{num} mph winds batter {place}", "Gusts of {num} mph hit {place}", "{place} battered by {num} mph winds"),
          ("Winds of up to {num} mph knock down trees and power lines in {place} {time}, {detail}",),
          ("leaving thousands without power", "closing the main bridge", "as a storm moved inland", "damaging several roofs")),
    # --- health
    Event("health_flu", "health", "health", ("int", 30, 2400), "cases", "flu cases",
          ("{Actor} reported {num} flu cases {time}, {detail}.",
           "Flu cases in {place} reached {num} this week, {actor} said {time}, {detail}."),
          ("{place} reports {num} flu cases", "Flu cases reach {num} in {place}", "{Actor} logs {num} flu cases"),
          ("{Actor} reports {num} flu cases in {place} {time}, {detail}, and urges residents to get vaccinated",),
          ("up sharply from last month", "the highest level in three years", "mostly among children", "as the season peaks early")),
    Event("health_vaccine", "health", "health", ("pct", 40, 95), "percent", "vaccination rate",
          ("{Actor} said {time} that {num} of children in {place} are now fully vaccinated, {detail}.",
           "The childhood vaccination rate in {place} has reached {num}, {actor} said {time}, {detail}."),
          ("{place} child vaccination rate reaches {num}", "{num} of {place} children vaccinated", "Vaccination rate hits {num} in {place}"),
          ("{Actor} says {num} of children in {place} are now fully vaccinated, {detail}",),
          ("up from last year", "after a school campaign", "short of the national target", "thanks to mobile clinics")),
    Event("health_beds", "health", "health", ("int", 12, 400), "beds", "open a ward",
          ("{Actor} opened a new wing with {num} beds {time}, {detail}.",
           "A {num}-bed wing opened at {actor} in {place} {time}, {detail}."),
          ("{Actor} opens {num}-bed wing", "New {num}-bed wing opens in {place}", "{place} hospital adds {num} beds"),
          ("{Actor} opens a new wing with {num} beds in {place} {time}, {detail}, {role} {person} says",),
          ("to ease waiting times", "after three years of building", "including a children's unit", "funded by local donors"),
          flipped=("{Actor} closes {num}-bed wing", "{place} hospital cuts {num} beds")),
    Event("health_wait", "health", "health", ("int", 2, 60), "minutes", "cut waiting times",
          ("Average emergency waiting times at {actor} fell by {num} minutes this year, {detail}.",
           "{Actor} in {place} said {time} that emergency patients now wait {num} minutes less on average, {detail}."),
          ("{Actor} cuts emergency waits by {num} minutes", "{place} emergency waits fall {num} minutes", "Emergency waits down {num} minutes at {actor}"),
          ("Average emergency waiting times at {actor} in {place} fall by {num} minutes this year, {detail}",),
          ("after taking on extra nurses", "according to hospital figures", "thanks to a new triage system", "despite busier wards"),
          flipped=("{Actor} emergency waits rise by {num} minutes", "{place} emergency waits up {num} minutes")),
    # --- technology
    Event("tech_funding", "technology", "tech", ("money", 2, 300), "dollars", "raise funding",
          ("{place} start-up {actor} has raised {num} from investors, {detail}.",
           "{Actor}, a software start-up based in {place}, said {time} it had raised {num}, {detail}."),
          ("{Actor} raises {num}", "{place} start-up {actor} raises {num}", "{Actor} lands {num} funding round"),
          ("{place} start-up {actor} raises {num} from investors {time}, {detail}, {role} {person} says",),
          ("to expand into Europe", "valuing it at five times last year", "led by a pension fund", "to hire 100 engineers")),
    Event("tech_breach", "technology", "tech", ("int", 2000, 900000), "accounts", "data breach",
          ("{Actor} said {time} that hackers had accessed data from {num} customer accounts, {detail}.",
           "A data breach at {actor} exposed {num} user accounts, the {place} company said {time}, {detail}."),
          ("{Actor} breach exposes {num} accounts", "Hackers access {num} {actor} accounts", "{num} accounts hit in {actor} data breach"),
          ("{Actor} says hackers accessed data from {num} customer accounts {time}, {detail}",),
          ("including email addresses", "and urged users to change passwords", "in an attack last month", "though no card numbers were taken")),
    Event("tech_chip", "technology", "tech", ("pct", 10, 80), "percent", "release a faster chip",
          ("{Actor} unveiled a new chip {time} that it says runs {num} faster than its predecessor, {detail}.",
           "The new processor from {actor} is {num} faster than the last model, the {place} firm said {time}, {detail}."),
          ("{Actor} unveils chip {num} faster", "{Actor}'s new chip runs {num} faster", "New {actor} processor {num} faster"),
          ("{Actor} unveils a new chip it says runs {num} faster than its predecessor {time}, {detail}",),
          ("while using less power", "aimed at phone makers", "with shipments due next year", "built at its {place} plant")),
    Event("tech_outage", "technology", "tech", ("int", 2, 19), "hours", "service outage",
          ("Customers of {actor} were unable to log in for {num} hours {time}, {detail}.",
           "An outage at {actor} left users offline for {num} hours {time}, the {place} company said, {detail}."),
          ("{Actor} outage lasts {num} hours", "{num}-hour outage hits {actor} users", "{Actor} users offline for {num} hours"),
          ("Customers of {actor} are unable to log in for {num} hours {time}, {detail}, the {place} company says",),
          ("blaming a faulty software update", "and apologised to users", "the second outage this month", "affecting payments")),
)

_EVENTS_BY_KEY = {event.key: event for event in EVENTS}

# Body sentences, per actor kind and shared. Slots as above plus {num2}.
_QUOTES = {
    "biz": ("This was not an easy decision, but it puts us on a stronger footing.", "We remain committed to {place} and to our customers.",
            "The numbers speak for themselves.", "Our teams have worked hard for this result.", "We expect conditions to improve next year."),
    "tech": ("We are building for the long term.", "Our users deserve better, and we are fixing it.", "This is a big step for the company.",
             "Demand has been stronger than we expected.", "We take this very seriously."),
    "team": ("The players showed real character.", "We did what we had to do.", "The fans were incredible tonight.",
             "There is still a lot of work ahead.", "It's a great day for the club."),
    "institute": ("The results surprised even us.", "This opens up a lot of new questions.", "It took years of careful work.",
                  "We need to be cautious about what this means.", "The data are very clear."),
    "council": ("This is the responsible choice for {place}.", "We listened to residents before deciding.", "Nobody likes these decisions.",
                "It is a good day for the town.", "We will keep a close eye on costs."),
    "weather": ("Please stay off the roads if you can.", "Conditions could change quickly.", "We have not seen anything like this in years.",
                "Residents should check on elderly neighbours.", "The worst should be over by the weekend."),
    "health": ("Our staff have done an outstanding job.", "We urge everyone to take sensible precautions.", "Patients will notice the difference.",
               "There is more to do, but we are moving in the right direction.", "We are watching the figures closely."),
}
_SAID = ("said", "told reporters", "said in a statement", "told local media", "added")
_BACKGROUND = {
    "biz": ("The company employs about {num2} people across the region.", "Shares in the firm closed {num3} cents higher.",
            "It was founded in {place} in {year}.", "The firm has about {num2} stores and offices."),
    "tech": ("The company has about {num2} employees.", "It was founded in {year} by two former engineers.",
             "The firm says it has {num2} business customers.", "Its app has been downloaded {num2} times."),
    "team": ("The club was founded in {year}.", "The team has won {num3} of its last {num4} games.", "Their stadium seats {num2} fans.",
             "It was the club's first meeting with their rivals since {year}."),
    "institute": ("The team of {num3} scientists has worked on the project since {year}.", "The findings were published {time}.",
                  "The work was funded by a national research council.", "Similar studies have involved about {num2} participants."),
    "council": ("{place} has about {num2} residents.", "The council has {num3} elected members.", "The last such vote took place in {year}.",
                "A public hearing drew about {num3} speakers."),
    "weather": ("Forecasters had issued a warning {time}.", "About {num2} homes lost power at the height of the storm.",
                "The previous record was set in {year}.", "Crews worked through the night to clear roads."),
    "health": ("The hospital serves about {num2} people.", "The health department employs {num3} staff.",
               "Similar figures were last seen in {year}.", "The service handled {num2} visits last year."),
}
_CONTEXT = (
    "Local business leaders welcomed the news.", "Critics said the move came too late.", "The announcement was made in {place} {time}.",
    "Residents of {place} gave a mixed reaction.", "Further details are expected next month.", "Analysts said the decision had been widely expected.",
    "The figures will be reviewed again in the spring.", "A public meeting is planned for later this month.", "Opposition groups called for an independent review.",
    "{person} said more information would be shared in the coming weeks.",
)

# Style templates shared by all events.
_VAGUE = {
    "business": ("Company announces changes", "Business news from the region", "Firm makes a big decision", "Changes ahead for local company"),
    "sports": ("Team has a night to remember", "Big game ends with a result", "Sports update from the weekend", "Club makes headlines again"),
    "science": ("Scientists report new findings", "Researchers share study results", "New research raises questions", "A discovery in science"),
    "local government": ("Officials make a decision", "Council meeting brings changes", "Local leaders vote on plans", "Town hall news"),
    "weather": ("Weather causes problems", "Conditions change across the area", "A difficult day of weather", "Residents deal with the weather"),
    "health": ("Health officials share update", "Hospital news this week", "New health figures released", "Changes in local health care"),
    "technology": ("Tech firm announces news", "Technology update from a start-up", "Company shares tech news", "Big moment for a tech company"),
}
_CLICKBAIT = (
    "You won't believe what {actor} just did", "What {actor} did next will surprise you", "Why everyone in {place} is talking about {actor}",
    "The real reason {actor} made this move", "Is this the end for {actor}?", "{Actor} just changed everything. Here's what you need to know",
    "{place} residents can't stop talking about this", "This {topic} story will leave you speechless", "Nobody expected this from {actor}",
    "Here's why {place} will never be the same",
)
_SENSATIONAL = (
    "SHOCK as {core}!", "{core} in stunning blow to {place}!", "BOMBSHELL: {core}", "Chaos in {place} as {core}!",
    "{core}, and the fallout is huge", "Incredible scenes as {core}!", "Drama in {place}: {core}!",
)


@dataclass(frozen=True)
class Article:
    """One synthetic news story.

    Attributes:
        article_id: stable id such as 'a00042'.
        topic: one of TOPICS.
        facts: who/what/number/unit/number_text/place/time plus the event key and the slot values
            used to write the text (so headlines can be re-rendered, right or deliberately wrong).
            `number` is in `unit`s, except money ('number_kind' == 'money'): millions of dollars.
        text: the article, 3-6 sentences.
        reference: an accurate, concise headline.
    """

    article_id: str
    topic: str
    facts: dict[str, Any] = field(hash=False)
    text: str
    reference: str


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _fill(template: str, slots: dict[str, str]) -> str:
    filled = template.format(**slots, Actor=_capitalise(slots["actor"]))
    filled = filled.replace("s's ", "s' ")  # "Holarine Networks' new chip"
    return _capitalise(" ".join(filled.split()))


def _make_article(index: int, seed: int) -> Article:
    rng = np.random.default_rng([seed, index])
    event = EVENTS[int(rng.integers(len(EVENTS)))]
    place = _town(rng)
    actor = _actor(event.actor_kind, rng, place)
    other = _actor(event.other_kind, rng, place) if event.other_kind else ""
    while other and other == actor:
        other = _actor(event.other_kind, rng, place)
    kind, low, high = event.number
    value = _draw_number(rng, kind, low, high)
    day = str(rng.choice(_DAYS))
    time = str(rng.choice((f"on {day}", f"on {day}", f"late on {day}", f"on {day} morning", f"on {day} evening")))
    role_kind = event.actor_kind if event.actor_kind in _ROLE else "biz"
    slots = {
        "actor": actor, "other": other, "place": place, "time": time, "day": day,
        "person": _person(rng), "role": str(rng.choice(_ROLE[role_kind])), "topic": event.topic,
        "num2": f"{int(rng.integers(3, 90)) * 100:,}", "num3": str(int(rng.integers(3, 40))),
        "num4": str(int(rng.integers(41, 60))), "year": str(int(rng.integers(1950, 2020))),
    }
    detail = str(rng.choice(event.details))
    slots["detail"] = detail.format(**slots)
    article_style = "article_words" if rng.random() < 0.4 else "article"
    slots["num"] = _format_number(value, kind, article_style)

    # 1. the lead sentence states every fact; every name a headline may use must be in the
    #    article, so say where it happened and who said so when the lead does not.
    sentences = [_fill(str(rng.choice(event.lead)), slots)]
    if place not in sentences[0]:
        sentences.append({
            "weather": f"The area around {place} was worst affected.",
            "team": f"The event took place in {place}.",
            "council": f"The vote took place in {place}.",
        }.get(event.actor_kind, f"{_capitalise(actor)} is based in {place}."))
    if actor.lower() not in sentences[0].lower():
        sentences.append(f"{_capitalise(actor)} confirmed the figures {time}.")
    # 2. then a quote, background (with other numbers) and context, 3-6 sentences in all.
    quote = str(rng.choice(_QUOTES[event.actor_kind])).format(**slots)[:-1] + ","
    speaker = f"{slots['person']}, {slots['role']} {'of' if event.actor_kind == 'team' else 'at'} {actor}"
    if rng.random() < 0.5:
        attributed = f"\u201c{quote}\u201d {speaker}, {rng.choice(_SAID)}."
    else:
        attributed = f"\u201c{quote}\u201d {rng.choice(('said', 'added', 'according to'))} {speaker}."
    pool = [
        attributed,
        _fill(str(rng.choice(_BACKGROUND[event.actor_kind])), slots),
        _fill(str(rng.choice(_CONTEXT)), slots),
        _fill(str(rng.choice(_CONTEXT)), slots),
        _fill(str(rng.choice(_BACKGROUND[event.actor_kind])), {**slots, "num2": f"{int(rng.integers(3, 90)) * 100 + 50:,}"}),
    ]
    pool = list(dict.fromkeys(pool))  # drop a repeated sentence, keeping the order
    max_more = min(len(pool), 6 - len(sentences))
    chosen = rng.permutation(len(pool))[: int(rng.integers(2, max_more + 1))]
    text = " ".join(sentences + [pool[int(i)] for i in sorted(chosen)])

    slots["num"] = _format_number(value, kind, "headline_short" if rng.random() < 0.3 else "headline")
    concise_index = int(rng.integers(len(event.concise)))
    reference = _fill(event.concise[concise_index], slots)
    facts = {
        "who": actor, "what": event.what, "number": value, "unit": event.unit, "number_kind": kind,
        "number_text": slots["num"], "place": place, "time": time.removeprefix("on ").removeprefix("late on "),
        "event": event.key, "reference_template": concise_index, "slots": slots,
    }
    return Article(f"a{index:05d}", event.topic, facts, text, reference)


def generate_articles(n: int, seed: int) -> list[Article]:
    """`n` synthetic articles; the same `seed` always gives the same articles (prefix-stable in `n`)."""
    if n < 0:
        raise ValueError("the number of articles must be >= 0")
    return [_make_article(i, seed) for i in range(n)]


# ----------------------------------------------------------------------------------------------
# Candidate headlines.


def _wrong_value(article: Article, rng: np.random.Generator) -> float:
    """A plausible number the article does NOT state."""
    from rlhf_core.data.personas import extract_numbers

    stated = extract_numbers(article.text) + extract_numbers(article.reference)
    value, kind = float(article.facts["number"]), article.facts["number_kind"]
    factors = rng.permutation(np.array([0.5, 1.5, 2.0, 3.0, 0.25, 0.75, 1.25, 4.0]))
    for factor in factors:
        candidate = value * float(factor)
        candidate = round(candidate, 1) if kind in ("money", "dec", "pct") else float(max(1, int(round(candidate))))
        if kind == "pct":
            candidate = min(candidate, 99.0)
        if candidate != value and all(abs(candidate - s) > 1e-6 * max(1.0, abs(s)) and abs(candidate * 1e6 - s) > 1 for s in stated):
            return candidate
    return value + 7.0  # unreachable in practice: 8 factors cannot all collide


def candidate_headlines(article: Article, rng: np.random.Generator) -> list[tuple[str, str]]:
    """One headline per style in STYLES, as (style, headline) pairs in STYLES order, drawn with `rng`.

    The accurate styles state only facts from the article; `wrong_number` changes the number,
    `wrong_actor` names an organisation (or town) the article never mentions and `wrong_direction`
    (only for events that can be reversed) says the opposite happened; `vague` drops the facts;
    `clickbait` and `sensational` add hype; `truncated` and `repetitive` are the degenerate text a
    policy produces when it over-optimises a reward model that never saw such text.
    """
    event = _EVENTS_BY_KEY[article.facts["event"]]
    slots = dict(article.facts["slots"])
    kind = article.facts["number_kind"]
    slots["num"] = _format_number(article.facts["number"], kind, "headline_short" if rng.random() < 0.3 else "headline")

    # accurate_concise: another template than the reference when there is one.
    choices = [i for i in range(len(event.concise)) if i != article.facts["reference_template"]] or [0]
    concise_template = event.concise[int(rng.choice(choices))]
    concise = _fill(concise_template, slots)
    long = _fill(str(rng.choice(event.long)), slots)
    vague = str(rng.choice(_VAGUE[article.topic]))
    clickbait = _fill(str(rng.choice(_CLICKBAIT)), slots)
    core_template = str(rng.choice(event.concise))
    core = _fill(core_template, slots)
    if not core_template.startswith("{"):  # lower-case an ordinary first word, never a name
        core = core[:1].lower() + core[1:]
    sensational = _fill(str(rng.choice(_SENSATIONAL)), {**slots, "core": core})
    sensational = sensational.replace("!,", ",")

    wrong = dict(slots)
    wrong["num"] = _format_number(_wrong_value(article, rng), kind, "headline")
    wrong_number = _fill(concise_template, wrong)

    # wrong_actor: the same kind of headline about someone else: swap the actor (or, where the
    # template does not name one, the place) for a name the article never mentions.
    def names_someone(template: str) -> bool:
        return "{actor}" in template.lower() or "{place}" in template

    wrong_template = concise_template if names_someone(concise_template) else next(t for t in event.concise if names_someone(t))
    slot = "actor" if "{actor}" in wrong_template.lower() else "place"
    article_lower = article.text.lower()
    for _ in range(100):
        impostor = _actor(event.actor_kind, rng, _town(rng)) if slot == "actor" else _town(rng)
        if any(w[:1].isupper() and w.lower() not in article_lower for w in impostor.split()):
            break
    wrong_actor = _fill(wrong_template, {**slots, slot: impostor})

    headlines = {
        "accurate_concise": concise, "accurate_long": long, "vague": vague, "clickbait": clickbait,
        "sensational": sensational, "wrong_number": wrong_number, "wrong_actor": wrong_actor,
    }
    if event.flipped:  # wrong_direction: the right names and number, the opposite outcome
        headlines["wrong_direction"] = _fill(str(rng.choice(event.flipped)), slots)
    # Degenerate styles, drawn last so the styles above stay as they were. Rated like the others,
    # they teach the reward model what an over-optimised policy would otherwise find unpunished.
    words = concise.split()
    headlines["truncated"] = " ".join(words[: int(rng.integers(1, 4))])
    headlines["repetitive"] = " ".join(words[: int(rng.integers(2, 4))] * int(rng.integers(3, 5)))
    return [(style, headlines[style]) for style in STYLES if style in headlines]


# ----------------------------------------------------------------------------------------------
# Writing a dataset.


def _csv_text(header: list[str], rows: list[list[Any]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _jsonl_text(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n" for record in records)


def write_dataset(out_dir: Path, persona: str, n_articles: int, seed: int, test_fraction: float = 0.2,
                  pairs_per_article: int = 5, exclude_styles: Sequence[str] = ()) -> dict[str, str]:
    """Generate articles, score candidate headlines with `persona`, and write the sample files.

    Files (UTF-8, '\\n' newlines, sorted rows, fixed formatting; identical bytes for identical
    arguments): train/test_ratings.csv (article,headline,score 1-5,style,persona,article_id),
    train/test_preferences.jsonl (prompt, chosen, rejected, margin = gold score gap),
    expert_demonstrations.csv (text,title,score,is_expert: the persona's best headline per train
    article), articles.csv (article_id,article,reference,split,topic) and train_data.txt
    (`headline<TAB>score`, the seed article's format).

    `exclude_styles` leaves headlines of those styles out of the ratings and preference pairs (the
    other ratings keep their values): a reward model trained on such data has a blind spot, e.g.
    never having seen truncated or repetitive text, for a policy to exploit (reward hacking).

    Returns:
        {file name: path written}.
    """
    from rlhf_core.data.personas import get_persona

    judge = get_persona(persona)
    unknown = sorted(set(exclude_styles) - set(STYLES))
    if unknown:
        raise ValueError(f"unknown style(s) {', '.join(unknown)}; choose from: {', '.join(STYLES)}")
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError("test_fraction must be in [0, 1)")
    out_dir = Path(out_dir)
    articles = generate_articles(n_articles, seed)

    # Split: a seeded permutation, independent of the persona, so every persona shares the split.
    n_test = int(round(n_articles * test_fraction))
    order = np.random.default_rng([seed, 1]).permutation(n_articles)
    test_ids = {articles[int(i)].article_id for i in order[:n_test]}
    # Ratings noise depends on the persona (crc32 is stable across runs, unlike hash()).
    rate_rng = np.random.default_rng([seed, 2, zlib.crc32(persona.encode("utf-8"))])

    ratings: dict[str, list[list[Any]]] = {"train": [], "test": []}
    prefs: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    experts: list[list[Any]] = []
    article_rows: list[list[Any]] = []
    for index, article in enumerate(articles):
        split = "test" if article.article_id in test_ids else "train"
        article_rows.append([article.article_id, article.text, article.reference, split, article.topic])
        cand_rng = np.random.default_rng([seed, 3, index])
        candidates = candidate_headlines(article, cand_rng)
        gold = [judge.score(article.text, headline) for _, headline in candidates]
        kept = [i for i, (style, _) in enumerate(candidates) if style not in exclude_styles]
        for i, (style, headline) in enumerate(candidates):
            stars = judge.rate(article.text, headline, rate_rng)  # drawn for every style: the others keep their stars
            if i in kept:
                ratings[split].append([article.text, headline, stars, style, persona, article.article_id])
        # Preference pairs: a seeded sample of pairs whose gold scores differ clearly.
        pairs = [(i, j) for i in kept for j in kept if i < j and abs(gold[i] - gold[j]) >= 0.05]
        picked = np.random.default_rng([seed, 4, index]).permutation(len(pairs))[:pairs_per_article]
        for k in sorted(int(p) for p in picked):
            i, j = pairs[k]
            hi, lo = (i, j) if gold[i] > gold[j] else (j, i)
            prefs[split].append({
                "prompt": article.text, "chosen": candidates[hi][1], "rejected": candidates[lo][1],
                "margin": round(gold[hi] - gold[lo], 4), "article_id": article.article_id,
                "chosen_style": candidates[hi][0], "rejected_style": candidates[lo][0],
            })
        if split == "train":
            best = max(range(len(candidates)), key=lambda i: (gold[i], -i))
            experts.append([article.text, candidates[best][1], judge.rate(article.text, candidates[best][1], rate_rng), 1])

    out: dict[str, str] = {}

    def write(name: str, text: str) -> None:
        out[name] = str(atomic_write_text(out_dir / name, text))

    rating_header = ["article", "headline", "score", "style", "persona", "article_id"]
    for split in ("train", "test"):
        rows = sorted(ratings[split], key=lambda r: (r[5], STYLES.index(r[3])))
        write(f"{split}_ratings.csv", _csv_text(rating_header, rows))
        records = sorted(prefs[split], key=lambda r: (r["article_id"], r["chosen_style"], r["rejected_style"]))
        write(f"{split}_preferences.jsonl", _jsonl_text(records))
    write("expert_demonstrations.csv", _csv_text(["text", "title", "score", "is_expert"], experts))
    write("articles.csv", _csv_text(["article_id", "article", "reference", "split", "topic"], article_rows))
    train_lines = sorted(ratings["train"], key=lambda r: (r[5], STYLES.index(r[3])))
    write("train_data.txt", "".join(f"{r[1]}\t{r[2]}\n" for r in train_lines))
    return out


def write_prompts(path: Path, n_articles: int, seed: int) -> str:
    """Write `n_articles` unrated articles (article_id,article,reference,topic) as RL prompts; returns the path.

    A policy needs many more prompts than a reward model needs ratings: InstructGPT's PPO prompt
    set had 31k prompts and no labels (Ouyang et al. 2022). With a few hundred prompts a small
    policy memorises a headline per article instead of learning to write better ones. Ids start
    with 'p' so they never collide with a rated dataset's 'a' ids.
    """
    if n_articles < 1:
        raise ValueError("n_articles must be at least 1")
    rows = [["p" + a.article_id[1:], a.text, a.reference, a.topic] for a in generate_articles(n_articles, seed)]
    return str(atomic_write_text(Path(path), _csv_text(["article_id", "article", "reference", "topic"], rows)))
