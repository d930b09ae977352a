"""Airflow plugin: a "Campaigns" page in the UI's navigation, served by the API server.

A FastAPI app mounted at /campaigns renders every campaign the caller may read (its DAG, as
Airflow's auth manager decides) with its live progress (the latest snapshot the completion
sensor wrote) and its latest report; /campaigns/api/campaigns serves the same data as JSON.
/campaigns/preview/<slug> (and /campaigns/api/campaigns/<slug>/preview as JSON) shows, for now,
who a run would dial and who it would skip, by reason and by jurisdiction: the dry run's answer,
read-only. The nav entry embeds the page in the Airflow UI.

The markup is in include/templates/campaigns*.html.j2 and campaign_preview.html.j2, rendered with
autoescape; this module gathers and shapes what they show.

Every Airflow component imports the plugins folder, but only the API server mounts the app, so
FastAPI, Jinja2 and the database code are imported only when the app is built or a request is served.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone, tzinfo
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)

URL_PREFIX = "/campaigns"
REFRESH_SECONDS = 15
# A page load must not pin an API server worker thread on a slow database.
STATEMENT_TIMEOUT_MS = 5000
UNAVAILABLE_MESSAGE = "The campaign database is unavailable; the page retries on its own."

# Contact states a run will not change any more. `failed` is not one: it is retried when due.
FINAL_STATUSES = frozenset({"completed", "opted_out", "exhausted", "blacklisted", "invalid", "expired"})
# Display order of the per-status counts; statuses not listed follow alphabetically.
STATUS_ORDER = [
    "completed",
    "in_flight",
    "pending",
    "failed",
    "exhausted",
    "expired",
    "opted_out",
    "blacklisted",
    "invalid",
]


class CampaignDatabaseUnavailable(Exception):
    pass


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def progress_view(counts: dict[str, int] | None, polled_at: datetime | None, run_id: str | None) -> dict | None:
    """The latest snapshot, with the share of its contacts in a final state."""
    if counts is None:
        return None
    total = sum(counts.values())
    done = sum(n for status, n in counts.items() if status in FINAL_STATUSES)
    return {
        "run_id": run_id,
        "polled_at": _iso(polled_at),
        "counts": counts,
        "total": total,
        "final": done,
        "percent_final": round(100.0 * done / total, 1) if total else 0.0,
    }


def campaign_view(row: dict) -> dict:
    """One campaigns_overview row as the JSON the page and the API share."""
    report = None
    if row["report_outcome"] is not None:
        report = {
            "run_id": row["report_run_id"],
            "outcome": row["report_outcome"],
            "created_at": _iso(row["report_created_at"]),
            "s3_uri": row["report_s3_uri"],
        }
    return {
        "id": row["id"],
        "slug": row["slug"],
        "name": row["name"],
        "status": row["status"],
        "schedule": row["schedule"],
        "timezone": row["timezone"],
        "start_at": _iso(row["start_at"]),
        "end_at": _iso(row["end_at"]),
        "contacts_total": row["contacts_total"],
        "dag_id": f"campaign_{row['slug']}",
        "progress": progress_view(row["progress_counts"], row["progress_polled_at"], row["progress_run_id"]),
        "latest_report": report,
        # Why the campaign has no DAG (the catalog's verdict), or null.
        "catalog_error": row.get("catalog_error"),
        "catalog_error_at": _iso(row.get("catalog_error_at")),
    }


def readable_by(user, campaigns: list[dict]) -> list[dict]:
    """Only the campaigns whose DAG the user may read, as Airflow's auth manager (FAB, Simple, or
    a company's own) answers for each DAG: being signed in is not being allowed to see."""
    from airflow.api_fastapi.app import get_auth_manager

    dag_ids = {c["dag_id"] for c in campaigns}
    allowed = get_auth_manager().filter_authorized_dag_ids(dag_ids=dag_ids, user=user, method="GET")
    return [c for c in campaigns if c["dag_id"] in allowed]


