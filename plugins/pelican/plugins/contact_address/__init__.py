"""The address staff write from, on the pages that promise it (the privacy page).

A paragraph that is exactly ``[contact-address]`` in a page's Markdown becomes a sentence in the
page's language naming the address that mail from staff comes from: the setting
``CONTACT_ADDRESS`` (pelicanconf.py: the development value; publishconf.py: the environment
variable ``SAFELINE_CONTACT_ADDRESS``, without which a production build refuses to start).
It is the relay's ``RELAY_CONTACT_ADDRESS``, which the report form shows: both must be the same.
"""

from __future__ import annotations

import re

from markupsafe import escape
from pelican import signals
from pelican.contents import Page
from pelican.plugins import i18n

from safeline.site import N_

MARKER = re.compile(r"<p>\[contact-address\]</p>")
SENTENCE = N_("Mail from Safeline's staff comes from this address: {address}")


def replace_marker(content) -> None:
    if not isinstance(content, Page) or not content._content or "[contact-address]" not in content._content:
        return
    address = content.settings.get("CONTACT_ADDRESS")
    if not address:
        raise SystemExit(f"{content.source_path}: [contact-address] needs the setting CONTACT_ADDRESS")
    text = i18n.translations(content.lang).gettext(SENTENCE)
    shown = str(escape(text)).replace("{address}", f'<strong class="contact-address">{escape(address)}</strong>')
    content._content = MARKER.sub(lambda _: f"<p>{shown}</p>", content._content)


def register() -> None:
    signals.content_object_init.connect(replace_marker)
