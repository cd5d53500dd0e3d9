"""The append-only list of schema migrations.

Each migration has a name and runs in its own transaction; ``PRAGMA user_version``
records how many have been applied.  Never edit or reorder a migration that has
landed: add a new one at the end.  SQL is kept portable (no SQLite-only types) so a
PostgreSQL backend can replay the same list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from monitor import identity
from monitor.errors import StorageError
from monitor.store import tallies
from monitor.store.engine import Connection, dialect

Step = str | Callable[[Connection], None]

log = logging.getLogger(__name__)

SEARCH_CONFIG = "monitor_search"
"""PostgreSQL's text search configuration of the archive (``_pg_search_unaccent``)."""


@dataclass(frozen=True)
class Migration:
    name: str
    step: Step


def _identity_v2(conn: Connection) -> None:
    """Re-key stored articles with ``monitor.identity`` (version 2), record the version.

    Version 1 had three URL keys and three text hashes.  Entry keys (``seen_keys``) kept
    their meaning: ``link:`` and ``guid+link:`` hold ``canonical_url``'s output and
    ``hash:`` holds ``text_hash``'s, the normaliser and the hash version 2 kept.  The
    near-duplicate fingerprints hash the same URL key as before.  What changes is
    ``articles``: ``url_key`` (was the canonical URL without scheme and ``www.``) is
    recomputed from ``canonical_url``, which pruning keeps; ``content_hash`` (was SHA-1
    of the words) is recomputed from title and summary, or taken from the ``hash:`` key
    the article arrived with once its text was pruned; a pruned article with another
    key keeps no text hash (its keys and URL still identify it).
    """
    conn.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    last = 0
    while True:
        rows = conn.execute(
            "SELECT id, key, canonical_url, title, summary, pruned FROM articles"
            " WHERE id > ? ORDER BY id LIMIT 2000",
            (last,),
        ).fetchall()
        if not rows:
            break
        updates = []
        for article_id, key, canonical, title, summary, pruned in rows:
            if str(key).startswith("hash:"):
                digest: str | None = str(key)[5:]
            elif pruned:
                digest = None
            else:
                digest = identity.text_hash(title, summary or "")
            updates.append((identity.url_key(canonical), digest, article_id))
        conn.executemany("UPDATE articles SET url_key = ?, content_hash = ? WHERE id = ?", updates)
        last = rows[-1][0]
    conn.execute("INSERT INTO meta (name, value) VALUES ('identity_version', '2')")


