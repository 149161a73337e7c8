"""The post-publish step that makes asv's site offline: the map, the copies, the rewritten pages."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import asv
import pytest

from lbfgs_impl.tracking import asv_site
from lbfgs_impl.tracking.asv_site import (
    CDN_FILES,
    VENDOR_DIR,
    UnknownExternalReference,
    external_references,
    rewrite_html,
    sri,
    vendor_site,
)

ASV_WWW = Path(asv.__file__).resolve().parent / "www"
ASV_INDEX = (ASV_WWW / "index.html").read_text(encoding="utf-8")

# The copies whose bytes differ from the CDN's: npm ships flot 0.8.3's sources, the CDN minified builds.
NOT_BYTE_IDENTICAL = {url for url in CDN_FILES if "/flot/0.8.3/" in url}


def _integrity(tag_html: str, url: str) -> str:
    tag = next(t for t in re.findall(r"<(?:script|link)\b[^>]*>", tag_html) if f'"{url}"' in t)
    return re.search(r'integrity="([^"]+)"', tag).group(1)


def test_the_map_covers_exactly_what_asvs_pages_load():
    loaded = set()
    for page in ASV_WWW.glob("*.html"):
        loaded |= set(external_references(page.read_text(encoding="utf-8")))
    assert loaded == set(CDN_FILES)


def test_every_vendored_file_exists_with_its_licence():
    for local in CDN_FILES.values():
        assert (VENDOR_DIR / local).is_file(), local
        package = VENDOR_DIR / local.split("/")[0]
        licences = list(package.glob("LICENSE*"))
        # flot-orderbars ships none: its MIT grant is in the file's header
        assert licences or "Released under the MIT license" in (VENDOR_DIR / local).read_text(), package
    readme = (VENDOR_DIR / "README.md").read_text()
    for folder in {local.split("/")[0] for local in CDN_FILES.values()}:
        assert f"`{folder}/`" in readme


@pytest.mark.parametrize("url", sorted(set(CDN_FILES) - NOT_BYTE_IDENTICAL))
def test_copies_are_the_cdn_files_byte_for_byte(url):
    """asv pins each CDN file by its Subresource Integrity hash: the copy must have the same one."""
    expected = _integrity(ASV_INDEX, url)
    algorithm = expected.split("-", 1)[0]
    assert sri(VENDOR_DIR / CDN_FILES[url], algorithm) == expected


def test_flot_copies_are_the_0_8_3_release():
    """The one copy not byte-identical to the CDN's: the same release, by its own version string."""
    assert all("/flot/0.8.3/" in url for url in NOT_BYTE_IDENTICAL) and len(NOT_BYTE_IDENTICAL) == 4
    core = (VENDOR_DIR / "flot-0.8.3/jquery.flot.js").read_text()
    assert core.startswith("/* Javascript plotting library for jQuery, version 0.8.3.")
    assert '$.plot.version = "0.8.3";' in core


def test_rewritten_index_loads_nothing_from_outside_and_each_copy_with_its_hash():
    html = rewrite_html(ASV_INDEX)
    assert external_references(html) == []
    assert "https://" not in re.sub(r"<a\b[^>]*>", "", html)  # links to asv's home remain links
    for url, local in CDN_FILES.items():
        assert f'"{url}"' not in html
        src = f"vendor/{local}"
        assert src in html
        algorithm = _integrity(ASV_INDEX, url).split("-", 1)[0]
        assert _integrity(html, src) == sri(VENDOR_DIR / local, algorithm)
        if url not in NOT_BYTE_IDENTICAL:
            assert _integrity(html, src) == _integrity(ASV_INDEX, url)
    # everything else of the page is untouched
    assert html.count("\n") == ASV_INDEX.count("\n")


def test_unknown_external_script_is_an_error_naming_it():
    html = ASV_INDEX.replace(
        "</head>", '<script src="https://cdn.example.org/new-lib-1.0.js"></script></head>'
    )
    with pytest.raises(UnknownExternalReference, match=r"cdn\.example\.org/new-lib-1\.0\.js"):
        rewrite_html(html)


def _fake_site(tmp_path: Path) -> Path:
    site = tmp_path / "html"
    site.mkdir()
    for page in ("index.html", "error.html"):
        shutil.copy(ASV_WWW / page, site / page)
    return site


def test_vendor_site_copies_the_files_and_rewrites_index_only(tmp_path):
    site = _fake_site(tmp_path)
    error_before = (site / "error.html").read_text()
    assert vendor_site(site) == [site / "index.html"]
    assert (site / "error.html").read_text() == error_before
    for local in CDN_FILES.values():
        assert (site / "vendor" / local).read_bytes() == (VENDOR_DIR / local).read_bytes()
    for font in ("eot", "svg", "ttf", "woff"):  # what bootstrap.min.css loads from ../fonts/
        assert (site / "vendor/bootstrap-3.1.1/fonts" / f"glyphicons-halflings-regular.{font}").is_file()
    assert not list(site.glob("*.tmp"))
    # a second run (the nightly re-publishes into the same folder) changes nothing more
    first = (site / "index.html").read_text()
    assert vendor_site(site) == []
    assert (site / "index.html").read_text() == first


def test_a_failed_rewrite_leaves_the_site_as_it_was(tmp_path):
    site = _fake_site(tmp_path)
    index = site / "index.html"
    extra = '<script src="//elsewhere.example/x.js"></script></head>'
    index.write_text(index.read_text().replace("</head>", extra))
    before = index.read_text()
    with pytest.raises(UnknownExternalReference):
        vendor_site(site)
    assert index.read_text() == before and not (site / "vendor").exists()


def test_cli_exit_codes(tmp_path, capsys):
    assert asv_site.main([str(tmp_path / "missing")]) == 2
    assert "run `asv publish` first" in capsys.readouterr().err
    site = _fake_site(tmp_path)
    assert asv_site.main([str(site)]) == 0
    assert "1 page(s)" in capsys.readouterr().out


def test_installed_package_carries_every_vendored_file():
    """pyproject's package-data globs (the nightly installs the project, not an editable checkout)."""
    import tomllib

    package = VENDOR_DIR.parents[1]
    patterns = tomllib.loads((package.parent / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["lbfgs_impl"]
    shipped = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    vendored = {p for p in VENDOR_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert vendored and vendored <= shipped, sorted(map(str, vendored - shipped))
