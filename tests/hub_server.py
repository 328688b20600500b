"""A local stand-in for the Hugging Face hub and for a release-file server, served in-process on a thread.

It answers what huggingface_hub asks of a file (HEAD and GET of ``/{repo}/resolve/{revision}/{file}``, with the
``X-Repo-Commit``, ``ETag``/``X-Linked-Etag`` and ``Content-Length`` headers, HTTP ranges, and the hub's
``X-Error-Code`` on errors), and serves plain files under ``/files/``. Faults are set per path: "cut" (the
connection closes halfway through the file), "corrupt" (one byte differs, the headers still give the true
digest), "404", "cut-once" (cut, then served whole), "html" (an HTML page with status 200, as a moved file's host may
answer; "html-octet": the same page labelled application/octet-stream), "norange" (the whole file, status 200,
whatever range was asked); and per repository, ``gated`` (401 without a token).
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LFS_MIN_BYTES = 10_000  # files from this size are served as LFS files: their ETag is their sha256
HTML_PAGE = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please sign in.</body></html>\n"


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Hub:
    """``Hub()`` as a context manager: ``url`` is its endpoint; ``add_repo``, ``add_file`` and ``faults`` set what it
    serves; ``log`` lists ``(method, path, range header)`` of every request."""

    def __init__(self):
        self.repos: dict[str, tuple[str, dict[str, bytes]]] = {}
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, str] = {}
        self.gated: set[str] = set()
        self.log: list[tuple[str, str, str | None]] = []

    def add_repo(self, repo: str, commit: str, folder: Path) -> None:
        folder = Path(folder)
        self.repos[repo] = (commit, {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
                                     if p.is_file() and not p.name.startswith(".")})

    def add_file(self, name: str, data: bytes) -> str:
        self.files[name] = data
        return f"{self.url}/files/{name}"

    def __enter__(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                hub._serve(self, body=False)

            def do_GET(self):
                hub._serve(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # -------------------------------------------------------------------------------------------- serving
    def _serve(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        self.log.append((h.command, h.path, h.headers.get("Range")))
        path = h.path.split("?")[0]
        if m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            return self._resolve(h, m[1], m[2], m[3], body)
        if m := re.fullmatch(r"/files/(.+)", path):
            if m[1] not in self.files or self.faults.get(path) == "404":
                return self._error(h, 404, None)
            return self._send(h, path, self.files[m[1]], {}, body)
        return self._error(h, 404, None)

    def _resolve(self, h, repo: str, revision: str, filename: str, body: bool) -> None:
        if repo not in self.repos:
            return self._error(h, 404, "RepoNotFound")
        if repo in self.gated and not h.headers.get("Authorization"):
            return self._error(h, 401, "GatedRepo")
        commit, files = self.repos[repo]
        if revision not in (commit, "main"):
            return self._error(h, 404, "RevisionNotFound")
        if filename not in files or self.faults.get(h.path) == "404":
            return self._error(h, 404, "EntryNotFound")
        data = files[filename]
        headers = {"X-Repo-Commit": commit}
        if len(data) >= LFS_MIN_BYTES:
            digest = hashlib.sha256(data).hexdigest()
            headers |= {"ETag": f'"{digest}"', "X-Linked-Etag": f'"{digest}"', "X-Linked-Size": str(len(data))}
        else:
            headers["ETag"] = f'"{git_blob_sha1(data)}"'
        self._send(h, h.path.split("?")[0], data, headers, body)

    def _send(self, h, path: str, data: bytes, headers: dict, body: bool) -> None:
        fault = self.faults.get(path)
        if fault == "corrupt":
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        if fault in ("html", "html-octet"):
            data = HTML_PAGE
            headers = {"Content-Type": "text/html; charset=utf-8" if fault == "html" else "application/octet-stream"}
        start = 0
        rng = h.headers.get("Range") if body and fault != "norange" else None
        if rng and (m := re.fullmatch(r"bytes=(\d+)-", rng)):
            start = int(m[1])
        h.send_response(206 if start else 200)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Length", str(len(data) - start))
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.end_headers()
        if not body:
            return
        cut = fault in ("cut", "cut-once")
        stop = len(data) // 2 if cut else len(data)
        if start < stop:
            h.wfile.write(data[start:stop])
        if fault == "cut-once":  # the next request is served whole
            del self.faults[path]
        if cut:  # the connection drops before the promised length
            h.wfile.flush()
            h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True

    def _error(self, h, status: int, code: str | None) -> None:
        data = json.dumps({"error": code or "not found"}).encode()
        h.send_response(status)
        if code:
            h.send_header("X-Error-Code", code)
            h.send_header("X-Error-Message", code)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)
