"""A runner served on a free local port for the duration of a test."""

import http.client
import threading
import unittest

from runner import server


class RunnerServerTestCase(unittest.TestCase):
    """Serves self.runner on 127.0.0.1; subclasses call serve() in setUp."""

    def serve(self, runner):
        self.runner = runner
        self.httpd = server.Server(("127.0.0.1", 0), runner)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()
        self.addCleanup(self._stop)

    def _stop(self):
        self.httpd.shutdown()
        self.thread.join()
        self.httpd.server_close()

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)

    def request(self, method, path, body=None, headers=None, conn=None):
        """One request; returns (status, headers dict, body). A connection
        made here is closed; one passed in is kept for reuse."""
        c = conn or self.conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            resp = c.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            if conn is None:
                c.close()
