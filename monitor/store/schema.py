"""The store's schema, versioned in ``PRAGMA user_version`` and migrated forward on
open: each migration is a list of statements applied in one transaction. A stage
that needs a table adds a migration here; none is ever edited once released."""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: feed state, feed error history, seen items, sent alerts
        """CREATE TABLE feeds (
            url TEXT PRIMARY KEY,
            etag TEXT, last_modified TEXT,
            last_poll REAL, last_success REAL, next_poll REAL,
            interval REAL, consecutive_errors INTEGER NOT NULL DEFAULT 0,
            last_status INTEGER, last_reason TEXT, last_error TEXT,
            update_rate REAL, title TEXT
        )""",
        """CREATE TABLE feed_errors (
            feed_url TEXT NOT NULL, at REAL NOT NULL, reason TEXT NOT NULL, detail TEXT
        )""",
        "CREATE INDEX feed_errors_by_feed ON feed_errors (feed_url, at)",
        """CREATE TABLE seen_items (
            feed_url TEXT NOT NULL, item_id TEXT NOT NULL, first_seen REAL NOT NULL,
            PRIMARY KEY (feed_url, item_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX seen_items_by_age ON seen_items (first_seen)",
        """CREATE TABLE sent_alerts (
            alert_id TEXT PRIMARY KEY, story_id TEXT NOT NULL, receiver TEXT NOT NULL,
            sent_at REAL NOT NULL
        ) WITHOUT ROWID""",
    ),
    (  # 2: stories (dedup window) and the alert outbox (pending, sent, dead letters)
        """CREATE TABLE stories (
            story_id TEXT PRIMARY KEY, created REAL NOT NULL, last_seen REAL NOT NULL,
            title_sig TEXT NOT NULL, lead_sig TEXT NOT NULL, data TEXT NOT NULL
        )""",  # rows of 1-3 KB: a rowid table (WITHOUT ROWID is for small rows)
        "CREATE INDEX stories_by_age ON stories (last_seen)",
        """CREATE TABLE story_keys (
            key TEXT PRIMARY KEY, story_id TEXT NOT NULL, last_seen REAL NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX story_keys_by_age ON story_keys (last_seen)",
        """CREATE TABLE outbox (
            alert_id TEXT PRIMARY KEY, story_id TEXT NOT NULL, receiver TEXT NOT NULL,
            state TEXT NOT NULL, payload TEXT NOT NULL, group_key TEXT NOT NULL,
            created REAL NOT NULL, due REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT, updated REAL NOT NULL
        )""",
        "CREATE INDEX outbox_by_due ON outbox (state, receiver, due)",
    ),
    (  # 3: the delivery loop's queries answered from indexes, in (due, created) order:
        # a receiver's next due group, that group's due alerts, a group's digest time
        "DROP INDEX outbox_by_due",
        "CREATE INDEX outbox_by_due ON outbox (state, receiver, due, created, group_key)",
        "CREATE INDEX outbox_by_group ON outbox (state, group_key, due, created)",
    ),
    (  # 4 (sources): a feed's body cut to fetch.max_items; new items kept for backtests
        "ALTER TABLE feeds ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0",
        """CREATE TABLE retained_items (
            seq INTEGER PRIMARY KEY, at REAL NOT NULL, feed_url TEXT NOT NULL,
            item_id TEXT NOT NULL, envelope TEXT NOT NULL
        )""",  # seq: publish order; rows of 1-10 KB, so a rowid table
        "CREATE INDEX retained_items_by_time ON retained_items (at)",
    ),
    (  # 5: a story's members (join order, why each joined) and its audit, beside the story
        """CREATE TABLE story_members (
            story_id TEXT NOT NULL, seq INTEGER NOT NULL, item_id TEXT NOT NULL,
            link_key TEXT, data TEXT NOT NULL, PRIMARY KEY (story_id, seq)
        )""",  # rows of 1-3 KB: a rowid table
        "CREATE INDEX story_members_by_item ON story_members (item_id)",
        "CREATE INDEX story_members_by_link ON story_members (link_key)",
    ),
    (  # 6: living stories: what each receiver was told of each story, and escalations.
        # outbox.kind: 'alert' (a message to post) or 'sync' (bring a receiver up to date
        # with its story: at most one pending per story and receiver)
        "ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'alert'",
        "CREATE INDEX outbox_by_story ON outbox (story_id, receiver, kind, state)",
        """CREATE TABLE deliveries (
            story_id TEXT NOT NULL, receiver TEXT NOT NULL, thread TEXT NOT NULL,
            shown INTEGER NOT NULL, shown_at REAL NOT NULL,
            told INTEGER NOT NULL, told_at REAL NOT NULL, followed_at REAL NOT NULL,
            PRIMARY KEY (story_id, receiver)
        ) WITHOUT ROWID""",
        """CREATE TABLE escalations (
            story_id TEXT NOT NULL, route TEXT NOT NULL, version INTEGER NOT NULL,
            severity TEXT NOT NULL, outlets INTEGER NOT NULL, within REAL NOT NULL,
            at REAL NOT NULL, PRIMARY KEY (story_id, route)
        ) WITHOUT ROWID""",
        """CREATE TABLE silences (
            silence_id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts REAL NOT NULL,
            ends REAL NOT NULL, author TEXT NOT NULL, comment TEXT NOT NULL, created REAL NOT NULL
        )""",
        "CREATE INDEX silences_by_end ON silences (ends)",
    ),
)
