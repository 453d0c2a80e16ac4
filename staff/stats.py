"""The hotline's statistics for a period: ``safeline-staff stats --from DATE --to DATE [--csv]``.

Made from ``Store.facts()`` (``staff.facts``: dates, kinds and counts, never text), for live
cases and cases deleted by the retention rule alike. Nothing here names a person, a URL or a
host: the facts hold none, and the result holds only counts, rates and medians of groups.

The period is ``[from, to]``: Japan dates, both days included. Safe Line publishes per calendar
year (January to December, see below): ``--from 2026-01-01 --to 2026-12-31``.

What each number counts (a fact is in the period when the date named falls in it)
--------------------------------------------------------------------------------------

Reports (one per case: a web report or a phone call), counted by the day the case was
received (``CaseFacts.received_on``, the report's day, or its first mail's while the report is
missing):

- ``reports``: reports received. Three splits of the same total:
  ``reports.web`` / ``reports.phone`` (how it came), ``reports.self`` / ``reports.guardian`` /
  ``reports.role_unknown`` (who reported: the person in the images, the guardian of a child in
  them, or not known while the report itself is missing), ``reports.with_url`` /
  ``reports.without_url`` (the case holds at least one address, or none).
- ``police.asked`` / ``police.not_asked`` / ``police.unknown``: of those reports, the reporter
  asked to be introduced to the police, did not, or it is not known (report missing). The
  three are shown (not "asked" alone) so that no small number hides in a difference.

Reports are not split domestic / overseas: one case holds addresses in both.

Addresses (URLs; one per distinct address however many cases reported it), each split by
where the address's confirmed host is: ``domestic`` (in Japan), ``overseas``, ``unknown``
(no host confirmed yet; ``UrlFacts.overseas`` is ``None``). The split is the host as confirmed
*now*, not as it was on the day counted.

- ``urls_reported``: URLs first reported in the period (``UrlFacts.reported_on``, the earliest
  receipt in any case).
- ``requests``: removal requests sent in the period: each request counts, a second request for
  the same URL counts again (``UrlFacts.requests_on``; requests to the police are not removal
  requests and are not among them).
- ``urls_removed``: URLs found removed on a day in the period (``UrlFacts.removed_on``),
  whenever they were reported or asked.
- ``first_asked``: URLs whose *first* removal request was sent in the period: the URLs the
  hotline asked to have removed, each once (what Safe Line calls 削除依頼件数, below).
- ``first_asked_removed`` / ``first_asked_not_removed``: of those, removed by the end of the
  period (``removed_on <= to``), or not (yet). Counting removals up to the period's end only
  makes the numbers of a past period the same whenever they are made (a URL removed later
  counts in the period it was asked in when the statistics are made again, which is why a
  year's statistics are best made some weeks after its end: SIA published its 2017 numbers in
  August 2018, https://www.itmedia.co.jp/news/articles/1808/20/news109.html).
- ``removal_rate``: ``first_asked_removed / first_asked``, as a whole percent (half up).
- ``days_to_first_request``: median days from the URL's first report (``reported_on``) to its
  first request, over ``first_asked``.
- ``days_to_removal``: median days from the URL's first report to its removal, over
  ``urls_removed``.
- ``days_request_to_removal``: median days from the URL's first request to its removal, over
  ``urls_removed`` that were asked (a URL found removed without a request is left out).

Days are whole days between Japan dates, as recorded (a day entered wrongly can make one
negative: it is counted as it is, not hidden). A median of an even number of values is the
mean of the two middle ones (``3.5``).

Small numbers are not shown (``Config.stats_threshold``, *k*, default 5)
------------------------------------------------------------------------

- A count from 1 to *k*-1 is shown as ``<k`` (``<5``), in the table and in the CSV. Zero is
  shown: it tells about no one.
- A count of addresses (or of requests for them) of *k* or more whose addresses all come from
  fewer than *k* cases is hidden as well, shown as ``x``: 300 addresses from one reporter tell
  about that reporter as much as 3 would. The cases are those ``UrlFacts.held_by`` names (the
  cases that hold each counted address now; an address retired with its case: that case), so
  a group counts each reporter once however many addresses they sent; an address whose facts
  do not say (``held_by`` empty: facts made by hand) is a case of its own. SIA itself explains
  its lower 2017 revenge porn removal rate by single reporters whose requests ran to hundreds
  of URLs (below): such a group is exactly what this hides. Reports need no such rule: each
  is one case.
- A count shown beside others that add up to a shown total could be worked out by
  subtraction (12 reports, 9 from the web form, "<5" by phone: 3). So every sum the result
  shows (a total and its parts: each split above, and each URL group's asked = removed + not
  removed) is checked, and where a hidden number could be worked out, another count is hidden
  as well, shown as ``x`` (the smallest part still shown; the total when no part is left):

  1. sum by sum, until no sum has exactly one hidden number, and each ``<k`` in a sum whose
     total is shown still has two possible values or more, reading ``x`` as *k* or more (the
     worst case: the rule hides as ``x`` only counts of *k* or more);
  2. then as a reader would with a pencil: every hidden count's least and greatest possible
     value, narrowed through every sum in turn (``reader_bounds``); while some ``<k``, or some
     count hidden for coming from few cases, is left with one possible value, the smallest
     count still shown among the sums around it is
     hidden too, and 1 and 2 run again. Where nothing around it is left to hide (a 1 beside
     parts of exactly *k*), its ``<k`` becomes ``x`` as well (an ``x`` may then be less than
     *k*; a reader finds that out only as a contradiction, which the narrowing allows for).

  This is the usual secondary cell suppression, audited by interval narrowing (not by linear
  programming: a reader solving the sums as a linear program could in principle narrow a
  little further than the narrowing does; it never rests on a single subtraction). A total
  itself may be hidden, rarely, when its parts leave no other way (8 reports: 4 from the
  person, 4 unknown, 0 guardians). With *k* = 2, "<2" is 1 by itself: only the first half of
  rule 1 applies (no sum with one hidden number); choose 3 or more.
- A rate or a median is not shown (``x``) for a group under *k* (a rate over 3 URLs tells
  about one person, and the 3 URLs are probably one person's), nor for a group of URLs from
  fewer than *k* cases (as above), nor when a count it is made from is hidden (a rate and its
  denominator give back its numerator).
- ``—``: nothing to show (a rate of no URLs, a median of none).

The result
----------

``compute(facts, start, end, threshold)`` gives ``Statistics``: the period, the threshold and
``rows``, each a ``Row`` with ``key`` (as above; a split's part is ``<stat>.<part>``),
``kind`` (``count``, ``rate`` or ``days``), ``value`` (the number, or ``None`` when hidden or
nothing: a hidden number is never in the result), ``shown`` (the text to print) and
``level`` (0 for a total, 1 for a part), and ``label(lang)`` in Japanese (``ja``) and English
(``en``). A page prints the rows in order; ``table(lang)`` is the terminal's form.

CSV (``--csv``): a header row ``key,label_ja,label_en,value``, then the period (``period.from``,
``period.to``) and the threshold, then one row per number with its shown text (``<5`` and
``x`` included, so a spreadsheet holds no more than the table). UTF-8 with a byte order mark
and CRLF line ends (RFC 4180): Excel in Japan reads a CSV without the mark as Shift_JIS
(CP932) and garbles the Japanese labels; with the mark it reads UTF-8.

Safe Line's published categories, and which of ours match
---------------------------------------------------------

Safe Line (セーフライン) is run by the Safer Internet Association (一般社団法人セーファーインター
ネット協会, SIA), as its own page says ("SIAとはどういった団体ですか"); the Internet Content
Safety Association (ICSA) makes the blocking address list of child abuse sites, another body.
What the official pages found state:

- https://safe-line.jp/statistics/archive2015 (Safe Line's statistics of 2015, "2015年1月から
  12月までの実績"): 通報受領・パトロール総件数 (reports received and items found by its own
  patrol, counted per item of information), each category (違法情報, 有害情報, and
  リベンジポルノに準じた情報として特別に対応した情報) with うち国外 (of which overseas), and
  掲載サイトの所在地 (where the sites are: 国内 / 国外). Ours: ``urls_reported`` split
  domestic / overseas (items, like theirs; we have no patrol, so reports only).
- https://saferinternet.or.jp/info/4392 (SIA's 2017 report, 違法・有害情報対策活動報告):
  削除を依頼した違法・有害情報 (items asked to be removed) and 削除率 (the share of them
  removed), by サイト所在地 (国内サイト・国外サイト), and for revenge porn リベンジポルノに関する
  相談を寄せた者 (the number of people who consulted, "150名") and its 削除率. Ours:
  ``first_asked`` (items asked, each once), ``first_asked_removed`` and ``removal_rate``,
  split domestic / overseas; ``reports`` counts cases where theirs counts people (one person
  may make several reports: ours can be higher). The same page explains the lower revenge
  porn rate by single reporters whose requests ran to hundreds of URLs.
- Found only in third-party articles quoting SIA's reports, not on an official page: revenge
  porn removal requests split 国内 / 海外 with a removal rate for each (2015,
  https://www.sankeibiz.jp/econome/news/151115/ecc1511150823003-n2.htm); revenge porn
  相談件数 (consultations), 削除依頼件数, the number removed, and the time removal took in
  bands (3日以内, 2週間以内; 2015 report, https://netatopi.jp/article/1001772.html). Our
  ``days_request_to_removal`` is a median, not bands: it matches none of theirs exactly.
- Not found in anything Safe Line or SIA publishes (as far as found): reports by role (the
  person or a guardian), with or without a URL, web or phone, police referrals asked, removal
  requests counted per request (``requests``), and median days. These are ours alone.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import statistics
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TextIO

from .facts import CaseFacts, Facts, UrlFacts
from .problems import StaffError

LANGS = ("ja", "en")
HIDDEN = "x"  # hidden so that another hidden number cannot be worked out, or a derived value of a small group
NOTHING = "—"
BOM = "\ufeff"
CSV_HEADER = ("key", "label_ja", "label_en", "value")
PERIOD_BACKWARDS = "the period ends before it starts: give --from a date on or before --to"

LOCATIONS = ("domestic", "overseas", "unknown")
LOCATION_LABELS = {
    "domestic": ("国内", "in Japan"),
    "overseas": ("国外", "abroad"),
    "unknown": ("所在地不明", "host unknown"),
}
# Per-location statistics in the order shown: key → (kind, ja, en).
URL_STATS = {
    "urls_reported": ("count", "通報されたURL", "URLs reported"),
    "requests": ("count", "送った削除依頼", "Removal requests sent"),
    "urls_removed": ("count", "削除を確認したURL", "URLs found removed"),
    "first_asked": ("count", "初めて削除を依頼したURL", "URLs asked for removal (first request)"),
    "first_asked_removed": ("count", "うち期間末までに削除", "of them removed by the period's end"),
    "first_asked_not_removed": ("count", "うち期間末までに未削除", "of them not removed by the period's end"),
    "removal_rate": ("rate", "削除率", "Removal rate"),
    "days_to_first_request": ("days", "通報から最初の削除依頼までの日数（中央値）",
                              "Median days from report to first request"),
    "days_to_removal": ("days", "通報から削除までの日数（中央値）", "Median days from report to removal"),
    "days_request_to_removal": ("days", "最初の削除依頼から削除までの日数（中央値）",
                                "Median days from first request to removal"),
}
# The reports' total and its parts, in the order shown: key → (ja, en).
REPORT_ROWS = {
    "reports": ("受け付けた通報", "Reports received"),
    "reports.web": ("ウェブフォームから", "from the web form"),
    "reports.phone": ("電話で", "by phone"),
    "reports.self": ("本人から", "from the person in the images"),
    "reports.guardian": ("保護者から", "from a guardian"),
    "reports.role_unknown": ("通報者不明（通報本体が未着）", "reporter unknown (report still missing)"),
    "reports.with_url": ("URLあり", "with a URL"),
    "reports.without_url": ("URLなし", "without a URL"),
    "police.asked": ("警察への紹介を希望", "police referral asked"),
    "police.not_asked": ("警察への紹介を希望せず", "police referral not asked"),
    "police.unknown": ("警察への紹介の希望不明（通報本体が未着）", "police referral unknown (report still missing)"),
}
REPORT_SPLITS = (
    ("reports.web", "reports.phone"),
    ("reports.self", "reports.guardian", "reports.role_unknown"),
    ("reports.with_url", "reports.without_url"),
    ("police.asked", "police.not_asked", "police.unknown"),
)
PERIOD_LABELS = {
    "period.from": ("期間（から）", "period from"),
    "period.to": ("期間（まで）", "period to"),
    "threshold": ("この数未満は非表示", "numbers under this are hidden"),
}


def _labels() -> dict[str, tuple[str, str]]:
    labels = dict(REPORT_ROWS)
    for stat, (_kind, ja, en) in URL_STATS.items():
        labels[stat] = (ja, en)
        for place in LOCATIONS:
            place_ja, place_en = LOCATION_LABELS[place]
            labels[f"{stat}.{place}"] = (f"{ja}（{place_ja}）", f"{en}, {place_en}")
    return labels


LABELS = _labels()


@dataclass(frozen=True)
class Row:
    """One number of the statistics, as a page or the CSV shows it."""

    key: str  # "reports.phone", "removal_rate.overseas", …
    kind: str  # "count", "rate" (a fraction from 0 to 1) or "days" (a median)
    value: int | float | None  # None when hidden or when there is nothing to show
    shown: str  # the text to print: "12", "<5", "x", "83%", "3.5", "—"
    level: int  # 0: a total; 1: a part of the total above it

    def label(self, lang: str) -> str:
        return LABELS[self.key][LANGS.index(lang)]


@dataclass(frozen=True)
class Statistics:
    start: date
    end: date
    threshold: int
    rows: tuple[Row, ...]

    def row(self, key: str) -> Row:
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(key)

    def shown(self, key: str) -> str:
        return self.row(key).shown

    def csv_text(self) -> str:
        """The CSV (module docstring), with its byte order mark, as text."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_HEADER)
        for key, value in (("period.from", self.start.isoformat()), ("period.to", self.end.isoformat()),
                           ("threshold", str(self.threshold))):
            writer.writerow((key, *PERIOD_LABELS[key], value))
        for row in self.rows:
            writer.writerow((row.key, row.label("ja"), row.label("en"), row.shown))
        return BOM + out.getvalue()

    def csv_bytes(self) -> bytes:
        return self.csv_text().encode("utf-8")

    def table(self, lang: str = "en") -> str:
        """The statistics as aligned plain text for a terminal."""
        ja = lang == "ja"
        lines = [(f"統計 {self.start.isoformat()} 〜 {self.end.isoformat()}（日本の日付、両日を含む）" if ja else
                  f"Statistics {self.start.isoformat()} to {self.end.isoformat()} (Japan dates, both included)"), ""]
        report_rows = [row for row in self.rows if row.key in REPORT_ROWS]
        width = max(_width(("  " * row.level) + row.label(lang)) for row in report_rows)
        for row in report_rows:
            label = ("  " * row.level) + row.label(lang)
            lines.append(_pad(label, width) + "  " + row.shown.rjust(6))
        lines.append("")
        heads = ["計" if ja else "total"] + [LOCATION_LABELS[place][LANGS.index(lang)] for place in LOCATIONS]
        url_labels = [(("  " if stat.startswith("first_asked_") else "") + LABELS[stat][LANGS.index(lang)])
                      for stat in URL_STATS]
        width = max(_width(label) for label in url_labels)
        cell = max(8, *(_width(head) for head in heads))
        lines.append(_pad("", width) + "".join("  " + _pad(head, cell, right=True) for head in heads))
        for stat, label in zip(URL_STATS, url_labels):
            cells = [self.shown(stat)] + [self.shown(f"{stat}.{place}") for place in LOCATIONS]
            lines.append(_pad(label, width) + "".join("  " + _pad(text, cell, right=True) for text in cells))
        lines.append("")
        lines += LEGEND[lang](self.threshold)
        return "\n".join(line.rstrip() for line in lines) + "\n"


