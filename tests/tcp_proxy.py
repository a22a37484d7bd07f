"""A small threaded TCP proxy on loopback for fault tests: forwards to a broker, cuts on demand.

    proxy = TcpProxy(upstream_port).start()      # clients connect to proxy.port
    proxy.cut()                                  # every open connection dies now (RST or FIN)
    proxy.hold(); ...; proxy.release()           # stop forwarding (data waits), then go on
    proxy.refuse = True                          # new connections are closed at once
    proxy.chaos(seconds=5, mean_gap=0.5)         # cuts at random moments for 5 s (a thread)
    proxy.close()

Every thread is a daemon and every wait is bounded. `capture` (when set to a list) receives
every (connection number, direction, bytes) chunk, "up" being client → upstream: tests parse
what a client sent.
"""

from __future__ import annotations

import logging
import random
import select
import socket
import struct
import threading
import time

log = logging.getLogger(__name__)

CHUNK = 65536


class _Pair:
    """One client connection and its upstream connection."""

    def __init__(self, number: int, client: socket.socket, upstream: socket.socket) -> None:
        self.number, self.client, self.upstream = number, client, upstream
        self.closed = threading.Event()

    def close(self, reset: bool) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for s in (self.client, self.upstream):
            try:
                if reset:  # SO_LINGER 0: close sends RST, like a dead router or a killed peer
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass


class TcpProxy:
    """Loopback proxy to 127.0.0.1:upstream_port; `port` is where clients connect."""

    def __init__(self, upstream_port: int, port: int = 0, seed: int | None = None) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self.refuse = False
        """When True, new connections are accepted and closed at once (the broker looks down)."""
        self.capture: list[tuple[int, str, bytes]] | None = None
        self.cuts = 0
        self.connections = 0
        self._flowing = threading.Event()
        self._flowing.set()
        self._pairs: set[_Pair] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._random = random.Random(seed)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> TcpProxy:
        self._spawn(self._accept_loop)
        return self

    def _spawn(self, target, *args) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True, name=f"proxy-{self.port}")
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        return thread

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refuse:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=2)
            except OSError:  # the broker is down: so is the proxy, for this client
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.settimeout(None)
            with self._lock:
                self.connections += 1
                pair = _Pair(self.connections, client, upstream)
                self._pairs.add(pair)
            self._spawn(self._pump, pair, client, upstream, "up")
            self._spawn(self._pump, pair, upstream, client, "down")

    def _pump(self, pair: _Pair, src: socket.socket, dst: socket.socket, direction: str) -> None:
        try:
            while not pair.closed.is_set() and not self._stop.is_set():
                ready, _, _ = select.select([src], [], [], 0.1)
                if not ready:
                    continue
                data = src.recv(CHUNK)
                if not data:
                    break
                while not self._flowing.wait(0.1):
                    if pair.closed.is_set() or self._stop.is_set():
                        return
                if self.capture is not None:
                    self.capture.append((pair.number, direction, data))
                dst.sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            pair.close(reset=False)
            with self._lock:
                self._pairs.discard(pair)

    # -- faults -------------------------------------------------------------------------------------
    def cut(self, reset: bool | None = None) -> int:
        """Kill every open connection now (RST when reset, else FIN; random when None); how many."""
        with self._lock:
            pairs = list(self._pairs)
            self._pairs.clear()
        for pair in pairs:
            pair.close(self._random.random() < 0.5 if reset is None else reset)
        self.cuts += 1
        return len(pairs)

    def hold(self) -> None:
        """Stop forwarding: what either side sends waits in the proxy until release()."""
        self._flowing.clear()

    def release(self) -> None:
        """Forward again, held data first."""
        self._flowing.set()

    def chaos(self, seconds: float, mean_gap: float = 0.5, min_gap: float = 0.05,
              min_cuts: int = 0) -> threading.Thread:
        """Cut all connections at random moments (exponential gaps) for `seconds`, in a thread; past `seconds` too
        until it has cut `min_cuts` times (a few long gaps drawn in a row would otherwise test almost nothing)."""
        end = time.monotonic() + seconds

        def run() -> None:
            done = 0
            while not self._stop.is_set():
                gap = max(min_gap, self._random.expovariate(1.0 / mean_gap))
                if time.monotonic() + gap >= end and done >= min_cuts:
                    return
                if self._stop.wait(gap):
                    return
                self.cut()
                done += 1

        return self._spawn(run)

    def close(self) -> None:
        """Stop accepting, cut everything, join the threads (bounded); idempotent."""
        self._stop.set()
        self._flowing.set()
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            pairs = list(self._pairs)
            self._pairs.clear()
        for pair in pairs:
            pair.close(reset=False)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=1.0)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- what a client sent, decoded (MQTT 5) -----------------------------------------------------------
def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _string(data: bytes, pos: int) -> tuple[bytes, int]:
    length = int.from_bytes(data[pos:pos + 2], "big")
    return data[pos + 2:pos + 2 + length], pos + 2 + length


def mqtt_messages(stream: bytes) -> list[tuple[str, str, bytes]]:
    """The application messages in a client's MQTT 5 byte stream: (kind, topic, payload), kind being
    "publish" or "will" (the last will in CONNECT). Other packets are skipped; a cut-off tail is ignored."""
    out: list[tuple[str, str, bytes]] = []
    pos = 0
    while pos < len(stream):
        first = stream[pos]
        try:
            length, body = _varint(stream, pos + 1)
        except IndexError:
            break
        packet = stream[body:body + length]
        if len(packet) < length:
            break
        pos = body + length
        if first >> 4 == 3:  # PUBLISH: topic, packet id (QoS > 0), properties, payload
            topic, p = _string(packet, 0)
            if (first >> 1) & 3:
                p += 2
            props, p = _varint(packet, p)
            out.append(("publish", topic.decode(), bytes(packet[p + props:])))
        elif first >> 4 == 1:  # CONNECT: protocol name, level, flags, keep-alive, properties, payload
            _, p = _string(packet, 0)
            flags = packet[p + 1]
            props, p = _varint(packet, p + 4)
            _, p = _string(packet, p + props)  # client id
            if flags & 0x04:  # the will: properties, topic, payload
                props, p = _varint(packet, p)
                topic, p = _string(packet, p + props)
                payload, p = _string(packet, p)
                out.append(("will", topic.decode(), bytes(payload)))
    return out
