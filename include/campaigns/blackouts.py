"""Declared blackouts: periods when no call may reach a jurisdiction (a state of emergency, say).

Dispatch reads the current ones on every call and closes every window key they cover (see
``calling_window.open_keys``), so a declaration takes effect at the next poke of every running
campaign. Declare one from the command line::

    python -m include.campaigns.blackouts declare US-LA --from 2026-08-28T12:00Z \\
        --until 2026-09-04T12:00Z --reason "State of emergency: hurricane (Governor's proclamation)"
    python -m include.campaigns.blackouts list

or with the same INSERT as ``include/sql/queries/calling_blackouts_declare.sql``. An open-ended
emergency gets a far ``--until`` and is ended by updating ``ends_at``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

from include.campaigns.calling_window import Blackout
from include.campaigns.rules import JURISDICTION


def current_blackouts(conn, now: datetime) -> list[Blackout]:
    """The blackouts in force at ``now`` or declared to start later."""
    from include.campaigns.db import fetch_all

    return [
        Blackout(r["jurisdiction"], r["starts_at"], r["ends_at"], r["reason"])
        for r in fetch_all(conn, "calling_blackouts_current", {"now": now})
    ]


def declare(
    conn, jurisdiction: str, starts_at: datetime, ends_at: datetime, reason: str, declared_by: str | None = None
) -> int:
    """Record a blackout; return its id."""
    from include.campaigns.db import fetch_one

    if not JURISDICTION.match(jurisdiction):
        raise ValueError(f"{jurisdiction!r} is not a jurisdiction code ('*', 'US' or 'US-LA')")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("a blackout's start and end need a time zone (say 2026-08-28T12:00Z)")
    if ends_at <= starts_at:
        raise ValueError("a blackout must end after it starts")
    if not reason.strip():
        raise ValueError("a blackout needs a reason")
    with conn.transaction():
        row = fetch_one(
            conn,
            "calling_blackouts_declare",
            {
                "jurisdiction": jurisdiction,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "reason": reason.strip(),
                "declared_by": declared_by,
            },
        )
    return row["id"]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.campaigns.blackouts", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("declare", help="declare a blackout")
    add.add_argument("jurisdiction", help="'US-LA', 'US' (every state) or '*' (every number)")
    add.add_argument("--from", dest="starts_at", type=_instant, default=None, help="ISO instant with zone; default now")
    add.add_argument("--until", dest="ends_at", type=_instant, required=True, help="ISO instant with zone")
    add.add_argument("--reason", required=True)
    add.add_argument("--by", dest="declared_by", default=None)
    commands.add_parser("list", help="the blackouts in force now or later")
    args = parser.parse_args(argv)

    from include.campaigns.db import campaign_db

    now = datetime.now(timezone.utc)
    with campaign_db() as conn:
        if args.command == "declare":
            blackout_id = declare(
                conn, args.jurisdiction, args.starts_at or now, args.ends_at, args.reason, args.declared_by
            )
            print(
                f"blackout {blackout_id}: {args.jurisdiction} closed from {(args.starts_at or now).isoformat()} "
                f"until {args.ends_at.isoformat()}"
            )
        else:
            for b in current_blackouts(conn, now):
                print(f"{b.jurisdiction}\t{b.starts_at.isoformat()}\t{b.ends_at.isoformat()}\t{b.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
