"""Small socket helpers shared by the SSE core (app.streaming) and the gunicorn hooks.

Kept apart so the SSE core does not import the gunicorn hooks module (that made an import
circle: config -> providers -> streaming -> lifecycle -> config).
"""


def pending_bytes(client):
    """Bytes waiting to be read on a socket (unknown counts as some)."""
    import fcntl
    import struct
    import termios
    try:
        raw = fcntl.ioctl(client.fileno(), termios.FIONREAD, b"\0\0\0\0")
    except (AttributeError, OSError):
        return 1
    return struct.unpack("i", raw)[0]
