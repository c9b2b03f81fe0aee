"""Every action_id and callback_id okrbot uses, in one place (a test holds the app to these)."""

SHARE_STATUS = "okr_share_status"
