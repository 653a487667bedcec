-- Schema version 2 to 3: what sync sessions and the private conversation query.

-- Received messages the user has not read yet, in conversation order.
CREATE TABLE unread_messages (
    group_id BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    timestamp INTEGER NOT NULL,
    message_id BLOB NOT NULL,
    PRIMARY KEY (group_id, timestamp, message_id)
) STRICT, WITHOUT ROWID;

-- Conversations are read in timestamp order with ties broken by identifier.
DROP INDEX messages_by_group;
CREATE INDEX messages_by_group ON messages (group_id, timestamp, id);

-- Pending and invalid messages, counted against the contacts they came from.
CREATE INDEX messages_quarantined ON messages (state) WHERE state IN (1, 2);

-- Pending messages waiting for a dependency.
CREATE INDEX message_dependencies_by_dependency ON message_dependencies (dependency_id);

-- Acknowledgements owed and requests received, per contact.
CREATE INDEX message_status_owed_acks ON message_status (contact_id) WHERE ack = 1;
CREATE INDEX message_status_requested ON message_status (contact_id) WHERE requested = 1;
-- Unacknowledged messages last sent over a given latency, for a faster transport to resend.
CREATE INDEX message_status_by_latency ON message_status (contact_id, max_latency)
    WHERE seen = 0;
