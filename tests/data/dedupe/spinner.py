"""A synonym spinner and the other content-farm edits, to build labelled copy pairs.

Content farms republish an article through a "spinner": a thesaurus swaps words for
synonyms, however bad ("live" -> "stay", "law" -> "regulation", "said" -> "stated"),
and the farm adds its own boilerplate.  ``spin`` imitates that on real feed texts:

* ``rate`` is the share of the text's words that are replaced (0.4 = 40 %).  The seed
  copy ``seed-spun-politico-2022.txt`` measures about 24 % against its reconstruction.
* A word is replaced by an entry of the thesaurus when it has one (the substitutions read
  off the seed, ``despin.tsv`` taken left to right, plus ``EXTRA`` below; several are
  multi-word, as real spinners' are), otherwise by another real word of the corpus: to a
  similarity measure a synonym is just a different token, and a corpus word does not
  share spelling with the original by accident.
* Names (capitalised inside a sentence) and numbers are not replaced, unless the
  thesaurus has them ("Commission" -> "Fee"): spinners' thesauri know few names.

Everything is seeded: the same call gives the same text.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).parent

# Common news words and a spinner-style synonym for each (several per word when the
# thesaurus of a real spinner would have them).
EXTRA: dict[str, tuple[str, ...]] = {
    "said": ("stated", "mentioned", "instructed"), "says": ("states", "mentions"),
    "new": ("brand new", "recent", "contemporary"), "first": ("preliminary", "first-ever"),
    "year": ("yr",), "years": ("years", "yrs"), "week": ("week",), "today": ("right this moment",),
    "company": ("firm", "agency", "enterprise"), "companies": ("firms", "corporations"),
    "government": ("authorities",), "governments": ("authorities", "governments"),
    "people": ("individuals", "folks"), "users": ("customers",), "user": ("consumer",),
    "use": ("make use of", "utilization"), "used": ("used", "utilized"),
    "using": ("utilizing",), "help": ("assist", "assist"), "make": ("make", "create"),
    "made": ("made", "created"), "big": ("massive", "huge"), "large": ("giant", "massive"),
    "small": ("small", "tiny"), "important": ("necessary", "vital"), "show": ("present",),
    "shows": ("exhibits", "reveals"), "report": ("report", "document"),
    "reported": ("reported", "documented"), "reports": ("reviews", "experiences"),
    "according": ("in response",), "also": ("additionally", "moreover"),
    "however": ("nonetheless", "nevertheless"), "but": ("however", "however"),
    "because": ("as a result of",), "about": ("about", "roughly"), "after": ("after", "following"),
    "before": ("earlier than", "previous to"), "during": ("throughout",), "while": ("whereas",),
    "including": ("together with", "together with"), "like": ("like", "comparable to"),
    "start": ("begin", "start"), "started": ("began",), "begin": ("start", "commence"),
    "end": ("finish", "tip"), "ended": ("ended", "concluded"), "get": ("get", "acquire"),
    "got": ("received", "acquired"), "give": ("give", "present"), "gave": ("gave", "supplied"),
    "take": ("take", "take heed"), "need": ("want", "must"), "needs": ("wants",),
    "want": ("need", "wish"), "wants": ("needs", "needs"), "think": ("assume", "suppose"),
    "know": ("know", "perceive"), "find": ("discover", "discover"), "found": ("discovered",),
    "keep": ("hold", "maintain"), "lead": ("result in", "lead"), "move": ("transfer",),
    "change": ("change", "alter"), "changes": ("modifications", "adjustments"),
    "issue": ("subject", "problem"), "issues": ("points", "points"), "problem": ("drawback",),
    "problems": ("issues", "issues"), "question": ("query",), "questions": ("questions", "queries"),
    "plan": ("plan", "scheme"), "plans": ("plans", "schemes"), "deal": ("deal", "cope"),
    "agreement": ("settlement", "accord"), "law": ("regulation", "legislation"),
    "laws": ("legal guidelines",), "rules": ("guidelines", "guidelines"), "rule": ("rule", "rule"),
    "court": ("court docket",), "judge": ("decide",), "lawsuit": ("lawsuit", "go well with"),
    "police": ("police", "regulation enforcement"), "country": ("nation",),
    "countries": ("nations", "international locations"), "world": ("world", "globe"),
    "market": ("market", "market"), "money": ("cash",), "price": ("worth",),
    "prices": ("costs",), "cost": ("value",), "costs": ("prices",), "million": ("million",),
    "billion": ("billion",), "percent": ("%", "p.c"), "data": ("information", "knowledge"),
    "information": ("data", "info"), "security": ("safety",), "safety": ("security",),
    "privacy": ("privateness",), "technology": ("know-how", "expertise"),
    "tech": ("tech", "expertise"), "software": ("software program",), "phone": ("cellphone",),
    "phones": ("telephones",), "app": ("app", "software"), "apps": ("apps", "functions"),
    "device": ("system", "gadget"), "devices": ("units", "gadgets"), "service": ("service",),
    "services": ("companies", "providers"), "features": ("options",), "feature": ("characteristic",),
    "video": ("video", "video"), "game": ("recreation", "sport"), "games": ("video games",),
    "announced": ("introduced",), "launch": ("launch", "start"), "launched": ("launched",),
    "release": ("launch",), "released": ("launched",), "available": ("accessible", "out there"),
    "support": ("assist", "help"), "system": ("system", "system"), "systems": ("programs", "methods"),
    "power": ("energy",), "public": ("public", "public"), "private": ("personal", "non-public"),
    "group": ("group", "group"), "groups": ("teams",), "members": ("members", "members"),
    "leader": ("chief",), "leaders": ("leaders", "leaders"), "president": ("president",),
    "minister": ("minister",), "officials": ("officers", "officers"), "official": ("official",),
    "states": ("states", "states"), "state": ("state", "state"), "city": ("metropolis",),
    "home": ("dwelling", "residence"), "house": ("home", "home"), "children": ("youngsters", "kids"),
    "kids": ("youngsters", "children"), "women": ("ladies",), "men": ("males",),
    "people's": ("individuals's",), "war": ("warfare", "battle"), "attack": ("assault",),
    "attacks": ("assaults",), "killed": ("killed", "slain"), "death": ("loss of life", "dying"),
    "died": ("died", "handed away"), "life": ("life", "life"), "time": ("time", "time"),
    "times": ("occasions", "instances"), "way": ("approach", "means"), "ways": ("methods", "ways"),
    "part": ("half", "a part"), "place": ("place", "place"), "area": ("space",),
    "areas": ("areas", "areas"), "point": ("level",), "case": ("case", "case"),
    "cases": ("circumstances", "instances"), "number": ("quantity",), "level": ("stage", "degree"),
    "high": ("excessive",), "low": ("low", "low"), "long": ("lengthy",), "short": ("quick", "brief"),
    "early": ("early", "early"), "late": ("late", "late"), "recent": ("current", "latest"),
    "recently": ("lately", "not too long ago"), "latest": ("newest", "newest"), "last": ("final",),
    "next": ("subsequent",), "previous": ("earlier", "prior"), "major": ("main", "main"),
    "main": ("primary", "important"), "key": ("key", "key"), "real": ("actual",),
    "really": ("actually", "really"), "very": ("very", "extremely"), "more": ("extra",),
    "most": ("most", "most"), "many": ("many", "quite a few"), "several": ("a number of",),
    "some": ("some", "some"), "other": ("different",), "others": ("others", "others"),
    "still": ("nonetheless", "nonetheless"), "just": ("simply",), "only": ("solely",),
    "even": ("even", "even"), "now": ("now", "now"), "already": ("already", "already"),
    "again": ("once more",), "around": ("round",), "across": ("throughout",), "over": ("over", "over"),
    "against": ("towards",), "between": ("between", "between"), "within": ("inside",),
    "without": ("with out",), "into": ("into", "into"), "through": ("by means of", "by way of"),
    "under": ("below", "underneath"), "until": ("till",), "since": ("since", "since"),
    "could": ("may", "might"), "would": ("would", "would"), "should": ("ought to",),
    "can": ("can", "could"), "may": ("could", "would possibly"), "might": ("may", "would possibly"),
    "must": ("should",), "will": ("will", "will"), "allow": ("enable", "permit"),
    "allowed": ("allowed", "permitted"), "called": ("referred to as", "known as"),
    "told": ("informed", "advised"), "asked": ("requested",), "added": ("added", "added"),
    "explained": ("defined",), "claimed": ("claimed", "claimed"), "believe": ("imagine", "consider"),
    "expected": ("anticipated",), "likely": ("doubtless", "possible"), "possible": ("potential", "attainable"),
    "able": ("in a position", "capable"), "set": ("set", "set"), "sets": ("units",),
    "work": ("work", "work"), "working": ("working", "working"), "works": ("works", "works"),
    "build": ("construct",), "built": ("constructed",), "buy": ("purchase",), "sell": ("promote",),
    "sold": ("offered",), "pay": ("pay", "pay"), "paid": ("paid", "paid"), "fine": ("fantastic", "tremendous"),
    "ban": ("ban", "ban"), "banned": ("banned", "banned"), "block": ("block", "block"),
    "blocked": ("blocked", "blocked"), "vote": ("vote", "vote"), "election": ("election", "election"),
    "party": ("get together", "occasion"), "parliament": ("parliament",), "commission": ("fee",),
    "Commission": ("Fee",), "council": ("council",), "union": ("union",), "European": ("European",),
    "investigation": ("investigation", "probe"), "probe": ("probe", "investigation"),
    "face": ("face", "face"), "faces": ("faces", "faces"), "facial": ("facial",),
    "recognition": ("recognition",), "surveillance": ("surveillance",),
    "artificial": ("synthetic",), "intelligence": ("intelligence",), "model": ("mannequin",),
    "models": ("fashions",), "chatbot": ("chatbot",), "content": ("content material",),
    "online": ("on-line",), "internet": ("web",), "website": ("web site",), "sites": ("websites",),
    "message": ("message",), "messages": ("messages",), "account": ("account",),
    "accounts": ("accounts",), "platform": ("platform",), "platforms": ("platforms",),
    "owner": ("proprietor",), "owners": ("house owners",), "customer": ("buyer",),
    "customers": ("clients", "prospects"), "employees": ("workers", "staff"),
    "workers": ("employees", "staff"), "jobs": ("jobs", "jobs"), "job": ("job", "job"),
    "risk": ("threat", "danger"), "risks": ("dangers",), "threat": ("menace", "risk"),
    "concerns": ("considerations", "issues"), "concern": ("concern", "concern"),
    "decision": ("determination", "choice"), "decided": ("determined",),
    "policy": ("coverage",), "policies": ("insurance policies",), "research": ("analysis",),
    "researchers": ("researchers",), "study": ("research",), "experts": ("consultants", "specialists"),
    "hard": ("arduous", "exhausting"), "difficult": ("tough", "troublesome"), "easy": ("straightforward",),
    "quickly": ("rapidly", "shortly"), "fast": ("quick",), "slow": ("gradual",),
    "clear": ("clear", "clear"), "free": ("free", "free"), "full": ("full", "full"),
    "huge": ("large", "enormous"), "global": ("world", "international"), "local": ("native",),
    "national": ("nationwide",), "international": ("worldwide",), "foreign": ("overseas",),
    "military": ("army",), "troops": ("troops", "troops"), "forces": ("forces", "forces"),
    "strike": ("strike", "strike"), "fight": ("battle", "struggle"), "fighting": ("combating", "preventing"),
    "crisis": ("disaster",), "economy": ("financial system",), "economic": ("financial",),
    "growth": ("development", "progress"), "increase": ("improve", "enhance"), "rise": ("rise", "rise"),
    "fall": ("fall", "fall"), "drop": ("drop", "drop"), "cut": ("reduce", "minimize"),
    "cuts": ("cuts", "cuts"), "lost": ("misplaced",), "loss": ("loss", "loss"), "win": ("win", "win"),
    "won": ("gained", "received"), "team": ("workforce", "crew"), "deadline": ("deadline",),
    "negotiations": ("negotiations",), "talks": ("talks", "talks"), "debate": ("debate", "debate"),
    "proposal": ("proposal", "proposal"), "proposed": ("proposed", "proposed"), "bill": ("invoice",),
    "legislation": ("laws",), "regulation": ("regulation", "regulation"), "regulators": ("regulators",),
    "regulator": ("regulator",), "watchdog": ("watchdog", "watchdog"), "agency": ("company",),
    "authority": ("authority", "authority"), "authorities": ("authorities", "authorities"),
    "identity": ("identification", "id"), "digital": ("digital",), "biometric": ("biometric",),
    "fingerprint": ("fingerprint",), "border": ("border", "border"), "travel": ("journey",),
    "travelers": ("vacationers",), "airport": ("airport",), "airports": ("airports",),
    "card": ("card", "card"), "cards": ("playing cards",), "bank": ("financial institution",),
    "banks": ("banks", "banks"), "payment": ("fee",), "payments": ("funds",),
}

# Words a spinner leaves alone unless its thesaurus has them ("in" -> "within").
FUNCTION_WORDS = frozenset(
    "a an the of to in on at by for from with and or nor but so as than that this these those"
    " it its is are was were be been being has have had do does did not no he she they we you"
    " i his her their our your my me him them us who whom whose which what when where why how"
    " there here if then else all any each both few some such only own same very can will just"
    " into onto over under up down out off about again further once s t".split()
)

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?|\d[\d.,]*|\S")
_SENTENCE_END = re.compile(r"[.!?:…]$")


def despin_pairs() -> list[tuple[str, str]]:
    """``(spun, plain)`` pairs of ``despin.tsv``."""
    out = []
    for line in (HERE / "despin.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            spun, plain = line.split("\t")
            out.append((spun, plain))
    return out


def despin(text: str) -> str:
    """The seed copy with the spinner's substitutions undone and the farm's footer cut."""
    text = text.split("\n\nBy admin")[0]
    pairs = sorted(despin_pairs(), key=lambda p: -len(p[0]))
    table = dict(pairs)
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(s) for s, _ in pairs) + r")(?!\w)")
    return pattern.sub(lambda m: table[m.group(1)], text)


def thesaurus() -> dict[str, tuple[str, ...]]:
    """Plain word -> spun replacements: ``EXTRA`` plus the one-word entries of the seed's map."""
    out = dict(EXTRA)
    for spun, plain in despin_pairs():
        if " " not in plain and plain.isalpha():
            out.setdefault(plain, (spun,))
    return out


