"""Derive the linguistic task files of this folder (see PROVENANCE.md).

Writes, next to this script:
  present_simple_gerund.jsonl, present_simple_past_simple.jsonl,
  present_simple_past_perfect.jsonl, singular_plural.jsonl, plural_singular.jsonl,
  antonyms.jsonl

Rerun it in a throwaway virtual environment with the pinned package versions (never in the
project's own .venv; none of these packages is a project dependency):

    python3 -m venv /tmp/datavenv
    /tmp/datavenv/bin/pip install wordfreq==3.1.1 lemminflect==0.2.3 inflect==7.6.0
    /tmp/datavenv/bin/python data/linguistic/derive.py

The output is deterministic for these versions. What is derived and what is authored by hand:

* Verb and noun *selection*: candidate words ranked by wordfreq's English frequency, filtered
  with lemminflect's lemma/inflection tables, then hand-curated with the EXCLUDE/EXTRA lists
  below (words that are mainly nouns or adjectives, British spellings, vulgar words, ...).
* Regular verb inflections (-ing, -ed): lemminflect's first form (its second form only for the
  US/UK -l-/-ll- pair, traveled/travelled). Every one is cross-checked against inflect's
  present_participle and an independent spelling rule for the past; the disagreements are
  printed ("cross-check: ...") and were reviewed by hand: all are inflect doubling errors
  (openning, visitting, ...) except those fixed in IRREGULAR_VERBS / GERUND_OVERRIDES.
* Irregular verbs and the verbs with two accepted forms: the IRREGULAR_VERBS table, by hand.
* Regular noun plurals: lemminflect's first NNS form, cross-checked against inflect's
  plural_noun (no disagreement for the selected nouns); irregular plurals and plural variants:
  the IRREGULAR_NOUNS table, by hand.
* Antonyms: the ANTONYMS table, entirely by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import inflect
import lemminflect as L
import wordfreq
from wordfreq import zipf_frequency

HERE = Path(__file__).resolve().parent
EXPECTED = {"wordfreq": "3.1.1", "lemminflect": "0.2.3", "inflect": "7.6.0"}


def words(text: str, sep: str | None = None) -> list[str]:
    """The items of a whitespace- (or `sep`-) separated hand-written list."""
    return [
        w.strip() for w in text.replace("\n", " " if sep is None else "").split(sep) if w.strip()
    ]


def zf(word: str) -> float:
    return zipf_frequency(word, "en")


# --------------------------------------------------------------------------------------------
# Verbs
# --------------------------------------------------------------------------------------------

VERB_TOP_N = 1000  # how many ranked candidates are examined
# Ranked candidates that are left out: mainly nouns/adjectives whose verb use is marginal, British
# spellings (the files use US spelling), vulgar or offensive words, slang, verbs whose base form is
# ambiguous with another word's inflection, and verbs with an unsettled irregular past (offset,
# wed). Decided by hand, word by word.
VERB_EXCLUDE = set(
    words(
        """
house place point power head shit hand mind age market board price date project account center
couple star result interest bank cool sound rate round stuff model size range stage damn code base
box mine eye network double credit message coach subject bar impact color commission pop condition
screen traffic structure wind brand scale seat target trouble function gift progress edge reference
arm fuel pair zone crowd survey route concern fake finance conflict bowl desire draft bond flag
frame sentence bottle detail index mess programme counter mate plate shame sight peak blind brief
debut
steam cap engineer shower wheel colour chart format mirror gear package silence transition gross
trail assault bath thread wage clock flower trash layer nurse narrow shell angle mill pace honour
resort seed coat landscape script discount poll sequence sum favour bat craft stem loop alarm mature
moderate pit stroke tune venture pipe shelter bug cave duck fence boot ram compound piss lease shade
stake beam corrupt curve humble rage freak lodge nest span foul bust pulse chip camp cycle crown tip
wire root realise recognise sack dope pee poop lynch rape suck scam troll addict tan pad jerk wax
frost distress puzzle cement tile partition flank cluster supplement anchor bail offset headline
dock rack vet mold scar gag warp crank smack tailor leverage showcase mentor pioneer mandate
manifest accord vent audition revolt disrespect wed license bang lie contrast escort dash sketch
echo
"""
    )
)

# Common verbs that the frequency filter misses (their base form is far more frequent as another
# part of speech, or their inflections are rare in the word-frequency data), added by hand.
VERB_EXTRA = set(
    words(
        """
