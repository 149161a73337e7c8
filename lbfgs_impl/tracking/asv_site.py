"""Make a site built by ``asv publish`` work offline: the scripts it loads from CDNs, served from the site.

asv's ``index.html`` loads jQuery, flot (and its plugins), stupidtable, blueimp-md5 and Bootstrap from
public CDNs. :func:`vendor_site` copies the same releases, kept in ``asv_vendor/`` beside this module
(their origin and licences in its README), into ``<site>/vendor/`` and points every CDN reference of
the site's HTML files at those copies, each with the Subresource Integrity hash of the file it now loads
(where the copy is byte-identical to the CDN's file, that is the hash asv wrote).

Run it after ``asv publish``::

    python -m lbfgs_impl.tracking.asv_site .asv/html

An external reference it does not know (a newer asv) is an error naming it, never a silent miss.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import shutil
import sys
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent / "asv_vendor"
SITE_SUBDIR = "vendor"

#: Every external URL asv 0.6's HTML references -> the vendored file (relative to ``asv_vendor/``).
CDN_FILES: dict[str, str] = {
    "https://code.jquery.com/jquery-3.3.1.min.js": "jquery-3.3.1/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js": "flot-0.8.3/jquery.flot.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js": (
        "flot-0.8.3/jquery.flot.time.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js": (
        "flot-0.8.3/jquery.flot.selection.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js": (
        "flot-0.8.3/jquery.flot.categories.js"
    ),
    "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js": (
        "flot-orderbars-1.0.0/jquery.flot.orderBars.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js": (
        "stupidtable-1.0.1/stupidtable.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js": (
        "blueimp-md5-2.19.0/md5.min.js"
    ),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js": (
        "bootstrap-3.1.1/js/bootstrap.min.js"
    ),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css": (
        "bootstrap-3.1.1/css/bootstrap.min.css"
    ),
}

# A <script src=...> or <link href=...> tag whose address is absolute (http:, https: or protocol-relative).
_TAG = re.compile(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"((?:https?:)?//[^\"]+)\"[^>]*>", re.IGNORECASE)
_INTEGRITY = re.compile(r"\bintegrity=\"(sha256|sha384|sha512)-[^\"]*\"")


class UnknownExternalReference(ValueError):
    """The site loads something from outside that no vendored file stands for."""


def sri(path: Path, algorithm: str = "sha384") -> str:
    """The Subresource Integrity value of a file: ``"<algorithm>-<base64 digest>"``."""
    digest = hashlib.new(algorithm, path.read_bytes()).digest()
    return f"{algorithm}-{base64.b64encode(digest).decode()}"


def external_references(html: str) -> list[str]:
    """The absolute URLs the page's script and link tags load (``<a>`` links are not loads)."""
    return [m.group(1) for m in _TAG.finditer(html)]


def rewrite_html(html: str, prefix: str = SITE_SUBDIR) -> str:
    """``html`` with every CDN address replaced by ``prefix/<vendored file>`` and its integrity updated.

    Raises:
      UnknownExternalReference: a script or stylesheet is loaded from an address with no vendored copy.
    """
    unknown = sorted({url for url in external_references(html) if url not in CDN_FILES})
    if unknown:
        raise UnknownExternalReference(
            "no vendored copy of " + ", ".join(unknown) + f" (known: {', '.join(sorted(CDN_FILES))})"
        )

    def replace(match: re.Match[str]) -> str:
        tag, url = match.group(0), match.group(1)
        local = CDN_FILES[url]
        tag = tag.replace(f'"{url}"', f'"{prefix}/{local}"')
        found = _INTEGRITY.search(tag)
        algorithm = found.group(1) if found else "sha384"
        value = sri(VENDOR_DIR / local, algorithm)
        if found:
            return tag[: found.start()] + f'integrity="{value}"' + tag[found.end() :]
        return tag[:-1] + f' integrity="{value}">'

    return _TAG.sub(replace, html)


def vendor_site(site: Path) -> list[Path]:
    """Copy the vendored files into ``site/vendor/`` and rewrite the site's HTML files to load them.

    Returns the HTML files rewritten. Each is replaced in one step (written beside it, then renamed),
    so a failure leaves the published page as it was.
    """
    site = Path(site)
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"{site} has no index.html: run `asv publish` first")
    pages = sorted(site.glob("*.html"))
    rewritten = {page: rewrite_html(page.read_text(encoding="utf-8")) for page in pages}
    target = site / SITE_SUBDIR
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(VENDOR_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    changed = []
    for page, text in rewritten.items():
        if text == page.read_text(encoding="utf-8"):
            continue
        tmp = page.with_name(page.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(page)
        changed.append(page)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lbfgs_impl.tracking.asv_site",
        description="Serve the scripts of a site built by `asv publish` from the site itself (offline).",
    )
    parser.add_argument("site", type=Path, help="the folder `asv publish` wrote (asv.conf.json's html_dir)")
    args = parser.parse_args(argv)
    try:
        changed = vendor_site(args.site)
    except (FileNotFoundError, UnknownExternalReference) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(changed)} page(s) now load their scripts from {args.site / SITE_SUBDIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
