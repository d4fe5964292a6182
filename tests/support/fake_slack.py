"""A stand-in for Slack's Web API and its file hosting, served by aiohttp on 127.0.0.1.

Slack can't be reached from a test, and mocking ``slack_sdk`` would only test our guesses about
it. So the real ``slack_sdk.WebClient`` (``base_url=slack.api_url``) and real downloads of
``url_private`` talk HTTP to this server, which answers the way Slack does: ``ok: false`` with
an error at HTTP 200, 429 with ``Retry-After`` when rate limited, a login page instead of a file
for a bad token. It runs in a thread with its own event loop, so a synchronous test and a daemon
in a subprocess can both use it, and it records what was posted and uploaded for the test to read.
Posts (with their metadata) and shared files are messages of their conversation, read back by
``conversations.history`` and ``conversations.replies`` (``slack_conversations.py``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.support.slack_conversations import Conversations

HOST = "127.0.0.1"
TEAM_ID = "T0DESK"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0APP"
TOKEN = "xoxb-test"

LOGIN_PAGE = "<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>"
"""What Slack serves for ``url_private`` without a valid token: 200 and HTML, not an error."""

Params = dict[str, Any]
Answer = dict[str, Any]


@dataclass
class _HostedFile:
    content: bytes
    content_type: str
    failures_left: int
    failure_status: int


@dataclass
class _PendingUpload:
    filename: str
    content: bytes | None = None
    """None until the bytes reach the upload URL."""


class FakeSlack:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.team_id = TEAM_ID
        self.bot_user_id = BOT_USER_ID
        self.bot_id = BOT_ID
        self.url = ""
        self.api_url = ""
        self._changed = threading.Condition()
        """Guards everything below: the server thread writes, test threads read and wait."""
        self._revoked = False
        self._posts: list[dict[str, Any]] = []
        self._uploads: list[dict[str, Any]] = []
        self._calls: Counter[str] = Counter()
        self._users: dict[str, Answer] = {}
        self._failing_channels: dict[str, str] = {}
        self._refused: dict[str, str] = {}
        """Method -> the error it answers."""
        self._rate_limits: dict[str, tuple[int, int]] = {}
        """Method -> (Retry-After seconds, how many more calls get a 429)."""
        self._held: set[str] = set()
        self._released = threading.Event()
        """Set while no answer is held back (see :meth:`hold_answers`)."""
        self._released.set()
        self._files: dict[str, _HostedFile] = {}
        self._downloads: Counter[str] = Counter()
        self._pending: dict[str, _PendingUpload] = {}
        self._conversations = Conversations()
        self._file_ids = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeSlack:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        listener = socket.socket()
        listener.bind((HOST, 0))
        self.url = f"http://{HOST}:{listener.getsockname()[1]}"
        self.api_url = f"{self.url}/api/"
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(self._app(), access_log=None)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.SockSite(runner, listener).start())
        self._loop = loop
        self._thread = threading.Thread(
            target=self._serve, args=(loop, runner), name="fake-slack", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.release_answers()
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop = self._thread = None

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, runner: web.AppRunner) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    # What a test sets up.

    def add_user(
        self, user_id: str, team_id: str, real_name: str, email: str | None = None
    ) -> None:
        """Without an email the profile has none, as when the app lacks ``users:read.email``."""
        profile: dict[str, str] = {"real_name": real_name, "display_name": real_name}
        if email is not None:
            profile["email"] = email
        user = {
            "id": user_id,
            "team_id": team_id,
            "name": real_name.lower().replace(" ", "."),
            "real_name": real_name,
            "profile": profile,
        }
        with self._changed:
            self._users[user_id] = user

    def fail_channel(self, channel: str, error: str) -> None:
        """Posts and uploads into ``channel`` answer ``ok: false`` with ``error``."""
        with self._changed:
            self._failing_channels[channel] = error

    def refuse(self, method: str, error: str) -> None:
        """Every call of ``method`` answers ``ok: false`` with ``error`` (``missing_scope``)."""
        with self._changed:
            self._refused[method] = error

    def message_from(self, user: str, channel: str, text: str, thread_ts: str = "") -> str:
        """Someone's message in ``channel``, as Slack keeps it (a thread's parent, or a reply
        in the thread of ``thread_ts``); its ts."""
        with self._changed:
            message = {"type": "message", "user": user, "text": text}
            thread = {"thread_ts": thread_ts} if thread_ts else {}
            return str(self._conversations.add(channel, {**message, **thread})["ts"])

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        with self._changed:
            self._rate_limits[method] = (retry_after, times)

    def hold_answers(self, method: str) -> None:
        """Calls of ``method`` are served (a post is kept, and the test sees it) but their
        answers wait for :meth:`release_answers`, as when Slack's answer is slow to come back."""
        with self._changed:
            self._held.add(method)
            self._released.clear()

    def release_answers(self) -> None:
        with self._changed:
            self._held.clear()
        self._released.set()

    def revoke(self) -> None:
        """As when the app is uninstalled: the token stops working for the API and for files."""
        with self._changed:
            self._revoked = True

    def host_file(
        self,
        path_name: str,
        content: bytes,
        content_type: str = "application/octet-stream",
        failures: int = 0,
        failure_status: int = 503,
    ) -> str:
        """The file's ``url_private``; its first ``failures`` authorised requests fail."""
        with self._changed:
            self._files[path_name] = _HostedFile(content, content_type, failures, failure_status)
        return f"{self.url}/files-pri/{path_name}"

    # What a test reads.

    @property
    def posts(self) -> list[dict[str, Any]]:
        """``channel`` (a user id resolved to the DM), ``text``, ``thread_ts``, ``ts``, and the
        request's own ``params``."""
        with self._changed:
            return list(self._posts)

    @property
    def uploads(self) -> list[dict[str, Any]]:
        """``channel``, ``thread_ts``, ``filename``, ``title``, ``content`` and
        ``initial_comment`` of each file shared by ``files.completeUploadExternal``."""
        with self._changed:
            return list(self._uploads)

    def calls(self, method: str) -> int:
        """Every call, answered or refused."""
        with self._changed:
            return self._calls[method]

    def downloads(self, path_name: str) -> int:
        """Every request for the file, served or not: retries count."""
        with self._changed:
            return self._downloads[path_name]

    def wait_for_posts(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        return self._wait_for(self._posts, n, timeout, "posts")

    def wait_for_uploads(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        return self._wait_for(self._uploads, n, timeout, "uploads")

    def _wait_for(
        self, records: list[dict[str, Any]], n: int, timeout: float, what: str
    ) -> list[dict[str, Any]]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(records) >= n, timeout):
                raise AssertionError(f"expected {n} {what} within {timeout}s, got {records!r}")
            return list(records)

    # The server.

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._receive_upload)
        app.router.add_get("/files-pri/{path_name:.+}", self._serve_file)
        return app

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        with self._changed:
            self._calls[method] += 1
            bearer = request.headers.get("Authorization")
            if self._revoked and bearer == f"Bearer {self.token}":
                return web.json_response({"ok": False, "error": "token_revoked"})
            if self._revoked or bearer != f"Bearer {self.token}":
                return web.json_response({"ok": False, "error": "invalid_auth"})
            retry_after, times = self._rate_limits.get(method, (0, 0))
            if times > 0:
                self._rate_limits[method] = (retry_after, times - 1)
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(retry_after)},
                )
            if method in self._refused:
                return web.json_response({"ok": False, "error": self._refused[method]})
            handler = self._methods().get(method, _unknown_method)
            answer = handler(params)
            self._changed.notify_all()
            held = method in self._held
        if held:
            await asyncio.get_running_loop().run_in_executor(None, self._released.wait)
        return web.json_response(answer)

    def _methods(self) -> dict[str, Callable[[Params], Answer]]:
        return {
            "auth.test": self._auth_test,
            "users.info": self._users_info,
            "chat.postMessage": self._post_message,
            "conversations.open": self._open_conversation,
            "conversations.history": self._conversations.history,
            "conversations.replies": self._conversations.replies,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    def _auth_test(self, _params: Params) -> Answer:
        return {
            "ok": True,
            "url": f"{self.url}/",
            "team": "Desk",
            "user": "threadline",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
        }

    def _users_info(self, params: Params) -> Answer:
        user = self._users.get(params.get("user", ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def _post_message(self, params: Params) -> Answer:
        channel = _resolve(params.get("channel", ""))
        error = self._channel_error(params.get("channel", ""))
        if error is not None:
            return {"ok": False, "error": error}
        thread_ts, text = params.get("thread_ts") or None, params.get("text", "")
        message = self._bot_message(text, thread_ts)
        message = self._conversations.add(channel, message, params.get("metadata"))
        post = {"channel": channel, "text": text, "thread_ts": thread_ts, "ts": message["ts"]}
        self._posts.append({**post, "params": params})
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _bot_message(self, text: str, thread_ts: str | None, **fields: Any) -> dict[str, Any]:
        message = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id}
        thread = {"thread_ts": thread_ts} if thread_ts else {}
        return {**message, "text": text, **thread, **fields}

    def _channel_error(self, channel: str) -> str | None:
        if not channel:
            return "channel_not_found"
        return self._failing_channels.get(channel) or self._failing_channels.get(_resolve(channel))

    def _open_conversation(self, params: Params) -> Answer:
        user = params.get("users", "")
        if not user:
            return {"ok": False, "error": "users_list_not_supplied"}
        return {"ok": True, "channel": {"id": _resolve(user)}}

    def _upload_url(self, params: Params) -> Answer:
        if not params.get("filename") or not str(params.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        self._file_ids += 1
        file_id = f"F0FAKE{self._file_ids:04d}"
        self._pending[file_id] = _PendingUpload(params["filename"])
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, params: Params) -> Answer:
        files = params.get("files", "[]")
        files = json.loads(files) if isinstance(files, str) else files
        channel = params.get("channel_id") or None
        error = None if channel is None else self._channel_error(channel)
        if error is not None:
            return {"ok": False, "error": error}
        pending = [self._pending.get(f.get("id", "")) for f in files]
        received = [p for p in pending if p is not None and p.content is not None]
        if not files or len(received) != len(files):
            return {"ok": False, "error": "invalid_arguments"}
        shared = []
        for file, upload in zip(files, received, strict=True):
            title = file.get("title") or upload.filename
            self._uploads.append(
                {
                    "channel": channel,
                    "thread_ts": params.get("thread_ts") or None,
                    "filename": upload.filename,
                    "title": title,
                    "content": upload.content,
                    "initial_comment": params.get("initial_comment"),
                }
            )
            shared.append({"id": file["id"], "name": upload.filename, "title": title})
            del self._pending[file["id"]]
        if channel is not None:
            comment = params.get("initial_comment") or ""
            thread_ts = params.get("thread_ts") or None
            message = self._bot_message(comment, thread_ts, files=shared, upload=True)
            self._conversations.add(channel, message)
        return {"ok": True, "files": shared}

    async def _receive_upload(self, request: web.Request) -> web.Response:
        """slack_sdk POSTs the raw bytes; a multipart form's ``file`` field is taken too."""
        if request.content_type == "multipart/form-data":
            field = (await request.post()).get("file")
            content = field.file.read() if isinstance(field, web.FileField) else b""
        else:
            content = await request.read()
        with self._changed:
            upload = self._pending.get(request.match_info["file_id"])
            if upload is None:
                return web.Response(status=404, text="unknown upload")
            upload.content = content
        return web.Response(text=f"OK - {len(content)}")

    async def _serve_file(self, request: web.Request) -> web.Response:
        path_name = request.match_info["path_name"]
        with self._changed:
            self._downloads[path_name] += 1
            bearer = request.headers.get("Authorization")
            if self._revoked or bearer != f"Bearer {self.token}":
                return web.Response(text=LOGIN_PAGE, content_type="text/html")
            hosted = self._files.get(path_name)
            if hosted is None:
                return web.Response(status=404, text="file not found")
            if hosted.failures_left > 0:
                hosted.failures_left -= 1
                return web.Response(status=hosted.failure_status, text="try again later")
            return web.Response(body=hosted.content, content_type=hosted.content_type)


async def _params(request: web.Request) -> Params:
    """Query string, then a form or JSON body: slack_sdk sends a method's arguments in any of
    these, depending on the method and on the client (sync or async)."""
    params: Params = dict(request.query)
    if request.content_type == "application/json":
        params |= await request.json()
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        params |= dict(await request.post())
    return params


def _unknown_method(_params: Params) -> Answer:
    return {"ok": False, "error": "unknown_method"}


def _resolve(channel: str) -> str:
    """A user id names the bot's DM with that user."""
    return f"D{channel[1:]}" if channel.startswith("U") else channel
