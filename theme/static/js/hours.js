/* The live "open now" badge of the consultation lines, and the list of the lines open now
 * (#now, first on the consultation page) (plain ES2017, no library).
 *
 * Everything comes from the page. Each line's <p class="now" hidden> carries the rules the
 * build wrote from the schedule engine (safeline/hotlines/schedule.py,
 * `embedded`): weekly hours, closed days and extra openings, and the dates they cover. The
 * words, in the page's language, are the data-text-* attributes of this <script> element.
 * This script only evaluates the same three rules as the engine:
 *   1. an extra opening on that day: its hours; 2. a closed day: none; 3. the weekly hours.
 * The list of lines open now (<li data-line="ID"> in #now) shows the items whose line (the
 * card with that id) is open at this instant; without JavaScript only the 24-hour lines show.
 *
 * Time is Tokyo wall-clock time computed from the epoch: Date.now() is the same instant
 * everywhere, Asia/Tokyo is UTC+9 all year (no daylight saving time), and only getUTC*-style
 * arithmetic is used, never the visitor's own time zone. Outside the covered dates the badge
 * stays hidden rather than guess. It stores nothing, sends nothing and loads nothing.
 */
(function () {
  'use strict';

  const script = document.currentScript;
  if (!script) return;
  const text = script.dataset; // textOpen, textNext, textClosed, textToday, ...
  const DAY = 86400000;
  const TOKYO = 9 * 3600000;

  const dayNumber = (iso) => { // "2026-12-29" → days since 1970-01-01
    const [y, m, d] = iso.split('-').map(Number);
    return Date.UTC(y, m - 1, d) / DAY;
  };
  const minutes = (hhmm) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(2));
  const span = (s) => s.split('-').map(minutes); // "0900-2100" → [540, 1260]
  const items = (s) => (s ? s.trim().split(/\s+/) : []);
  const weekday = (day) => (day + 3) % 7; // 0 = Monday; 1970-01-01 was a Thursday
  const clock = (m) => Math.floor(m / 60) + ':' + String(m % 60).padStart(2, '0');
  const fill = (template, values) =>
    template.replace(/\{(\w+)\}/g, (all, key) => (key in values ? String(values[key]) : all));

  function parse(el) {
    const data = el.dataset;
    const line = {
      from: dayNumber(data.from),
      until: dayNumber(data.until),
      week: [[], [], [], [], [], [], []],
      closed: new Set(),
      extra: new Map(),
    };
    for (const block of items(data.week)) { // "02:1700-2000": Monday and Wednesday
      const [days, hours] = block.split(':');
      for (const d of days) line.week[Number(d)].push(span(hours));
    }
    for (const run of items(data.closed)) { // "31-36" or "44", counted from data-from
      const [a, b = a] = run.split('-').map(Number);
      for (let i = a; i <= b; i++) line.closed.add(i);
    }
    for (const entry of items(data.extra)) { // "37:1000-1600"
      const [offset, hours] = entry.split(':');
      const list = line.extra.get(Number(offset)) || [];
      list.push(span(hours));
      line.extra.set(Number(offset), list);
    }
    const byStart = (p, q) => p[0] - q[0];
    line.week.forEach((list) => list.sort(byStart));
    line.extra.forEach((list) => list.sort(byStart));
    return line;
  }

  function hoursOn(line, day) {
    const offset = day - line.from;
    if (line.extra.has(offset)) return line.extra.get(offset);
    if (line.closed.has(offset)) return [];
    return line.week[weekday(day)];
  }

  // An opening until 24:00 runs on while the next day opens at 0:00 (as the engine's
  // _open_until): the minute it ends (0 = midnight), or undefined past the covered dates.
  function openUntil(line, today, end) {
    for (let day = today; end === 1440; ) {
      if (day >= line.until) return undefined;
      const next = hoursOn(line, day + 1);
      if (!next.length || next[0][0] !== 0) return 0;
      day += 1;
      end = next[0][1];
    }
    return end;
  }

  // null when the instant is outside the covered dates: then nobody can tell.
  function status(line, now) {
    const tokyo = now + TOKYO;
    const today = Math.floor(tokyo / DAY);
    const minute = Math.floor((tokyo - today * DAY) / 60000);
    if (today < line.from || today > line.until) return null;
    for (const [start, end] of hoursOn(line, today)) {
      if (start <= minute && minute < end) return { open: true, until: openUntil(line, today, end) };
    }
    for (let day = today; day <= line.until; day++) {
      for (const [start] of hoursOn(line, day)) {
        if (day > today || start > minute) return { open: false, day, ahead: day - today, at: start };
      }
    }
    return { open: false };
  }

  function describe(s) {
    if (s.open) return s.until === undefined ? text.textAllday : fill(text.textOpen, { time: clock(s.until) });
    if (s.at === undefined) return text.textClosed;
    const name = text.textWeekdays.split('|')[weekday(s.day)];
    let day;
    if (s.ahead === 0) day = text.textToday;
    else if (s.ahead === 1) day = text.textTomorrow;
    else if (s.ahead < 7) day = name;
    else {
      const date = new Date(s.day * DAY); // midnight UTC of that Tokyo date: read it with getUTC*
      day = fill(text.textDate, {
        weekday: name, day: date.getUTCDate(), month: text.textMonths.split('|')[date.getUTCMonth()],
      });
    }
    return fill(text.textNext, { day, time: clock(s.at) });
  }

  const badges = Array.from(document.querySelectorAll('.now[data-week]'), (el) => ({ el, line: parse(el) }));
  // The lines one can call now (#now): each item names its card, whose badge carries the rules.
  const byCard = new Map(badges.map((badge) => [badge.el.closest('[id]').id, badge.line]));
  const listed = Array.from(document.querySelectorAll('#now li[data-line]'));
  let timer = 0;

  // Write only a change, so assistive technology has nothing new to read every minute.
  const write = (el, words) => { if (el.textContent !== words) el.textContent = words; };

  function update() {
    const now = Date.now();
    for (const { el, line } of badges) {
      const s = status(line, now);
      if (!s) {
        el.hidden = true;
        continue;
      }
      write(el, describe(s));
      el.classList.toggle('is-open', s.open);
      el.hidden = false;
    }
    // Shown: the lines open at this instant; past the covered dates, only those open around
    // the clock (as without JavaScript).
    for (const item of listed) {
      const line = byCard.get(item.dataset.line);
      const s = line && status(line, now);
      const hide = s ? !s.open : !('allday' in item.dataset);
      if (item.hidden !== hide) item.hidden = hide; // setting it unchanged would still be a mutation
      if (s && s.open) write(item.querySelector('.when'), describe(s));
    }
    clearTimeout(timer);
    timer = setTimeout(update, 60000 - (now % 60000) + 50); // just after the next minute starts
  }

  // A phone that slept may have held the timer back: look again when the page is shown.
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) update();
  });
  update();
})();