def tokens(text: str) -> list[str]:
    return _WORD.findall(text)


def spin(text: str, rate: float, rng: random.Random, vocab: Sequence[str]) -> str:
    """``text`` with about ``rate`` of its words replaced (see the module docstring)."""
    table = thesaurus()
    common = set(vocab)
    matches = list(_WORD.finditer(text))
    toks = [m.group() for m in matches]
    words = [i for i, t in enumerate(toks) if t[0].isalpha()]
    chosen: list[tuple[int, tuple[str, ...]]] = []
    for i in words:
        tok = toks[i]
        lower = tok.lower()
        options = tuple(s for s in table.get(tok, table.get(lower, ())) if s.lower() != lower)
        sentence_start = i == 0 or bool(_SENTENCE_END.search(toks[i - 1]))
        name = tok[0].isupper() and not sentence_start and lower not in common
        if options or not (name or lower in FUNCTION_WORDS or len(tok) == 1):
            chosen.append((i, options))
    rng.shuffle(chosen)
    replaced: dict[int, str] = {}
    for i, options in chosen[: round(rate * len(words))]:
        tok = toks[i]
        new = rng.choice(options) if options else tok
        while new.lower() == tok.lower():
            new = rng.choice(vocab)
        if tok[0].isupper():
            new = new[0].upper() + new[1:]
        replaced[i] = new
    out: list[str] = []
    pos = 0
    for i, m in enumerate(matches):
        if i in replaced:
            out.append(text[pos : m.start()])
            out.append(replaced[i])
            pos = m.end()
    out.append(text[pos:])
    return "".join(out)
