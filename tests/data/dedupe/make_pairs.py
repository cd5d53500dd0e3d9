"""Build the labelled pairs behind the dedupe thresholds: ``tests/data/dedupe/pairs.json``.

    .venv/bin/python tests/data/dedupe/make_pairs.py [--replay DIR] [--out FILE]

Input: the replay fixtures (real RSS items of Nov-Dec 2023, GPL-3.0; see SOURCE.md).
Every pair has a label, a kind and a split (``tune`` picks thresholds, ``test`` reports):

* ``copy``: a real item and a farm copy of it made here: synonym spinning at 10-40 %
  (``spinner.py``), added boilerplate, truncation, a new title, an identical text under
  another URL, and ``farm`` (40 % spun, boilerplate, truncated to 70 %, new title);
  plus the real copies of the replay (a biometricupdate article published twice,
  Hacker News items that link an outlet's article).  ``length`` is ``article`` for a
  text of 50 words or more, ``short`` for a feed summary of 15-49 words.
* ``story``: two outlets' own articles about one event within three days
  (hand-labelled groups in ``STORIES``, the 8 December 2023 AI Act deal among them).
* ``different``: the same outlet's other stories of the same day (``same-topic``: for
  biometricupdate that is always biometrics), the same actors in another event within
  three days (``related``, hand-picked), issues of one feed's templated series or
  articles sharing its boilerplate (``template``, hand-picked: "Kurs EUR/PLN 21
  grudnia" and "26 grudnia") and random pairs within a week (``random``).

The output is deterministic (seeded), so re-running it changes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from spinner import spin, tokens  # noqa: E402

from monitor.plaintext import html_to_text  # noqa: E402

ENGLISH = (
    "arstechnica",
    "bbc-technology",
    "biometricupdate",
    "engadget",
    "gizmodo",
    "guardian-world",
    "lemonde-en",
    "patrick-breyer",
    "politico-eu",
    "reclaimthenet",
    "theverge",
)
STORY_WINDOW = timedelta(days=3)

# Hand-labelled: (outlet, day, title prefix) of each outlet's article about one event.
STORIES: list[list[tuple[str, str, str]]] = [
    [
        ("politico-eu", "12-08", "EU negotiators"),
        ("theverge", "12-08", "EU reaches"),
        ("engadget", "12-08", "The EU has reached"),
        ("arstechnica", "12-09", "EU agrees to landmark"),
        ("biometricupdate", "12-11", "EU’s provisional"),
    ],
    [
        ("theverge", "12-20", "Rite Aid"),
        ("engadget", "12-20", "FTC bans Rite"),
        (
            "biometricupdate",
            "12-20",
            "Rite Aid’s proposed biometrics ban would sideline it for five",
        ),
        ("hn-frontpage", "12-20", "Rite Aid Banned from Using AI"),
        ("hn-frontpage", "12-20", "Rite Aid banned from using face"),
    ],
    [
        ("theverge", "11-17", "Sam Altman fired"),
        ("engadget", "11-17", "OpenAI CEO Sam"),
        ("arstechnica", "11-17", "OpenAI fires"),
        ("gizmodo", "11-17", "OpenAI Fires"),
        ("lemonde-en", "11-17", "ChatGPT-maker"),
        ("politico-eu", "11-18", "Sam Altman ousted"),
    ],
    [
        ("theverge", "11-21", "Binance"),
        ("gizmodo", "11-21", "Binance CEO"),
        ("engadget", "11-21", "Binance founder"),
        ("lemonde-en", "11-21", "Crypto exchange Binance"),
    ],
    [("guardian-world", "12-05", "Tommy Tuberville"), ("lemonde-en", "12-06", "Senate Republican")],
    [
        ("bbc-technology", "12-04", "Spotify"),
        ("lemonde-en", "12-04", "Spotify"),
        ("arstechnica", "12-04", "Spotify"),
        ("theverge", "12-04", "Spotify"),
    ],
    [("politico-eu", "11-22", "Far-right leader Geert"), ("lemonde-en", "11-22", "Anti-Islam")],
    [
        ("guardian-world", "12-27", "New York Times sues"),
        ("engadget", "12-27", "The New York Times is suing"),
        ("arstechnica", "12-27", "NY Times"),
    ],
    [
        ("theverge", "12-20", "Pornhub"),
        ("engadget", "12-20", "Pornhub and"),
        ("lemonde-en", "12-20", "Three major porn"),
        ("arstechnica", "12-20", "EU will hold 3"),
        ("biometricupdate", "12-22", "Popular porn"),
    ],
    [("engadget", "12-13", "Tesla recalls"), ("lemonde-en", "12-13", "Tesla recalls")],
    [
        ("theverge", "12-18", "Nikola"),
        ("guardian-world", "12-18", "Nikola"),
        ("arstechnica", "12-18", "Disgraced Nikola"),
        ("engadget", "12-18", "Nikola"),
    ],
    [
        ("guardian-world", "12-04", "Former US diplomat arrested"),
        ("lemonde-en", "12-04", "Former US ambassador"),
    ],
    [
        ("theverge", "12-13", "Xbox Cloud"),
        ("engadget", "12-13", "Xbox Cloud"),
        ("gizmodo", "12-13", "You Can Now Play"),
    ],
    [("lemonde-en", "12-02", "Vladimir Putin expands"), ("politico-eu", "12-02", "Moscow boosts")],
    [("lemonde-en", "12-08", "Hanukkah"), ("politico-eu", "12-08", "Macron faces backlash")],
    [
        ("guardian-world", "12-15", "Rudy Giuliani defamation"),
        ("politico-eu", "12-16", "Giuliani ordered"),
        ("lemonde-en", "12-15", "Rudy Giuliani ordered"),
    ],
    [("politico-eu", "12-29", "Navalny ally"), ("lemonde-en", "12-29", "Russian court convicts")],
    [("politico-eu", "11-28", "Saudi Arabia wins"), ("lemonde-en", "11-28", "Saudi capital")],
    [("lemonde-en", "12-18", "Pope Francis"), ("politico-eu", "12-18", "Pope Francis")],
    [
        ("hn-frontpage", "12-06", "Apple Confirms Governments"),
        ("reclaimthenet", "12-06", "Apple Reveals"),
    ],
    [
        ("arstechnica", "12-06", "After hack, 23andMe"),
        ("reclaimthenet", "12-07", "After Prominent Hack"),
    ],
    [("lemonde-en", "12-12", "Yemen Houthi"), ("politico-eu", "12-12", "Yemen’s Iran-backed")],
    [
        ("lemonde-en", "12-12", "Polish far-right MP"),
        ("politico-eu", "12-12", "Polish right-wing MP"),
    ],
    [("politico-eu", "12-21", "Football’s UEFA"), ("lemonde-en", "12-21", "EU rules FIFA")],
    [
        ("guardian-world", "12-26", "Ukraine says it has destroyed"),
        ("lemonde-en", "12-26", "Ukraine strikes"),
    ],
    [("lemonde-en", "12-20", "Gérard Depardieu"), ("politico-eu", "12-20", "Macron slams")],
    [("guardian-world", "11-16", "David DePape"), ("lemonde-en", "11-16", "Man who attacked")],
    [("engadget", "12-19", "Samsung adds"), ("theverge", "12-19", "Samsung adds")],
    [("theverge", "12-30", "Vizio"), ("engadget", "12-30", "Some Vizio")],
    [
        ("theverge", "12-16", "California settles"),
        ("engadget", "12-16", "Activision Blizzard will pay"),
    ],
    [
        ("lemonde-en", "12-13", "OpenAI partners"),
        ("engadget", "12-13", "OpenAI will pay"),
        ("politico-eu", "12-13", "Media company Axel"),
    ],
    [("theverge", "12-14", "Elon Musk wants"), ("guardian-world", "12-14", "Elon Musk spends")],
    [("theverge", "12-29", "Nvidia is releasing"), ("engadget", "12-29", "NVIDIA nerfed")],
    [("engadget", "12-18", "US lawmakers call"), ("theverge", "12-18", "US lawmakers push")],
    [
        ("guardian-world", "12-22", "Day of mourning"),
        ("lemonde-en", "12-22", "Czech Republic mourns"),
    ],
    [("engadget", "12-18", "Adobe walks"), ("arstechnica", "12-18", "Adobe gives up")],
    [("theverge", "12-14", "Temu sues"), ("guardian-world", "12-14", "Online retailer Temu")],
    [
        ("politico-eu", "12-26", "Turkey’s parliamentary"),
        ("lemonde-en", "12-26", "Turkey parliament"),
    ],
    [("guardian-world", "11-20", "Optus CEO"), ("bbc-technology", "11-20", "Optus")],
    [("theverge", "12-22", "Humane’s AI Pin"), ("engadget", "12-22", "Humane AI Pin")],
]
# Same actors, another event, within three days: not the same story.
RELATED: list[tuple[tuple[str, str, str], tuple[str, str, str]]] = [
    (("engadget", "11-17", "OpenAI CEO Sam"), ("lemonde-en", "11-20", "Microsoft hires")),
    (("gizmodo", "11-22", "Sam Altman Is So Back"), ("engadget", "11-20", "Sam Altman will not")),
    (("arstechnica", "11-17", "OpenAI fires"), ("engadget", "11-21", "Sam Altman")),
    (("lemonde-en", "12-29", "Trump disqualified"), ("guardian-world", "12-31", "Maine secretary")),
    (("guardian-world", "12-18", "Apple pauses US sales"), ("engadget", "12-21", "ITC denies")),
    (("theverge", "12-08", "EU reaches"), ("theverge", "12-08", "Google’s AI note-taking")),
    (("politico-eu", "12-08", "EU negotiators"), ("engadget", "12-08", "The FTC is reportedly")),
]
# Issues of one feed's templated series, or articles sharing the feed's boilerplate:
# nearly the same words, different news.
TEMPLATES: list[tuple[tuple[str, str, str], tuple[str, str, str]]] = [
    (
        ("businessinsider-pl", "12-21", "Kurs EUR/PLN 21 grudnia"),
        ("businessinsider-pl", "12-26", "Kurs EUR/PLN 26 grudnia"),
    ),
    (
        ("forsal-pl", "12-29", "Koronawirus w Polsce: 2026"),
        ("forsal-pl", "12-30", "Koronawirus w Polsce: 2217"),
    ),
    (
        ("lemonde-en", "", "Le Monde's top 10 destinations | #5"),
        ("lemonde-en", "", "Le Monde's top 10 destinations | #7"),
    ),
    (
        ("lemonde-en", "", "Le Monde's top 10 destinations | #3"),
        ("lemonde-en", "", "Le Monde's top 10 destinations | #4"),
    ),
    (
        ("hn-frontpage", "", "Scratch Data (YC S21) Is Hiring"),
        ("hn-frontpage", "", "Rollstack (YC W23)"),
    ),
    (
        ("guardian-world", "", "‘A new low’: police believe gasmask"),
        ("guardian-world", "", "ACCC finds one in three"),
    ),
]
BOILERPLATE_BEFORE = (
    "Press play to listen to this article",
    "Advertisement",
    "Sponsored content. Subscribe to our newsletter for the latest updates.",
    "Share this article: Facebook Twitter LinkedIn Email",
)
BOILERPLATE_AFTER = (
    "This article is part of POLITICO Pro. By admin Leave a Reply Your email address will "
    "not be published. Required fields are marked *",
    "The post appeared first on Tech News Daily.",
    "Related posts: You may also like these stories. Copyright 2023 All rights reserved.",
    "Follow us on Twitter and Facebook for more news. Share this: Click to share on "
    "WhatsApp (Opens in new window) Like this: Like Loading...",
)
TITLE_DRESS = (
    "Breaking: {}",
    "{} | World News Hub",
    "Report: {}",
    "{} (Update)",
    "{} – see details",
)


def load_replay(replay: Path) -> list[dict[str, Any]]:
    items = []
    for path in sorted(replay.glob("*/*.xml")):
        for n, node in enumerate(ElementTree.parse(path).getroot().iter("item")):
            published = parsedate_to_datetime(node.findtext("pubDate") or "")
            items.append(
                {
                    "id": f"{path.parent.name}/{path.stem}/{n}",
                    "feed": path.parent.name,
                    "title": html_to_text(node.findtext("title") or ""),
                    "text": html_to_text(node.findtext("description") or ""),
                    "url": node.findtext("link") or "",
                    "published": published.isoformat(),
                }
            )
    return items


def _day(item: dict[str, Any]) -> str:
    return datetime.fromisoformat(item["published"]).strftime("%m-%d")


def find(items: Sequence[dict[str, Any]], outlet: str, day: str, prefix: str) -> dict[str, Any]:
    for item in items:
        if (
            item["feed"] == outlet
            and (not day or _day(item) == day)
            and item["title"].startswith(prefix)
        ):
            return item
    raise SystemExit(f"make_pairs: no {outlet} item on {day} titled {prefix!r}")


def split_of(key: str) -> str:
    return "tune" if hashlib.sha1(key.encode()).digest()[0] % 2 == 0 else "test"


class Builder:
    def __init__(self, items: list[dict[str, Any]], seed: int = 20231208) -> None:
        self.items = items
        self.rng = random.Random(seed)
        self.docs: dict[str, dict[str, Any]] = {}
        self.pairs: list[dict[str, Any]] = []
        self.vocab = sorted(
            {
                w
                for i in items
                if i["feed"] in ENGLISH
                for w in tokens(i["text"])
                if w.isalpha() and w.islower() and len(w) > 2
            }
        )
        self.variants = 0

    def doc(self, item: dict[str, Any]) -> str:
        self.docs[item["id"]] = {k: item[k] for k in ("feed", "title", "text", "url", "published")}
        return str(item["id"])

    def variant(self, base: dict[str, Any], title: str, text: str, url: str, delay: float) -> str:
        self.variants += 1
        key = f"v{self.variants:04d}"
        published = datetime.fromisoformat(base["published"]) + timedelta(hours=delay)
        self.docs[key] = {
            "feed": "farm",
            "title": title,
            "text": text,
            "url": url,
            "published": published.isoformat(),
        }
        return key

    def pair(self, a: str, b: str, label: str, kind: str, split: str, length: str = "") -> None:
        entry = {"a": a, "b": b, "label": label, "kind": kind, "split": split}
        if length:
            entry["length"] = length
        self.pairs.append(entry)

    def spin(self, text: str, rate: float) -> str:
        return spin(text, rate, self.rng, self.vocab) if rate else text

    def copies(self, base: dict[str, Any], length: str) -> None:
        rng = self.rng
        a = self.doc(base)
        split = split_of(a)
        title, text = base["title"], base["text"]
        words = text.split()
        farm_url = "https://news-hub.example/" + hashlib.sha1(a.encode()).hexdigest()[:10]

        def add(kind: str, new_title: str, new_text: str, url: str = farm_url) -> None:
            b = self.variant(base, new_title, new_text, url, rng.uniform(0.2, 30))
            self.pair(a, b, "copy", kind, split, length)

        for rate in (0.1, 0.2, 0.3, 0.4):
            add(f"spin-{int(rate * 100)}", self.spin(title, rate), self.spin(text, rate))
        add(
            "boilerplate",
            self.spin(title, 0.1),
            rng.choice(BOILERPLATE_BEFORE)
            + "\n"
            + self.spin(text, 0.1)
            + "\n"
            + rng.choice(BOILERPLATE_AFTER),
        )
        cut = max(8, int(len(words) * rng.uniform(0.4, 0.8)))
        add(
            "truncated",
            title,
            self.spin(" ".join(words[:cut]), 0.1)
            + rng.choice((" […]", "… Read more", " (continued)")),
        )
        add("retitled", rng.choice(TITLE_DRESS).format(self.spin(title, 0.7)), self.spin(text, 0.2))
        tracked = base["url"].split("?")[0] + "?utm_source=farm&utm_medium=rss"
        add("url-variant", title, text, tracked.replace("https://", "http://", 1))
        cut = max(8, int(len(words) * 0.7))
        add(
            "farm",
            rng.choice(TITLE_DRESS).format(self.spin(title, 0.7)),
            rng.choice(BOILERPLATE_BEFORE)
            + "\n"
            + self.spin(" ".join(words[:cut]), 0.4)
            + "\n"
            + rng.choice(BOILERPLATE_AFTER),
        )

    def real_copies(self) -> None:
        twin = [
            i
            for i in self.items
            if i["feed"] == "biometricupdate"
            and _day(i) == "12-20"
            and i["title"].startswith("Rite Aid’s proposed biometrics ban would sideline")
        ]
        self.pair(self.doc(twin[0]), self.doc(twin[1]), "copy", "republished", "test", "article")
        # Hacker News links an outlet's article: the same article (same link or same title).
        by_url: dict[str, list[dict[str, Any]]] = {}
        by_title: dict[str, list[dict[str, Any]]] = {}
        for item in self.items:
            by_url.setdefault(item["url"].split("?")[0].replace("www.", ""), []).append(item)
            by_title.setdefault(item["title"], []).append(item)
        for group in (*by_url.values(), *by_title.values()):
            feeds = {i["feed"] for i in group}
            if len(feeds) == 2 and "hn-frontpage" in feeds and len(group) == 2:
                a, b = sorted(group, key=lambda i: i["feed"] == "hn-frontpage")
                self.pair(self.doc(a), self.doc(b), "copy", "aggregator", split_of(a["id"]))

    def stories(self) -> None:
        for group in STORIES:
            found = [find(self.items, *ref) for ref in group]
            split = split_of(found[0]["id"])
            for a, b in itertools.combinations(found, 2):
                gap = abs(
                    datetime.fromisoformat(a["published"]) - datetime.fromisoformat(b["published"])
                )
                if a["feed"] != b["feed"] and gap <= STORY_WINDOW:
                    self.pair(self.doc(a), self.doc(b), "story", "story", split)
        for ref_a, ref_b in RELATED:
            a, b = find(self.items, *ref_a), find(self.items, *ref_b)
            self.pair(self.doc(a), self.doc(b), "different", "related", split_of(a["id"]))
        for ref_a, ref_b in TEMPLATES:
            a, b = find(self.items, *ref_a), find(self.items, *ref_b)
            self.pair(self.doc(a), self.doc(b), "different", "template", split_of(a["id"]))

    def negatives(self, count: int) -> None:
        labelled = {self.docs[k]["title"] for k in self.docs}
        pool = [
            i
            for i in self.items
            if i["feed"] in ENGLISH and i["title"] not in labelled and len(i["text"].split()) >= 15
        ]
        by_day: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for item in pool:
            by_day.setdefault((item["feed"], _day(item)), []).append(item)
        same = [
            (a, b)
            for group in by_day.values()
            for a, b in itertools.combinations(group, 2)
            if a["title"][:30] != b["title"][:30]
        ]
        for a, b in self.rng.sample(same, count):
            self.pair(self.doc(a), self.doc(b), "different", "same-topic", split_of(a["id"]))
        made = 0
        while made < count:
            a, b = self.rng.sample(pool, 2)
            gap = abs(
                datetime.fromisoformat(a["published"]) - datetime.fromisoformat(b["published"])
            )
            if a["feed"] != b["feed"] and gap <= timedelta(days=7):
                self.pair(self.doc(a), self.doc(b), "different", "random", split_of(a["id"]))
                made += 1


def build(
    items: list[dict[str, Any]], articles: int = 70, short: int = 30, negatives: int = 200
) -> dict[str, Any]:
    b = Builder(items)
    b.stories()
    b.real_copies()
    used = {d["title"] for d in b.docs.values()}
    long_pool = [
        i
        for i in items
        if i["feed"] in ENGLISH and len(i["text"].split()) >= 50 and i["title"] not in used
    ]
    short_pool = [
        i
        for i in items
        if i["feed"] in ENGLISH and 15 <= len(i["text"].split()) < 50 and i["title"] not in used
    ]
    for item in b.rng.sample(long_pool, articles):
        b.copies(item, "article")
    for item in b.rng.sample(short_pool, short):
        b.copies(item, "short")
    b.negatives(negatives)
    return {
        "source": "tests/data/dedupe/make_pairs.py over the replay fixtures (GPL-3.0, SOURCE.md)",
        "docs": b.docs,
        "pairs": b.pairs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--replay", type=Path, default=ROOT.parent / "shared" / "fixtures" / "replay"
    )
    parser.add_argument("--out", type=Path, default=HERE / "pairs.json")
    args = parser.parse_args()
    data = build(load_replay(args.replay))
    args.out.write_text(
        json.dumps(data, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8"
    )
    counts: dict[str, int] = {}
    for p in data["pairs"]:
        counts[p["kind"]] = counts.get(p["kind"], 0) + 1
    print(f"{args.out}: {len(data['docs'])} docs, {len(data['pairs'])} pairs: {counts}")


if __name__ == "__main__":
    main()
