-- Schema version 3 to 4: why a pending contact's handshake was refused.

ALTER TABLE pending_contacts
    ADD COLUMN failure TEXT CHECK (failure IS NULL OR length(failure) BETWEEN 1 AND 512);
