"""What the tests share, one module per domain; tests/conftest.py registers every fixture here.

    site           the site's build and its built pages (fixtures: site, page)
    keys           the staff keys of the tests (fixtures: generated_key, staff_keys)
    gnupg          keys made and mail decrypted by GnuPG, as staff's own programs do (fixture:
                   gnupg_home, whose gpg-agent is stopped afterwards)
    reports        a report as a person sends it and as staff read it: the form, the relay's
                   pages, the sealed mail
    relay_app      the relay app under test (fixtures: catalogs, outbox_dir, relay_env, app, client)
    mail           mail servers (fixtures: mail_server, odd_server), the outbox and the
                   delivery worker (fixtures: outbox, target)
    redis_server   Debian's redis-server (fixture: redis_server)
    dovecot        Debian's Dovecot, a real IMAP mailbox over TLS (fixtures: dovecot, imap_account)
    staff_keyring  a keyring backend of the tests' own for the staff kit (fixture: staff_keyring)
    folder_events  what the kernel saw happen in a folder (inotify): created, written, renamed
    relay_server   the relay under gunicorn, and a plain HTTP client for it
    nginx_server   deploy/nginx as shipped, over TLS, in front of a relay
    browser        Chromium and the local stack (fixtures: browser, serve, served_site, stack)

What the benchmarks and ./run serve use too (the local mail server, nginx's configuration,
free ports) is in devtools/, which the tests import like any other code.
"""
