"""The campaigns_page plugin: Airflow registers it, and its page and JSON read the real database."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.integration

NOW = datetime.now(timezone.utc)


def _registered_app_dict() -> dict:
    from airflow import plugins_manager

    fastapi_apps, _ = plugins_manager.get_fastapi_plugins()
    return next(d for d in fastapi_apps if d["url_prefix"] == "/campaigns")


def _per_dag_auth_manager(readable: dict[str, set[str]]):
    """Airflow's SimpleAuthManager grants by role only (every role may read every DAG), so per-DAG
    permissions, which FAB or a company's auth manager hold, are stood in for by a subclass that
    answers `is_authorized_dag` from a table: user -> the dag_ids they may read."""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    class PerDagAuthManager(SimpleAuthManager):
        def is_authorized_dag(self, *, method, user, access_entity=None, details=None) -> bool:
            allowed = readable.get(user.get_name())
            if allowed is None or method != "GET" or details is None:
                return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
            return details.id in allowed

    return PerDagAuthManager()


@pytest.fixture
def auth_manager(monkeypatch):
    """The auth manager the API server would hold: the page asks it who may read which DAG."""
    from airflow.api_fastapi import app as api_app

    readable: dict[str, set[str]] = {}
    monkeypatch.setattr(api_app._AuthManagerState, "instance", _per_dag_auth_manager(readable))
    return readable


def _signed_in(app, username: str, role: str | None):
    from fastapi.testclient import TestClient

    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username=username, role=role)
    return TestClient(app)


@pytest.fixture
def client(auth_manager):
    """A TestClient on the very app object Airflow registered from plugins/, as a signed-in viewer."""
    app = _registered_app_dict()["app"]
    yield _signed_in(app, "ops", "viewer")
    app.dependency_overrides.clear()


@pytest.fixture
def as_user(auth_manager):
    app = _registered_app_dict()["app"]
    yield lambda username, role="viewer": _signed_in(app, username, role)
    app.dependency_overrides.clear()


@pytest.mark.parametrize("path", ["/", "/api/campaigns"])
def test_the_page_refuses_anonymous_callers(path):
    from fastapi.testclient import TestClient

    app = _registered_app_dict()["app"]
    assert not app.dependency_overrides
    response = TestClient(app).get(path)
    assert response.status_code == 401


def add_progress(conn, campaign_id: int, run_id: str, polled_at: datetime, counts: dict) -> None:
    conn.execute(
        "INSERT INTO campaign_progress (campaign_id, run_id, polled_at, counts) VALUES (%s, %s, %s, %s::jsonb)",
        (campaign_id, run_id, polled_at, json.dumps(counts)),
    )


def add_report(conn, campaign_id: int, run_id: str, outcome: str, created_at: datetime) -> None:
    conn.execute(
        "INSERT INTO campaign_reports (campaign_id, run_id, outcome, report, created_at) "
        "VALUES (%s, %s, %s, '{}'::jsonb, %s)",
        (campaign_id, run_id, outcome, created_at),
    )


@pytest.fixture
def campaigns(db):
    """A running campaign with history, a fresh one-off, and an archived one."""
    from dev.seed import add_contacts, create_campaign
    from tests.helpers import us_numbers

    running = create_campaign(db, "page_running", status="active", schedule="0 9 * * 1-5", tz="America/New_York")
    add_contacts(db, running, [{"phone": p} for p in us_numbers(3, seed=7)])
    # Inserted out of time order, so "latest" has to come from the timestamps, not the ids.
    add_progress(
        db, running, "scheduled__b", NOW - timedelta(minutes=1), {"completed": 1, "in_flight": 1, "pending": 1}
    )
    add_progress(db, running, "scheduled__a", NOW - timedelta(minutes=30), {"pending": 3})
    add_report(db, running, "scheduled__b", "completed", NOW - timedelta(minutes=2))
    add_report(db, running, "scheduled__a", "failed", NOW - timedelta(days=1))

    create_campaign(db, "page_fresh", name="<script>alert('x')</script> & Co", status="scheduled")
    archived = create_campaign(db, "page_archived", status="archived")
    add_contacts(db, archived, [{"phone": p} for p in us_numbers(2, seed=8)])
    return {"running": running, "archived": archived}


def by_slug(response) -> dict[str, dict]:
    assert response.status_code == 200, response.text
    return {c["slug"]: c for c in response.json()["campaigns"]}


def test_airflow_registers_the_app_and_the_nav_view():
    from airflow import plugins_manager
    from airflow.api_fastapi.core_api.datamodels.plugins import PluginResponse

    assert _registered_app_dict()["name"] == "Campaigns page"
    info = next(p for p in plugins_manager.get_plugin_info() if p["name"] == "campaigns_page")
    # The serializer behind /api/v2/plugins, which the UI reads to build its navigation.
    [view] = PluginResponse.model_validate(info).external_views
    assert (view.name, view.href, view.destination, view.url_route) == ("Campaigns", "campaigns/", "nav", "campaigns")
    # A view whose url_route clashes with another plugin's is dropped here.
    ui_views, _ = plugins_manager._get_ui_plugins()
    assert any(v["url_route"] == "campaigns" for v in ui_views)


def test_airflow_mounts_the_app_under_its_prefix(client, campaigns):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow.api_fastapi.app import init_plugins

    api_server = FastAPI()
    init_plugins(api_server)  # mounts the same app object, signed in through the `client` fixture
    mounted = TestClient(api_server)
    assert "page_running" in by_slug(mounted.get("/campaigns/api/campaigns"))
    assert mounted.get("/campaigns/").status_code == 200


def test_json_lists_live_campaigns_with_latest_progress_and_report(client, campaigns):
    found = by_slug(client.get("/api/campaigns"))

    assert "page_archived" not in found
    running = found["page_running"]
    assert running["status"] == "active" and running["schedule"] == "0 9 * * 1-5"
    assert running["contacts_total"] == 3 and running["dag_id"] == "campaign_page_running"
    progress = running["progress"]
    assert progress["run_id"] == "scheduled__b"
    assert progress["counts"] == {"completed": 1, "in_flight": 1, "pending": 1}
    assert (progress["final"], progress["total"], progress["percent_final"]) == (1, 3, 33.3)
    assert running["latest_report"]["outcome"] == "completed"
    assert running["latest_report"]["run_id"] == "scheduled__b"

    fresh = found["page_fresh"]
    assert fresh["schedule"] is None and fresh["contacts_total"] == 0
    assert fresh["progress"] is None and fresh["latest_report"] is None


def test_archived_campaigns_only_on_request(client, campaigns):
    found = by_slug(client.get("/api/campaigns", params={"include_archived": "true"}))

    assert {"page_running", "page_fresh", "page_archived"} <= found.keys()
    assert found["page_archived"]["status"] == "archived"
    assert found["page_archived"]["contacts_total"] == 2


def test_page_shows_each_campaign_and_escapes_names(client, campaigns):
    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<meta http-equiv="refresh" content="15">' in page
    for slug, status in [("page_running", "active"), ("page_fresh", "scheduled")]:
        assert f"<strong>{slug}</strong>" in page
        assert f'<span class="status status-{status}">{status}</span>' in page
    assert "page_archived" not in page
    assert "1 / 3 final (33.3%)" in page and "width: 33.3%" in page
    assert "completed 1 · in_flight 1 · pending 1" in page
    assert "one-off" in page
    assert 'href="../dags/campaign_page_running"' in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co" in page


def test_page_lists_archived_campaigns_on_request(client, campaigns):
    page = client.get("/", params={"include_archived": "true"}).text

    assert "<strong>page_archived</strong>" in page


def test_database_outage_is_a_503(client, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CAMPAIGNS_DB",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "127.0.0.1",
                "port": 1,
                "login": "x",
                "password": "x",
                "schema": "campaigns",
            }
        ),
    )

    response = client.get("/api/campaigns")
    assert response.status_code == 503
    assert "campaign database is unavailable" in response.json()["detail"]

    page = client.get("/")
    assert page.status_code == 503
    assert "campaign database is unavailable" in page.text
    assert '<meta http-equiv="refresh"' in page.text


def test_a_user_sees_only_the_campaigns_whose_dag_they_may_read(auth_manager, as_user, campaigns):
    auth_manager["renewals_team"] = {"campaign_page_running"}
    client = as_user("renewals_team")

    found = by_slug(client.get("/api/campaigns", params={"include_archived": "true"}))
    assert set(found) == {"page_running"}
    page = client.get("/", params={"include_archived": "true"}).text
    assert "<strong>page_running</strong>" in page
    assert "page_fresh" not in page and "page_archived" not in page


def test_a_user_who_may_read_no_dag_sees_no_campaign(auth_manager, as_user, campaigns):
    auth_manager["nobody"] = set()
    client = as_user("nobody")

    assert by_slug(client.get("/api/campaigns")) == {}
    page = client.get("/").text
    assert "No campaigns." in page and "page_running" not in page


def test_a_signed_in_user_with_no_role_sees_no_campaign(as_user, campaigns):
    """The real SimpleAuthManager's answer: a user without a role may read no DAG."""
    from airflow.api_fastapi import app as api_app
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    api_app._AuthManagerState.instance = SimpleAuthManager()
    assert by_slug(as_user("roleless", role=None).get("/api/campaigns")) == {}
    assert set(by_slug(as_user("viewer", role="viewer").get("/api/campaigns"))) >= {"page_running", "page_fresh"}


