"""Bring back the blacklist rows migration 0008 set aside, in E.164 (phonenumbers is Python)."""


def migrate(conn) -> None:
    from include.campaigns.blacklist import normalize_rejected

    normalize_rejected(conn)
