"""A TCP proxy in front of the real Redis: slow it down, cut it, bring it back."""
import socket
import threading
import time


class RedisProxy:
    """Forwards 127.0.0.1:<port> to Redis, optionally holding each reply ``delay`` seconds."""

    def __init__(self, target=("127.0.0.1", 6379), delay=0.0, port=0):
        self.target, self.delay = target, delay
        self.conns = []
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen(512)
        self.port = self.server.getsockname()[1]
        self.closed = False
        threading.Thread(target=self.accept, daemon=True).start()

    def url(self, db):
        """redis:// URL of this proxy for database ``db``."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def accept(self):
        """Accept clients until closed; two pump threads per connection."""
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            threading.Thread(target=self.pump, args=(client, upstream, 0), daemon=True).start()
            threading.Thread(target=self.pump, args=(upstream, client, self.delay),
                             daemon=True).start()

    @staticmethod
    def pump(src, dst, delay):
        """Copy src to dst, sleeping ``delay`` before each chunk."""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if delay:
                    time.sleep(delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.close()
                except OSError:
                    pass

    def close(self):
        """Stop accepting and cut every open connection (Redis "goes down")."""
        self.closed = True
        try:  # wakes the blocked accept(); close() alone leaves the socket listening
            self.server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.close()
        for sock in self.conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass
