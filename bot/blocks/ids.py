"""Every action_id and callback_id okrbot uses, in one place (a test holds the app to these)."""

# Buttons (action_id), each routed to a listener in handlers/.
SHARE_STATUS = "okr_share_status"
HOME_UPDATE_KR = "okr_home_update_kr"
CHECKIN_UNDO = "checkin_undo"
# A question about a reply: a button per candidate (action_ids are unique within a block),
# and "No". Each button's value says what it records.
CHECKIN_PICKS = tuple(f"checkin_pick_{i}" for i in range(5))
CHECKIN_NONE = "checkin_pick_none"

# Modals (callback_id), each routed to a view_submission listener in handlers/.
VIEW_OKR_ADD = "okr_add"
VIEW_KPI_ADD = "kpi_add"
VIEW_KR_UPDATE = "okr_update"
VIEW_CYCLE_CLOSE = "cycle_close"

ACTION_IDS = frozenset({SHARE_STATUS, HOME_UPDATE_KR, CHECKIN_UNDO, *CHECKIN_PICKS, CHECKIN_NONE})
VIEW_IDS = frozenset({VIEW_OKR_ADD, VIEW_KPI_ADD, VIEW_KR_UPDATE, VIEW_CYCLE_CLOSE})