def test_a_stored_date_python_cannot_hold_shows_as_unknown_not_a_500(client, campaigns, db, legacy_rows):
    # A row written before the date checks existed: 'infinity' and a year past 9999 cannot become
    # Python datetimes, and the page must still list every campaign.
    db.execute("UPDATE campaigns SET end_at = 'infinity' WHERE slug = 'page_running'")
    db.execute("UPDATE campaigns SET start_at = '12000-01-01' WHERE slug = 'page_fresh'")

    found = by_slug(client.get("/api/campaigns"))

    assert found["page_running"]["end_at"] is None and found["page_running"]["start_at"] is not None
    assert found["page_fresh"]["start_at"] is None
    page = client.get("/")
    assert page.status_code == 200 and "page_running" in page.text


# --- the preview: who a run would dial now, and who it would skip ---------------------------------


@pytest.fixture
def preview_campaign(db):
    from dev.seed import add_blacklist, add_contacts, create_campaign
    from include.campaigns.campaign import load_campaign
    from include.campaigns.resolution import resolve_contacts
    from tests.helpers import open_zone, us_numbers

    campaign_id = create_campaign(
        db,
        "page_preview",
        status="active",
        max_in_flight=1,
        config={"skip_public_holidays": False, "calling_window": {"start": "00:00", "end": "23:59"}},
    )
    phones = us_numbers(3, seed=9) + us_numbers(1, seed=10, area="512")
    add_contacts(db, campaign_id, [{"phone": p, "timezone": open_zone()} for p in phones])
    add_blacklist(db, [phones[0]])
    resolve_contacts(db, load_campaign(db, campaign_id))
    return campaign_id