def _article_search(conn: Connection) -> None:
    """Full-text search of the archive (issue 12): an FTS5 index over the articles' title,
    summary and content, kept in step by triggers, filled from the rows already stored.

    The ``unicode61`` tokenizer with ``remove_diacritics 2`` finds "reglement" in
    "règlement".  On PostgreSQL only the plain indexes: its search index comes with the
    body column (``_article_search_body``).
    """
    if dialect(conn) == "postgresql":
        _search_indexes(conn)
        return
    conn.execute(
        "CREATE VIRTUAL TABLE articles_fts USING fts5(title, summary, content,"
        " content='articles', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    old = "INSERT INTO articles_fts(articles_fts, rowid, title, summary, content)"
    old += " VALUES ('delete', old.id, old.title, old.summary, old.content);"
    new = "INSERT INTO articles_fts(rowid, title, summary, content)"
    new += " VALUES (new.id, new.title, new.summary, new.content);"
    conn.execute(f"CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN {new} END")
    conn.execute(f"CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN {old} END")
    conn.execute(
        "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary, content"
        f" ON articles BEGIN {old} {new} END"
    )
    conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")
    _search_indexes(conn)


def _search_indexes(conn: Connection) -> None:
    conn.execute("CREATE INDEX matches_watchlist ON matches (watchlist, matched_at, article_id)")
    # the dashboard's filters and its list of the last alerts sent
    conn.execute("CREATE INDEX articles_language ON articles (language)")
    conn.execute("CREATE INDEX articles_seen_feed ON articles (first_seen, feed_id)")
    conn.execute("CREATE INDEX outbox_sent ON outbox (kind, sent_at)")


def _article_search_body(conn: Connection) -> None:
    """The search index also covers the article page's body (issue 14 stores it in
    ``articles.body``): the FTS5 table and its triggers are rebuilt with a fourth column,
    same tokenizer, and refilled from the stored rows.  Retention blanks the body with
    the other text, and the update trigger takes it out of the index then.

    On PostgreSQL: ``_pg_search``.
    """
    if dialect(conn) == "postgresql":
        _pg_search(conn)
        return
    for trigger in ("insert", "delete", "update"):
        conn.execute(f"DROP TRIGGER articles_fts_{trigger}")
    conn.execute("DROP TABLE articles_fts")
    conn.execute(
        "CREATE VIRTUAL TABLE articles_fts USING fts5(title, summary, content, body,"
        " content='articles', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    old = "INSERT INTO articles_fts(articles_fts, rowid, title, summary, content, body)"
    old += " VALUES ('delete', old.id, old.title, old.summary, old.content, old.body);"
    new = "INSERT INTO articles_fts(rowid, title, summary, content, body)"
    new += " VALUES (new.id, new.title, new.summary, new.content, new.body);"
    conn.execute(f"CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN {new} END")
    conn.execute(f"CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN {old} END")
    conn.execute(
        "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary, content, body"
        f" ON articles BEGIN {old} {new} END"
    )
    conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")


def _pg_search(conn: Connection) -> None:
    """PostgreSQL's counterpart of the FTS5 index: ``articles_search`` holds one
    ``tsvector`` per article (the ``simple`` configuration: no stemming, no stop words,
    like ``unicode61``; diacritics are kept, unlike ``remove_diacritics 2``) over title,
    summary, content and body, kept in step by a trigger, with a GIN index.  A table
    beside ``articles`` rather than a column in it, as FTS5's is, so ``SELECT *`` of an
    article does not carry its vector and ``db copy`` copies the same columns on both
    engines.
    """
    conn.execute(
        "CREATE TABLE articles_search (article_id BIGINT PRIMARY KEY"
        " REFERENCES articles (id) ON DELETE CASCADE, search TSVECTOR NOT NULL)"
    )
    vector = (
        "to_tsvector('simple', coalesce(NEW.title, '') || ' ' || coalesce(NEW.summary, '')"
        " || ' ' || coalesce(NEW.content, '') || ' ' || coalesce(NEW.body, ''))"
    )
    conn.execute(
        "CREATE FUNCTION articles_search_update() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN"
        f" INSERT INTO articles_search (article_id, search) VALUES (NEW.id, {vector})"
        " ON CONFLICT (article_id) DO UPDATE SET search = excluded.search;"
        " RETURN NULL;"
        " END $$"
    )
    conn.execute(
        "CREATE TRIGGER articles_search_update AFTER INSERT OR UPDATE OF title, summary,"
        " content, body ON articles FOR EACH ROW EXECUTE FUNCTION articles_search_update()"
    )
    conn.execute(
        "INSERT INTO articles_search (article_id, search) SELECT id,"
        " to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(summary, '') || ' '"
        " || coalesce(content, '') || ' ' || coalesce(body, '')) FROM articles"
    )
    conn.execute("CREATE INDEX articles_search_gin ON articles_search USING GIN (search)")


def _search_text(row: str) -> str:
    return " || ' ' || ".join(
        f"coalesce({row}.{c}, '')" for c in ("title", "summary", "content", "body")
    )


def _pg_search_unaccent(conn: Connection) -> None:
    """Archive search on PostgreSQL ignores accents, as FTS5's ``remove_diacritics 2``
    does on SQLite: "reglement" finds "règlement".  The vectors use a text search
    configuration of their own, ``monitor_search``: ``simple`` with the ``unaccent``
    dictionary in front (the extension, created here; PostgreSQL ships it in contrib).
    Where it cannot be created (not installed, no right to), ``monitor_search`` is plain
    ``simple`` and a warning says so; the dashboard queries ``monitor_search`` either way.

    New articles are indexed by a statement-level trigger, one ``INSERT`` into
    ``articles_search`` per statement rather than per row (issue 11: a poll writes its
    new articles in one statement); edits of the text keep a row-level trigger.
    Nothing on SQLite.
    """
    if dialect(conn) != "postgresql":
        return
    conn.execute("SAVEPOINT unaccent")
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    except StorageError as exc:
        conn.execute("ROLLBACK TO SAVEPOINT unaccent")
        log.warning(
            "storage: cannot create the PostgreSQL extension unaccent (%s); archive search "
            "will tell accented letters apart (install PostgreSQL's contrib package, or "
            "CREATE EXTENSION unaccent as a superuser, then recreate the %s configuration)",
            exc,
            SEARCH_CONFIG,
        )
        unaccent = False
    else:
        conn.execute("RELEASE SAVEPOINT unaccent")
        unaccent = True
    conn.execute(f"CREATE TEXT SEARCH CONFIGURATION {SEARCH_CONFIG} (COPY = simple)")
    if unaccent:
        conn.execute(
            f"ALTER TEXT SEARCH CONFIGURATION {SEARCH_CONFIG}"
            " ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple"
        )
    conn.execute("DROP TRIGGER articles_search_update ON articles")
    conn.execute("DROP FUNCTION articles_search_update()")
    conn.execute(
        "CREATE FUNCTION articles_search_insert() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN"
        " INSERT INTO articles_search (article_id, search)"
        f" SELECT n.id, to_tsvector('{SEARCH_CONFIG}', {_search_text('n')})"
        " FROM new_articles n"
        " ON CONFLICT (article_id) DO UPDATE SET search = excluded.search;"
        " RETURN NULL;"
        " END $$"
    )
    conn.execute(
        "CREATE TRIGGER articles_search_insert AFTER INSERT ON articles"
        " REFERENCING NEW TABLE AS new_articles"
        " FOR EACH STATEMENT EXECUTE FUNCTION articles_search_insert()"
    )
    conn.execute(
        "CREATE FUNCTION articles_search_update() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN"
        " INSERT INTO articles_search (article_id, search)"
        f" VALUES (NEW.id, to_tsvector('{SEARCH_CONFIG}', {_search_text('NEW')}))"
        " ON CONFLICT (article_id) DO UPDATE SET search = excluded.search;"
        " RETURN NULL;"
        " END $$"
    )
    conn.execute(
        "CREATE TRIGGER articles_search_update AFTER UPDATE OF title, summary, content, body"
        " ON articles FOR EACH ROW EXECUTE FUNCTION articles_search_update()"
    )
    conn.execute(
        f"UPDATE articles_search s SET search = to_tsvector('{SEARCH_CONFIG}', "
        f"{_search_text('a')}) FROM articles a WHERE a.id = s.article_id"
    )


def _lean_rows(conn: Connection) -> None:
    """Issue 15: an entry's URL was stored six times (2,100 bytes an article).  Entry keys
    in ``seen_keys`` and URL keys in ``articles`` become 64-bit hashes (``url_hash``, with
    its index in place of ``articles_url_key``); ``seen_keys`` loses its ``last_seen``
    index (only the daily retention reads it), its ``first_seen`` (never read) and, on
    SQLite, its rowid (the primary key is the table); ``articles.key`` and
    ``canonical_url`` drop what repeats the URL, ``content_hash`` keeps 16 bytes instead
    of 32 hex digits; the ``articles_seen_feed`` index goes.
    See ``monitor.store.articles`` ("the lean row").
    """
    from monitor.store import articles

    postgresql = dialect(conn) == "postgresql"

    def run(sql: str) -> None:
        if postgresql:
            from monitor.store.pg import ddl

            sql = ddl(sql)
        conn.execute(sql)

    run(
        "CREATE TABLE seen_keys_lean (feed_id TEXT NOT NULL, key_hash INTEGER NOT NULL,"
        " article_id INTEGER NOT NULL, last_seen TEXT NOT NULL,"
        " PRIMARY KEY (feed_id, key_hash))" + ("" if postgresql else " WITHOUT ROWID")
    )
    after: tuple[str, str] = ("", "")
    while True:
        rows = conn.execute(
            "SELECT feed_id, key, article_id, last_seen FROM seen_keys"
            " WHERE feed_id > ? OR (feed_id = ? AND key > ?) ORDER BY feed_id, key LIMIT 2000",
            (after[0], after[0], after[1]),
        ).fetchall()
        if not rows:
            break
        conn.executemany(
            "INSERT INTO seen_keys_lean (feed_id, key_hash, article_id, last_seen)"
            " VALUES (?,?,?,?) ON CONFLICT (feed_id, key_hash) DO NOTHING",
            [(r[0], articles.key_hash(r[1]), r[2], r[3]) for r in rows],
        )
        after = (rows[-1][0], rows[-1][1])
    run("DROP TABLE seen_keys")
    run("ALTER TABLE seen_keys_lean RENAME TO seen_keys")
    run("ALTER TABLE articles ADD COLUMN url_hash INTEGER")
    if postgresql:  # SQLite keeps the column's declared type and stores the bytes as given
        run(
            "ALTER TABLE articles ALTER COLUMN content_hash TYPE BYTEA"
            " USING decode(content_hash, 'hex')"
        )
    last = 0
    while True:
        rows = conn.execute(
            "SELECT id, key, url, canonical_url, url_key, content_hash FROM articles"
            " WHERE id > ? ORDER BY id LIMIT 2000",
            (last,),
        ).fetchall()
        if not rows:
            break
        conn.executemany(
            "UPDATE articles SET key = ?, canonical_url = ?, url_hash = ?, url_key = NULL,"
            " content_hash = ? WHERE id = ?",
            [
                (
                    articles.pack_key(key, url, canonical),
                    articles.pack_canonical(url, canonical),
                    articles.key_hash(url_key) if url_key else None,
                    bytes.fromhex(digest) if isinstance(digest, str) else digest,
                    article_id,
                )
                for article_id, key, url, canonical, url_key, digest in rows
            ],
        )
        last = rows[-1][0]
    run("DROP INDEX articles_url_key")
    run("CREATE INDEX articles_url_hash ON articles (url_hash)")
    # Counting a day's articles per feed (its reason) is the tallies' work since migration 13.
    run("DROP INDEX articles_seen_feed")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "feeds and articles",
        """
        CREATE TABLE feeds (
            id TEXT PRIMARY KEY,
            configured_url TEXT NOT NULL,
            url TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            last_attempt TEXT,
            last_success TEXT,
            last_status INTEGER,
            last_error TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            next_poll TEXT,
            articles_seen INTEGER NOT NULL DEFAULT 0,
            last_new TEXT,
            created TEXT NOT NULL
        );
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            feed_id TEXT NOT NULL,
            key TEXT NOT NULL,
            url TEXT,
            canonical_url TEXT,
            url_key TEXT,
            content_hash TEXT,
            title TEXT NOT NULL,
            summary TEXT,
            content TEXT,
            published TEXT NOT NULL,
            date_from_feed INTEGER NOT NULL DEFAULT 1,
            language TEXT,
            authors TEXT,
            tags TEXT,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            pruned INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX articles_url_key ON articles (url_key);
        CREATE INDEX articles_feed_hash ON articles (feed_id, content_hash);
        CREATE INDEX articles_first_seen ON articles (first_seen);
        CREATE TABLE seen_keys (
            feed_id TEXT NOT NULL,
            key TEXT NOT NULL,
            article_id INTEGER NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            PRIMARY KEY (feed_id, key)
        );
        CREATE INDEX seen_keys_last_seen ON seen_keys (last_seen);
        """,
    ),
    Migration(
        "matches, outbox and destination health",
        """
        CREATE TABLE matches (
            article_id INTEGER NOT NULL,
            watchlist TEXT NOT NULL,
            score REAL NOT NULL,
            hits TEXT NOT NULL,
            matched_at TEXT NOT NULL,
            PRIMARY KEY (article_id, watchlist)
        );
        CREATE INDEX matches_matched_at ON matches (matched_at);
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            idem_key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            destination TEXT NOT NULL,
            channel TEXT NOT NULL,
            address TEXT NOT NULL,
            article_id INTEGER NOT NULL,
            watchlists TEXT NOT NULL,
            created TEXT NOT NULL,
            due TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at TEXT,
            remote_id TEXT
        );
        CREATE INDEX outbox_due ON outbox (status, kind, due);
        CREATE INDEX outbox_target ON outbox (destination, address, status);
        CREATE TABLE destinations (
            destination TEXT NOT NULL,
            address TEXT NOT NULL,
            channel TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            healthy INTEGER NOT NULL DEFAULT 1,
            last_error TEXT,
            last_success TEXT,
            last_failure TEXT,
            last_digest TEXT,
            digests_sent INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (destination, address)
        );
        """,
    ),
    Migration(
        "telegram subscribers and service flags",
        """
        CREATE TABLE subscriptions (
            chat_id TEXT NOT NULL,
            watchlist TEXT NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (chat_id, watchlist)
        );
        CREATE TABLE subscribers (
            chat_id TEXT PRIMARY KEY,
            username TEXT,
            first_seen TEXT NOT NULL,
            blocked INTEGER NOT NULL DEFAULT 0,
            blocked_at TEXT
        );
        CREATE TABLE service_flags (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated TEXT NOT NULL
        );
        """,
    ),
    Migration(
        "stories: story groups and the near-duplicate index",
        # While an article is inside the dedupe window its row keeps its fingerprint
        # (sketch) and index keys; monitor.dedupe rebuilds its in-memory index from them.
        """
        CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            articles INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX stories_last_seen ON stories (last_seen);
        CREATE TABLE story_articles (
            article_id INTEGER PRIMARY KEY,
            story_id INTEGER NOT NULL,
            feed_id TEXT NOT NULL,
            relation TEXT NOT NULL,
            related_id INTEGER,
            score REAL NOT NULL,
            seen TEXT NOT NULL,
            sketch BLOB,
            keys BLOB
        );
        CREATE INDEX story_articles_story ON story_articles (story_id);
        CREATE INDEX story_articles_seen ON story_articles (seen);
        CREATE INDEX story_articles_indexed ON story_articles (seen) WHERE sketch IS NOT NULL;
        """,
    ),
    Migration(
        "one alert per story: outbox rows know their story and the message they edit",
        """
        ALTER TABLE outbox ADD COLUMN story_id INTEGER;
        ALTER TABLE outbox ADD COLUMN edit_of TEXT;
        CREATE INDEX outbox_story ON outbox (story_id, kind)
        """,
    ),
    Migration(
        "subscriptions of forum topics: a group's topic subscribes on its own",
        # topic 0 is the chat itself (a private chat, a group without topics); the key
        # grows a column, so the table is rebuilt (portable: no ALTER of a key).
        """
        CREATE TABLE subscriptions_new (
            chat_id TEXT NOT NULL,
            topic INTEGER NOT NULL DEFAULT 0,
            watchlist TEXT NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (chat_id, topic, watchlist)
        );
        INSERT INTO subscriptions_new (chat_id, topic, watchlist, created)
            SELECT chat_id, 0, watchlist, created FROM subscriptions;
        DROP TABLE subscriptions;
        ALTER TABLE subscriptions_new RENAME TO subscriptions
        """,
    ),
    Migration("full-text search of articles", _article_search),
    Migration(
        "unsubscribe overrides of e-mail digest recipients",
        """
        CREATE TABLE unsubscribed (
            destination TEXT NOT NULL,
            address TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (destination, address)
        )
        """,
    ),
    Migration(
        "destinations know the stand-in that delivered (console without a token)",
        """
        ALTER TABLE destinations ADD COLUMN via TEXT
        """,
    ),
    Migration("identity version 2: one URL key and one text hash (issue 11)", _identity_v2),
    Migration(
        "full text: the article page's body and per-feed page counters",
        """
        ALTER TABLE articles ADD COLUMN body TEXT;
        ALTER TABLE feeds ADD COLUMN pages_fetched INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE feeds ADD COLUMN page_failures INTEGER NOT NULL DEFAULT 0
        """,
    ),
    Migration("full-text search also covers the article body", _article_search_body),
    Migration(
        "dashboard tallies: counts kept on write, match rows know feed and language",
        # Issue 12 at 1,000,000 articles: the overview counted every article and every
        # match on each view, /feeds read 14 days of the first-seen index, and /trends by
        # feed or language looked up the article of every match of 90 days.
        """
        CREATE TABLE tallies (
            name TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        );
        CREATE TABLE article_days (
            day TEXT NOT NULL,
            feed_id TEXT NOT NULL,
            articles INTEGER NOT NULL,
            PRIMARY KEY (day, feed_id)
        );
        ALTER TABLE matches ADD COLUMN feed_id TEXT;
        ALTER TABLE matches ADD COLUMN language TEXT;
        UPDATE matches SET
            feed_id = (SELECT a.feed_id FROM articles a WHERE a.id = matches.article_id),
            language = (SELECT a.language FROM articles a WHERE a.id = matches.article_id);
        CREATE INDEX matches_day_feed ON matches (matched_at, feed_id);
        CREATE INDEX matches_day_language ON matches (matched_at, language);
        """
        + ";\n".join(tallies.REBUILD),
    ),
    Migration(
        "archive search ignores accents on PostgreSQL (unaccent); one index insert per statement",
        _pg_search_unaccent,
    ),
    Migration(
        "leases for several instances: claimed feeds, claimed outbox rows, per-host slots",
        # Written by PostgreSQL's claims (monitor/store/leases.py); SQLite has one instance
        # (the state lock) and leaves them empty.
        """
        ALTER TABLE feeds ADD COLUMN lease_owner TEXT;
        ALTER TABLE feeds ADD COLUMN lease_until TEXT;
        ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
        ALTER TABLE outbox ADD COLUMN lease_until TEXT;
        CREATE TABLE host_slots (
            host TEXT NOT NULL,
            slot INTEGER NOT NULL,
            feed_id TEXT,
            lease_owner TEXT,
            lease_until TEXT,
            PRIMARY KEY (host, slot)
        );
        CREATE INDEX feeds_next_poll ON feeds (next_poll)
        """,
    ),
    Migration(
        "match rows know their article's first-seen time: the archive lists walk one index",
        # Issue 12 at 1,000,000 articles on PostgreSQL: /articles walked the articles
        # newest first and probed matches for each (412-464 ms p95 with ?watchlist=).
        # The list's order on the match row makes each list page an index scan that
        # stops at its LIMIT; feed and language in the index filter it without reading
        # rows.  A match whose article is gone keeps NULL (pruning deletes it).
        """
        ALTER TABLE matches ADD COLUMN first_seen TEXT;
        UPDATE matches SET
            first_seen = (SELECT a.first_seen FROM articles a WHERE a.id = matches.article_id);
        CREATE INDEX matches_listed
            ON matches (watchlist, first_seen DESC, article_id DESC, feed_id, language);
        CREATE INDEX matches_newest ON matches (first_seen DESC, article_id DESC, feed_id, language)
        """,
    ),
    Migration("lean article rows: hashed entry and URL keys, the URL stored once", _lean_rows),
)
