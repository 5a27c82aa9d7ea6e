"""What a clinician does, as load: a lookup pair is a search of a person by name and date of
birth, then the report of the first person found (JSON, or the PDF). The shapes of load:
one user alone, closed-loop clients, and open-loop Poisson arrivals whose latency counts from
each pair's scheduled start (so a system that falls behind cannot hide it by slowing the
client down)."""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import requests

from benchmarks.population import Person


@dataclass
class Samples:
    """Latencies of pairs in ms, and the failures (a failure fails the benchmark)."""

    ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    wall: float = 0.0
    dropped: int = 0  # open loop: pairs never started, the system too far behind

    def check(self) -> Samples:
        if self.failures:
            raise RuntimeError(f"{len(self.failures)} lookups failed, e.g. {self.failures[0]}")
        return self

    def quantile(self, q: float) -> float:
        """A failed or dropped pair counts as endless (it is one that no user got)."""
        ordered = sorted(self.ms) + [float("inf")] * (self.dropped + len(self.failures))
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def search(session: requests.Session, url: str, person: Person) -> dict:
    body = {
        "criteria": {"first_name": person.first_name, "last_name": person.last_name,
                     "birth_date": person.birth_date},
        "purpose": {"kind": "treating", "attested": True},
    }  # fmt: skip
    response = session.post(f"{url}/api/searches", json=body, timeout=60)
    response.raise_for_status()
    return response.json()


def pair(session: requests.Session, url: str, person: Person, pdf: bool) -> None:
    found = search(session, url, person)
    if not found["persons"]:
        raise RuntimeError("a person of the population was not found")
    path = "report.pdf" if pdf else "report"
    params = {"person": found["persons"][0]["person_id"], "months": 12}
    response = session.get(f"{url}/api/searches/{found['search_id']}/{path}", params=params,
                           timeout=60)  # fmt: skip
    response.raise_for_status()


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def closed_loop(
    url: str,
    tokens: Sequence[str],
    persons: Sequence[Person],
    pdf: bool,
    clients: int,
    *,
    seconds: float | None = None,
    pairs: int | None = None,
) -> Samples:
    """``clients`` each doing one pair after another, for ``seconds`` or until ``pairs``
    are done in all; client n signs in as ``tokens[n % len(tokens)]``."""
    samples = Samples()
    stop = time.monotonic() + (seconds or 1e9)
    left = [pairs if pairs is not None else 10**12]
    lock = threading.Lock()

    def take() -> bool:
        with lock:
            if left[0] <= 0 or time.monotonic() >= stop:
                return False
            left[0] -= 1
            return True

    def client(seed: int) -> None:
        pick = random.Random(seed)
        with _session(tokens[seed % len(tokens)]) as session:
            while take():
                started = time.perf_counter()
                try:
                    pair(session, url, pick.choice(persons), pdf)
                except Exception as exc:  # counted: a failed lookup fails the run
                    samples.failures.append(repr(exc))
                    continue
                samples.ms.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    samples.wall = time.perf_counter() - began
    return samples.check()


def open_loop(
    url: str, tokens: Sequence[str], persons: Sequence[Person], pdf: bool, rate: float,
    seconds: float,
) -> Samples:  # fmt: skip
    """Pairs arriving at random (Poisson) at ``rate`` per second for ``seconds``; each one's
    latency from its scheduled start. Enough workers that arrivals never wait for a free
    client while the system keeps up; a system that falls behind leaves pairs unstarted
    after twice the time (``Samples.dropped``) or answers some with an error (503 once a
    service does not answer in time): the percentiles count both as endless."""
    samples = Samples()
    pick = random.Random(7)
    due: queue.Queue[tuple[float, Person] | None] = queue.Queue()
    workers = max(8, int(rate * 2))
    began = time.perf_counter()
    give_up = began + 2 * seconds

    def worker(n: int) -> None:
        with _session(tokens[n % len(tokens)]) as session:
            while (item := due.get()) is not None:
                scheduled, person = item
                if time.perf_counter() > give_up:
                    samples.dropped += 1
                    continue
                try:
                    pair(session, url, person, pdf)
                except Exception as exc:
                    samples.failures.append(repr(exc))
                    continue
                samples.ms.append((time.perf_counter() - scheduled) * 1000)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    at = began
    while (at := at + pick.expovariate(rate)) < began + seconds:
        time.sleep(max(0.0, at - time.perf_counter()))
        due.put((at, pick.choice(persons)))
    for _ in threads:
        due.put(None)
    for thread in threads:
        thread.join()
    samples.wall = time.perf_counter() - began
    return samples


def one_user(url: str, token: str, persons: Sequence[Person], pairs: int) -> Samples:
    """One clinician alone on the system: pairs one after another."""
    return closed_loop(url, [token], persons, pdf=False, clients=1, pairs=pairs)