like afford doubt risk hurry whistle sneeze yawn shiver bathe knit borrow lend
"""
    )
)

# Irregular verbs and verbs with more than one accepted form, by hand: base -> (past simple,
# past participle). A list gives the accepted forms, canonical (US) first.
IRREGULAR_VERBS: dict[str, tuple[str | list[str], str | list[str]]] = {
    "arise": ("arose", "arisen"),
    "awake": ("awoke", "awoken"),
    "be": (["was", "were"], "been"),
    "bear": ("bore", ["borne", "born"]),
    "beat": ("beat", ["beaten", "beat"]),
    "become": ("became", "become"),
    "begin": ("began", "begun"),
    "bend": ("bent", "bent"),
    "bet": ("bet", "bet"),
    "bid": ("bid", "bid"),
    "bind": ("bound", "bound"),
    "bite": ("bit", "bitten"),
    "bleed": ("bled", "bled"),
    "blow": ("blew", "blown"),
    "break": ("broke", "broken"),
    "breed": ("bred", "bred"),
    "bring": ("brought", "brought"),
    "broadcast": (["broadcast", "broadcasted"], ["broadcast", "broadcasted"]),
    "build": ("built", "built"),
    "burn": (["burned", "burnt"], ["burned", "burnt"]),
    "burst": ("burst", "burst"),
    "buy": ("bought", "bought"),
    "cast": ("cast", "cast"),
    "catch": ("caught", "caught"),
    "choose": ("chose", "chosen"),
    "cling": ("clung", "clung"),
    "come": ("came", "come"),
    "cost": ("cost", "cost"),
    "creep": ("crept", "crept"),
    "cut": ("cut", "cut"),
    "deal": ("dealt", "dealt"),
    "dig": ("dug", "dug"),
    "dive": (["dove", "dived"], "dived"),
    "do": ("did", "done"),
    "draw": ("drew", "drawn"),
    "dream": (["dreamed", "dreamt"], ["dreamed", "dreamt"]),
    "drink": ("drank", "drunk"),
    "drive": ("drove", "driven"),
    "eat": ("ate", "eaten"),
    "fall": ("fell", "fallen"),
    "feed": ("fed", "fed"),
    "feel": ("felt", "felt"),
    "fight": ("fought", "fought"),
    "find": ("found", "found"),
    "fit": (["fit", "fitted"], ["fit", "fitted"]),
    "flee": ("fled", "fled"),
    "fling": ("flung", "flung"),
    "fly": ("flew", "flown"),
    "forbid": ("forbade", "forbidden"),
    "forecast": (["forecast", "forecasted"], ["forecast", "forecasted"]),
    "foresee": ("foresaw", "foreseen"),
    "forget": ("forgot", ["forgotten", "forgot"]),
    "forgive": ("forgave", "forgiven"),
    "forsake": ("forsook", "forsaken"),
    "freeze": ("froze", "frozen"),
    "get": ("got", ["gotten", "got"]),
    "give": ("gave", "given"),
    "go": ("went", "gone"),
    "grind": ("ground", "ground"),
    "grow": ("grew", "grown"),
    "hang": (["hung", "hanged"], ["hung", "hanged"]),
    "have": ("had", "had"),
    "hear": ("heard", "heard"),
    "hide": ("hid", "hidden"),
    "hit": ("hit", "hit"),
    "hold": ("held", "held"),
    "hurt": ("hurt", "hurt"),
    "keep": ("kept", "kept"),
    "knit": (["knitted", "knit"], ["knitted", "knit"]),
    "kneel": (["knelt", "kneeled"], ["knelt", "kneeled"]),
    "know": ("knew", "known"),
    "lay": ("laid", "laid"),
    "lead": ("led", "led"),
    "lean": (["leaned", "leant"], ["leaned", "leant"]),
    "leap": (["leaped", "leapt"], ["leaped", "leapt"]),
    "learn": (["learned", "learnt"], ["learned", "learnt"]),
    "leave": ("left", "left"),
    "lend": ("lent", "lent"),
    "let": ("let", "let"),
    "light": (["lit", "lighted"], ["lit", "lighted"]),
    "lose": ("lost", "lost"),
    "make": ("made", "made"),
    "mean": ("meant", "meant"),
    "meet": ("met", "met"),
    "mislead": ("misled", "misled"),
    "mistake": ("mistook", "mistaken"),
    "misunderstand": ("misunderstood", "misunderstood"),
    "mow": ("mowed", ["mowed", "mown"]),
    "outgrow": ("outgrew", "outgrown"),
    "overcome": ("overcame", "overcome"),
    "overhear": ("overheard", "overheard"),
    "override": ("overrode", "overridden"),
    "oversee": ("oversaw", "overseen"),
    "overtake": ("overtook", "overtaken"),
    "overthrow": ("overthrew", "overthrown"),
    "pay": ("paid", "paid"),
    "plead": (["pleaded", "pled"], ["pleaded", "pled"]),
    "prove": ("proved", ["proven", "proved"]),
    "put": ("put", "put"),
    "quit": ("quit", "quit"),
    "read": ("read", "read"),
    "rebuild": ("rebuilt", "rebuilt"),
    "redo": ("redid", "redone"),
    "reset": ("reset", "reset"),
    "rewrite": ("rewrote", "rewritten"),
    "rid": ("rid", "rid"),
    "ride": ("rode", "ridden"),
    "ring": ("rang", "rung"),
    "rise": ("rose", "risen"),
    "run": ("ran", "run"),
    "say": ("said", "said"),
    "see": ("saw", "seen"),
    "seek": ("sought", "sought"),
    "sell": ("sold", "sold"),
    "send": ("sent", "sent"),
    "set": ("set", "set"),
    "sew": ("sewed", ["sewn", "sewed"]),
    "shake": ("shook", "shaken"),
    "shed": ("shed", "shed"),
    "shine": (["shone", "shined"], ["shone", "shined"]),
    "shoot": ("shot", "shot"),
    "show": ("showed", ["shown", "showed"]),
    "shrink": (["shrank", "shrunk"], ["shrunk", "shrunken"]),
    "shut": ("shut", "shut"),
    "sing": ("sang", "sung"),
    "sink": (["sank", "sunk"], "sunk"),
    "sit": ("sat", "sat"),
    "slay": ("slew", "slain"),
    "sleep": ("slept", "slept"),
    "slide": ("slid", "slid"),
    "sling": ("slung", "slung"),
    "smell": (["smelled", "smelt"], ["smelled", "smelt"]),
    "sneak": (["sneaked", "snuck"], ["sneaked", "snuck"]),
    "speak": ("spoke", "spoken"),
    "speed": (["sped", "speeded"], ["sped", "speeded"]),
    "spell": (["spelled", "spelt"], ["spelled", "spelt"]),
    "spend": ("spent", "spent"),
    "spill": (["spilled", "spilt"], ["spilled", "spilt"]),
    "spin": ("spun", "spun"),
    "spit": (["spat", "spit"], ["spat", "spit"]),
    "split": ("split", "split"),
    "spoil": (["spoiled", "spoilt"], ["spoiled", "spoilt"]),
    "spread": ("spread", "spread"),
    "spring": (["sprang", "sprung"], "sprung"),
    "stand": ("stood", "stood"),
    "steal": ("stole", "stolen"),
    "stick": ("stuck", "stuck"),
    "sting": ("stung", "stung"),
    "stink": (["stank", "stunk"], "stunk"),
    "strike": ("struck", ["struck", "stricken"]),
    "string": ("strung", "strung"),
    "strive": (["strove", "strived"], ["striven", "strived"]),
    "swear": ("swore", "sworn"),
    "sweep": ("swept", "swept"),
    "swell": ("swelled", ["swollen", "swelled"]),
    "swim": ("swam", "swum"),
    "swing": ("swung", "swung"),
    "take": ("took", "taken"),
    "teach": ("taught", "taught"),
    "tear": ("tore", "torn"),
    "tell": ("told", "told"),
    "think": ("thought", "thought"),
    "throw": ("threw", "thrown"),
    "thrust": ("thrust", "thrust"),
    "tread": ("trod", ["trodden", "trod"]),
    "undergo": ("underwent", "undergone"),
    "understand": ("understood", "understood"),
    "undertake": ("undertook", "undertaken"),
    "undo": ("undid", "undone"),
    "uphold": ("upheld", "upheld"),
    "upset": ("upset", "upset"),
    "wake": ("woke", "woken"),
    "wear": ("wore", "worn"),
    "weave": ("wove", "woven"),
    "weep": ("wept", "wept"),
    "win": ("won", "won"),
    "withdraw": ("withdrew", "withdrawn"),
    "withhold": ("withheld", "withheld"),
    "wring": ("wrung", "wrung"),
    "write": ("wrote", "written"),
}

# Gerunds that lemminflect/inflect would not give or where both spellings are accepted, by hand.
GERUND_OVERRIDES: dict[str, str | list[str]] = {
    "be": "being",
    "age": ["aging", "ageing"],
    "sting": "stinging",  # lemminflect 0.2.3 lists "sting" as the VBG of sting
    "worship": ["worshiping", "worshipping"],  # lemminflect gives only the doubled spelling
}
# Regular verbs whose past has two accepted spellings that lemminflect does not give, by hand.
PAST_OVERRIDES: dict[str, list[str]] = {
    "worship": ["worshiped", "worshipped"],
}

# How many of the most frequent *regular* verbs fill up the past-participle file, after every
# irregular verb (whose participles are the interesting cases).
PAST_PERFECT_REGULAR_N = 60


def verb_candidates() -> list[str]:
    """Frequent English words that lemminflect knows as verb lemmas and whose past and -ing forms
    are themselves frequent (so the word is really used as a verb), ranked by frequency."""
    ranked = []
    for w in wordfreq.top_n_list("en", 40000):
        if len(w) < 2 or not w.isascii() or not w.isalpha():
            continue
        lemma = L.getAllLemmas(w).get("VERB")
        if not lemma or lemma[0] != w:
            continue
        infl = L.getAllInflections(w, upos="VERB")
        if "VBD" not in infl or "VBG" not in infl:
            continue
        zd, zg = zf(infl["VBD"][0]), zf(infl["VBG"][0])
        if min(zd, zg) >= 2.8 and max(zd, zg) - zf(w) > -1.3:
            ranked.append(w)
    ranked.sort(key=lambda w: -zf(w))  # stable: ties keep wordfreq's order
    return ranked[:VERB_TOP_N]


VOWELS = set("aeiou")
DISAGREEMENTS: list[str] = []  # cross-check failures, printed for review


def rule_past(base: str, gerund: str) -> str:
    """Independent spelling rule for a regular past, given the (checked) gerund."""
    if base.endswith("e"):
        return base + "d"
    if len(base) > 2 and base.endswith("y") and base[-2] not in VOWELS:
        return base[:-1] + "ied"
    if base.endswith("c") and gerund.endswith("cking"):
        return base + "ked"
    stem = gerund[: -len("ing")]
    if stem == base + base[-1]:  # consonant doubled (stop -> stopping -> stopped)
        return stem + "ed"
    return base + "ed"


def l_doubling_variant(first: str, second: str, suffix: str) -> bool:
    """True for the US/UK pair traveled/travelled, traveling/travelling."""
    return first.endswith("l" + suffix) and second == first[: -len(suffix)] + "l" + suffix


def regular_forms(base: str, engine: inflect.engine) -> tuple[list[str], list[str]]:
    infl = L.getAllInflections(base, upos="VERB")
    vbg, vbd = list(infl["VBG"]), list(infl["VBD"])
    gerunds = [vbg[0]] + [g for g in vbg[1:] if l_doubling_variant(vbg[0], g, "ing")]
    pasts = [vbd[0]] + [d for d in vbd[1:] if l_doubling_variant(vbd[0], d, "ed")]
    # cross-checks: inflect's participle must be one of the accepted gerunds, the rule-based past
    # must be the canonical past.
    ip = engine.present_participle(base)
    if ip not in gerunds:
        DISAGREEMENTS.append(f"gerund {base}: lemminflect {gerunds}, inflect {ip}")
    if rule_past(base, gerunds[0]) != pasts[0]:
        DISAGREEMENTS.append(
            f"past {base}: lemminflect {pasts}, rule {rule_past(base, gerunds[0])}"
        )
    return gerunds, pasts


def build_verbs(engine: inflect.engine) -> tuple[dict, dict, dict]:
    verbs = [w for w in verb_candidates() if w not in VERB_EXCLUDE]
    verbs = list(dict.fromkeys(verbs + sorted(VERB_EXTRA) + sorted(IRREGULAR_VERBS)))
    gerund, past, participle = {}, {}, {}
    regular_order = []
    for v in verbs:
        if v in IRREGULAR_VERBS:
            p, pp = IRREGULAR_VERBS[v]
            g = GERUND_OVERRIDES.get(v)
            if g is None:
                vbg = L.getAllInflections(v, upos="VERB").get("VBG") or (
                    engine.present_participle(v),
                )
                g = vbg[0]
                if engine.present_participle(v) != g:
                    DISAGREEMENTS.append(
                        f"gerund {v}: lemminflect {g}, inflect {engine.present_participle(v)}"
                    )
            gerund[v], past[v], participle[v] = g, p, pp
        else:
            gs, ps = regular_forms(v, engine)
            g = GERUND_OVERRIDES.get(v, gs if len(gs) > 1 else gs[0])
            gerund[v] = g
            past[v] = PAST_OVERRIDES.get(v, ps if len(ps) > 1 else ps[0])
            regular_order.append(v)
    # past participle file: every irregular verb, then the most frequent regular verbs
    pp_file = dict(participle)
    by_freq = sorted(regular_order, key=lambda w: -zf(w))
    for v in by_freq[:PAST_PERFECT_REGULAR_N]:
        pp_file[v] = past[v]
    return gerund, past, pp_file


# --------------------------------------------------------------------------------------------
# Nouns
# --------------------------------------------------------------------------------------------

NOUN_TOP_N = 560
# Ranked noun candidates left out by hand: mass or abstract nouns with an unusual or rare plural,
# plurals with a different sense (securities, arts), nouns ending in -ing that are verb forms,
# words that are more often names, British spellings, vulgar or offensive words, and plurals that
# could be the plural of two nouns (bases: base/basis).
NOUN_EXCLUDE = set(
    words(
        """
