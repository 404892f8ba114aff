#!/usr/bin/env python3
"""A pod for the end-to-end tests: a server bound to one pod IP that answers
with that IP, so a client knows which backend it reached.

    podserver.py banner IP PORT READYFILE [TEXT]   # TCP: send "TEXT\n", close
    podserver.py http   IP PORT READYFILE [TEXT]   # HTTP: GET -> "TEXT\n"

TEXT defaults to the IP. READYFILE is created once the socket listens.
"""
import http.server
import socket
import sys


def main():
    mode, ip, port, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    text = (sys.argv[5] if len(sys.argv) > 5 else ip).encode() + b"\n"
    if mode == "banner":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        s.listen(1024)
        open(ready, "w").close()
        while True:
            c, _ = s.accept()
            try:
                c.sendall(text)
            except OSError:
                pass
            c.close()
    elif mode == "http":
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *a):
                pass

        class S(http.server.ThreadingHTTPServer):
            request_queue_size = 256
            allow_reuse_address = True

        srv = S((ip, port), H)
        open(ready, "w").close()
        srv.serve_forever()
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
