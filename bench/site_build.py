"""Benchmark (d): building a generated 1,000-page content set, our theme and plugins against plain Pelican.

The content set: 500 generated pages in Japanese and their 500 English twins (same Slug,
headings, paragraphs, lists and links to other pages, about as long as the site's own pages),
plus the site's own content (its pages in content/pages/, which the theme links to, and the
files of content/extra/).  It is built, each time into an empty output folder, in separate
Pelican processes:

  ours   pelicanconf.py as ``./run build`` uses it (our theme and every plugin in its PLUGINS;
         the audit skips a build that is neither STRICT nor AUDIT) with PATH, OUTPUT_PATH and
         CACHE_PATH pointed at temporary folders;
  plain  Pelican with bench/minimal_theme (base and page templates, no menu), no plugins, the
         same page URL, language and Markdown settings;
  ours + audit (as ./run check)  ours with STRICT = True: the after-build checks of links and
         hosts run, and would fail the build on any warning (what the audit costs);
  cache  ours with CACHE_CONTENT = True and LOAD_CONTENT_CACHE = True: a build with an empty
         cache (cold, it fills the cache), then a rebuild with the cache warm;
  plain, menu of every page  (--pitfall) plain with a menu that lists every page, as many
         themes do: the build becomes quadratic.  Our menu lists only pages with a Nav number,
         collected once per build by the navigation plugin.

Each round builds every kind once, in turn.  Times are wall-clock seconds of the whole
`python -m pelican` process (interpreter start and imports included), Pelican's own "Processed
... in X seconds", and the CPU seconds of the process (steadier on a shared machine); figures
are medians of the rounds.  Goal: ours <= 1.2 x plain (wall).

    .venv/bin/python bench/site_build.py [--pairs 500] [--runs 3] [--pitfall] [--smoke]
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (PY, ROOT, add_run_options, cpu_times, load_average, others_share,  # noqa: E402
                          print_machine, scratch_folder, smoke, stop_on_sigterm, verdict, wait_until_quiet)

MINIMAL_THEME = ROOT / "bench" / "minimal_theme"
GOAL = 1.2
AUDITED = "ours + audit (as ./run check)"
REAL_PAGES = ["home", "before-you-report", "faq", "support", "police", "privacy", "about", "safety"]
# Settings of pelicanconf.py that shape the pages themselves; "plain" keeps them.
SHARED = [
    "SITENAME", "SITEURL", "RELATIVE_URLS", "TIMEZONE", "DEFAULT_LANG", "PAGE_PATHS", "ARTICLE_PATHS",
    "STATIC_PATHS", "THEME_STATIC_DIR", "DELETE_OUTPUT_DIRECTORY", "PAGE_URL", "PAGE_SAVE_AS", "PAGE_LANG_URL",
    "PAGE_LANG_SAVE_AS", "PAGE_TRANSLATION_ID", "SLUGIFY_SOURCE", "DIRECT_TEMPLATES", "ARTICLE_SAVE_AS",
    "ARTICLE_LANG_SAVE_AS", "DRAFT_SAVE_AS", "DRAFT_LANG_SAVE_AS", "DRAFT_PAGE_SAVE_AS", "DRAFT_PAGE_LANG_SAVE_AS",
    "AUTHOR_SAVE_AS", "AUTHORS_SAVE_AS", "CATEGORY_SAVE_AS", "CATEGORIES_SAVE_AS", "TAG_SAVE_AS", "TAGS_SAVE_AS",
    "ARCHIVES_SAVE_AS", "FEED_ALL_ATOM", "FEED_ALL_RSS", "CATEGORY_FEED_ATOM", "TRANSLATION_FEED_ATOM",
    "AUTHOR_FEED_ATOM", "AUTHOR_FEED_RSS", "MARKDOWN", "TYPOGRIFY", "EXTRA_PATH_METADATA",
]

JA_SENTENCES = [
    "同意なく公開された画像や動画は、見つけた時点で早めに通報してください。",
    "通報を受けたあと、私たちがサイトの管理者に削除をお願いします。",
    "通報や削除のお願いに、費用はかかりません。",
    "画像そのものを送る必要はありません。載っているページのアドレスを教えてください。",
    "海外のサイトであっても、削除のお願いをすることができます。",
    "削除までにかかる日数は、サイトによって大きくちがいます。",
    "ひとりで抱えこまず、信頼できる人や相談窓口に話してみてください。",
    "身の危険を感じるときは、すぐに110番に電話してください。",
    "検索結果のページではなく、画像が表示されているページを開いてアドレスをコピーします。",
    "同じ画像が複数のサイトに転載されているときは、見つけたアドレスをすべて書いてください。",
    "お知らせいただいたメールアドレスには、内容を確かめるために連絡することがあります。",
    "送られた内容は暗号化され、担当のスタッフだけが読むことができます。",
    "子どもの画像については、保護者の方からの通報も受け付けています。",
    "警察に相談するときは、画面の写真や日時のメモが役に立ちます。",
    "アドレスは、ブラウザのアドレスバーから正確にコピーしてください。",
    "削除されたあとも、しばらくは検索結果に残ることがあります。",
    "この窓口は、一般社団法人セーファーインターネット協会が運営しています。",
    "まわりの人に見られたくないときは、右上の「このサイトをすぐに離れる」を押してください。",
]
JA_HEADINGS = ["通報する前に", "削除のお願いについて", "ページのアドレスの調べ方", "相談できるところ", "よくあるご質問",
               "警察への相談", "安全のために", "情報の取り扱い", "通報のあとで", "転載を見つけたとき"]
EN_SENTENCES = [
    "Report images or videos shared without your consent as soon as you find them.",
    "Once we receive a report, we ask the website's operator to remove them.",
    "Reporting and removal requests are free of charge.",
    "You do not need to send the images themselves: tell us the address of the page where they appear.",
    "We also ask websites outside Japan to remove them.",
    "How long removal takes differs a great deal from one website to another.",
    "You do not have to carry this alone: talk to someone you trust or to a consultation line.",
    "If you are in danger right now, call the police on 110.",
    "Open the page where the image appears, not the search results, and copy its address.",
    "When the same image has been copied to several websites, list every address you found.",
    "We may write to the e-mail address you give us to check the facts.",
    "What you send is encrypted at once, so that only the hotline's staff can read it.",
    "Parents and guardians can report images of a child.",
    "Screenshots and a note of the dates help when you go to the police.",
    "Copy the address exactly from the browser's address bar.",
    "A removed page can stay in search results for a while.",
    "Safeline is run by the Safer Internet Association.",
    "If someone may be watching your screen, press \"Leave this site now\" at the top right.",
]
EN_HEADINGS = ["Before you report", "About removal requests", "Finding the address of a page", "Where to talk",
               "Questions and answers", "Going to the police", "Staying safe", "How we handle your information",
               "After you report", "When you find copies"]


def _page(number: int, lang: str, pairs: int, rng: random.Random) -> str:
    ja = lang == "ja"
    sentences, headings = (JA_SENTENCES, JA_HEADINGS) if ja else (EN_SENTENCES, EN_HEADINGS)
    prefix = "/" if ja else "/en/"
    joiner = "" if ja else " "
    title = f"{rng.choice(headings)} {number}" if not ja else f"{rng.choice(headings)}({number})"
    lines = [f"Title: {title}", f"Slug: bench-{number:04d}", f"Lang: {lang}",
             f"Summary: {rng.choice(sentences)}", ""]
    lines += [joiner.join(rng.sample(sentences, 3)), ""]
    for section in range(rng.randint(3, 4)):
        lines += [f"## {rng.choice(headings)}", ""]
        lines += [joiner.join(rng.sample(sentences, rng.randint(2, 4))), ""]
        if section % 2 == 0:
            lines += [f"- {sentence}" for sentence in rng.sample(sentences, 3)] + [""]
        other = rng.randrange(1, pairs + 1)
        real = rng.choice(REAL_PAGES)
        real_url = ("/" if ja else "/en/") if real == "home" else f"{prefix}{real}/"
        more = "くわしくは" if ja else "See also"
        lines += [f"{more} [{rng.choice(headings)}]({prefix}bench-{other:04d}/) "
                  f"{'と' if ja else 'and'} [**{real}**]({real_url}).", ""]
    return "\n".join(lines)


def generate(content: Path, pairs: int) -> int:
    """The site's own content plus ``pairs`` generated ja/en twins; returns the number of pages.

    The whole of content/ is copied, not only its pages: the build also writes what the
    settings name from the rest of it (STATIC_PATHS, e.g. content/extra/favicon.ico, which every
    page links and the audit looks for)."""
    shutil.copytree(ROOT / "content", content)
    pages = content / "pages"
    rng = random.Random(20261128)
    for number in range(1, pairs + 1):
        for lang in ("ja", "en"):
            (pages / f"bench-{number:04d}.{lang}.md").write_text(_page(number, lang, pairs, rng), encoding="utf-8")
    return len(list(pages.glob("*.md")))


def write_settings(folder: Path, content: Path) -> dict[str, Path]:
    import pelicanconf

    files = {}
    common = (f"PATH = {str(content)!r}\n"
              f"OUTPUT_PATH = {str(folder / 'output')!r}\n"
              f"CACHE_PATH = {str(folder / 'cache')!r}\n")
    ours = (f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom pelicanconf import *  # noqa\n\n" + common)
    files["ours"] = folder / "ours.py"
    files["ours"].write_text(ours + "CACHE_CONTENT = False\nLOAD_CONTENT_CACHE = False\n")
    files[AUDITED] = folder / "ours_audit.py"
    files[AUDITED].write_text(ours + "CACHE_CONTENT = False\nLOAD_CONTENT_CACHE = False\nSTRICT = True\n")
    files["cache"] = folder / "ours_cache.py"
    files["cache"].write_text(ours + "CACHE_CONTENT = True\nLOAD_CONTENT_CACHE = True\n")
    plain = "".join(f"{name} = {getattr(pelicanconf, name)!r}\n" for name in SHARED if hasattr(pelicanconf, name))
    files["plain"] = folder / "plain.py"
    files["plain"].write_text(f"# plain Pelican: the page settings of pelicanconf.py, a minimal theme, no plugins\n"
                              f"{plain}THEME = {str(MINIMAL_THEME)!r}\nPLUGINS = []\n" + common
                              + "CACHE_CONTENT = False\nLOAD_CONTENT_CACHE = False\n")
    files["plain, menu of every page"] = folder / "plain_menu.py"
    files["plain, menu of every page"].write_text(files["plain"].read_text() + "BENCH_MENU_OF_EVERY_PAGE = True\n")
    return files


class Build:
    def __init__(self, wall: float, pelican: float | None, pages: int, warnings: list[str], cpu: float,
                 others: float):
        self.wall, self.pelican, self.pages, self.warnings = wall, pelican, pages, warnings
        self.cpu = cpu  # CPU seconds of the Pelican process
        self.others = others  # share of the CPUs other processes used meanwhile


def build(settings: Path, folder: Path, content: Path, *, timeout: float) -> Build:
    output = folder / "output"
    shutil.rmtree(output, ignore_errors=True)
    command = [PY, "-m", "pelican", str(content), "-s", str(settings), "-o", str(output), "--log-handler", "plain"]
    usage, machine_before = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_times()
    started = time.monotonic()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
    others = others_share(machine_before, cpu_times(), cpu)
    text = done.stdout + done.stderr
    if done.returncode:
        raise RuntimeError(f"{settings.name}: pelican exited with {done.returncode}:\n{text[-3000:]}")
    found = re.search(r"in\s+([\d.]+)\s+seconds", text)
    pages = sum(1 for _ in output.rglob("*.html"))
    warnings = [line for line in text.splitlines() if line.startswith(("WARNING", "ERROR")) or "WARNING" in line[:30]]
    return Build(wall, float(found[1]) if found else None, pages, warnings, cpu, others)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=500, help="generated ja/en page pairs (default 500)")
    parser.add_argument("--runs", type=int, default=3, help="rounds: builds of each kind (default 3)")
    parser.add_argument("--timeout", type=float, default=60.0, help="time limit of one build (default 60 s)")
    parser.add_argument("--pitfall", action="store_true",
                        help="also build plain with a menu of every page (the quadratic pitfall)")
    add_run_options(parser)
    args = parser.parse_args()
    smoke(args, pairs=2, runs=1, pitfall=True)  # the pitfall too: every kind of build once
    stop_on_sigterm()
    print("(d) site build: our theme and plugins vs plain Pelican with a minimal theme")
    wait_until_quiet(args.quiet_wait)
    print_machine()
    began = time.monotonic()
    with scratch_folder(args.keep) as folder:
        content = folder / "content"
        count = generate(content, args.pairs)
        size = sum(path.stat().st_size for path in (content / "pages").glob("*.md"))
        print(f"content: {count} pages ({2 * args.pairs} generated + {count - 2 * args.pairs} of the site), "
              f"{size / 1024:.0f} KiB of Markdown, {size / count / 1024:.1f} KiB per page")
        settings = write_settings(folder, content)
        results: dict[str, list[Build]] = {"ours": [], "plain": [], AUDITED: [], "cache cold": [], "cache warm": []}

        def record(kind: str, result: Build) -> None:
            results[kind].append(result)
            pelican = f", Pelican {result.pelican:.2f} s" if result.pelican is not None else ""
            warned = f", {len(result.warnings)} warnings" if result.warnings else ""
            print(f"  {kind:29}: {result.wall:.2f} s wall{pelican}, {result.cpu:.2f} s CPU, {result.pages} HTML files"
                  f"{warned}; other processes used {result.others:.0%} of the CPUs", flush=True)

        if not args.smoke:
            build(settings["ours"], folder, content, timeout=args.timeout)  # warm the OS file cache, .pyc
            build(settings["plain"], folder, content, timeout=args.timeout)
        if args.pitfall:
            results["plain, menu of every page"] = []
        # Rounds: every kind once per round, so that other work on the machine hits all alike.
        for _ in range(args.runs):
            record("ours", build(settings["ours"], folder, content, timeout=args.timeout))
            record("plain", build(settings["plain"], folder, content, timeout=args.timeout))
            record(AUDITED, build(settings[AUDITED], folder, content, timeout=args.timeout))
            if args.pitfall:
                record("plain, menu of every page",
                       build(settings["plain, menu of every page"], folder, content, timeout=args.timeout))
            shutil.rmtree(folder / "cache", ignore_errors=True)
            record("cache cold", build(settings["cache"], folder, content, timeout=args.timeout))
            record("cache warm", build(settings["cache"], folder, content, timeout=args.timeout))

        wall = {kind: statistics.median(r.wall for r in runs) for kind, runs in results.items()}
        pelican = {kind: statistics.median(r.pelican for r in runs) if all(r.pelican for r in runs) else float("nan")
                   for kind, runs in results.items()}
        for kind, runs in results.items():
            if runs[-1].warnings:
                print(f"  {kind} warned, e.g.: {runs[-1].warnings[0][:200]}")
        print()
        cpu = {kind: statistics.median(r.cpu for r in runs) for kind, runs in results.items()}
        for kind in results:
            print(f"{kind:29}: median {wall[kind]:.2f} s wall, {pelican[kind]:.2f} s in Pelican, {cpu[kind]:.2f} s CPU "
                  f"({wall[kind] / count * 1000:.1f} ms per page)")
        ratio = wall["ours"] / wall["plain"]
        ratio_in = pelican["ours"] / pelican["plain"]
        ratio_cpu = cpu["ours"] / cpu["plain"]
        print(f"ours / plain: {ratio:.2f} wall, {ratio_in:.2f} in Pelican, {ratio_cpu:.2f} CPU "
              f"(goal <= {GOAL}: {verdict(ratio <= GOAL)})")
        print(f"{AUDITED} / plain: {wall[AUDITED] / wall['plain']:.2f} wall, "
              f"{pelican[AUDITED] / pelican['plain']:.2f} in Pelican, {cpu[AUDITED] / cpu['plain']:.2f} CPU; "
              f"the audit takes {cpu[AUDITED] - cpu['ours']:.2f} s of its {cpu[AUDITED]:.2f} s CPU")
        print(f"cache warm / cache cold: {wall['cache warm'] / wall['cache cold']:.2f} wall, "
              f"{pelican['cache warm'] / pelican['cache cold']:.2f} in Pelican, {cpu['cache warm'] / cpu['cache cold']:.2f} CPU; "
              f"warm / ours without cache: {wall['cache warm'] / wall['ours']:.2f} wall, "
              f"{cpu['cache warm'] / cpu['ours']:.2f} CPU")
        if args.pitfall:
            kind = "plain, menu of every page"
            print(f"plain with a menu of every page / plain: {wall[kind] / wall['plain']:.2f} wall, "
                  f"{cpu[kind] / cpu['plain']:.2f} CPU")
        print(f"took {time.monotonic() - began:.0f} s; load average at the end {load_average()}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
