"""One identity for a phone number, and blacklists that hold: whatever way a number was written
on a blacklist row, an import, the Redis opt-out set or a contact, the E.164 contact it names is
never dialed; the Redis set mirrors PostgreSQL; and every send, a resend included, is checked
against every list at the moment of sending."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from dev.seed import add_blacklist, add_contacts, create_campaign
from include.campaigns import blacklist
from include.campaigns.campaign import Campaign, load_campaign
from include.campaigns.dispatch import dispatch
from include.campaigns.runs import RunContext
from tests.helpers import open_zone, us_numbers
from tests.integration.conftest import drain

pytestmark = pytest.mark.integration

# The numbers of finding 4, each as E.164 and as an operator pasted it.
PASTED = {
    "+12122301289": "2122301289",
    "+12123060672": "12123060672",
    "+12125879158": "+1 212-587-9158",
    "+12127954220": "(212) 795-4220",
}


def run_ctx(campaign_id: int) -> RunContext:
    now = datetime.now(timezone.utc)
    return RunContext(
        campaign_id=campaign_id, run_id="identity", run_start=now, run_end=now + timedelta(days=1), live=True
    )


def new_campaign(db, dial_queue, phones: list[str], slug: str = "identity") -> Campaign:
    zone = open_zone()
    campaign_id = create_campaign(
        db,
        slug,
        max_in_flight=500,
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "08:00", "end": "21:00"},
        },
    )
    add_contacts(db, campaign_id, [{"phone": p, "timezone": zone} for p in phones])
    return load_campaign(db, campaign_id)


def sent_phones(sqs, dial_queue) -> list[str]:
    return sorted(json.loads(m["Body"])["phone"] for m in drain(sqs, dial_queue))


@pytest.fixture
def clean_redis(redis_client):
    redis_client.delete(blacklist.RECENT_SET)
    yield redis_client
    redis_client.delete(blacklist.RECENT_SET)


class FailingSQS:
    """An SQS that is down: the claim commits, the send fails, the rows stay claimed."""

    def send_message_batch(self, **kwargs):
        raise ConnectionError("SQS is down")


# --------------------------------------------------------------------------------------------
# Finding 4: blacklist rows are E.164, or refused at the door
# --------------------------------------------------------------------------------------------


def test_blacklist_entries_imported_as_people_paste_them_block_the_e164_contacts(db, clean_redis, sqs, dial_queue):
    from include.campaigns.blacklist_import import import_numbers

    control = us_numbers(3, seed=4, area="646")
    campaign = new_campaign(db, dial_queue, list(PASTED) + control)

    report = import_numbers(db, list(PASTED.values()) + ["not a number"], reason="do_not_call")

    assert (report.imported, report.already_present) == (4, 0)
    assert report.refused == {"unparseable": 1}
    stored = {r[0] for r in db.execute("SELECT phone FROM blacklist").fetchall()}
    assert stored == set(PASTED)
    dispatch(db, campaign, run_ctx(campaign.id), client=sqs, queue_url=dial_queue)
    assert sent_phones(sqs, dial_queue) == sorted(control)


@pytest.mark.parametrize("raw", list(PASTED.values()) + ["+1 (212) 795-4220", "212 795 4220 ", "garbage"])
def test_a_raw_insert_of_a_blacklist_row_not_in_e164_is_refused_by_the_named_constraint(db, raw):
    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        db.execute("INSERT INTO blacklist (phone, reason) VALUES (%s, 'do_not_call')", (raw,))
    assert caught.value.diag.constraint_name == "blacklist_phone_e164"
    assert db.execute("SELECT count(*) FROM blacklist").fetchone()[0] == 0


def test_an_import_reports_what_was_already_present_and_merges_to_the_stricter_expiry(db, clean_redis):
    from include.campaigns.blacklist_import import import_numbers

    soon = datetime.now(timezone.utc) + timedelta(days=1)
    first = import_numbers(db, ["2122301289", "212-230-1289"], reason="complaint", expires_at=soon)
    assert (first.imported, first.already_present, first.duplicates) == (1, 0, 1)
    again = import_numbers(db, ["+12122301289", "(212) 306-0672"], reason="do_not_call")
    assert (again.imported, again.already_present) == (1, 1)
    rows = dict(db.execute("SELECT phone, expires_at FROM blacklist").fetchall())
    assert rows == {"+12122301289": None, "+12123060672": None}  # no expiry beats one


def test_an_import_from_a_csv_with_a_phone_column_normalizes_every_row(db, clean_redis, tmp_path):
    from include.campaigns.blacklist_import import import_file

    path = tmp_path / "dnc.csv"
    path.write_text('name,Phone Number\nAda,(212) 795-4220\nBob,"+1 212-587-9158"\nEve,n/a\n')
    campaign_id = create_campaign(db, "scoped")
    report = import_file(db, path, reason="complaint", campaign_id=campaign_id)
    assert (report.imported, report.refused) == (2, {"unparseable": 1})
    assert report.refused_sample == [(4, "***", "unparseable")]
    rows = db.execute("SELECT phone, campaign_id, reason FROM blacklist ORDER BY phone").fetchall()
    assert rows == [("+12125879158", campaign_id, "complaint"), ("+12127954220", campaign_id, "complaint")]
    # A campaign's own entries are not global opt-outs: Redis is for the global list.
    assert not clean_redis.smembers(blacklist.OPT_OUT_SET)


def test_an_import_of_global_entries_reaches_the_redis_set(db, clean_redis, tmp_path):
    from include.campaigns.blacklist_import import import_file

    path = tmp_path / "dnc.txt"
    path.write_text("2122301289\n\n+1 212-587-9158\n")
    report = import_file(db, path, reason="do_not_call")
    assert report.imported == 2
    assert clean_redis.smembers(blacklist.OPT_OUT_SET) == {b"+12122301289", b"+12125879158"}


# --------------------------------------------------------------------------------------------
# Contacts: stored as E.164, one contact per number per campaign
# --------------------------------------------------------------------------------------------


def test_a_contact_written_in_national_format_is_stored_and_dialed_as_e164(db, clean_redis, sqs, dial_queue):
    campaign = new_campaign(db, dial_queue, list(PASTED.values()))
    dispatch(db, campaign, run_ctx(campaign.id), client=sqs, queue_url=dial_queue)
    stored = {r[0] for r in db.execute("SELECT phone FROM contacts").fetchall()}
    assert stored == set(PASTED)
    assert sent_phones(sqs, dial_queue) == sorted(PASTED)


def test_two_contacts_of_a_campaign_with_one_number_are_dialed_once(db, clean_redis, sqs, dial_queue):
    e164 = "+12127954220"
    campaign = new_campaign(db, dial_queue, ["(212) 795-4220", e164, "212.795.4220", "2123060672"])
    dispatch(db, campaign, run_ctx(campaign.id), client=sqs, queue_url=dial_queue)
    assert sent_phones(sqs, dial_queue) == ["+12123060672", e164]
    rows = db.execute("SELECT phone, status, status_reason FROM contacts ORDER BY id").fetchall()
    assert [r[1] for r in rows].count("invalid") == 2
    assert all(r[2] == "duplicate_phone" for r in rows if r[1] == "invalid")


def test_a_contact_blacklisted_under_another_writing_of_its_number_is_marked_blacklisted(
    db, clean_redis, sqs, dial_queue
):
    from include.campaigns.blacklist_import import import_numbers

    import_numbers(db, ["2127954220"], reason="do_not_call")
    campaign = new_campaign(db, dial_queue, ["(212) 795-4220", "2123060672"])
    dispatch(db, campaign, run_ctx(campaign.id), client=sqs, queue_url=dial_queue)
    assert sent_phones(sqs, dial_queue) == ["+12123060672"]
    assert db.execute("SELECT status FROM contacts WHERE phone = '+12127954220'").fetchone()[0] == "blacklisted"


# --------------------------------------------------------------------------------------------
# Finding 3 (input side): the Redis set holds E.164 only
# --------------------------------------------------------------------------------------------


def test_a_redis_opt_out_written_in_another_form_still_blocks_the_e164_contact(db, clean_redis, sqs, dial_queue):
    control = us_numbers(2, seed=5, area="646")
    campaign = new_campaign(db, dial_queue, ["+12124873331", "+12127954220"] + control)
    blacklist.add_opt_outs(["12124873331"])
    clean_redis.sadd(blacklist.OPT_OUT_SET, "(212) 795-4220")  # a writer that did not normalize
    blacklist.sync_from_postgres(db)
    assert clean_redis.smembers(blacklist.OPT_OUT_SET) == {b"+12124873331", b"+12127954220"}

    dispatch(db, campaign, run_ctx(campaign.id), client=sqs, queue_url=dial_queue)
    assert sent_phones(sqs, dial_queue) == sorted(control)


# --------------------------------------------------------------------------------------------
# Finding 9: the Redis set mirrors PostgreSQL
# --------------------------------------------------------------------------------------------


def test_an_entry_removed_or_expired_in_postgres_leaves_redis_at_the_next_sync(db, clean_redis):
    active, expiring, removed, scoped = "+12122301289", "+12123060672", "+12125879158", "+12127954220"
    campaign_id = create_campaign(db, "scope")
    add_blacklist(db, [active, removed])
    add_blacklist(db, [expiring], expires_at=datetime.now(timezone.utc) + timedelta(hours=1))
    add_blacklist(db, [scoped], campaign_id=campaign_id)
    assert blacklist.sync_from_postgres(db) == 3
    assert clean_redis.smembers(blacklist.OPT_OUT_SET) == {active.encode(), expiring.encode(), removed.encode()}

    db.execute("UPDATE blacklist SET expires_at = now() - interval '1 second' WHERE phone = %s", (expiring,))
    db.execute("DELETE FROM blacklist WHERE phone = %s", (removed,))
    assert blacklist.sync_from_postgres(db) == 1
    assert clean_redis.smembers(blacklist.OPT_OUT_SET) == {active.encode()}


def test_an_opt_out_just_written_to_redis_is_not_dropped_by_a_sync_that_did_not_see_it(db, clean_redis):
    add_blacklist(db, ["+12122301289"])
    # Ingest writes PostgreSQL, then Redis; a sync whose PostgreSQL read came first must keep it.
    blacklist.add_opt_outs(["+12123060672"])
    blacklist.sync_from_postgres(db)
    assert clean_redis.smembers(blacklist.OPT_OUT_SET) == {b"+12122301289", b"+12123060672"}


def test_an_opt_out_written_again_while_a_sync_removes_it_stays(clean_redis):
    import time

    again, gone = "+12122301289", "+12123060672"
    stale = f"{blacklist.OPT_OUT_SET}:sync:test:stale"
    clean_redis.sadd(blacklist.OPT_OUT_SET, again, gone)
    clean_redis.sadd(stale, again, gone)  # what the sync found PostgreSQL no longer holds ...
    began = time.time() - 1
    blacklist.add_opt_outs([again])  # ... and an ingest writes one of them again meanwhile
    try:
        assert blacklist._remove_stale(clean_redis, stale, began) == 1
    finally:
        clean_redis.delete(stale)
    assert clean_redis.smembers(blacklist.OPT_OUT_SET) == {again.encode()}


def test_a_large_set_is_mirrored_whole(db, clean_redis):
    phones = [f"+1212{n:07d}" for n in range(2_000_000, 2_030_000)]
    db.execute("INSERT INTO blacklist (phone) SELECT unnest(%s::text[])", (phones,))
    clean_redis.sadd(blacklist.OPT_OUT_SET, *[f"+1646{n:07d}" for n in range(2_000_000, 2_030_000)])
    assert blacklist.sync_from_postgres(db) == len(phones)
    assert clean_redis.scard(blacklist.OPT_OUT_SET) == len(phones)
    assert clean_redis.sismember(blacklist.OPT_OUT_SET, phones[-1])


# --------------------------------------------------------------------------------------------
# Finding 10: a resend is checked against every list at the moment of sending
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["campaign", "global", "global, Redis down"])
def test_a_number_blacklisted_between_claim_and_resend_is_not_resent(
    db, clean_redis, sqs, dial_queue, scope, monkeypatch
):
    phones = us_numbers(6, seed=10)
    campaign = new_campaign(db, dial_queue, phones)
    with pytest.raises(ConnectionError):
        dispatch(db, campaign, run_ctx(campaign.id), client=FailingSQS(), queue_url=dial_queue)
    claimed = db.execute("SELECT count(*) FROM dial_tasks WHERE status = 'claimed'").fetchone()[0]
    assert claimed == len(phones)

    blocked = phones[2]
    # Only PostgreSQL knows: a campaign's own entry never reaches Redis, and a global one misses
    # it while the Redis write has failed or the sync has not run.
    add_blacklist(db, [blocked], campaign_id=campaign.id if scope == "campaign" else None)
    assert not clean_redis.smembers(blacklist.OPT_OUT_SET)
    if scope.endswith("Redis down"):
        monkeypatch.setenv(
            "AIRFLOW_CONN_CAMPAIGNS_REDIS",
            json.dumps({"conn_type": "redis", "host": "127.0.0.1", "port": 1, "extra": {"db": 1}}),
        )

    result = dispatch(db, campaign, run_ctx(campaign.id), client=sqs, queue_url=dial_queue)
    assert sent_phones(sqs, dial_queue) == sorted(set(phones) - {blocked})
    assert result.resent == len(phones) - 1
    assert result.redis_available == (not scope.endswith("Redis down"))
    status = db.execute("SELECT status, status_reason, attempts FROM contacts WHERE phone = %s", (blocked,)).fetchone()
    assert status == ("blacklisted", "blacklist", 0)
    assert db.execute("SELECT count(*) FROM dial_tasks WHERE phone = %s", (blocked,)).fetchone()[0] == 0


def test_a_fresh_claim_is_checked_against_postgres_when_redis_is_empty(db, clean_redis, sqs, dial_queue):
    from include.campaigns.config import parse_config
    from include.campaigns.sender import Sender

    phones = us_numbers(4, seed=11)
    campaign = new_campaign(db, dial_queue, phones)
    add_blacklist(db, [phones[0]])
    add_blacklist(db, [phones[1]], campaign_id=campaign.id)
    add_blacklist(db, [phones[2]], expires_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    rows = [{"phone": p, "dial_attempt_id": f"x-{i}"} for i, p in enumerate(phones)]
    sender = Sender(db, sqs, dial_queue, campaign, parse_config(campaign.raw_config), "identity")
    kept, withheld = sender.screen(rows)
    assert [r["phone"] for r in kept] == phones[2:]
    assert withheld == 2


# --------------------------------------------------------------------------------------------
# The migration: existing rows normalized, none silently stops blocking
# --------------------------------------------------------------------------------------------


@pytest.fixture
def scratch_db(db):
    """A fresh schema migrated up to just before the blacklist became E.164."""
    from include.campaigns.migrations import MIGRATIONS_DIR

    name = f"migration_{uuid.uuid4().hex[:10]}"
    db.execute(f'CREATE SCHEMA "{name}"')
    conninfo = psycopg.conninfo.make_conninfo(
        db.info.dsn, password=db.info.password or None, options=f"-c search_path={name}"
    )
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE schema_migrations (version text PRIMARY KEY, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
                if path.stem >= "0008":
                    break
                conn.execute(path.read_text())
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (path.stem,))
            yield conn, conninfo
    finally:
        db.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_the_migration_normalizes_existing_rows_and_keeps_unparseable_ones_blocking(scratch_db):
    from include.campaigns.migrations import apply_migrations

    conn, conninfo = scratch_db
    campaign_id = conn.execute(
        "INSERT INTO campaigns (slug, name, timezone, start_at, end_at, owner) VALUES "
        "('m', 'm', 'UTC', now(), now() + interval '1 day', 'ops') RETURNING id"
    ).fetchone()[0]
    later = datetime.now(timezone.utc) + timedelta(days=30)
    rows = [
        ("2122301289", None, None),
        ("+12122301289", None, later),  # one number, twice
        ("12123060672", campaign_id, None),
        ("+1 212-587-9158", None, later),
        ("(212) 795-4220", None, None),
        ("+12124873331", None, None),
        ("+4402079460958", None, None),
        ("+442079460958", None, later),  # a trunk 0 kept
        ("020 7946 0958 ", None, None),
        ("call me", None, None),
    ]
    conn.cursor().executemany("INSERT INTO blacklist (phone, campaign_id, expires_at) VALUES (%s, %s, %s)", rows)

    applied = apply_migrations(conninfo)
    assert applied[:2] == ["0008_blacklist_e164", "0009_blacklist_normalize"]

    kept = conn.execute("SELECT phone, campaign_id, expires_at FROM blacklist ORDER BY phone, campaign_id").fetchall()
    assert kept == [
        ("+12122301289", None, None),
        ("+12123060672", campaign_id, None),
        ("+12124873331", None, None),
        ("+12125879158", None, later),
        ("+12127954220", None, None),
        ("+442079460958", None, None),
    ]
    rejected = conn.execute("SELECT phone, refused_reason FROM blacklist_rejected ORDER BY phone").fetchall()
    assert rejected == [("020 7946 0958 ", "too_long"), ("call me", "unparseable")]
    assert conn.execute("SELECT count(*) FROM blacklist WHERE phone !~ '^[+][1-9][0-9]{6,14}$'").fetchone()[0] == 0


def test_an_entry_no_one_could_read_as_a_number_still_blocks_the_numbers_ending_in_its_digits(
    db, clean_redis, sqs, dial_queue
):
    london, control = "+442079460958", "+12123060672"
    campaign = new_campaign(db, dial_queue, [london, control, "+12125550958"])
    # What migration 0008 set aside and phonenumbers could not read (a UK number written as a
    # national one, under the US default region), and rows with too few digits to name anyone.
    db.execute(
        "INSERT INTO blacklist_rejected (phone, digits, reason, created_at, refused_reason) VALUES "
        "('020 7946 0958', '2079460958', 'do_not_call', now(), 'too_long'), "
        "('ext 0958', '958', 'do_not_call', now(), 'unparseable')"
    )
    dispatch(db, campaign, run_ctx(campaign.id), client=sqs, queue_url=dial_queue)
    assert sent_phones(sqs, dial_queue) == [control, "+12125550958"]
    assert (
        db.execute("SELECT status_reason FROM contacts WHERE phone = %s", (london,)).fetchone()[0]
        == "blacklist_unparsed"
    )


# --------------------------------------------------------------------------------------------
# Property: however a campaign's numbers are written, each is one dialable contact
# --------------------------------------------------------------------------------------------

POOL = ["+12122301289", "+12123060672", "+12125879158", "+12127954220", "+13055550123"]
WRITINGS = [
    lambda n: n,
    lambda n: n[2:],
    lambda n: n[1:],
    lambda n: f"({n[2:5]}) {n[5:8]}-{n[8:]}",
    lambda n: f"+1 {n[2:5]}-{n[5:8]}-{n[8:]}",
    lambda n: f"{n[2:5]}.{n[5:8]}.{n[8:]}",
    lambda n: f"tel:+1-{n[2:5]}-{n[5:8]}-{n[8:]}",
]


def test_each_number_of_a_campaign_is_one_dialable_contact_however_written(db):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from include.campaigns.resolution import resolve_contacts

    writings = st.tuples(st.sampled_from(POOL), st.integers(0, len(WRITINGS) - 1))

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(writings, min_size=1, max_size=12, unique_by=lambda w: WRITINGS[w[1]](w[0])), st.integers(1, 4))
    def check(entries, chunk):
        import include.campaigns.resolution as resolution_module

        db.execute("TRUNCATE contacts, campaigns RESTART IDENTITY CASCADE")
        campaign_id = create_campaign(db, "written")
        add_contacts(db, campaign_id, [{"phone": WRITINGS[i](n), "timezone": "America/New_York"} for n, i in entries])
        previous, resolution_module.RESOLVE_CHUNK = resolution_module.RESOLVE_CHUNK, chunk
        try:
            resolve_contacts(db, load_campaign(db, campaign_id))
        finally:
            resolution_module.RESOLVE_CHUNK = previous
        rows = db.execute("SELECT phone, status, status_reason FROM contacts").fetchall()
        dialable = sorted(r[0] for r in rows if r[1] == "pending")
        assert dialable == sorted({n for n, _ in entries})
        assert all(r[2] == "duplicate_phone" for r in rows if r[1] != "pending")
        assert len(rows) - len(dialable) == len(entries) - len({n for n, _ in entries})

    check()


def test_the_sync_dag_rewrites_shape_only_rows_and_mirrors_postgres_in_redis(db, clean_redis):
    from pathlib import Path

    from airflow.dag_processing.dagbag import DagBag

    db.execute("INSERT INTO blacklist (phone) VALUES ('+4402079460958')")  # an operator's raw insert
    clean_redis.sadd(blacklist.OPT_OUT_SET, "+12122301289")  # deleted from PostgreSQL since
    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags" / "maintenance.py"))
    assert not bag.import_errors, bag.import_errors

    from airflow import settings

    try:
        run = bag.get_dag("campaign_blacklist_sync").test()
    finally:
        # dag.test() leaves a metadata-database connection checked out; a later test that restarts
        # PostgreSQL would leave it dead for the next test that runs a DAG.
        settings.Session.remove()
        settings.engine.dispose()

    assert run.state == "success"
    assert db.execute("SELECT phone FROM blacklist").fetchall() == [("+442079460958",)]
    assert clean_redis.smembers(blacklist.OPT_OUT_SET) == {b"+442079460958"}


def test_the_opt_out_screen_asks_over_one_connection_and_makes_a_dropped_one_again(redis_client):
    phones = us_numbers(3, seed=77)
    redis_client.sadd(blacklist.OPT_OUT_SET, phones[0])
    screen = blacklist.OptOutScreen()
    before = redis_client.info("stats")["total_connections_received"]
    assert [screen.blocked(phones) for _ in range(5)] == [{phones[0]}] * 5
    assert redis_client.info("stats")["total_connections_received"] - before == 1
    # A connection Redis dropped is made again, and the ask still answered.
    assert redis_client.client_kill_filter(_type="normal", skipme=True) >= 1
    assert screen.blocked(phones) == {phones[0]}
    assert redis_client.info("stats")["total_connections_received"] - before == 2
