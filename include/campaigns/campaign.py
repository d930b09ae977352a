"""A campaign: its row, read once, with its config parsed on first use."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property

from include.campaigns.config import CampaignConfig, parse_config
from include.campaigns.db import fetch_one


@dataclass(frozen=True)
class Campaign:
    """One row of ``campaigns``, as the tasks read it (include/sql/queries/campaign_get.sql).

    ``raw_config`` is the row's JSON as stored; ``config`` parses it once, on first use, and
    raises ConfigError for an invalid one. The parse is lazy because an invalid config must not
    stop the campaign from loading: validation reports it, and the failure alert still needs the
    campaign's name and topic.
    """

    id: int
    slug: str
    name: str
    campaign_type: str
    status: str
    timezone: str
    schedule: str | None
    start_at: datetime
    end_at: datetime
    owner: str
    tags: tuple[str, ...]
    poke_interval_s: int
    max_in_flight: int
    raw_config: dict = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict) -> Campaign:
        fields = {k: v for k, v in row.items() if k != "config"}
        return cls(**{**fields, "tags": tuple(row.get("tags") or ()), "raw_config": row.get("config") or {}})

    @classmethod
    def missing(cls, campaign_id: int) -> Campaign:
        """A campaign id no row has (a call record may carry one): its id, and the default config."""
        epoch = datetime.fromtimestamp(0, timezone.utc)
        return cls(
            id=campaign_id,
            slug="",
            name="",
            campaign_type="",
            status="",
            timezone="UTC",
            schedule=None,
            start_at=epoch,
            end_at=epoch,
            owner="",
            tags=(),
            poke_interval_s=0,
            max_in_flight=0,
        )

    @cached_property
    def config(self) -> CampaignConfig:
        return parse_config(self.raw_config)

    def with_default_config(self) -> Campaign:
        """This campaign with an empty config (every default)."""
        return dataclasses.replace(self, raw_config={})

    def as_row(self) -> dict:
        """The row as stored, its config as the raw JSON: for the rules that also read a catalog row
        before it is a Campaign (campaign_row.row_problems)."""
        return {
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "raw_config"},
            "config": self.raw_config,
        }


def load_campaign(conn, campaign_id: int) -> Campaign:
    row = fetch_one(conn, "campaign_get", {"campaign_id": campaign_id})
    if row is None:
        raise LookupError(f"campaign {campaign_id} does not exist")
    return Campaign.from_row(row)
