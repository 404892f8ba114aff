#!/usr/bin/env python3
"""A fake Kubernetes API server for ldmesh-sync's tests (standard library only).

Serves, over HTTPS with a bearer-token check, the collections ldmesh-sync
reads, as the API conventions describe them (Kubernetes API concepts:
"Efficient detection of changes", "Retrieving large results sets in
chunks"):

  GET <collection>?limit=N&continue=T     a page; metadata.continue while more
  GET <collection>?watch=1&resourceVersion=RV&allowWatchBookmarks=true
                                          a chunked stream of JSON events
  labelSelector "!key" and fieldSelector "metadata.name=X" are honoured.
  A continue token or watch version older than the last compaction is 410
  (HTTP 410 for a list, an ERROR event with code 410 for a watch).

The test drives it with POST /_ctl/<command> (JSON body, no token):
  put {resource, object}          ADDED or MODIFIED
  delete {resource, namespace, name}
  forget {resource, namespace, name}  removed with no event (a change that a
                                  watcher misses, as across a compaction)
  compact {}                      open watches get ERROR 410; older versions
                                  are gone
  drop {}                         every open watch is cut (no final chunk)
  rotate {token}                  only this token is accepted from now on
  fault {resource, kind}          the next watch (or request) of resource:
                                  garbage | truncated | cut | noname | huge |
                                  redirect | gone (HTTP 410) | norv (the next
                                  list page has no resourceVersion)
Every API request is logged to --log: "GET <path?query> <status>".
With --event-log FILE, every event written to a watch stream is logged
there with the time its write began (bookmarks are not):
"<CLOCK_REALTIME ns> <resource> <TYPE> <namespace>/<name>"
(tests/bench/bench_sync.sh measures from it).

List pages are cut from a cache, so 100,000 objects are listed in seconds
(tests/bench/bench_sync.sh): each object's list-item JSON is serialised
once, when loaded or put, and each selector's sorted key list once per
change of its collection.
"""
import argparse
import base64
import bisect
import json
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COLLECTIONS = {
    "/api/v1/services": ("services", "v1", "Service"),
    "/apis/discovery.k8s.io/v1/endpointslices": ("endpointslices", "discovery.k8s.io/v1", "EndpointSlice"),
    "/api/v1/nodes": ("nodes", "v1", "Node"),
    "/apis/networking.k8s.io/v1/servicecidrs": ("servicecidrs", "networking.k8s.io/v1", "ServiceCIDR"),
    # one resource at two versions: --tcproutes says which one is served
    "/apis/gateway.networking.k8s.io/v1/tcproutes": ("tcproutes", "gateway.networking.k8s.io/v1", "TCPRoute"),
    "/apis/gateway.networking.k8s.io/v1alpha2/tcproutes": ("tcproutes", "gateway.networking.k8s.io/v1alpha2", "TCPRoute"),
}


class State:
    def __init__(self, token, page_size, servicecidrs):
        self.cond = threading.Condition()
        self.token = token
        self.page_size = page_size
        self.served = {r for r, _, _ in COLLECTIONS.values()}
        if not servicecidrs:
            self.served.discard("servicecidrs")
        self.objects = {r: {} for r, _, _ in COLLECTIONS.values()}
        self.events = []  # (rv, resource, type, object)
        self.rv = 100
        self.compacted = 0
        self.drop_epoch = 0
        self.compact_epoch = 0
        self.faults = {}
        self.items = {r: {} for r, _, _ in COLLECTIONS.values()}  # key -> list-item JSON bytes
        self.keys = {}  # (resource, selectors) -> sorted selected keys
        self.event_log = None

    def store(self, res, obj):
        """Keep obj (its resourceVersion set) and its list-item form."""
        k = key_of(obj)
        self.objects[res][k] = obj
        item = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}  # list items omit them
        item["metadata"] = dict(obj["metadata"], managedFields=[{"manager": "kubectl", "operation": "Update"}])
        self.items[res][k] = json.dumps(item).encode()
        self.changed(res)

    def drop(self, res, k):
        obj = self.objects[res].pop(k)
        del self.items[res][k]
        self.changed(res)
        return obj

    def changed(self, res):
        for ck in [ck for ck in self.keys if ck[0] == res]:
            del self.keys[ck]

    def sorted_keys(self, res, q):
        ck = (res, tuple(q.get("labelSelector", [])), tuple(q.get("fieldSelector", [])))
        if ck not in self.keys:
            self.keys[ck] = sorted(k for k, o in self.objects[res].items() if selected(o, q))
        return self.keys[ck]


def key_of(obj):
    m = obj.get("metadata", {})
    return (m.get("namespace", ""), m.get("name", ""))


