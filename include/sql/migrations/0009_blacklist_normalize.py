"""Bring back the blacklist rows migration 0008 set aside, and rewrite those E.164 in shape only,
in phonenumbers' E.164 form (phonenumbers is Python)."""


def migrate(conn) -> None:
    from include.campaigns.blacklist import normalize_listed, normalize_rejected

    normalize_rejected(conn)
    normalize_listed(conn)
