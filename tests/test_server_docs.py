"""/docs and /redoc work offline: their pages load scripts and styles from the app only."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from serkit.inference import load_model
from serkit.server import create_app

#: src= and href= attributes, and url: '...' in the inline script that starts Swagger UI.
URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


@pytest.fixture(scope="module")
def client(tiny_bundle):
    with TestClient(create_app(load_model(tiny_bundle), warm_up=False, torch_threads=None)) as c:
        yield c


def referenced_urls(html: str) -> list[str]:
    return [a or b for a, b in URL.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_references_only_local_urls(client, page):
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "http://" not in response.text and "https://" not in response.text
    urls = referenced_urls(response.text)
    assert any(url.endswith(".js") for url in urls), urls
    assert all(url.startswith("/") for url in urls), urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_assets_are_served(client, page):
    urls = referenced_urls(client.get(page).text)
    assets = [url for url in urls if url.endswith((".js", ".css", ".png"))]
    assert len(assets) >= (3 if page == "/docs" else 2), assets
    for url in assets:
        response = client.get(url)
        assert response.status_code == 200, url
        assert len(response.content) > 1000, url


def test_docs_page_loads_the_schema_it_names(client):
    urls = referenced_urls(client.get("/docs").text)
    assert "/openapi.json" in urls
    assert client.get("/openapi.json").json()["info"]["title"] == "serkit"


def test_oauth2_redirect_page_is_local(client):
    response = client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert "https://" not in response.text and "http://" not in response.text


def test_docs_routes_are_not_part_of_the_api_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(path.startswith(("/docs", "/redoc")) for path in paths)
