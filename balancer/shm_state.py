"""The farm's shared state in shared memory, for several processes of ONE balancer (BALANCER_PROCESSES).

design: the same ledger as ``balancer.shared_state`` (slots taken, backends down, ONE FIFO queue
of waiters), with the same verbs, so ``SharedPool`` runs on either; here the store is a file in
``/dev/shm`` mapped by every process of the balancer instead of a Redis server. The gunicorn
master makes the file before it forks (``ShmRegion.create``, the ``on_starting`` hook), and each
worker process maps it; a worker the master starts later (after a crash) maps the same one.

- Every verb runs under ONE lock: a ``flock`` on the file, taken through each process's own
  open file (so processes exclude each other) plus a thread lock (so greenlets and threads of
  one process do). Nothing under it does I/O or yields. The kernel drops the ``flock`` of a
  process that dies, so a killed process never leaves the farm locked.
- A *ticket* is a waiting job or a taken slot (a lease), in a fixed table: its state, its
  owner (a balancer process), its backend, the candidates it may run on (a bit per backend),
  and the id the balancer gave it. Backends are rows of their own: slots, slots taken, and a
  down mark (until when, as what, why), keyed by a digest of the URL.
- The queue is a ring of ticket numbers in arrival order (a retry goes to the front); a job
  that leaves leaves a hole that the ring skips and reclaims. Whenever a slot may have freed,
  ``dispatch`` hands free slots to waiters oldest first, as the Redis script does: it makes
  the waiter's lease, then tells its process with a datagram on that process's own socket
  (``"<ticket id> <backend row>"``). The lease exists before the message, so a lost message
  costs no slot: the process's next renewal (every LEASE_TTL/3) finds it.
- A process is an *owner*: its balancer id, pid and a heartbeat its renewals refresh. An
  owner whose pid is gone, or whose heartbeat is older than LEASE_TTL, is reaped by the next
  renewal of any process: its leases come back and its waiters leave the queue. Reaping also
  recounts every backend's slots taken from the tickets, so a process killed between two writes
  leaves nothing wrong behind.

Time is ``time.monotonic()``, one clock for every process on the machine.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import mmap
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from balancer.shared_state import Acquired, Candidate, DownMark, SharedView, StateUnavailable
from common.processes import pid_alive

log = logging.getLogger(__name__)

MAGIC = 0x44415431  # "DAT1"
MAX_BACKENDS = 1024
MAX_OWNERS = 256
KEY_BYTES = 16  # a backend's key: a digest of its URL
REASON_BYTES = 240
URL_BYTES = 256  # a backend's URL as text, for the processes that have not met it yet (its key decides)
ID_BYTES = 16  # a ticket's id: the balancer's uuid4 hex, as bytes
MASK_BYTES = MAX_BACKENDS // 8
HOLE = -1  # a ring entry whose job left the queue
SEND_TIMEOUT_S = 1.0  # the longest a wake-up waits for room in its process's datagram queue

FREE, WAITING, LEASED = 0, 1, 2
STATUS_CODES = {"offline": 1, "draining": 2, "ejected": 3}
STATUS_NAMES = {code: name for name, code in STATUS_CODES.items()}

# header words (int64)
H_MAGIC, H_CAPACITY, H_EPOCH, H_HEAD, H_TAIL, H_BACKENDS, H_WAITING, H_HINT = range(8)
HEADER_WORDS = 16


def _layout(capacity: int) -> dict[str, tuple[int, int]]:
    """(offset, size) of each array in a region holding ``capacity`` tickets."""
    sizes = [
        ("header", HEADER_WORDS * 8),
        ("token", 16),
        ("owner_id", MAX_OWNERS * 8), ("owner_pid", MAX_OWNERS * 8), ("owner_beat", MAX_OWNERS * 8),
        ("b_key", MAX_BACKENDS * KEY_BYTES), ("b_slots", MAX_BACKENDS * 8), ("b_inflight", MAX_BACKENDS * 8),
        ("b_rank", MAX_BACKENDS * 8), ("b_down_until", MAX_BACKENDS * 8), ("b_down_status", MAX_BACKENDS * 8),
        ("b_reason", MAX_BACKENDS * REASON_BYTES), ("b_url", MAX_BACKENDS * URL_BYTES),
        ("t_state", capacity * 8), ("t_owner", capacity * 8), ("t_backend", capacity * 8), ("t_pos", capacity * 8),
        ("t_id", capacity * ID_BYTES), ("t_mask", capacity * MASK_BYTES),
        ("ring", capacity * 8),
    ]
    out: dict[str, tuple[int, int]] = {}
    offset = 0
    for name, size in sizes:
        out[name] = (offset, size)
        offset += (size + 63) // 64 * 64
    out["total"] = (offset, 0)
    return out


class ShmRegion:
    """The mapped file every process of one balancer shares (made once, before the fork)."""

    def __init__(self, fd: int, capacity: int) -> None:
        self.fd = fd
        self.capacity = capacity
        self.layout = _layout(capacity)
        self.size = self.layout["total"][0]
        self.map = mmap.mmap(fd, self.size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        view = memoryview(self.map)
        self.header = self._words(view, "header")
        self.token = bytes(view[slice(*self._span("token"))])

    @classmethod
    def create(cls, capacity: int) -> ShmRegion:
        """A new, empty region for ``capacity`` tickets (waiting and running jobs of the whole farm)."""
        directory = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        fd, path = tempfile.mkstemp(dir=directory, prefix="balancer-state-")
        os.unlink(path)  # it lives while a process of the balancer holds it open
        os.set_inheritable(fd, True)
        os.ftruncate(fd, _layout(capacity)["total"][0])
        region = cls(fd, capacity)
        view = memoryview(region.map)
        token = os.urandom(8).hex().encode()
        view[slice(*region._span("token"))] = token
        region.token = token
        region.header[H_CAPACITY] = capacity
        region.header[H_EPOCH] = time.time_ns()
        region.header[H_MAGIC] = MAGIC
        return region

    def _span(self, name: str) -> tuple[int, int]:
        offset, size = self.layout[name]
        return offset, offset + size

    def _words(self, view: memoryview, name: str, kind: str = "q") -> Any:
        """The array ``name`` as int64 (``q``) or float64 (``d``) items (Any: typeshed types a cast by its literal)."""
        start, end = self._span(name)
        return view[start:end].cast(kind)  # type: ignore[call-overload]

    def bytes_of(self, name: str) -> memoryview:
        start, end = self._span(name)
        return memoryview(self.map)[start:end]

    def words(self, name: str, kind: str = "q") -> Any:
        return self._words(memoryview(self.map), name, kind)


_inherited: ShmRegion | None = None
_PID = [os.getpid()]  # this process's pid, kept by a fork hook
os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))


def prepare(capacity: int) -> ShmRegion:
    """Make the region the processes forked from now on share (the master calls it before forking)."""
    global _inherited
    if _inherited is None or _inherited.capacity < capacity:
        _inherited = ShmRegion.create(capacity)
    return _inherited


def inherited() -> ShmRegion | None:
    """The region made before this process was forked, if any."""
    return _inherited


def _key(url: str) -> bytes:
    return hashlib.blake2b(url.encode("utf-8"), digest_size=KEY_BYTES).digest()


@dataclass(frozen=True)
class _Wake:
    owner: bytes  # the waiter's balancer process id
    ticket_id: bytes
    backend: int


class ShmLedger:
    """The shared state's verbs over an ``ShmRegion``, each atomic across the balancer's processes."""

    kind = "shared-memory"

    def __init__(self, region: ShmRegion, *, lease_ttl_s: float = 15.0, retry_after_s: int = 10) -> None:
        self.region = region
        self.lease_ttl_s = lease_ttl_s
        self.retry_after_s = retry_after_s
        self.capacity = region.capacity
        self._h = region.header
        self._owner_id = region.bytes_of("owner_id")
        self._owner_pid = region.words("owner_pid")
        self._owner_beat = region.words("owner_beat", "d")
        self._b_key = region.bytes_of("b_key")
        self._b_slots = region.words("b_slots")
        self._b_inflight = region.words("b_inflight")
        self._b_rank = region.words("b_rank")
        self._b_down_until = region.words("b_down_until", "d")
        self._b_down_status = region.words("b_down_status")
        self._b_reason = region.bytes_of("b_reason")
        self._b_url = region.bytes_of("b_url")
        self._t_state = region.words("t_state")
        self._t_owner = region.words("t_owner")
        self._t_backend = region.words("t_backend")
        self._t_pos = region.words("t_pos")
        self._t_id = region.bytes_of("t_id")
        self._t_mask = region.bytes_of("t_mask")
        self._ring = region.words("ring")
        self._thread_lock = threading.Lock()
        self._lock_fd = -1
        self._lock_pid = -1
        self._rows: dict[str, int] = {}  # backend URL -> row (rows are never reused)
        self._urls: dict[int, str] = {}
        self._owners: dict[str, int] = {}  # balancer id -> owner row, as registered by this process
        self._idents: dict[str, bytes] = {}  # balancer id -> its 8 bytes in an owner row
        self._tickets: dict[str, tuple[int, bytes]] = {}  # ticket id -> (row, id as stored), this process's tickets
        self._known: tuple[Sequence[Candidate], tuple[int, ...], bytes] | None = None  # the last candidates: rows, mask
        self._senders: dict[bytes, tuple[socket.socket, threading.Lock]] = {}  # address -> connected socket
        self._epoch_text = str(self._h[H_EPOCH])  # made once: the region never loses its data
        self._local: dict[bytes, Callable[[str, str], None]] = {}  # owner ident -> its wake-up, in this object

    @property
    def where(self) -> str:
        return f"shared memory of this balancer's processes ({self.region.token.decode()})"

    # --- the lock -------------------------------------------------------------------------------

    def _locked(self) -> _Held:
        return _Held(self)

    def _flock_fd(self) -> int:
        pid = _PID[0]  # os.getpid() is a system call, twice a job here
        if self._lock_pid != pid:  # this process's own open file: flock excludes other open files only
            self._lock_fd = os.open(f"/proc/self/fd/{self.region.fd}", os.O_RDWR | os.O_CLOEXEC)
            self._lock_pid = pid
        return self._lock_fd

    # --- rows ---------------------------------------------------------------------------------

    def _row(self, url: str) -> int:
        """The backend row of ``url``, made if new (under the lock)."""
        row = self._rows.get(url)
        if row is not None:
            return row
        key = _key(url)
        count = self._h[H_BACKENDS]
        keys = self._b_key
        for candidate in range(count):
            if keys[candidate * KEY_BYTES:(candidate + 1) * KEY_BYTES] == key:
                row = candidate
                break
        else:
            if count >= MAX_BACKENDS:
                raise self._unavailable(f"more than {MAX_BACKENDS} backends")
            row = count
            keys[row * KEY_BYTES:(row + 1) * KEY_BYTES] = key
            _put_text(self._b_url, row, URL_BYTES, url)
            self._b_slots[row] = 0
            self._b_inflight[row] = 0
            self._b_down_until[row] = 0.0
            self._h[H_BACKENDS] = count + 1
        self._rows[url] = row
        self._urls[row] = url
        return row

    def _known_row(self, url: str) -> int | None:
        try:
            return self._row(url)
        except StateUnavailable:
            return None

    def _owner(self, balancer: str, now: float) -> int:
        """The owner row of ``balancer`` (this process), registered if new or reaped (under the lock)."""
        row = self._owners.get(balancer)
        ids = self._owner_id
        if row is not None and self._owner_pid[row] != 0 and ids[row * 8:row * 8 + 8] == self._idents[balancer]:
            return row
        ident = self._idents[balancer] = _owner_ident(balancer)
        for candidate in range(MAX_OWNERS):
            if self._owner_pid[candidate] == 0:
                ids[candidate * 8:candidate * 8 + 8] = ident
                self._owner_pid[candidate] = os.getpid()
                self._owner_beat[candidate] = now
                self._owners[balancer] = candidate
                return candidate
        raise self._unavailable(f"more than {MAX_OWNERS} balancer processes")

    def _down(self, row: int, now: float) -> bool:
        return self._b_down_until[row] > now

    def _mask(self, rows: Iterable[int]) -> bytes:
        bits = 0
        for row in rows:
            bits |= 1 << row
        return bits.to_bytes(MASK_BYTES, "little")

    def _pick(self, mask: bytes | memoryview, now: float) -> int | None:
        """The least loaded usable backend among the candidates in ``mask`` (ties: the candidates' order)."""
        bits = int.from_bytes(mask, "little")
        best, best_key = None, None
        inflight, slots, rank = self._b_inflight, self._b_slots, self._b_rank
        row = 0
        while bits:
            if bits & 1:
                n = inflight[row]
                if n < slots[row] and not self._down(row, now):
                    key = (n, rank[row])
                    if best_key is None or key < best_key:
                        best, best_key = row, key
            bits >>= 1
            row += 1
        return best

    def _free_slots(self, now: float) -> int:
        free = 0
        inflight, slots = self._b_inflight, self._b_slots
        for row in range(self._h[H_BACKENDS]):
            if slots[row] > inflight[row] and not self._down(row, now):
                free += slots[row] - inflight[row]
        return free

    # --- tickets ------------------------------------------------------------------------------

    def _new_ticket(self, ticket_id: bytes, owner: int) -> int:
        capacity = self.capacity
        state = self._t_state
        start = self._h[H_HINT] % capacity
        for step in range(capacity):
            row = (start + step) % capacity
            if state[row] == FREE:
                self._h[H_HINT] = row + 1
                self._t_owner[row] = owner
                self._t_id[row * ID_BYTES:(row + 1) * ID_BYTES] = ticket_id
                return row
        raise self._unavailable(f"all {capacity} tickets in use (running and waiting jobs)")

    def _ticket(self, ticket_id: str) -> int | None:
        """This process's ticket row for ``ticket_id``, if it still holds it (it may have been reaped)."""
        held = self._tickets.get(ticket_id)
        if held is None:
            return None
        row, ident = held
        if self._t_state[row] == FREE or self._t_id[row * ID_BYTES:(row + 1) * ID_BYTES] != ident:
            self._tickets.pop(ticket_id, None)
            return None
        return row

    def _take(self, row: int, backend: int) -> None:
        self._t_backend[row] = backend
        self._b_inflight[backend] += 1
        self._t_state[row] = LEASED

    def _give_back(self, row: int) -> int | None:
        if self._t_state[row] != LEASED:
            return None
        backend = self._t_backend[row]
        self._t_state[row] = FREE
        if self._b_inflight[backend] > 0:
            self._b_inflight[backend] -= 1
        return backend

    def _enqueue(self, row: int, front: bool) -> None:
        head, tail = self._h[H_HEAD], self._h[H_TAIL]
        if tail - head >= self.capacity:
            self._compact()
            head, tail = self._h[H_HEAD], self._h[H_TAIL]
        if front:
            pos = head - 1
            self._h[H_HEAD] = pos
        else:
            pos = tail
            self._h[H_TAIL] = tail + 1
        self._ring[pos % self.capacity] = row
        self._t_pos[row] = pos
        self._t_state[row] = WAITING
        self._h[H_WAITING] += 1

    def _unqueue(self, row: int) -> None:
        """Take a waiting ticket out of the ring (a hole where it was)."""
        pos = self._t_pos[row]
        if self._h[H_HEAD] <= pos < self._h[H_TAIL] and self._ring[pos % self.capacity] == row:
            self._ring[pos % self.capacity] = HOLE
        self._t_state[row] = FREE
        self._h[H_WAITING] = max(0, self._h[H_WAITING] - 1)
        self._trim()

    def _trim(self) -> None:
        head, tail, ring, capacity = self._h[H_HEAD], self._h[H_TAIL], self._ring, self.capacity
        while head < tail and ring[head % capacity] == HOLE:
            head += 1
        self._h[H_HEAD] = head
        if head == tail:  # empty: start again at 0 so positions stay small
            self._h[H_HEAD] = self._h[H_TAIL] = 0

    def _compact(self) -> None:
        """Rewrite the ring without holes (and without entries that are not waiting tickets)."""
        head, tail, ring, capacity = self._h[H_HEAD], self._h[H_TAIL], self._ring, self.capacity
        live = []
        seen = set()
        for pos in range(head, tail):
            row = ring[pos % capacity]
            if row != HOLE and row not in seen and self._t_state[row] == WAITING:
                live.append(row)
                seen.add(row)
        for row in range(capacity):  # a waiting ticket the ring lost (a process killed mid-write)
            if self._t_state[row] == WAITING and row not in seen:
                live.append(row)
        for pos, row in enumerate(live):
            ring[pos] = row
            self._t_pos[row] = pos
        self._h[H_HEAD] = 0
        self._h[H_TAIL] = len(live)
        self._h[H_WAITING] = len(live)

    def _dispatch(self, now: float, wakes: list[_Wake]) -> int:
        """Hand free slots to waiters, oldest first; how many were served."""
        if self._h[H_WAITING] <= 0:
            return 0
        free = self._free_slots(now)
        if free <= 0:
            return 0
        served = 0
        capacity, ring, masks = self.capacity, self._ring, self._t_mask
        pos = self._h[H_HEAD]
        while pos < self._h[H_TAIL] and free > 0:
            row = ring[pos % capacity]
            if row != HOLE and self._t_state[row] == WAITING:
                backend = self._pick(masks[row * MASK_BYTES:(row + 1) * MASK_BYTES], now)
                if backend is not None:
                    ring[pos % capacity] = HOLE
                    self._h[H_WAITING] = max(0, self._h[H_WAITING] - 1)
                    self._take(row, backend)
                    owner = self._t_owner[row]
                    wakes.append(_Wake(bytes(self._owner_id[owner * 8:owner * 8 + 8]), bytes(self._t_id[row * ID_BYTES:(row + 1) * ID_BYTES]),
                                       backend))
                    served += 1
                    free -= 1
            pos += 1
        self._trim()
        return served

    def _reap(self, now: float) -> None:
        """Give back the tickets of owners that died (pid gone) or stopped renewing (LEASE_TTL)."""
        dead = set()
        me = os.getpid()
        for owner in range(MAX_OWNERS):
            pid = self._owner_pid[owner]
            if pid == 0:
                continue
            stale = now - self._owner_beat[owner] > self.lease_ttl_s
            if stale or (pid != me and not pid_alive(pid)):
                dead.add(owner)
        if not dead:
            return
        state, owners = self._t_state, self._t_owner
        for row in range(self.capacity):
            if state[row] != FREE and owners[row] in dead:
                state[row] = FREE
        pids = sorted(self._owner_pid[owner] for owner in dead)
        for owner in dead:
            self._owner_pid[owner] = 0
            self._owner_id[owner * 8:owner * 8 + 8] = bytes(8)
        self._recount()
        log.warning("balancer process(es) %s gone or silent for LEASE_TTL=%gs: their slots are back and their "
                    "waiting jobs left the queue", ", ".join(map(str, pids)), self.lease_ttl_s)

    def _recount(self) -> None:
        """Slots taken per backend and the queue, made again from the tickets."""
        counts = [0] * self._h[H_BACKENDS]
        for row in range(self.capacity):
            if self._t_state[row] == LEASED:
                backend = self._t_backend[row]
                if 0 <= backend < len(counts):
                    counts[backend] += 1
        for backend, count in enumerate(counts):
            self._b_inflight[backend] = count
        self._compact()

    # --- the verbs (as RedisLedger's) -----------------------------------------------------------

    def acquire(self, lease_id: str, balancer: str, candidates: Sequence[Candidate], *, max_queue: int,
                front: bool = False) -> Acquired:
        """Take the least loaded usable candidate, or queue the job (at the front: ``front``)."""
        wakes: list[_Wake] = []
        ident = _ident(lease_id)
        with self._locked():
            now = time.monotonic()
            owner = self._owner(balancer, now)
            known = self._known
            if known is not None and known[0] is candidates:  # the pool hands the same tuple while nothing changed
                rows, mask = known[1], known[2]
            else:
                rows = tuple(self._row(candidate.url) for candidate in candidates)
                mask = self._mask(rows)
                self._known = (candidates, rows, mask)
            slots, ranks = self._b_slots, self._b_rank
            for rank, (candidate, row) in enumerate(zip(candidates, rows)):
                if slots[row] != candidate.slots:
                    slots[row] = candidate.slots
                if ranks[row] != rank:
                    ranks[row] = rank
            self._dispatch(now, wakes)
            backend = self._pick(mask, now)
            if backend is not None:
                ticket = self._new_ticket(ident, owner)
                self._take(ticket, backend)
                self._tickets[lease_id] = (ticket, ident)
                outcome = Acquired("lease", url=self._urls[backend], epoch=self._epoch())
            elif self._h[H_WAITING] >= max_queue:
                outcome = Acquired("full", waiting=self._h[H_WAITING], epoch=self._epoch())
            else:
                ticket = self._new_ticket(ident, owner)
                self._t_mask[ticket * MASK_BYTES:(ticket + 1) * MASK_BYTES] = mask
                self._enqueue(ticket, front)
                self._tickets[lease_id] = (ticket, ident)
                outcome = Acquired("queued", waiting=self._h[H_WAITING], epoch=self._epoch())
        self._send(wakes)
        return outcome

    def release(self, lease_id: str) -> str | None:
        """Give a lease back (once; a second call is a no-op); the backend it was on, if it existed."""
        wakes: list[_Wake] = []
        with self._locked():
            row = self._ticket(lease_id)
            self._tickets.pop(lease_id, None)
            if row is None:
                return None
            if self._t_state[row] == WAITING:  # never handed a slot: it only leaves the queue
                self._unqueue(row)
                return None
            backend = self._give_back(row)
            if backend is not None:
                self._dispatch(time.monotonic(), wakes)
        self._send(wakes)
        return self._urls.get(backend) if backend is not None else None

    def leave(self, waiter_id: str) -> str:
        """A waiter gives up: 'left' the queue, 'released' a slot handed to it meanwhile, or 'none'."""
        wakes: list[_Wake] = []
        with self._locked():
            row = self._ticket(waiter_id)
            self._tickets.pop(waiter_id, None)
            if row is None:
                return "none"
            if self._t_state[row] == WAITING:
                self._unqueue(row)
                return "left"
            if self._give_back(row) is None:
                return "none"
            self._dispatch(time.monotonic(), wakes)
        self._send(wakes)
        return "released"

    def dispatch(self) -> int:
        """Reap what died and hand free slots to waiters; how many were served."""
        wakes: list[_Wake] = []
        with self._locked():
            now = time.monotonic()
            self._reap(now)
            served = self._dispatch(now, wakes)
        self._send(wakes)
        return served

    def renew(self, epoch: str, leases: Iterable[tuple[str, str]],
              waiters: Iterable[tuple[str, str, Sequence[Candidate]]]) -> tuple[str, list[str]]:
        """Refresh this process's heartbeat, reap dead ones; the epoch and the ids of waiters already served.

        The region outlives every process that maps it, so nothing is ever lost: a lease or waiter
        it lacks was given back or reaped meanwhile, and stays so."""
        wakes: list[_Wake] = []
        assigned: list[str] = []
        with self._locked():
            now = time.monotonic()
            for owner in self._owners.values():
                if self._owner_pid[owner] == os.getpid():
                    self._owner_beat[owner] = now
            self._reap(now)
            for waiter_id, _balancer, _candidates in waiters:
                row = self._ticket(waiter_id)
                if row is not None and self._t_state[row] == LEASED:
                    assigned.append(waiter_id)
            self._dispatch(now, wakes)
            current = self._epoch()
        self._send(wakes)
        return current, assigned

    def mark(self, down: Iterable[DownMark], up: Iterable[str]) -> int:
        """Mark backends down (each for its seconds from now) and clear marks of others; then dispatch."""
        wakes: list[_Wake] = []
        with self._locked():
            now = time.monotonic()
            for m in down:
                row = self._known_row(m.url)
                if row is None:
                    continue
                self._b_down_until[row] = now + m.seconds
                self._b_down_status[row] = STATUS_CODES.get(m.status, 1)
                _put_text(self._b_reason, row, REASON_BYTES, m.reason)
            for url in up:
                row = self._known_row(url)
                if row is not None:
                    self._b_down_until[row] = 0.0
            served = self._dispatch(now, wakes)
        self._send(wakes)
        return served

    def view(self) -> SharedView:
        """Slots taken per backend, jobs waiting and the running down marks."""
        with self._locked():
            now = time.monotonic()
            waiting = self._h[H_WAITING]
            in_flight, down = {}, {}
            for row in range(self._h[H_BACKENDS]):
                url = self._urls.get(row) or _get_text(self._b_url, row, URL_BYTES)
                in_flight[url] = self._b_inflight[row]
                left = self._b_down_until[row] - now
                if left > 0:
                    reason = _get_text(self._b_reason, row, REASON_BYTES)
                    down[url] = DownMark(url, left, STATUS_NAMES.get(self._b_down_status[row], "offline"), reason)
        return SharedView(in_flight, int(waiting), down)

    def lease_of(self, waiter_id: str) -> str | None:
        """The backend of the lease handed to ``waiter_id``, if one was."""
        with self._locked():
            row = self._ticket(waiter_id)
            if row is None or self._t_state[row] != LEASED:
                return None
            return self._urls.get(self._t_backend[row])

    def _epoch(self) -> str:
        return self._epoch_text

    # --- wake-ups -----------------------------------------------------------------------------

    def _address(self, ident: bytes) -> bytes:
        """The abstract socket address of the balancer process whose id is ``ident``."""
        return b"\0balancer-state-" + self.region.token + b"-" + ident.hex().encode()

    def subscribe(self, balancer: str, local: Callable[[str, str], None] | None = None) -> ShmWakeups:
        """The wake-ups of ``balancer``'s waiters (datagrams on this process's own socket). ``local``:
        called at once instead for a slot this ledger object frees for one of them (no datagram)."""
        with self._locked():
            self._owner(balancer, time.monotonic())
        ident = _owner_ident(balancer)
        wakeups = ShmWakeups(self, self._address(ident), ident)
        if local is not None:
            self._local[ident] = local
        return wakeups

    def interrupt(self, balancer: str) -> None:
        """Wake ``balancer``'s subscriber now (it is stopping)."""
        self._send_raw(self._address(_owner_ident(balancer)), b"")

    def _send(self, wakes: list[_Wake]) -> None:
        for wake in wakes:
            local = self._local.get(wake.owner)
            url = self._urls.get(wake.backend)
            if local is not None and url is not None:
                local(wake.ticket_id.hex(), url)
                continue
            self._send_raw(self._address(wake.owner), wake.ticket_id.hex().encode() + b" " + str(wake.backend).encode())

    def _send_raw(self, address: bytes, message: bytes) -> None:
        """One datagram to a process's wake-up socket, through a socket connected to it: when its
        queue is full (net.unix.max_dgram_qlen, 10 here) the send waits for room, up to SEND_TIMEOUT_S
        (cooperatively under gevent), instead of dropping the wake-up. A process that is gone refuses
        at once; a lost wake-up is found by that process's next renewal anyway (LEASE_TTL/3)."""
        held = self._senders.get(address)
        if held is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.settimeout(SEND_TIMEOUT_S)
            try:
                sock.connect(address)
            except OSError:
                sock.close()
                return  # its process is gone
            held = self._senders.setdefault(address, (sock, threading.Lock()))
            if held[0] is not sock:
                sock.close()
        sock, lock = held
        try:
            with lock:  # one greenlet at a time may wait on a socket
                sock.send(message)
        except OSError as exc:
            log.debug("wake-up to %r not sent: %s", address, exc)
            if self._senders.get(address) is held:
                del self._senders[address]
            sock.close()

    def url_of(self, row: int) -> str | None:
        return self._urls.get(row)

    def _unavailable(self, what: str) -> StateUnavailable:
        return StateUnavailable(f"the balancer's shared state is full ({what}); retry later",
                                retry_after_s=self.retry_after_s)

    def close(self) -> None:
        for sock, _lock in self._senders.values():
            sock.close()
        self._senders.clear()


class _Held:
    """The ledger's lock for one verb: this process's threads, then the other processes (flock)."""

    __slots__ = ("ledger",)

    def __init__(self, ledger: ShmLedger) -> None:
        self.ledger = ledger

    def __enter__(self) -> None:
        self.ledger._thread_lock.acquire()
        try:
            fcntl.flock(self.ledger._flock_fd(), fcntl.LOCK_EX)
        except BaseException:
            self.ledger._thread_lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            fcntl.flock(self.ledger._lock_fd, fcntl.LOCK_UN)
        finally:
            self.ledger._thread_lock.release()


class ShmWakeups:
    """One balancer process's wake-up datagrams: ``(waiter id, backend url)`` each."""

    def __init__(self, ledger: ShmLedger, address: bytes, ident: bytes) -> None:
        self._ledger = ledger
        self._ident = ident
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._sock.bind(address)
        except BaseException:
            self._sock.close()
            raise

    def get(self, timeout_s: float) -> tuple[str, str] | None:
        """The next wake-up within ``timeout_s``, else None."""
        self._sock.settimeout(timeout_s)
        try:
            data = self._sock.recv(256)
        except TimeoutError:
            return None
        ticket, _, row = data.decode("ascii", "replace").partition(" ")
        if not ticket or not row.isdigit():
            return None  # an empty message only wakes the loop (stop)
        url = self._ledger.url_of(int(row))
        return (ticket, url) if url is not None else None

    def close(self) -> None:
        self._ledger._local.pop(self._ident, None)
        self._sock.close()


def _put_text(array: memoryview, row: int, width: int, text: str) -> None:
    """``text`` (UTF-8, cut to fit) into row ``row`` of an array of ``width``-byte, length-prefixed texts."""
    raw = text.encode("utf-8")[:width - 2]
    start = row * width
    array[start:start + 2] = len(raw).to_bytes(2, "little")
    array[start + 2:start + 2 + len(raw)] = raw


def _get_text(array: memoryview, row: int, width: int) -> str:
    start = row * width
    length = int.from_bytes(array[start:start + 2], "little")
    return bytes(array[start + 2:start + 2 + length]).decode("utf-8", "replace")


def _owner_ident(balancer: str) -> bytes:
    """A balancer id (hex) as the 8 bytes an owner row holds."""
    return _ident(balancer)[:8]


def _ident(ticket_id: str) -> bytes:
    """A ticket id (a uuid4 hex) as the 16 bytes the table holds."""
    try:
        raw = bytes.fromhex(ticket_id)
    except ValueError:
        raw = b""
    if len(raw) != ID_BYTES:
        raw = hashlib.blake2b(ticket_id.encode("utf-8"), digest_size=ID_BYTES).digest()
    return raw
