#!/usr/bin/env python3
"""Issue 15's figures, against a `parley serve` on loopback (bounded in count and time).

    attack.py conn  PORT [SECONDS]   idle, slow-header, slow-body and kept-alive idle
                                     connections held; how many the server closed, and when;
                                     /health latency meanwhile
    attack.py cpu   PORT [SECONDS]   four clients sending "large " x 41,000 back to back;
                                     /health latency meanwhile, and the answers they got
    attack.py flood PORT [SECONDS]   new stateful users from one address, eight at a time;
                                     the answers counted (the caller measures the disk)

Only 127.0.0.1 is ever contacted. Each mode prints one JSON line.
"""

import http.client
import json
import socket
import statistics
import sys
import threading
import time

HOST = "127.0.0.1"


def health_prober(port, stop, out):
    """A new connection and GET /health every 0.2 s; latencies in ms (None: failed)."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            c = http.client.HTTPConnection(HOST, port, timeout=10)
            c.request("GET", "/health")
            ok = c.getresponse().status == 200
            c.close()
            out.append((time.monotonic() - started) * 1000 if ok else None)
        except OSError:
            out.append(None)
        stop.wait(0.2)


def latency_summary(samples):
    ok = sorted(s for s in samples if s is not None)
    if not ok:
        return {"answered": 0, "failed": len(samples)}
    return {
        "answered": len(ok),
        "failed": len(samples) - len(ok),
        "median_ms": round(statistics.median(ok), 2),
        "p99_ms": round(ok[min(len(ok) - 1, int(len(ok) * 0.99))], 2),
        "max_ms": round(ok[-1], 2),
    }


def conn(port, seconds):
    classes = {"idle": 300, "slow_header": 100, "slow_body": 30, "kept_alive_idle": 30}
    socks = []
    for kind, n in classes.items():
        for _ in range(n):
            s = socket.create_connection((HOST, port), timeout=5)
            s.setblocking(False)
            if kind == "slow_header":
                s.send(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            elif kind == "slow_body":
                s.send(
                    b"POST /interact HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 10485760\r\n\r\n" + b" " * 1024
                )
            elif kind == "kept_alive_idle":
                s.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append({"kind": kind, "sock": s, "closed_at": None, "buf": b""})
    stop = threading.Event()
    latencies = []
    prober = threading.Thread(target=health_prober, args=(port, stop, latencies))
    prober.start()
    started = time.monotonic()
    last_drip = started
    while time.monotonic() - started < seconds:
        now = time.monotonic()
        drip = now - last_drip >= 5
        if drip:
            last_drip = now
        for entry in socks:
            if entry["closed_at"] is not None:
                continue
            s = entry["sock"]
            try:
                while True:
                    data = s.recv(65536)
                    if not data:
                        entry["closed_at"] = now - started
                        break
                    entry["buf"] += data
            except BlockingIOError:
                pass
            except OSError:
                entry["closed_at"] = now - started
            if entry["closed_at"] is None and drip:
                try:
                    if entry["kind"] == "slow_header":
                        s.send(b"X-a: b\r\n")
                    elif entry["kind"] == "slow_body":
                        s.send(b" ")
                except OSError:
                    entry["closed_at"] = now - started
        time.sleep(0.2)
    stop.set()
    prober.join()
    report = {"mode": "conn", "seconds": seconds}
    for kind in classes:
        mine = [e for e in socks if e["kind"] == kind]
        closed = [e["closed_at"] for e in mine if e["closed_at"] is not None]
        answered = sum(1 for e in mine if b" 408 " in e["buf"][:20] or b"HTTP/1.1 5" in e["buf"][:20])
        report[kind] = {
            "held": len(mine),
            "closed_by_server": len(closed),
            "last_closed_s": round(max(closed), 1) if closed else None,
            "answered_408_or_5xx": answered,
        }
    report["health"] = latency_summary(latencies)
    for e in socks:
        e["sock"].close()
    print(json.dumps(report))


def cpu(port, seconds):
    text = "large " * 41_000
    body = json.dumps({"request": {"type": "text", "payload": text}})
    stop = threading.Event()
    latencies = []
    prober = threading.Thread(target=health_prober, args=(port, stop, latencies))
    statuses = {}
    turn_ms = []
    lock = threading.Lock()

    def hostile():
        c = http.client.HTTPConnection(HOST, port, timeout=30)
        while not stop.is_set():
            started = time.monotonic()
            try:
                c.request("POST", "/interact", body, {"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                status = r.status
            except OSError:
                status = "error"
                c.close()
                c = http.client.HTTPConnection(HOST, port, timeout=30)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                turn_ms.append((time.monotonic() - started) * 1000)

    workers = [threading.Thread(target=hostile) for _ in range(4)]
    for w in workers:
        w.start()
    time.sleep(1)
    prober.start()
    time.sleep(seconds)
    stop.set()
    prober.join()
    for w in workers:
        w.join()
    print(
        json.dumps(
            {
                "mode": "cpu",
                "seconds": seconds,
                "hostile_answers": {str(k): v for k, v in statuses.items()},
                "hostile_median_ms": round(statistics.median(turn_ms), 1) if turn_ms else None,
                "health": latency_summary(latencies),
            }
        )
    )


def flood(port, seconds):
    stop = threading.Event()
    statuses = {}
    lock = threading.Lock()
    counter = [0]
    body = json.dumps({"action": {"type": "launch"}})

    def client(n):
        c = http.client.HTTPConnection(HOST, port, timeout=30)
        i = 0
        while not stop.is_set():
            i += 1
            try:
                c.request(
                    "POST",
                    f"/state/user/flood-{n}-{i}/interact",
                    body,
                    {"Content-Type": "application/json"},
                )
                r = c.getresponse()
                r.read()
                status = r.status
            except OSError:
                status = "error"
                c.close()
                c = http.client.HTTPConnection(HOST, port, timeout=30)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                counter[0] += 1

    workers = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for w in workers:
        w.start()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join()
    print(
        json.dumps(
            {"mode": "flood", "seconds": seconds, "answers": {str(k): v for k, v in statuses.items()}}
        )
    )


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    secs = float(sys.argv[3]) if len(sys.argv) > 3 else {"conn": 40, "cpu": 20, "flood": 60}[mode]
    {"conn": conn, "cpu": cpu, "flood": flood}[mode](port, secs)
