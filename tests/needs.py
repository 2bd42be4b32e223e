"""What some tests need from the machine, looked up in one place: kubectl, dig, PostgreSQL, an older client,
a browser.

Why one place: a test that cannot find what it needs skips on a developer's machine that lacks it, but
fails when the environment says the thing is required (``KUBELITE_REQUIRE_<WHAT>=1``, which ``.ci/run``
sets for every one of them). So CI can never go green by skipping, and no test decides that on its own.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

PG_HINT = ".ci/postgres starts one"


def required(what: str) -> bool:
    return os.environ.get(f"KUBELITE_REQUIRE_{what}") == "1"


def missing(what: str, why: str, *, module: bool = False) -> NoReturn:
    """Skip (or, when KUBELITE_REQUIRE_<what>=1, fail) because ``why``."""
    if required(what):
        pytest.fail(f"{why}, and KUBELITE_REQUIRE_{what}=1 makes that a failure", pytrace=False)
    pytest.skip(f"{why} (set KUBELITE_REQUIRE_{what}=1 to make this a failure)", allow_module_level=module)


def tool(name: str, *, package: str, what: str, module: bool = False) -> str:
    """The path of ``name`` on PATH."""
    path = shutil.which(name)
    if path is None:
        missing(what, f"{name} is not on PATH (Debian package {package})", module=module)
    return path


def kubectl(*, module: bool = False) -> str:
    return tool("kubectl", package="kubectl", what="KUBECTL", module=module)


def dig(*, module: bool = False) -> str:
    return tool("dig", package="bind9-dnsutils", what="DIG", module=module)


def browser(*, module: bool = False) -> tuple[str, str]:
    """Headless Chromium and its driver from the system (Debian packages chromium, chromium-driver): the
    paths of both, so Selenium is pointed at them and never downloads a driver of its own."""
    paths = []
    for name, package in (("chromium", "chromium"), ("chromedriver", "chromium-driver")):
        path = shutil.which(name)
        if path is None:
            missing("BROWSER", f"{name} is not on PATH (Debian package {package})", module=module)
        paths.append(path)
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing("BROWSER", "selenium is not installed (pip install -e '.[dev]')", module=module)
    return paths[0], paths[1]


def pg_url(*, module: bool = False) -> str:
    """The admin URL of the test PostgreSQL server (KUBELITE_TEST_PG_URL)."""
    url = os.environ.get("KUBELITE_TEST_PG_URL", "")
    if not url:
        missing("PG", f"PostgreSQL tests need KUBELITE_TEST_PG_URL ({PG_HINT})", module=module)
    return url


def k8s_client(version: str) -> Path:
    """A directory holding another release of the ``kubernetes`` client, installed before the run.

    Tests download nothing: ``.ci/run`` installs it (``pip install --target DIR
    kubernetes==X``) and names the directory in KUBELITE_K8S<major>_PATH.
    """
    var = f"KUBELITE_K8S{version}_PATH"
    path = Path(os.environ.get(var, "/nonexistent"))
    if not (path / "kubernetes").is_dir():
        missing("CLIENTS", f"kubernetes {version}.x is not installed: set {var} to a directory made with "
                           f"`pip install --target DIR 'kubernetes=={version}.*'`")
    return path