LEGEND = {
    "ja": lambda k: [f"<{k}: 1以上{k}未満。",
                     f"{HIDDEN}: 他の数から逆算されないよう非表示（または少数の集団の率・中央値）。",
                     f"{NOTHING}: 該当なし。"],
    "en": lambda k: [f"<{k}: from 1 to {k - 1}.",
                     f"{HIDDEN}: hidden so that a small number cannot be worked out from the others "
                     "(or the rate or median of a small group).",
                     f"{NOTHING}: nothing to show."],
}


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    space = " " * max(0, width - _width(text))
    return space + text if right else text + space


# -- counting ----------------------------------------------------------------------------------

def _location(url: UrlFacts) -> str:
    return "unknown" if url.overseas is None else ("overseas" if url.overseas else "domestic")


def _counts(facts: Facts, start: date, end: date
            ) -> tuple[dict[str, int], dict[str, list[int]], dict[str, set]]:
    """Every count of the period by key, the day differences each median is taken over, and
    for each count and median of addresses the cases its addresses come from (``UrlFacts.held_by``;
    an address that does not say: a case of its own)."""
    def within(day: date | None) -> bool:
        return day is not None and start <= day <= end

    counts: dict[str, int] = {key: 0 for key in REPORT_ROWS}
    cases: list[CaseFacts] = [case for case in facts.cases if within(case.received_on)]
    for case in cases:
        counts["reports"] += 1
        counts["reports.phone" if case.origin == "phone" else "reports.web"] += 1
        counts[{"self": "reports.self", "guardian": "reports.guardian"}.get(case.role, "reports.role_unknown")] += 1
        counts["reports.with_url" if case.urls > 0 else "reports.without_url"] += 1
        counts[{True: "police.asked", False: "police.not_asked"}.get(case.police_referral, "police.unknown")] += 1

    days: dict[str, list[int]] = {}
    sources: dict[str, set] = {}
    for stat, (kind, _ja, _en) in URL_STATS.items():
        for key in (stat, *(f"{stat}.{place}" for place in LOCATIONS)):
            if kind == "count":
                counts[key] = 0
                sources[key] = set()
            elif kind == "days":
                days[key] = []
                sources[key] = set()
    for number, url in enumerate(facts.urls):
        place = _location(url)
        first = min(url.requests_on) if url.requests_on else None
        held_by = url.held_by or (("url", number),)

        def add(stat: str, amount: int = 1) -> None:
            if amount:
                for key in (stat, f"{stat}.{place}"):
                    counts[key] += amount
                    sources[key].update(held_by)

        def measure(stat: str, value: int) -> None:
            for key in (stat, f"{stat}.{place}"):
                days[key].append(value)
                sources[key].update(held_by)

        if within(url.reported_on):
            add("urls_reported")
        add("requests", sum(1 for day in url.requests_on if within(day)))
        if within(url.removed_on):
            add("urls_removed")
            measure("days_to_removal", (url.removed_on - url.reported_on).days)
            if first is not None:
                measure("days_request_to_removal", (url.removed_on - first).days)
        if within(first):
            add("first_asked")
            measure("days_to_first_request", (first - url.reported_on).days)
            if url.removed_on is not None and url.removed_on <= end:
                add("first_asked_removed")
            else:
                add("first_asked_not_removed")
    return counts, days, sources


