"""A raw HTTP/2 peer (python3-h2) for what a gRPC client library will not
send: declared lengths that lie, streams left unfinished, bytes that are no
message. Loopback only; every call is bounded in time."""
import socket
import struct
import time

import h2.config
import h2.connection
import h2.events


def grpc_frame(payload, declared=None):
    """A gRPC length-prefixed message; `declared` overrides its length."""
    length = len(payload) if declared is None else declared
    return struct.pack(">BI", 0, length) + payload


class H2Call:
    """One connection with one gRPC call on it."""

    def __init__(self, port, method, headers=(), host="127.0.0.1", timeout=10,
                 huffman=True):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        if not huffman:
            # hpack's Huffman coder takes ~0.2 s for a 64 KiB value.
            encode = self.conn.encoder.encode
            self.conn.encoder.encode = lambda h, huffman=False: encode(h, huffman)
        self.conn.initiate_connection()
        self.stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(self.stream, [
            (":method", "POST"), (":scheme", "http"), (":path", method),
            (":authority", f"{host}:{port}"),
            ("content-type", "application/grpc"), ("te", "trailers"),
        ] + list(headers))
        self.flush()
        self.response_headers = {}
        self.trailers = {}
        self.ended = False
        self.reset = None

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def _pump(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return True
        except OSError:
            self.ended = True
            return False
        if not data:
            self.ended = True
            return False
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                self.response_headers.update(dict(event.headers))
            elif isinstance(event, h2.events.TrailersReceived):
                self.trailers.update(dict(event.headers))
            elif isinstance(event, h2.events.StreamEnded):
                self.ended = True
            elif isinstance(event, h2.events.StreamReset):
                self.reset = event.error_code
                self.ended = True
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.ended = True
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(
                    event.flow_controlled_length, event.stream_id)
        self.flush()
        return True

    def send(self, data, end_stream=False, deadline_s=10.0):
        """Sends `data` as flow control allows; returns the bytes sent before
        the stream ended or the deadline passed."""
        sent = 0
        deadline = time.monotonic() + deadline_s
        while sent < len(data) and not self.ended and time.monotonic() < deadline:
            window = min(self.conn.local_flow_control_window(self.stream),
                         self.conn.max_outbound_frame_size)
            if window <= 0:
                if not self._pump(0.2):
                    break
                continue
            chunk = data[sent:sent + window]
            try:
                self.conn.send_data(self.stream, chunk)
                self.flush()
            except Exception:  # the server reset the stream or connection
                self.ended = True
                break
            sent += len(chunk)
        if end_stream and not self.ended:
            self.conn.end_stream(self.stream)
            self.flush()
        return sent

    def wait_end(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not self.ended and time.monotonic() < deadline:
            if not self._pump(0.2):
                break
        return self.ended

    def status(self):
        """(grpc-status, grpc-message) from trailers or a trailers-only reply."""
        merged = dict(self.response_headers)
        merged.update(self.trailers)
        code = merged.get("grpc-status")
        return (int(code) if code is not None else None,
                merged.get("grpc-message", ""))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
