"""Dedupe stage: one story per event, however many outlets and farms republish it.

``StoryIndex().assign(conn, article_id, article, now)`` puts a newly stored article into
a story, as the ``first`` article, a ``copy`` of an indexed article (URL variants,
boilerplate, truncation, a new title, synonym spinning) or the ``same-story`` as another
outlet's article about the same event, and records it in the caller's transaction.
The parts:

* ``text``: the features that survive spinning (function-word shingles, content words,
  names and numbers, story terms);
* ``sketch``: bottom-k sketches and their overlap estimates;
* ``fingerprint``: an article's sketches, terms and index keys, and their bytes;
* ``decide``: the pure decision and its thresholds (``Settings``);
* ``keyindex``: the in-memory candidate index (key -> articles), rebuilt from SQLite;
* ``index``: ``StoryIndex``, which ties them to the ``story_articles`` table.
"""

from monitor.dedupe.decide import Relation, Settings
from monitor.dedupe.fingerprint import Fingerprint
from monitor.dedupe.index import StoryAssignment, StoryIndex

__all__ = ["Fingerprint", "Relation", "Settings", "StoryAssignment", "StoryIndex"]
