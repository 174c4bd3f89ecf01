"""Extraction as a process: ``python -m govnews.extract.worker``.

Reads pages from stdin and answers on stdout, each message a 4-byte length and
a pickle: ``(number, args, kwargs)`` of :func:`extract_article` in, ``(number,
True, article)`` or ``(number, False, error)`` out, in the order asked, after
:data:`READY` once started. The crawl's side is :mod:`govnews.crawl.extraction_pool`.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
import traceback
from typing import IO, Any

from govnews.extract import ExtractionError, extract_article

HEADER = struct.Struct(">I")  # each message: its length, then the pickle
READY = (-1, True, None)  # the first answer: imported, reading pages from now on


def frame(message: object) -> bytes:
    """One message, ready to write."""
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def read_message(stream: IO[bytes]) -> Any:
    """The next message on ``stream``; None at its end."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    return pickle.loads(stream.read(size))


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """A worker's loop: extract each page asked for, answer with the record or the error."""
    while (message := read_message(requests)) is not None:
        number, args, kwargs = message
        try:
            answer = frame((number, True, extract_article(*args, **kwargs)))
        except ExtractionError as exc:
            answer = frame((number, False, exc))
        except Exception as exc:  # a bug: its traceback to the log, the page recorded as failed
            traceback.print_exc()
            answer = frame((number, False, ExtractionError(f"{type(exc).__name__}: {exc}")))
        answers.write(answer)
        answers.flush()


def main() -> None:
    """``python -m govnews.extract.worker``: serve pages on stdin/stdout until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the crawl's: it closes stdin
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print cannot break a message
    answers.write(frame(READY))
    answers.flush()
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
