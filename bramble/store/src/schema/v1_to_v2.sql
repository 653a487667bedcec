-- Schema version 1 to 2: the sync layer's tables.

CREATE TABLE groups (
    id BLOB PRIMARY KEY CHECK (length(id) = 32),
    client_id TEXT NOT NULL,
    major_version INTEGER NOT NULL,
    descriptor BLOB NOT NULL
) STRICT;

-- 0 invisible, 1 visible (accept, never send), 2 shared (accept and send).
CREATE TABLE group_visibility (
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    group_id BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    visibility INTEGER NOT NULL CHECK (visibility IN (0, 1, 2)),
    PRIMARY KEY (contact_id, group_id)
) STRICT;

-- state: 0 unknown, 1 invalid, 2 pending, 3 delivered. raw is NULL once deleted; the row
-- stays so that the message is not accepted again.
CREATE TABLE messages (
    id BLOB PRIMARY KEY CHECK (length(id) = 32),
    group_id BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    timestamp INTEGER NOT NULL,
    local INTEGER NOT NULL CHECK (local IN (0, 1)),
    state INTEGER NOT NULL CHECK (state IN (0, 1, 2, 3)),
    shared INTEGER NOT NULL DEFAULT 0 CHECK (shared IN (0, 1)),
    raw BLOB,
    received_at INTEGER NOT NULL
) STRICT;

CREATE INDEX messages_by_group ON messages (group_id, timestamp);

CREATE TABLE message_metadata (
    message_id BLOB NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (message_id, key)
) STRICT;

-- Per message and contact: ack (we owe an ack), seen (they have it), requested (they asked
-- for it), expiry (when it may be sent again), tx_count (times sent or offered) and
-- max_latency (the latency, in ms, of the transport it last went over; NULL if never).
CREATE TABLE message_status (
    message_id BLOB NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    ack INTEGER NOT NULL DEFAULT 0 CHECK (ack IN (0, 1)),
    seen INTEGER NOT NULL DEFAULT 0 CHECK (seen IN (0, 1)),
    requested INTEGER NOT NULL DEFAULT 0 CHECK (requested IN (0, 1)),
    expiry INTEGER NOT NULL DEFAULT 0,
    tx_count INTEGER NOT NULL DEFAULT 0 CHECK (tx_count >= 0),
    max_latency INTEGER,
    PRIMARY KEY (message_id, contact_id)
) STRICT;

CREATE INDEX message_status_by_contact ON message_status (contact_id, seen, expiry);

-- A dependency may name a message not received yet.
CREATE TABLE message_dependencies (
    message_id BLOB NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    dependency_id BLOB NOT NULL CHECK (length(dependency_id) = 32),
    PRIMARY KEY (message_id, dependency_id)
) STRICT;