def _sums() -> list[tuple[str, tuple[str, ...]]]:
    """Every sum the result shows: (the total's key, its parts' keys)."""
    sums = [("reports", split) for split in REPORT_SPLITS]
    for stat, (kind, _ja, _en) in URL_STATS.items():
        if kind == "count":
            sums.append((stat, tuple(f"{stat}.{place}" for place in LOCATIONS)))
    for suffix in ("", *(f".{place}" for place in LOCATIONS)):
        sums.append((f"first_asked{suffix}", (f"first_asked_removed{suffix}", f"first_asked_not_removed{suffix}")))
    return sums


SUMS = _sums()


def suppress(counts: dict[str, int], threshold: int,
             sums: Iterable[tuple[str, tuple[str, ...]]] = SUMS, few: Iterable[str] = ()) -> dict[str, str]:
    """Which counts are hidden, and how: key → ``"<k"`` (from 1 to k-1) or ``"x"`` (hidden so that
    another cannot be worked out, or a count of k or more that comes from fewer than k cases:
    the keys ``few``). The rule: the module docstring."""
    k = threshold
    hidden = {key: f"<{k}" for key, value in counts.items() if 0 < value < k}
    few = {key for key in few if counts[key] >= k}
    hidden.update((key, HIDDEN) for key in few)
    sums = [(total, tuple(parts)) for total, parts in sums]
    # Each round hides one more count or turns a "<k" into "x": it ends.
    for _round in range(2 * len(counts) + 2):
        _per_sum(counts, hidden, sums, k)
        if k < 3:
            break
        bounds = reader_bounds(counts, hidden, sums, k)
        pinned = [key for key in counts if (0 < counts[key] < k or key in few) and bounds[key][1] <= bounds[key][0]]
        if not pinned:
            break
        _widen(counts, hidden, sums, pinned[0])
    return hidden