def test_the_preview_shows_who_would_be_dialed_now_and_who_is_skipped_by_reason_and_jurisdiction(
    client, preview_campaign, db
):
    from include.campaigns.campaign import load_campaign
    from include.campaigns.reporting import skips

    response = client.get("/api/campaigns/page_preview/preview")
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["eligible"] == 3 and preview["first_top_up"] == 1
    assert preview["skipped_by_reason"] == {"blacklist": 1}
    assert preview["skipped_by_jurisdiction"] == {"US-NY": {"blacklist": 1}}
    assert preview["eligible_by_jurisdiction"] == {"US-NY": 2, "US-TX": 1}
    # The same answer as the dry run's, for the same instant.
    same = skips(db, load_campaign(db, preview_campaign), datetime.fromisoformat(preview["at"]))
    assert {k: v for k, v in preview.items() if k in same} == same
    page = client.get("/preview/page_preview")
    assert page.status_code == 200
    assert '<strong data-kpi="eligible">3</strong>' in page.text
    assert '<td data-code="US-NY" data-reason="blacklist">1</td>' in page.text
    assert '<td data-code="US-TX" data-reason="eligible">1</td>' in page.text
    assert 'href="preview/page_preview"' in client.get("/").text


def test_the_preview_of_a_campaign_the_user_may_not_read_is_not_found(auth_manager, as_user, preview_campaign):
    auth_manager["renewals_team"] = {"campaign_page_running"}
    client = as_user("renewals_team")
    assert client.get("/api/campaigns/page_preview/preview").status_code == 404
    assert client.get("/preview/page_preview").status_code == 404
    assert client.get("/api/campaigns/no_such/preview").status_code == 404


