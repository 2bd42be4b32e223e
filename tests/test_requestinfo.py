"""apiserver.requestinfo: the URL is parsed once, and the handler's Target is the authorizer's."""

from __future__ import annotations

import pytest

from apimachinery.errors import StatusError
from apimachinery.resources import BY_KEY
from apiserver.requestinfo import INFO_KEY, Target, parse_path, request_info, target_of


def _urls() -> list[tuple[str, str]]:
    out = []
    for rt in BY_KEY.values():
        ns = "/namespaces/n1" if rt.namespaced else ""
        base = f"{rt.url_prefix()}{ns}/{rt.plural}"
        out += [("GET", base), ("POST", base), ("GET", f"{base}/x")]
        out += [("PUT", f"{base}/x/{sub}") for sub in sorted(rt.subresources)]
    return out


@pytest.mark.parametrize(("method", "url"), _urls())
def test_request_info_carries_the_handlers_target(method: str, url: str) -> None:
    prefix, _, path = url.lstrip("/").partition("/")
    info = request_info(method, url)
    assert info.target == parse_path(prefix, path)
    assert target_of({INFO_KEY: info}, prefix, path) is info.target  # not parsed a second time


def test_target_of_parses_when_no_filter_did() -> None:
    assert target_of({}, "api", "v1/namespaces/n1/pods/p") == Target(BY_KEY["pods"], "n1", "p", None)


@pytest.mark.parametrize("url", ["/api/v1/watch/namespaces/ns/pods", "/apis/unknown.example/v1/widgets/w",
                                 "/api/v1/namespaces/ns/pods/p/nope"])
def test_a_url_naming_no_served_resource_keeps_the_routers_404(url: str) -> None:
    prefix, _, path = url.lstrip("/").partition("/")
    info = request_info("GET", url)
    assert info.resource_request and info.target is None
    with pytest.raises(StatusError) as e:
        target_of({INFO_KEY: info}, prefix, path)
    assert e.value.code == 404