def load_campaigns(include_archived: bool) -> list[dict]:
    import psycopg

    from include.campaigns.db import campaign_db, fetch_all

    try:
        with campaign_db(statement_timeout_ms=STATEMENT_TIMEOUT_MS) as conn:
            rows = fetch_all(conn, "campaigns_overview", {"include_archived": include_archived})
    except psycopg.OperationalError as exc:
        # The details (host, port) go to the log, not to an unauthenticated page.
        log.warning("Campaigns page: campaign database unavailable: %s", exc)
        raise CampaignDatabaseUnavailable(UNAVAILABLE_MESSAGE) from exc
    return [campaign_view(row) for row in rows]


def load_preview(campaign: dict) -> dict:
    """The explained skips of a campaign the caller may read, for now; read-only (a dry run's
    answer without its resolution of new contacts: those count as 'unresolved')."""
    import psycopg

    from include.campaigns.campaign import load_campaign
    from include.campaigns.db import campaign_db
    from include.campaigns.reporting import skips

    try:
        with campaign_db(statement_timeout_ms=STATEMENT_TIMEOUT_MS) as conn:
            row = load_campaign(conn, campaign["id"])
            preview = skips(conn, row, datetime.now(timezone.utc))
    except psycopg.OperationalError as exc:
        log.warning("Campaigns page: campaign database unavailable: %s", exc)
        raise CampaignDatabaseUnavailable(UNAVAILABLE_MESSAGE) from exc
    # A run sends up to its hopper level at a time; the rest follow as calls end.
    preview["first_top_up"] = min(preview["eligible"], row.max_in_flight)
    return {"slug": campaign["slug"], "dag_id": campaign["dag_id"], **preview}


def render_preview(preview: dict) -> str:
    # The report's own names for the reasons, so the preview and the dry run's report read alike.
    from include.campaigns.report_render import BLOCK_LABELS

    reasons = sorted({r for counts in preview["skipped_by_jurisdiction"].values() for r in counts})
    codes = sorted(
        {**{c: {} for c in preview["eligible_by_jurisdiction"]}, **preview["skipped_by_jurisdiction"]}.items()
    )
    return _render(
        "campaign_preview.html.j2",
        include_archived=False,
        preview={
            "slug": preview["slug"],
            "json_href": f"../api/campaigns/{quote(preview['slug'], safe='')}/preview",
            "at": _when(preview["at"]),
            "eligible": int(preview["eligible"]),
            "first_top_up": int(preview["first_top_up"]),
            "skipped": int(preview["skipped"]),
            "by_reason": [(BLOCK_LABELS.get(r, r), r, int(n)) for r, n in preview["skipped_by_reason"].items()],
            "reasons": [(r, BLOCK_LABELS.get(r, r)) for r in reasons],
            "by_code": [
                {
                    "code": code,
                    "eligible": int(preview["eligible_by_jurisdiction"].get(code, 0)),
                    "counts": [(r, int(counts.get(r, 0))) for r in reasons],
                }
                for code, counts in codes
            ],
        },
    )


def _when(value: str | None, tz_name: str = "UTC") -> str:
    """An ISO timestamp shown in a zone, labelled; an unknown zone falls back to UTC."""
    if not value:
        return "—"
    from zoneinfo import ZoneInfo

    zone: tzinfo
    try:
        zone = ZoneInfo(tz_name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        zone, tz_name = timezone.utc, "UTC"
    local = datetime.fromisoformat(value).astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {tz_name}"


def _ordered_counts(counts: dict[str, int]) -> list[tuple[str, int]]:
    rank = {status: i for i, status in enumerate(STATUS_ORDER)}
    return sorted(counts.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))


def _progress_view(progress: dict | None) -> dict | None:
    if progress is None:
        return None
    return {
        "percent_final": progress["percent_final"],
        "final": progress["final"],
        "total": progress["total"],
        "breakdown": " · ".join(f"{status} {int(n)}" for status, n in _ordered_counts(progress["counts"])),
        "polled_at": _when(progress["polled_at"]),
        "run_id": progress["run_id"] or "",
    }