def _per_sum(counts: dict[str, int], hidden: dict[str, str], sums: list, k: int) -> None:
    """Secondary suppression sum by sum, until no sum is unsafe on its own (``_safe``)."""
    settled: set[int] = set()  # sums whose every hidden part became "x": nothing more to hide there
    changed = True
    while changed:
        changed = False
        for index, (total, parts) in enumerate(sums):
            if index in settled or _safe(counts, hidden, total, parts, k):
                continue
            candidates = sorted((counts[part], part) for part in parts if part not in hidden and counts[part] > 0)
            if not candidates and sum(1 for cell in (total, *parts) if cell in hidden) == 1:
                # One hidden part, the others 0: it is the total; hide that too.
                candidates = [(counts[total], total)]
            if candidates:
                hidden[candidates[0][1]] = HIDDEN
            else:
                for part in parts:
                    if part in hidden:
                        hidden[part] = HIDDEN
                settled.add(index)
            changed = True


def _widen(counts: dict[str, int], hidden: dict[str, str], sums: list, key: str) -> None:
    """Hide the smallest count shown among the sums around ``key`` (the sums that hold it, then
    those that share a count with them, …); when every count of them is hidden, show each of
    their "<k" as "x"."""
    near: set[str] = {key}
    while True:
        around = [cells for cells in ((total, *parts) for total, parts in sums) if near & set(cells)]
        cells = {cell for group in around for cell in group}
        candidates = sorted((counts[cell], cell) for cell in cells if cell not in hidden and counts[cell] > 0)
        if candidates:
            hidden[candidates[0][1]] = HIDDEN
            return
        if cells <= near:
            for cell in cells:
                if cell in hidden:
                    hidden[cell] = HIDDEN
            return
        near = cells


