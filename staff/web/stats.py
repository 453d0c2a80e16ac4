"""The statistics of a period (``staff.stats.compute`` with ``stats_threshold``), its CSV, and a
page that prints cleanly (the style sheet's ``@media print``).

The period's default is the last calendar year, January to December: Safe Line and SIA publish
their numbers per calendar year ("2015年1月から12月までの実績", safe-line.jp/statistics/
archive2015; staff.stats's docstring), so that is the period staff are asked for most, and a
finished year's numbers no longer change. A fiscal year (April to March) is one choice of the
form away.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, render_template, request

from staff import stats

from .access import config, store
from .i18n import _, current_lang
from .work import today

bp = Blueprint("stats", __name__)

FIELDS = ("stats-from", "stats-to")


def _period(args):
    """(start, end, errors, the texts given) of the form; the default when nothing was given."""
    this_year = today().year
    start_text = args.get("from", f"{this_year - 1}-01-01").strip()
    end_text = args.get("to", f"{this_year - 1}-12-31").strip()
    errors: dict[str, list[str]] = {}
    start = end = None
    try:
        start = date.fromisoformat(start_text) if len(start_text) == 10 else None
    except ValueError:
        pass
    try:
        end = date.fromisoformat(end_text) if len(end_text) == 10 else None
    except ValueError:
        pass
    if start is None:
        errors["stats-from"] = [_("Give the first day as a date, for example 2026-01-01.")]
    if end is None:
        errors["stats-to"] = [_("Give the last day as a date, for example 2026-12-31.")]
    if start and end and start > end:
        errors["stats-to"] = [_("The last day must be on or after the first day.")]
    return start, end, errors, {"from": start_text[:10], "to": end_text[:10]}


def _presets():
    year = today().year
    fiscal = year if today().month >= 4 else year - 1
    return [
        (_("Last year (%(year)s)", year=year - 1), date(year - 1, 1, 1), date(year - 1, 12, 31)),
        (_("This year so far (%(year)s)", year=year), date(year, 1, 1), today()),
        (_("Last fiscal year (April %(first)s – March %(last)s)", first=fiscal - 1, last=fiscal),
         date(fiscal - 1, 4, 1), date(fiscal, 3, 31)),
    ]


@bp.get("/stats")
def stats_page():
    start, end, errors, given = _period(request.args)
    threshold = config().stats_threshold
    if errors:
        return render_template("stats.html", result=None, errors=errors, given=given, fields=FIELDS,
                               presets=_presets(), threshold=threshold), 422
    result = stats.compute(store().facts(), start, end, threshold)
    lang = current_lang()
    report_rows = [row for row in result.rows if row.key in stats.REPORT_ROWS]
    url_rows = [(stat, [result.row(stat)] + [result.row(f"{stat}.{place}") for place in stats.LOCATIONS])
                for stat in stats.URL_STATS]
    return render_template("stats.html", result=result, errors={}, given=given, fields=FIELDS, presets=_presets(),
                           threshold=threshold, report_rows=report_rows, url_rows=url_rows, lang_index=stats.LANGS.index(lang),
                           locations=[(place, stats.LOCATION_LABELS[place][stats.LANGS.index(lang)])
                                      for place in stats.LOCATIONS],
                           url_labels={stat: stats.LABELS[stat][stats.LANGS.index(lang)] for stat in stats.URL_STATS},
                           legend=stats.LEGEND[lang](threshold), today_text=today().isoformat())


@bp.get("/stats.csv")
def stats_csv():
    start, end, errors, _given = _period(request.args)
    if errors:
        from .errors import BadInput

        raise BadInput(next(iter(errors.values()))[0])
    result = stats.compute(store().facts(), start, end, config().stats_threshold)
    name = f"safeline-stats-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(result.csv_bytes(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