def _campaign_row(c: dict) -> dict:
    return {
        "slug": c["slug"],
        "name": c["name"],
        "status": c["status"],
        "schedule": f"{c['schedule']} ({c['timezone']})" if c["schedule"] else "one-off",
        "start": _when(c["start_at"], c["timezone"]),
        "end": _when(c["end_at"], c["timezone"]),
        "contacts_total": int(c["contacts_total"]),
        "progress": _progress_view(c["progress"]),
        "report": c["latest_report"],
        "dag_id": c["dag_id"],
        # Relative to the page (<base>/campaigns/), so the link survives a base_url prefix.
        "dag_href": "../dags/" + quote(c["dag_id"], safe=""),
        "preview_href": "preview/" + quote(c["slug"], safe=""),
    }


def _render(template: str, *, include_archived: bool, **context) -> str:
    from include.templates import render

    return render(
        template,
        refresh_seconds=REFRESH_SECONDS,
        include_archived=include_archived,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        **context,
    )


def render_campaigns(campaigns: list[dict], include_archived: bool) -> str:
    return _render(
        "campaigns.html.j2",
        include_archived=include_archived,
        campaigns=[_campaign_row(c) for c in campaigns],
        error=None,
    )


def render_unavailable(message: str, include_archived: bool) -> str:
    return _render("campaigns.html.j2", include_archived=include_archived, campaigns=[], error=message)


def create_app() -> FastAPI:
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.responses import HTMLResponse

    from airflow.api_fastapi.core_api.security import get_user

    # Airflow does not authenticate plugin apps (a mount inherits none of the core API's
    # dependencies), so the page asks for the same identity the UI has: its JWT cookie, or a
    # bearer token from /auth/token; then the auth manager says which campaigns it may see.
    app = FastAPI(title="Campaigns", dependencies=[Depends(get_user)])

    # Plain `def` handlers: FastAPI runs them in its thread pool, so the blocking database call
    # does not stall the API server's event loop.
    @app.get("/", response_class=HTMLResponse)
    def campaigns_page(include_archived: bool = False, user=Depends(get_user)) -> HTMLResponse:
        try:
            campaigns = readable_by(user, load_campaigns(include_archived))
        except CampaignDatabaseUnavailable as exc:
            return HTMLResponse(render_unavailable(str(exc), include_archived), status_code=503)
        return HTMLResponse(render_campaigns(campaigns, include_archived))

    def readable_campaign(user, slug: str) -> dict:
        # The same answer as the list: a campaign the caller may not read is one that is not there.
        found = [c for c in readable_by(user, load_campaigns(True)) if c["slug"] == slug]
        if not found:
            raise HTTPException(status_code=404, detail="No such campaign")
        return found[0]

    @app.get("/api/campaigns/{slug}/preview")
    def preview_json(slug: str, user=Depends(get_user)) -> dict[str, Any]:
        try:
            return load_preview(readable_campaign(user, slug))
        except CampaignDatabaseUnavailable as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from exc

    @app.get("/preview/{slug}", response_class=HTMLResponse)
    def preview_page(slug: str, user=Depends(get_user)) -> HTMLResponse:
        try:
            return HTMLResponse(render_preview(load_preview(readable_campaign(user, slug))))
        except CampaignDatabaseUnavailable as exc:
            return HTMLResponse(render_unavailable(str(exc), False), status_code=503)

    @app.get("/api/campaigns")
    def campaigns_json(include_archived: bool = False, user=Depends(get_user)) -> dict[str, Any]:
        try:
            return {"campaigns": readable_by(user, load_campaigns(include_archived))}
        except CampaignDatabaseUnavailable as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from exc

    return app


class CampaignsPagePlugin(AirflowPlugin):
    name = "campaigns_page"
    external_views = [
        {
            "name": "Campaigns",
            # Relative to the UI's base URL (no leading slash), so it also works under a base_url prefix.
            "href": URL_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            # Set: the UI embeds the page in an iframe at /plugin/campaigns instead of a new tab.
            "url_route": "campaigns",
            "nav_top_level": True,
        }
    ]

    # Only the API server reads fastapi_apps; building the app lazily keeps FastAPI out of the
    # scheduler, triggerer and every task process that imports this file.
    @cached_property
    def fastapi_apps(self) -> list[dict]:
        return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Campaigns page"}]
