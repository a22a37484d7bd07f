"""The demo's embedded MQTT broker: amqtt in a background thread with its own asyncio loop.

amqtt speaks MQTT 3.1.1 only (no MQTT 5, no shared subscriptions); the store backend falls back
by itself and the device is told to use 3.1.1. It listens on 127.0.0.1 only, on a free port, and
keeps nothing on disk: retained messages and sessions live as long as the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading

from device.errors import BrokerError

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0
"""Seconds to wait for the broker to listen (or to stop)."""
SHUTDOWN_TIMEOUT = 3.0
"""Seconds amqtt gets to say goodbye to clients still connected (its shutdown can wait on them forever)."""
ATTEMPTS = 3
"""Free ports tried before giving up (another program may take the port between probe and bind)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def broker_config(port: int) -> dict:
    """amqtt 0.12's configuration: one TCP listener on loopback, anonymous clients, no $SYS, no logging plugins."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


class EmbeddedBroker:
    """amqtt on 127.0.0.1:<free port>; `start()` returns once it listens, `stop()` shuts it down (idempotent)."""

    def __init__(self) -> None:
        self.port = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        """mqtt://127.0.0.1:<port>."""
        return f"mqtt://127.0.0.1:{self.port}"

    def __repr__(self) -> str:
        running = self._thread is not None and self._thread.is_alive()
        return f"<EmbeddedBroker amqtt {self.url} {'running' if running else 'stopped'}>"

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> EmbeddedBroker:
        """Listen on a free loopback port; raises BrokerError (one line) when amqtt cannot start."""
        for _ in range(ATTEMPTS):
            self.port = free_port()
            self._ready.clear()
            self._failure = None
            self._thread = threading.Thread(target=self._run, name="demo-broker", daemon=True)
            self._thread.start()
            if not self._ready.wait(START_TIMEOUT):
                raise BrokerError(f"the embedded MQTT broker (amqtt) did not start within {START_TIMEOUT:g} s; "
                                  f"use another broker with --broker mqtt://host:port")
            if self._failure is None:
                log.info("embedded broker listening on %s", self.url)
                return self
            self._thread.join(START_TIMEOUT)
            log.debug("amqtt could not listen on port %d (%s); trying another", self.port, self._failure)
        raise BrokerError(f"the embedded MQTT broker (amqtt) cannot listen on 127.0.0.1 ({self._failure}); "
                          f"use another broker with --broker mqtt://host:port")

    def stop(self) -> None:
        """Disconnect every client, close the listener and end the thread."""
        thread, loop, stop = self._thread, self._loop, self._stop
        self._thread = None
        if thread is None or loop is None or stop is None:
            return
        if thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(stop.set)
            thread.join(START_TIMEOUT)
        if thread.is_alive():
            log.warning("the embedded broker did not stop within %.0f s", START_TIMEOUT)

    # -- the broker thread ------------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not print a traceback
            self._failure = self._failure or exc
            self._ready.set()
        finally:
            try:
                _cancel_leftovers(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _serve(self) -> None:
        from amqtt.broker import Broker

        self._stop = asyncio.Event()
        broker = Broker(broker_config(self.port))
        try:
            await broker.start()
        except Exception as exc:  # amqtt wraps bind errors in its own BrokerError
            self._failure = exc.__cause__ or exc
            self._ready.set()
            return
        self._ready.set()
        await self._stop.wait()
        try:
            await asyncio.wait_for(broker.shutdown(), SHUTDOWN_TIMEOUT)
        except TimeoutError:
            log.debug("amqtt did not shut down within %.0f s; its connections are closed with the loop",
                      SHUTDOWN_TIMEOUT)


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and await whatever amqtt left running, so closing the loop warns about nothing."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