def selected(obj, q):
    labels = obj.get("metadata", {}).get("labels") or {}
    for sel in q.get("labelSelector", []):
        for term in sel.split(","):
            if term.startswith("!") and term[1:] in labels:
                return False
    for sel in q.get("fieldSelector", []):
        if sel.startswith("metadata.name=") and obj.get("metadata", {}).get("name") != sel[14:]:
            return False
    return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    st = None
    logf = None

    def log_message(self, fmt, *args):
        pass

    def client_cert_ok(self):
        # A client certificate signed by --client-ca for CN=ldmesh-sync
        # authenticates instead of a token (x509 client auth).
        cert = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
        subject = dict(x[0] for x in (cert or {}).get("subject", ()))
        return subject.get("commonName") == "ldmesh-sync"

    def note(self, status):
        with open(self.logf, "a") as f:
            f.write("%s %s %d\n" % (self.command, self.path, status))

    def send_json(self, status, obj, extra=()):
        self.send_body(status, json.dumps(obj).encode(), extra)

    def send_body(self, status, body, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.note(status)

    def status(self, code, reason, message):
        self.send_json(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "reason": reason, "message": message, "code": code})

    # ---- control -----------------------------------------------------
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(n) or b"{}")
        cmd = self.path.rsplit("/", 1)[-1]
        st = self.st
        with st.cond:
            if cmd == "put":
                res, obj = body["resource"], body["object"]
                st.rv += 1
                obj.setdefault("metadata", {})["resourceVersion"] = str(st.rv)
                old = key_of(obj) in st.objects[res]
                st.store(res, obj)
                st.events.append((st.rv, res, "MODIFIED" if old else "ADDED", obj))
            elif cmd in ("delete", "forget"):
                res = body["resource"]
                obj = st.drop(res, (body.get("namespace", ""), body["name"]))
                st.rv += 1
                if cmd == "delete":
                    obj = json.loads(json.dumps(obj))
                    obj["metadata"]["resourceVersion"] = str(st.rv)
                    st.events.append((st.rv, res, "DELETED", obj))
            elif cmd == "compact":
                st.compacted = st.rv
                st.events = []
                st.compact_epoch += 1
            elif cmd == "drop":
                st.drop_epoch += 1
            elif cmd == "rotate":
                st.token = body["token"]
                st.drop_epoch += 1
            elif cmd == "fault":
                st.faults.setdefault(body["resource"], []).append(body["kind"])
            st.cond.notify_all()
            rv = st.rv
        self.send_json(200, {"rv": rv})

    # ---- the API -----------------------------------------------------
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        st = self.st
        if url.path not in COLLECTIONS:
            return self.status(404, "NotFound", "the server could not find the requested resource")
        res, api, kind = COLLECTIONS[url.path]
        if self.headers.get("Authorization") != "Bearer " + st.token and not self.client_cert_ok():
            return self.status(401, "Unauthorized", "Unauthorized")
        if res not in st.served or (res == "tcproutes" and api != "gateway.networking.k8s.io/" + str(st.tcproutes)):
            return self.status(404, "NotFound", "the server could not find the requested resource")
        with st.cond:
            faults = st.faults.get(res, [])
            if faults and faults[0] == "redirect":
                faults.pop(0)
                self.send_response(302)
                self.send_header("Location", "https://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return self.note(302)
            if faults and faults[0] == "gone":
                faults.pop(0)
                return self.status(410, "Expired", "too old resource version")
        if q.get("watch", ["0"])[0] in ("1", "true"):
            return self.watch(res, api, kind, q)
        return self.list(res, api, kind, q)

    def list(self, res, api, kind, q):
        st = self.st
        limit = int(q.get("limit", ["0"])[0]) or 1 << 30
        limit = min(limit, st.page_size)
        with st.cond:
            faults = st.faults.get(res, [])
            norv = bool(faults) and faults[0] == "norv"
            if norv:
                faults.pop(0)
            if "continue" in q:
                tok = json.loads(base64.b64decode(q["continue"][0]))
                if tok["rv"] < st.compacted:
                    return self.status(410, "Expired", "The provided continue parameter is too old")
                list_rv, after = tok["rv"], tuple(tok["after"])
            else:
                list_rv, after = st.rv, None
            keys = st.sorted_keys(res, q)
            first = 0 if after is None else bisect.bisect_right(keys, after)
            page = keys[first:first + limit]
            items = b",".join(st.items[res][k] for k in page)
            meta = {} if norv else {"resourceVersion": str(list_rv)}
            if len(keys) > first + limit:
                meta["continue"] = base64.b64encode(json.dumps(
                    {"rv": list_rv, "after": list(page[-1])}).encode()).decode()
        # the cached items spliced into the list, not parsed again
        head = json.dumps({"kind": kind + "List", "apiVersion": api, "metadata": meta})
        self.send_body(200, head[:-1].encode() + b', "items": [' + items + b"]}")

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def event(self, typ, obj):
        data = json.dumps({"type": typ, "object": obj}).encode() + b"\n"
        t = time.time_ns()  # before the write: the event cannot arrive earlier
        self.chunk(data)
        if self.st.event_log and typ != "BOOKMARK":
            m = obj.get("metadata", {})
            with open(self.st.event_log, "a") as f:
                f.write("%d %s %s %s/%s\n" % (t, self.res, typ, m.get("namespace", ""), m.get("name", "")))

    def fault(self, kind, api, res):
        if kind == "garbage":
            self.chunk(b"<html>502 Bad Gateway</html>\n")
            return "end"
        if kind == "noname":
            self.event("ADDED", {"apiVersion": api, "metadata": {"namespace": "default"}})
            return "go on"
        half = json.dumps({"type": "ADDED", "object": {"metadata": {"name": "half", "namespace": "default"}}})
        if kind == "truncated":  # a clean end of the stream, inside an event
            self.chunk(half[: len(half) // 2].encode())
            self.wfile.write(b"0\r\n\r\n")
            return "closed"
        if kind == "cut":  # the connection closes inside an event
            self.chunk(half[: len(half) // 2].encode())
            return "closed"
        if kind == "huge":  # a 100 MB event, sent until the client hangs up
            self.chunk(b'{"type":"ADDED","object":{"metadata":{"name":"huge","namespace":"default"},"x":"')
            block = b"a" * (1 << 20)
            for _ in range(100):
                self.chunk(block)
            self.chunk(b'"}}\n')
            return "end"
        return "go on"

    def watch(self, res, api, kind, q):
        st = self.st
        self.res = res
        since = int(q.get("resourceVersion", ["0"])[0] or 0)
        timeout = int(q.get("timeoutSeconds", ["300"])[0])
        bookmarks = q.get("allowWatchBookmarks", ["false"])[0] == "true"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.note(200)
        with st.cond:
            # one fault per request: the rest wait for the next ones
            queued = st.faults.get(res, [])
            faults = [queued.pop(0)] if queued else []
            drop0, compact0 = st.drop_epoch, st.compact_epoch
        try:
            for f in faults:
                what = self.fault(f, api, res)
                if what == "end":
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if what == "closed":
                    self.close_connection = True
                    return
            if since < st.compacted:
                self.event("ERROR", {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                     "reason": "Expired", "code": 410,
                                     "message": "too old resource version: %d (%d)" % (since, st.compacted)})
                self.wfile.write(b"0\r\n\r\n")
                return
            pos, end, last_bm = since, time.time() + timeout, 0
            while time.time() < end:
                with st.cond:
                    st.cond.wait(0.2)
                    if st.drop_epoch != drop0:
                        self.close_connection = True
                        return  # cut: no final chunk
                    if st.compact_epoch != compact0:
                        out = [("ERROR", {"kind": "Status", "apiVersion": "v1", "code": 410,
                                          "reason": "Expired", "message": "compacted"})]
                    else:
                        out = [(t, o) for rv, r, t, o in st.events if r == res and rv > pos and selected(o, q)]
                    pos = st.rv
                for t, o in out:
                    self.event(t, o)
                    if t == "ERROR":
                        self.wfile.write(b"0\r\n\r\n")
                        return
                if bookmarks and time.time() - last_bm > 1:
                    self.event("BOOKMARK", {"kind": kind, "apiVersion": api,
                                            "metadata": {"resourceVersion": str(pos)}})
                    last_bm = time.time()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--page-size", type=int, default=500)
    p.add_argument("--objects", help="JSON file: {resource: [object, ...]}")
    p.add_argument("--servicecidrs", action="store_true")
    p.add_argument("--tcproutes", choices=["v1", "v1alpha2"], help="serve TCPRoutes at this version")
    p.add_argument("--client-ca", help="accept client certificates this CA signed")
    p.add_argument("--event-log", help="log each watch event written, with its time")
    a = p.parse_args()
    st = State(a.token, a.page_size, a.servicecidrs)
    if a.objects:
        with open(a.objects) as f:
            for res, objs in json.load(f).items():
                for o in objs:
                    st.rv += 1
                    o["metadata"]["resourceVersion"] = str(st.rv)
                    st.store(res, o)
    st.event_log = a.event_log
    st.tcproutes = a.tcproutes
    Handler.st, Handler.logf = st, a.log
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    if a.client_ca:
        ctx.load_verify_locations(a.client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