other lot thought god million billion thousand dozen ass bitch dude pro semi jersey turkey math
killing holding finding shooting setting beating covering posting opening ending teaching hearing
crossing listing bearing dressing screening casting failing ruling landing offering mom dad daddy
youth security justice food water art science hair truth sugar beer wine cheese meat fruit success
reality beauty freedom strength protection liberty terror luxury loyalty fraud evil efficiency
equity heaven anxiety joy pleasure horror inspiration imagination motivation excess density exposure
behavior behaviour defence theatre centre organisation abortion suicide terrorist slave idiot killer
socialist democrat drove earl jay robin miller walker mason par ion marvel cape victor punk ward
dean rose basis analysis diagnosis sun sky glass mode gay senior buddy lord
saint pope bishop priest pie addiction anger cent sector equity population
revenue income security sale summit gospel oak architecture approval birth breath cancer climate
communication creation criticism danger defense depth diet distribution expansion formation height
length manner meaning mood noise origin passion permission percentage portion reputation selection
talent temperature therapy variety vision establishment bit core auto bureau
"""
    )
)

# Irregular, invariant or doubtful plurals, by hand: singular -> plural (canonical first).
IRREGULAR_NOUNS: dict[str, str | list[str]] = {
    "man": "men",
    "woman": "women",
    "child": "children",
    "person": ["people", "persons"],
    "foot": "feet",
    "tooth": "teeth",
    "goose": "geese",
    "mouse": "mice",
    "louse": "lice",
    "ox": "oxen",
    "sheep": "sheep",
    "deer": "deer",
    "fish": ["fish", "fishes"],
    "moose": "moose",
    "salmon": "salmon",
    "aircraft": "aircraft",
    "series": "series",
    "species": "species",
    "knife": "knives",
    "wife": "wives",
    "life": "lives",
    "leaf": "leaves",
    "wolf": "wolves",
    "half": "halves",
    "shelf": "shelves",
    "thief": "thieves",
    "loaf": "loaves",
    "calf": "calves",
    "scarf": ["scarves", "scarfs"],
    "hoof": ["hooves", "hoofs"],
    "elf": "elves",
    "cactus": ["cacti", "cactuses"],
    "fungus": ["fungi", "funguses"],
    "nucleus": "nuclei",
    "radius": "radii",
    "stimulus": "stimuli",
    "alumnus": "alumni",
    "crisis": "crises",
    "thesis": "theses",
    "hypothesis": "hypotheses",
    "oasis": "oases",
    "phenomenon": "phenomena",
    "criterion": "criteria",
    "bacterium": "bacteria",
    "potato": "potatoes",
    "tomato": "tomatoes",
    "hero": "heroes",
    "echo": "echoes",
    "volcano": ["volcanoes", "volcanos"],
    "mosquito": ["mosquitoes", "mosquitos"],
    "tornado": ["tornadoes", "tornados"],
    "photo": "photos",
    "piano": "pianos",
    "radio": "radios",
    "zoo": "zoos",
    "stadium": ["stadiums", "stadia"],
    "kangaroo": "kangaroos",
    "quiz": "quizzes",
    "box": "boxes",
    "fox": "foxes",
    "bus": "buses",
    "dish": "dishes",
    "church": "churches",
    "city": "cities",
    "baby": "babies",
    "lady": "ladies",
    "key": "keys",
    "toy": "toys",
    "monkey": "monkeys",
    "day": "days",
    "boy": "boys",
    "roof": "roofs",
    "chief": "chiefs",
    "cliff": "cliffs",
    "belief": "beliefs",
}

# Common concrete nouns added by hand (their base form is also a frequent verb, which the
# candidate filter drops); their plurals are regular and come from lemminflect like the others.
NOUN_EXTRA = set(
    words(
        """