def reader_bounds(counts: dict[str, int], hidden: dict[str, str], sums: list, k: int
                  ) -> dict[str, tuple[float, float]]:
    """What a reader can work out of each count from the shown ones, the sums and the rule: its
    least and greatest possible value, narrowed through every sum in turn ("<k": 1 to k-1; "x":
    k or more, or from 1 once that makes a sum impossible, as it does for an "x" that was a
    "<k")."""
    relaxed: set[str] = set()
    while True:
        bounds: dict[str, tuple[float, float]] = {}
        for key, value in counts.items():
            mark = hidden.get(key)
            if mark is None:
                bounds[key] = (value, value)
            elif mark == HIDDEN:
                bounds[key] = (1 if key in relaxed else k, math.inf)
            else:
                bounds[key] = (1, k - 1)
        impossible = _narrow(bounds, sums)
        if impossible is None:
            return bounds
        more = {cell for cell in impossible if hidden.get(cell) == HIDDEN} - relaxed
        if not more:
            more = {cell for cell, mark in hidden.items() if mark == HIDDEN} - relaxed
        if not more:
            return bounds
        relaxed |= more


def _narrow(bounds: dict[str, tuple[float, float]], sums: list) -> tuple[str, ...] | None:
    """Narrow ``bounds`` through the sums (at most 50 rounds: bounds stay true, if less tight);
    the cells of a sum found impossible, or None."""
    for _round in range(50):
        changed = False
        for total, parts in sums:
            for cell in (total, *parts):
                if cell == total:
                    low = sum(bounds[part][0] for part in parts)
                    high = sum(bounds[part][1] for part in parts)
                else:
                    others = [part for part in parts if part != cell]
                    low = bounds[total][0] - sum(bounds[other][1] for other in others)
                    high = bounds[total][1] - sum(bounds[other][0] for other in others)
                new = (max(bounds[cell][0], low), min(bounds[cell][1], high))
                if new[0] > new[1]:
                    return (total, *parts)
                if new != bounds[cell]:
                    bounds[cell], changed = new, True
        if not changed:
            return None
    return None