def test_the_preview_refuses_anonymous_callers(preview_campaign):
    from fastapi.testclient import TestClient

    app = _registered_app_dict()["app"]
    assert TestClient(app).get("/api/campaigns/page_preview/preview").status_code == 401
    assert TestClient(app).get("/preview/page_preview").status_code == 401


HOSTILE = "<script>alert('x')</script>\"><img src=x onerror=alert(1)> & 'single' \"double\""


class PageText(HTMLParser):
    """The page as a browser builds it: its elements, their attributes, and its text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def read_page(page: str) -> PageText:
    parsed = PageText()
    parsed.feed(page)
    parsed.close()
    return parsed


def assert_inert(page: str) -> PageText:
    parsed = read_page(page)
    assert "<script" not in page and "<img" not in page and "'single'" not in page and '"double"' not in page
    assert not {tag for tag, _ in parsed.tags} & {"script", "img"}
    assert not [name for _, attrs in parsed.tags for name in attrs if name.startswith("on")]
    return parsed


def test_hostile_text_in_a_campaign_its_report_or_its_preview_stays_text():
    from campaigns_page import render_campaigns, render_preview, render_unavailable  # plugins/ is on sys.path

    progress = {
        "run_id": HOSTILE,
        "polled_at": NOW.isoformat(),
        "counts": {HOSTILE: 2, "completed": 1},
        "total": 3,
        "final": 1,
        "percent_final": 33.3,
    }
    campaign = {
        "slug": HOSTILE,
        "name": HOSTILE,
        "status": HOSTILE,
        "schedule": HOSTILE,
        "timezone": HOSTILE,
        "start_at": NOW.isoformat(),
        "end_at": None,
        "contacts_total": 3,
        "dag_id": f"campaign_{HOSTILE}",
        "progress": progress,
        "latest_report": {"run_id": HOSTILE, "outcome": HOSTILE},
    }
    parsed = assert_inert(render_campaigns([campaign], include_archived=False))
    text = "".join(parsed.text)
    assert text.count(HOSTILE) >= 6, "name, slug, status, schedule, run ids, outcome, each shown as written"
    [row_link] = [attrs["href"] for tag, attrs in parsed.tags if tag == "a" and attrs.get("target") == "_top"]
    assert row_link == "../dags/" + quote(f"campaign_{HOSTILE}", safe="")
    assert ("span", {"class": f"status status-{HOSTILE}"}) in parsed.tags

    preview = {
        "slug": HOSTILE,
        "dag_id": "x",
        "at": NOW.isoformat(),
        "eligible": 1,
        "first_top_up": 1,
        "skipped": 2,
        "skipped_by_reason": {HOSTILE: 2},  # a reason
        "skipped_by_jurisdiction": {HOSTILE: {HOSTILE: 2}},  # a contact's region
        "eligible_by_jurisdiction": {"US-NY": 1},
    }
    parsed = assert_inert(render_preview(preview))
    assert ("td", {"data-code": HOSTILE, "data-reason": HOSTILE}) in parsed.tags
    assert ("td", {"data-reason": HOSTILE}) in parsed.tags
    assert f"Preview: {HOSTILE}" in "".join(parsed.text)

    assert HOSTILE in "".join(assert_inert(render_unavailable(HOSTILE, include_archived=True)).text)