book cat dog house table chair bird tree flower apple egg hand head face eye ear nose mouth
shoe hat coat bag cup plate bottle window door wall floor garden river mountain lake road bridge
ship boat train plane car bike bus star cloud horse cow pig duck frog snake bee ant spider
girl boy friend brother sister student teacher doctor nurse farmer king queen prince princess
ring watch clock phone letter card box pencil pen desk bed lamp sock glove button key coin bell
candle brush spoon fork bowl jar
"""
    )
)


def noun_candidates() -> list[str]:
    """Frequent English words that lemminflect knows as noun lemmas only (not adjectives, not
    frequent verbs), whose plural is itself frequent, ranked by frequency."""
    ranked = []
    for w in wordfreq.top_n_list("en", 25000):
        if len(w) < 3 or not w.isascii() or not w.isalpha():
            continue
        lemmas = L.getAllLemmas(w)
        if not lemmas.get("NOUN") or lemmas["NOUN"][0] != w or "ADJ" in lemmas:
            continue
        v = L.getAllInflections(w, upos="VERB")
        vbd = v["VBD"][0] if v and "VBD" in v else None
        if vbd and zf(vbd) >= 2.5 and L.getAllLemmas(vbd).get("VERB", [""])[0] == w:
            continue  # a frequent verb as well
        nns = L.getAllInflections(w, upos="NOUN").get("NNS")
        if not nns or nns[0] == w:
            continue
        if zf(nns[0]) < 2.8 or zf(nns[0]) - zf(w) < -1.5:
            continue
        ranked.append(w)
    ranked.sort(key=lambda w: -zf(w))
    return ranked[:NOUN_TOP_N]


def build_nouns(engine: inflect.engine) -> dict[str, str | list[str]]:
    nouns = [w for w in noun_candidates() if w not in NOUN_EXCLUDE]
    nouns = list(dict.fromkeys(nouns + sorted(NOUN_EXTRA - NOUN_EXCLUDE) + sorted(IRREGULAR_NOUNS)))
    plural: dict[str, str | list[str]] = {}
    for n in nouns:
        if n in IRREGULAR_NOUNS:
            plural[n] = IRREGULAR_NOUNS[n]
            continue
        nns = L.getAllInflections(n, upos="NOUN")["NNS"][0]
        if engine.plural_noun(n) != nns:
            DISAGREEMENTS.append(f"plural {n}: lemminflect {nns}, inflect {engine.plural_noun(n)}")
        assert re.fullmatch(r"[a-z]+", nns), n
        plural[n] = nns
    return plural


# --------------------------------------------------------------------------------------------
# Antonyms (entirely by hand). One "word: antonym[, other accepted antonym ...]" per line. Both
# directions of a pair are separate lines, each with its own answer list.
# --------------------------------------------------------------------------------------------

ANTONYMS_TEXT = """
able: unable
above: below
absent: present
accept: reject, refuse
active: passive, inactive
add: subtract, remove
admit: deny
adult: child
advance: retreat
after: before
agree: disagree
alive: dead
all: none
allow: forbid, prohibit
always: never
ancient: modern
answer: question, ask
appear: disappear
arrival: departure
arrive: depart, leave
artificial: natural
ascend: descend
ask: answer
asleep: awake
attack: defend
aunt: uncle
awake: asleep
back: front
backward: forward
bad: good
beautiful: ugly
before: after
begin: end, finish
beginning: end
below: above
best: worst
better: worse
big: small, little
birth: death
bitter: sweet
black: white
blunt: sharp
boring: interesting
borrow: lend
bottom: top
boy: girl
brave: cowardly
break: fix, mend
bright: dark, dim
broad: narrow
brother: sister
build: destroy
buy: sell
buyer: seller
careful: careless
careless: careful
catch: throw
cheap: expensive
clean: dirty
clever: stupid
closed: open
cold: hot
come: go
common: rare
complex: simple
connect: disconnect
correct: incorrect, wrong
cowardly: brave
credit: debit
cruel: kind
cry: laugh
dangerous: safe
dark: light, bright
daughter: son
dawn: dusk
day: night
dead: alive
death: life, birth
debit: credit
decrease: increase
deep: shallow
defeat: victory
defend: attack
deny: admit
depart: arrive
departure: arrival
descend: ascend
destroy: create, build
different: same, similar
difficult: easy
dirty: clean
disagree: agree
disappear: appear
dislike: like
divide: multiply
down: up
dry: wet
dusk: dawn
early: late
east: west
easy: difficult, hard
employee: employer
employer: employee
empty: full
end: beginning, start
enemy: friend
enter: exit, leave
entrance: exit
even: odd
evening: morning
everybody: nobody
everything: nothing
everywhere: nowhere
evil: good
exclude: include
exhale: inhale
exit: entrance
expand: contract, shrink
expensive: cheap
export: import
external: internal
fail: succeed, pass
failure: success
fair: unfair
fake: real, genuine
fall: rise
false: true
far: near, close
fast: slow
fat: thin
father: mother
female: male
few: many
find: lose
finish: start, begin
first: last
float: sink
follow: lead
foolish: wise
forget: remember
forward: backward
freeze: melt
frequent: rare
fresh: stale
friend: enemy
front: back
frown: smile
full: empty
future: past
gain: loss, lose
generous: stingy, selfish
gentle: rough
girl: boy
give: take, receive
good: bad, evil
goodbye: hello
guest: host
guilty: innocent
happy: sad, unhappy
hard: soft, easy
hate: love
healthy: sick, ill, unhealthy
heaven: hell
heavy: light
hell: heaven
hello: goodbye
here: there
hero: villain
hide: show, reveal
high: low
honest: dishonest
horizontal: vertical
host: guest
hot: cold
huge: tiny
husband: wife
illegal: legal
impatient: patient
import: export
impossible: possible
in: out
include: exclude
increase: decrease
inhale: exhale
inner: outer
innocent: guilty
input: output
inside: outside
interesting: boring
internal: external
invisible: visible
kind: cruel, unkind
king: queen
known: unknown
large: small
last: first
late: early
laugh: cry
lazy: hardworking, diligent
lead: follow
learn: teach
least: most
left: right
legal: illegal
lend: borrow
less: more
life: death
light: dark, heavy
like: dislike
likely: unlikely
liquid: solid
little: big, large
lock: unlock
long: short
loose: tight
lose: win, find
loser: winner
loss: gain, win, profit
loud: quiet, soft
love: hate
low: high
major: minor
majority: minority
male: female
man: woman
many: few
maximum: minimum
melt: freeze
messy: neat, tidy
minimum: maximum
minor: major
minority: majority
minus: plus
modern: ancient, old
more: less, fewer
morning: evening
most: least
mother: father
multiply: divide
narrow: wide, broad
natural: artificial
near: far
neat: messy
negative: positive
nephew: niece
never: always
new: old
niece: nephew
night: day
no: yes
nobody: everybody
noisy: quiet
none: all
north: south
nothing: everything
nowhere: everywhere
obey: disobey
odd: even
off: on
often: rarely, seldom
old: new, young
on: off
open: close, closed, shut
optimist: pessimist
optimistic: pessimistic
out: in
outer: inner
output: input
outside: inside
over: under
pack: unpack
passive: active
past: future, present
patient: impatient
peace: war
permanent: temporary
pessimist: optimist
pessimistic: optimistic
plus: minus
polite: rude, impolite
poor: rich
positive: negative
possible: impossible
present: absent, past
pretty: ugly
prince: princess
princess: prince
private: public
problem: solution
profit: loss
public: private
pull: push
push: pull
queen: king
question: answer
quick: slow
quiet: loud, noisy
raise: lower
rare: common
rarely: often
real: fake
receive: give, send
reject: accept
remember: forget
rich: poor
right: left, wrong
rise: fall
rough: smooth
rude: polite
sad: happy
safe: dangerous
same: different
save: spend
sell: buy
seller: buyer
send: receive
shallow: deep
sharp: blunt, dull
short: long, tall
shut: open
sick: healthy, well
simple: complex, complicated
sink: float
sister: brother
sit: stand
slow: fast, quick
small: big, large
smart: stupid, dumb
smile: frown
smooth: rough
soft: hard, loud
solid: liquid
son: daughter
sour: sweet
south: north
spend: save
stale: fresh
stand: sit
start: finish, end, stop
stop: start, go
straight: crooked, curved
strong: weak
student: teacher
stupid: smart, clever
succeed: fail
success: failure
summer: winter
sunrise: sunset
sunset: sunrise
sweet: sour, bitter
take: give
tall: short
tame: wild
teach: learn
teacher: student
temporary: permanent
thick: thin
thin: thick, fat
throw: catch
tie: untie
tight: loose
tiny: huge
top: bottom
true: false
ugly: beautiful, pretty
unable: able
uncle: aunt
under: over
unfair: fair
unhappy: happy
unknown: known
unlikely: likely
unlock: lock
unpack: pack
untie: tie
up: down
upper: lower
vertical: horizontal
victory: defeat
villain: hero
visible: invisible
war: peace
warm: cool, cold
weak: strong
west: east
wet: dry
white: black
wide: narrow
wife: husband
wild: tame
win: lose
winner: loser
winter: summer
wise: foolish
woman: man
worse: better
worst: best
wrong: right
yes: no
young: old
"""


def parse_antonyms() -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for line in ANTONYMS_TEXT.strip().splitlines():
        word, _, rest = line.partition(":")
        answers = [a.strip() for a in rest.split(",")]
        word = word.strip()
        assert word not in out, word
        assert word not in answers, word
        out[word] = answers if len(answers) > 1 else answers[0]
    return out


# --------------------------------------------------------------------------------------------


def write_jsonl(name: str, pairs: dict[str, str | list[str]]) -> None:
    with open(HERE / name, "w", encoding="utf-8") as f:
        for k in sorted(pairs):
            v = pairs[k]
            if isinstance(v, list):
                assert len(v) == len(set(v)) >= 2, (k, v)
            f.write(json.dumps({"input": k, "output": v}, ensure_ascii=False) + "\n")
    print(f"{name}: {len(pairs)} pairs")


def canonical(v: str | list[str]) -> str:
    return v[0] if isinstance(v, list) else v


def main() -> None:
    from importlib.metadata import version

    for pkg, want in EXPECTED.items():
        have = version(pkg)
        if have != want:
            print(f"warning: {pkg} {have} installed, derived with {want}")
    engine = inflect.engine()
    gerund, past, pp = build_verbs(engine)
    write_jsonl("present_simple_gerund.jsonl", gerund)
    write_jsonl("present_simple_past_simple.jsonl", past)
    write_jsonl("present_simple_past_perfect.jsonl", pp)
    plural = build_nouns(engine)
    write_jsonl("singular_plural.jsonl", plural)
    # reverse: each canonical plural to its singular; a plural reached from two nouns is dropped
    rev: dict[str, str] = {}
    clash: set[str] = set()
    for s, p in plural.items():
        c = canonical(p)
        if c in rev:
            clash.add(c)
        rev[c] = s
    for c in clash:
        del rev[c]
    write_jsonl("plural_singular.jsonl", rev)
    write_jsonl("antonyms.jsonl", parse_antonyms())
    for d in DISAGREEMENTS:
        print("cross-check:", d)


if __name__ == "__main__":
    main()
