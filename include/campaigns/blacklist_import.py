"""Blacklist imports: a file of numbers as people paste them, normalized to E.164, merged set-based.

    python -m include.campaigns.blacklist_import FILE [--reason do_not_call] [--campaign-id N]
                                                      [--expires-at 2027-01-01T00:00:00Z]
                                                      [--column "Phone Number"] [--default-region US]
                                                      [--source "National DNC Registry" --as-of 2026-11-20]

The file is a CSV whose header names a phone column (``phone``, ``phone number``, ``mobile``,
``tel``, ``msisdn``, ``number``; or ``--column``), or one number per line. Every number goes
through ``phones.normalize``; the valid ones are copied into a temporary table and merged with
one INSERT ... ON CONFLICT. A number already listed keeps its entry, lasting the longer of the
two expiries. Global entries reach the Redis opt-out set at once.

A do-not-call registry or vendor extract is the same import with its provenance: ``--source``
names the list and ``--as-of`` the date it was drawn (``make dnc-import``). Each entry keeps
the source and date of the latest extract that listed it.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from include.campaigns.phones import DEFAULT_REGION, InvalidPhone, mask, normalize

log = logging.getLogger(__name__)

PHONE_COLUMNS = (
    "phone",
    "phone number",
    "phone_number",
    "phonenumber",
    "mobile",
    "cell",
    "tel",
    "telephone",
    "msisdn",
    "number",
    "e164",
)
REFUSED_SAMPLE = 20
_PUNCTUATION = str.maketrans("", "", " -.()")


@dataclass
class ImportReport:
    read: int = 0  # numbers read (blank lines skipped)
    imported: int = 0  # new entries
    already_present: int = 0  # listed already in that scope (the longer expiry kept)
    duplicates: int = 0  # the same number more than once in the file
    refused: dict[str, int] = field(default_factory=dict)  # reason -> count
    refused_sample: list[tuple[int, str, str]] = field(default_factory=list)  # (line, masked, reason)

    def summary(self) -> str:
        refused = sum(self.refused.values())
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.refused.items()))
        return (
            f"{self.read} read: {self.imported} imported, {self.already_present} already present, "
            f"{self.duplicates} repeated in the file, {refused} refused" + (f" ({reasons})" if reasons else "")
        )


def _fast_nanp(text: str, default_region: str | None):
    """The E.164 of a plainly written North American number, or None to take the general path.
    Parsing is most of normalize's cost; a 10 or 11-digit NANP string needs none, and the
    validity check (the same phonenumbers call normalize ends with) still decides."""
    digits = text
    if digits.startswith("+1"):
        digits = digits[2:]
    elif default_region == "US" and len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    elif default_region != "US" or len(digits) != 10:
        return None
    if len(digits) != 10 or not digits.isdigit() or digits[0] in "01" or digits[3] in "01":
        return None
    return digits


def _normalizer(default_region: str | None):
    import phonenumbers

    us_valid = phonenumbers.is_valid_number_for_region
    number = phonenumbers.PhoneNumber

    def to_e164(raw: str) -> str:
        text = raw.strip().translate(_PUNCTUATION)
        digits = _fast_nanp(text, default_region)
        # Valid for the US is valid (the US is the first NANP region phonenumbers tries); other
        # NANP countries, and everything else, take the general path.
        if digits is not None and us_valid(number(country_code=1, national_number=int(digits)), "US"):
            return "+1" + digits
        return normalize(raw, default_region)

    return to_e164


def read_numbers(path: Path, column: str | None = None) -> Iterator[tuple[int, str]]:
    """(line number, number as written) for each non-blank entry of a file."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        first = handle.readline()
        handle.seek(0)
        try:
            dialect = csv.Sniffer().sniff(first, delimiters=",;\t|") if first.strip() else None
        except csv.Error:
            dialect = None
        if dialect is None and column is None:
            for line_no, line in enumerate(handle, start=1):
                text = line.strip()
                if not text or (line_no == 1 and text.lower().strip('"') in PHONE_COLUMNS):
                    continue
                yield line_no, text
            return
        reader = csv.reader(handle, dialect or csv.excel)
        header = [h.strip().lower() for h in next(reader, [])]
        wanted = [column.strip().lower()] if column else list(PHONE_COLUMNS)
        index = next((header.index(name) for name in wanted if name in header), None)
        if index is None:
            raise ValueError(f"no phone column in the header ({', '.join(header)}); name it with --column")
        for row in reader:
            if index < len(row) and row[index].strip():
                yield reader.line_num, row[index]


