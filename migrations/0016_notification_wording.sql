-- Notifications read in the reader's language: the message's gettext parts (api/wording.py)
-- beside the English text, which stays as it was written. Rows written before keep NULL here
-- and are shown in their stored text.
ALTER TABLE rights_notifications
    ADD COLUMN message_parts jsonb CHECK (message_parts IS NULL OR jsonb_typeof(message_parts) = 'array');
