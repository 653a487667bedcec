-- The current schema (version 4), created directly for a new account.
-- src/tests.rs checks that upgrading every older schema gives exactly this.
-- Every table is STRICT; booleans are 0/1 with CHECKs; times are Unix milliseconds.

-- This account's identity: one row.
CREATE TABLE local_identity (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    nickname TEXT NOT NULL,
    signing_key BLOB NOT NULL CHECK (length(signing_key) = 32),
    handshake_key BLOB NOT NULL CHECK (length(handshake_key) = 32),
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    nickname TEXT NOT NULL,
    alias TEXT,
    signing_public BLOB NOT NULL UNIQUE CHECK (length(signing_public) = 32),
    handshake_public BLOB NOT NULL CHECK (length(handshake_public) = 32),
    role INTEGER NOT NULL CHECK (role IN (0, 1)),
    verified INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
    added_at INTEGER NOT NULL
) STRICT;

-- `failure` (version 4): why the peer's last handshake records were refused, until the
-- handshake moves on (spec/contacts.md#pending-contacts); NULL if nothing was.
CREATE TABLE pending_contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    handshake_public BLOB NOT NULL UNIQUE CHECK (length(handshake_public) = 32),
    alias TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    handshake_state BLOB,
    failure TEXT CHECK (failure IS NULL OR length(failure) BETWEEN 1 AND 512)
) STRICT;

-- Stream keys (spec/stream.md#keys): the outgoing period secret and counter...
CREATE TABLE outgoing_keys (
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    transport TEXT NOT NULL,
    period_length INTEGER NOT NULL CHECK (period_length > 0),
    period INTEGER NOT NULL CHECK (period >= 0),
    secret BLOB NOT NULL CHECK (length(secret) = 32),
    next_stream INTEGER NOT NULL CHECK (next_stream >= 0),
    PRIMARY KEY (contact_id, transport)
) STRICT;

-- ...and the incoming periods p-1 (slot 0), p (slot 1) and p+1 (slot 2) with windows.
CREATE TABLE incoming_keys (
    contact_id INTEGER NOT NULL,
    transport TEXT NOT NULL,
    slot INTEGER NOT NULL CHECK (slot IN (0, 1, 2)),
    period INTEGER NOT NULL CHECK (period >= 0),
    secret BLOB NOT NULL CHECK (length(secret) = 32),
    window_base INTEGER NOT NULL CHECK (window_base >= 0),
    window_seen INTEGER NOT NULL CHECK (window_seen BETWEEN 0 AND 4294967295),
    PRIMARY KEY (contact_id, transport, slot),
    FOREIGN KEY (contact_id, transport)
        REFERENCES outgoing_keys (contact_id, transport) ON DELETE CASCADE
) STRICT;

CREATE TABLE local_transport_properties (
    transport TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (transport, key)
) STRICT;

CREATE TABLE contact_transport_properties (
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    transport TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (contact_id, transport, key)
) STRICT;

CREATE TABLE settings (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (namespace, key)
) STRICT;

-- Version 2: the sync layer's groups, messages and per-contact state.

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

CREATE INDEX messages_by_group ON messages (group_id, timestamp, id);

-- Pending and invalid messages, counted against the contacts they came from.
CREATE INDEX messages_quarantined ON messages (state) WHERE state IN (1, 2);

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

-- Acknowledgements owed and requests received, per contact.
CREATE INDEX message_status_owed_acks ON message_status (contact_id) WHERE ack = 1;
CREATE INDEX message_status_requested ON message_status (contact_id) WHERE requested = 1;
-- Unacknowledged messages last sent over a given latency, for a faster transport to resend.
CREATE INDEX message_status_by_latency ON message_status (contact_id, max_latency)
    WHERE seen = 0;

-- A dependency may name a message not received yet.
CREATE TABLE message_dependencies (
    message_id BLOB NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    dependency_id BLOB NOT NULL CHECK (length(dependency_id) = 32),
    PRIMARY KEY (message_id, dependency_id)
) STRICT;

CREATE INDEX message_dependencies_by_dependency ON message_dependencies (dependency_id);

-- Version 3: received messages the user has not read yet, in conversation order.
CREATE TABLE unread_messages (
    group_id BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    timestamp INTEGER NOT NULL,
    message_id BLOB NOT NULL,
    PRIMARY KEY (group_id, timestamp, message_id)
) STRICT, WITHOUT ROWID;
