"""Slack request payload templates (JSON) that SignedSender fills in; a package so they ship."""