def _safe(counts: dict[str, int], hidden: dict[str, str], total: str, parts: tuple[str, ...], k: int) -> bool:
    unknown = [key for key in (total, *parts) if key in hidden]
    if not unknown:
        return True
    if len(unknown) == 1:
        return False  # one subtraction gives it back
    if total in hidden:
        return True
    rest = counts[total] - sum(counts[part] for part in parts if part not in hidden)
    small = sum(1 for part in parts if hidden.get(part, "").startswith("<"))
    large = sum(1 for part in parts if hidden.get(part) == HIDDEN)
    if small == 0 or k < 3:  # "<2" is 1 whatever else is hidden
        return True
    # The values one "<k" part can still take, knowing the rest's sum, the others' ranges ("<k":
    # 1 to k-1; "x": read as k or more, the worst case).
    if large:
        low, high = 1, min(k - 1, rest - (small - 1) - large * k)
    else:
        low, high = max(1, rest - (small - 1) * (k - 1)), min(k - 1, rest - (small - 1))
    return high > low


def _percent(numerator: int, denominator: int) -> str:
    return f"{(200 * numerator + denominator) // (2 * denominator)}%"


def _days_text(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def compute(facts: Facts, start: date, end: date, threshold: int = 5) -> Statistics:
    """The statistics of ``facts`` for the Japan dates ``start`` to ``end``, both included."""
    if start > end:
        raise StaffError(PERIOD_BACKWARDS)
    if threshold < 1:
        raise StaffError("the statistics threshold must be 1 or more: fix stats_threshold in config.json")
    counts, days, sources = _counts(facts, start, end)
    # A group of k addresses or more may still be one reporter's hundreds: hidden as well.
    few = {key for key, cases in sources.items() if len(cases) < threshold}
    hidden = suppress(counts, threshold, few=few & counts.keys())
    rows: list[Row] = []

    def count_row(key: str, level: int) -> None:
        if key in hidden:
            rows.append(Row(key, "count", None, hidden[key], level))
        else:
            rows.append(Row(key, "count", counts[key], str(counts[key]), level))

    for key in REPORT_ROWS:
        count_row(key, 0 if key == "reports" else 1)
    for stat, (kind, _ja, _en) in URL_STATS.items():
        for suffix, level in (("", 0), *((f".{place}", 1) for place in LOCATIONS)):
            key = stat + suffix
            if kind == "count":
                count_row(key, level)
            elif kind == "rate":
                asked = counts["first_asked" + suffix]
                parts = ("first_asked" + suffix, "first_asked_removed" + suffix, "first_asked_not_removed" + suffix)
                if asked == 0:
                    rows.append(Row(key, kind, None, NOTHING, level))
                elif any(part in hidden for part in parts):
                    rows.append(Row(key, kind, None, HIDDEN, level))
                else:
                    removed = counts["first_asked_removed" + suffix]
                    rows.append(Row(key, kind, removed / asked, _percent(removed, asked), level))
            else:
                values = days[key]
                if not values:
                    rows.append(Row(key, kind, None, NOTHING, level))
                elif len(values) < threshold or key in few:
                    rows.append(Row(key, kind, None, HIDDEN, level))
                else:
                    median = statistics.median(values)
                    rows.append(Row(key, kind, median, _days_text(median), level))
    return Statistics(start, end, threshold, tuple(rows))


# -- the command -------------------------------------------------------------------------------

def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise StaffError(f"{option} takes a date written YYYY-MM-DD (a Japan date)") from None


def period(start: str, end: str) -> tuple[date, date]:
    """The period given as ``--from`` and ``--to``, checked."""
    first, last = _day(start, "--from"), _day(end, "--to")
    if first > last:
        raise StaffError(PERIOD_BACKWARDS)
    return first, last


def run_stats(store, *, start: str, end: str, threshold: int, as_csv: bool = False, lang: str = "en",
              out: TextIO | None = None, binary=None) -> int:
    """``stats``: the statistics of the store's facts; CSV bytes go to ``binary``."""
    result = compute(store.facts(), *period(start, end), threshold)
    if as_csv:
        target = binary if binary is not None else sys.stdout.buffer
        target.write(result.csv_bytes())
        target.flush()
    else:
        (out or sys.stdout).write(result.table(lang))
    return 0


def register(commands) -> None:
    from .casework import _open, _stdout
    from .home import Home
    from .setup import PASSPHRASE_HELP

    parser = commands.add_parser("stats", help="the hotline's statistics for a period (counts under the "
                                 "threshold hidden)",
                                 description="The statistics of a period (Japan dates, both included): reports "
                                 "received, URLs reported, removal requests, URLs removed and the removal rate "
                                 "(domestic, overseas, unknown), median days, police referrals asked. Counts "
                                 "under stats_threshold (config.json, default 5) show as \"<5\"; nothing names a "
                                 f"person, a URL or a host. {PASSPHRASE_HELP}")
    parser.add_argument("--from", dest="start", required=True, metavar="DATE", help="the first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", required=True, metavar="DATE", help="the last day, YYYY-MM-DD")
    parser.add_argument("--csv", action="store_true", help="print CSV (UTF-8 with a byte order mark, for Excel) "
                        "instead of the table: redirect it to a file")
    parser.add_argument("--lang", choices=LANGS, default="en", help="the table's language (default en; the CSV "
                        "has both)")

    def run(args: argparse.Namespace) -> int:
        threshold = Home(args.home).config().stats_threshold
        period(args.start, args.end)  # a wrong period is said before the key is asked for
        with _open(args) as store:
            return run_stats(store, start=args.start, end=args.end, threshold=threshold, as_csv=args.csv,
                             lang=args.lang, out=_stdout())
    parser.set_defaults(func=run)


