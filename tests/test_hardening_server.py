"""Findings 4 and 6: the request guard. Only the host names the server was started for; no
cross-origin state change or credentialed read; a token on a non-loopback host; bounded bodies.
Checked on the real app (served by the `app_url` fixture) and on the guard alone with other
settings."""
import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from app import settings
from app.security import Guard


async def _echo(request):
    body = await request.body()
    return PlainTextResponse(f"ok {len(body)}")


def guarded(**changes):
    settings.configure(**changes)
    inner = Starlette(routes=[Route("/{p:path}", _echo, methods=["GET", "POST"])])
    return TestClient(Guard(inner), base_url=f"http://{changes.get('host', '127.0.0.1')}:7860")


@pytest.fixture(autouse=True)
def restore_settings():
    before = settings.current()
    yield
    settings._current = before


def test_foreign_host_header_is_refused_by_the_app(app_url):
    r = httpx.get(app_url, headers={"Host": "evil.example"})
    assert r.status_code == 400 and "unknown host" in r.text
    r = httpx.get(app_url.rstrip("/") + "/config", headers={"Host": "evil.example:7860"})
    assert r.status_code == 400
    assert httpx.get(app_url).status_code == 200


def test_cross_origin_requests_are_refused_by_the_app(app_url):
    base = app_url.rstrip("/")
    join = base + "/gradio_api/queue/join"
    for origin in ("http://localhost:9999", "http://evil.example", "null"):
        assert httpx.post(join, json={}, headers={"Origin": origin}).status_code == 403
        r = httpx.options(join, headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
        assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
        r = httpx.get(base + "/config", headers={"Origin": origin})
        assert r.status_code == 403 and "access-control-allow-credentials" not in r.headers
    upload = httpx.post(base + "/gradio_api/upload", files={"files": ("x.yaml", b"nc: 1\n")},
                        headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert upload.status_code == 403
    # the page's own requests still work
    same = base.replace("http://", "")
    assert httpx.get(base + "/config", headers={"Origin": f"http://{same}"}).status_code == 200


def test_oversized_bodies_are_refused_by_the_app(app_url):
    join = app_url.rstrip("/") + "/gradio_api/queue/join"
    big = b'{"data": ["' + b"x" * (2 * 2**20) + b'"]}'
    r = httpx.post(join, content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(40):
            yield b"x" * 65536

    r = httpx.post(join, content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert httpx.get(app_url).status_code == 200


def test_uploads_have_a_size_limit(app_url):
    """An upload that declares more than the limit is answered 413 before its body is read."""
    import socket
    from urllib.parse import urlsplit

    limit = settings.current().max_file_size
    u = urlsplit(app_url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
        sock.sendall((f"POST /gradio_api/upload HTTP/1.1\r\nHost: {u.netloc}\r\n"
                      f"Content-Type: multipart/form-data; boundary=x\r\n"
                      f"Content-Length: {limit + 3 * 2**20}\r\n\r\n").encode())
        answer = sock.recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:80]


def test_loopback_server_accepts_only_loopback_names():
    c = guarded(host="127.0.0.1", token="")
    assert c.get("/", headers={"Host": "localhost:7860"}).status_code == 200
    assert c.get("/", headers={"Host": "127.0.0.1"}).status_code == 200
    assert c.get("/", headers={"Host": "[::1]:7860"}).status_code == 200
    for bad in ("evil.example", "127.0.0.1.evil.example", "localhost.evil:7860", ""):
        assert c.get("/", headers={"Host": bad}).status_code == 400, bad


def test_non_loopback_host_requires_the_token():
    s = settings.configure(host="10.1.2.3", token=None)
    assert s.token and len(s.token) >= 24  # made at start, printed with the address
    c = guarded(host="10.1.2.3")
    host = {"Host": "10.1.2.3:7860"}
    r = c.get("/", headers=host)
    assert r.status_code == 401 and "token" in r.text
    assert c.get("/", headers={**host, "Authorization": "Bearer wrong"}).status_code == 401
    r = c.get(f"/?token={s.token}", headers=host)
    assert r.status_code == 200 and "yld_token=" in r.headers["set-cookie"]
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=Strict" in r.headers["set-cookie"]
    assert c.get("/x", headers={**host, "Cookie": f"yld_token={s.token}"}).status_code == 200
    assert c.post("/x", headers={**host, "Authorization": f"Bearer {s.token}"}).text == "ok 0"
    assert c.get("/", headers={"Host": "evil.example", "Authorization": f"Bearer {s.token}"}).status_code == 400
    # the Netron viewer's own ?token= (an export's) does not hide the session's cookie
    r = c.get("/netron/index.html?token=export123", headers={**host, "Cookie": f"yld_token={s.token}"})
    assert r.status_code == 200 and "set-cookie" not in r.headers
    c.cookies.clear()  # the client kept the cookie set above
    assert c.get("/netron/index.html?token=export123", headers=host).status_code == 401


def test_no_auth_and_extra_host_names_are_explicit():
    c = guarded(host="0.0.0.0", token="", allowed_hosts=())
    assert settings.current().token is None
    assert c.get("/", headers={"Host": "box.lan:7860"}).status_code == 200  # every interface: any name
    c = guarded(host="10.1.2.3", token="", allowed_hosts=("designer.lan",))
    assert c.get("/", headers={"Host": "designer.lan:7860"}).status_code == 200
    assert c.get("/", headers={"Host": "other.lan:7860"}).status_code == 400


def test_server_data_yaml_paths_follow_the_data_roots(tmp_path):
    inside = tmp_path / "data" / "data.yaml"
    inside.parent.mkdir()
    inside.write_text("names: [a]\n")
    assert settings.configure(host="127.0.0.1", data_roots=()).data_path_allowed(str(inside))
    s = settings.configure(host="10.1.2.3", token="t", data_roots=())
    assert not s.data_path_allowed(str(inside))
    s = settings.configure(data_roots=(str(tmp_path / "data"),))
    assert s.data_path_allowed(str(inside)) and not s.data_path_allowed("/etc/passwd")
    assert not s.data_path_allowed(str(tmp_path / "data" / ".." / "elsewhere.yaml"))


def test_launch_flags_fill_the_settings():
    import launch

    a = launch.parser().parse_args(["--host", "0.0.0.0", "--max-jobs", "2", "--disk-quota", "3G",
                                    "--max-file-size", "50M", "--no-auth", "--allow-host", "Box.LAN"])
    opts = launch.server_options(a)
    assert opts["max_jobs"] == 2 and opts["disk_quota"] == 3 * 2**30 and opts["max_file_size"] == 50 * 2**20
    assert opts["token"] == "" and opts["allowed_hosts"] == ("box.lan",)
    assert launch.main(["--disk-quota", "lots"]) == 2