def import_numbers(
    conn,
    numbers: Iterable[str] | Iterable[tuple[int, str]],
    *,
    reason: str = "do_not_call",
    campaign_id: int | None = None,
    expires_at: datetime | None = None,
    default_region: str | None = DEFAULT_REGION,
    source: str | None = None,
    as_of: date | None = None,
) -> ImportReport:
    """Normalize and merge numbers onto the blacklist in one transaction; return the counts.

    ``source`` and ``as_of`` (both or neither) record the list the numbers came from and its date."""
    if (source is None) != (as_of is None) or (source is not None and not source.strip()):
        raise ValueError("a list's source and its as-of date go together, and the source needs a name")
    from include.campaigns.db import execute, fetch_one

    report = ImportReport()
    to_e164 = _normalizer(default_region)
    refused: Counter = Counter()
    valid: set[str] = set()
    for i, item in enumerate(numbers, start=1):
        line_no, raw = item if isinstance(item, tuple) else (i, item)
        report.read += 1
        try:
            e164 = to_e164(raw)
        except InvalidPhone as exc:
            refused[exc.reason] += 1
            if len(report.refused_sample) < REFUSED_SAMPLE:
                report.refused_sample.append((line_no, mask(raw), exc.reason))
            continue
        if e164 in valid:
            report.duplicates += 1
        valid.add(e164)
    report.refused = dict(refused)

    if valid:
        with conn.transaction():
            execute(conn, "blacklist_incoming_create")
            with conn.cursor() as cur, cur.copy("COPY blacklist_incoming (phone) FROM STDIN") as copy:
                copy.write("\n".join(valid) + "\n")
            if source is not None:
                execute(conn, "blacklist_provenance_stage")
            merged = fetch_one(
                conn,
                "blacklist_incoming_merge",
                {"reason": reason, "campaign_id": campaign_id, "expires_at": expires_at},
            )
            if source is not None:
                fetch_one(
                    conn, "blacklist_provenance_apply", {"source": source, "as_of": as_of, "campaign_id": campaign_id}
                )
        report.imported = merged["inserted"]
        report.already_present = merged["staged"] - merged["inserted"]

    if valid and campaign_id is None and (expires_at is None or expires_at > datetime.now(timezone.utc)):
        _to_redis(valid)
    log.info("Blacklist import: %s", report.summary())
    return report


def _to_redis(phones: set[str]) -> None:
    from include.campaigns import blacklist

    try:
        blacklist.add_e164(blacklist._client(), phones, recent=False)
    except Exception as exc:  # PostgreSQL has them: the send-time check and the next sync cover Redis
        log.warning(
            "Could not add the imported numbers to Redis (%s); the next blacklist sync will", exc.__class__.__name__
        )


def import_file(conn, path: str | Path, *, column: str | None = None, **options) -> ImportReport:
    return import_numbers(conn, read_numbers(Path(path), column), **options)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m include.campaigns.blacklist_import",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--reason", default="do_not_call")
    parser.add_argument("--campaign-id", type=int, help="only this campaign (default: every campaign)")
    parser.add_argument("--expires-at", type=datetime.fromisoformat, help="ISO 8601, with its UTC offset")
    parser.add_argument("--column", help="the CSV header of the phone column")
    parser.add_argument(
        "--default-region",
        default=DEFAULT_REGION,
        help="the country of numbers written without a country code (default %(default)s)",
    )
    parser.add_argument("--source", help="the list the numbers come from, e.g. 'National DNC Registry'")
    parser.add_argument("--as-of", type=date.fromisoformat, help="the date the list was drawn, YYYY-MM-DD")
    args = parser.parse_args(argv)
    if (args.source is None) != (args.as_of is None):
        parser.error("--source and --as-of go together")
    if args.expires_at is not None and args.expires_at.tzinfo is None:
        parser.error("--expires-at needs a UTC offset, e.g. 2027-01-01T00:00:00+00:00")

    from include.campaigns.db import campaign_db

    with campaign_db() as conn:
        report = import_file(
            conn,
            args.file,
            column=args.column,
            reason=args.reason,
            campaign_id=args.campaign_id,
            expires_at=args.expires_at,
            default_region=args.default_region or None,
            source=args.source,
            as_of=args.as_of,
        )
    print(report.summary())
    for line_no, masked, why in report.refused_sample:
        print(f"  refused line {line_no}: {masked} ({why})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
