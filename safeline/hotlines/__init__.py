"""The consultation lines of ``data/hotlines.yaml``, stated once for the build and the relay.

``model`` loads and checks the file, ``schedule`` answers whether a line is open at an instant,
``hours`` says it in words (Babel).  The Pelican plugin ``pelican.plugins.hotlines`` hands
them to the site's templates; the relay uses them for the lines open now on the pages that
say a report could not be taken.  Neither of them imports Pelican.
"""
